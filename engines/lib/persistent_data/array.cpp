#include "engines/lib/persistent_data/array.hpp"

#include <cstring>
#include <vector>

#include "engines/lib/persistent_data/array_layout.hpp"
#include "engines/lib/persistent_data/codec.hpp"

namespace engines::pd {

namespace {

namespace layout = array_layout;

std::string check_array_block(const uint8_t* d, size_t size) {
  const uint32_t max = layout::max_entries.get(d), nr = layout::nr_entries.get(d), vs = layout::value_size.get(d);
  if (vs == 0 || layout::kValuesOffset + static_cast<uint64_t>(max) * vs > size) return "max_entries too large";
  if (nr > max) return "nr_entries > max_entries";
  return {};
}

uint32_t max_entries(const DmArrayInfo* info) {
  return layout::max_entries_for(info->tm->bm()->block_size(), info->value_type.size);
}

uint8_t* entry(uint8_t* d, const DmArrayInfo* info, uint32_t i) {
  return d + layout::value_offset(info->value_type.size, i);
}

void inc_entries(DmArrayInfo* info, uint8_t* d, uint32_t from, uint32_t to) {
  if (info->value_type.inc)
    for (uint32_t i = from; i < to; i++) info->value_type.inc(entry(d, info, i));
}
void dec_entries(DmArrayInfo* info, uint8_t* d, uint32_t from, uint32_t to) {
  if (info->value_type.dec)
    for (uint32_t i = from; i < to; i++) info->value_type.dec(entry(d, info, i));
}

int get_ablock(DmArrayInfo* info, uint64_t root, uint32_t block_index, uint64_t* location) {
  uint8_t v[8];
  const int r = dm_btree_lookup(&info->btree_info, root, block_index, v);
  if (!r) *location = get_le64(v);
  return r;
}

// Shadows array block `block_index` and points the btree at the copy; the caller writes it.
int shadow_ablock(DmArrayInfo* info, uint64_t root, uint32_t block_index, DmBlock** blk, uint64_t* new_root) {
  uint64_t b;
  int r = get_ablock(info, root, block_index, &b);
  if (r) return r;
  int inc = 0;
  r = info->tm->shadow_block(b, &kArrayBlockValidator, blk, &inc);
  if (r) return r;
  uint8_t* d = dm_block_data(*blk);
  if (inc) inc_entries(info, d, 0, layout::nr_entries.get(d));
  *new_root = root;
  if (dm_block_location(*blk) != b) {
    // shadow_block already dropped the old block's reference.
    uint8_t v[8];
    put_le64(v, dm_block_location(*blk));
    r = dm_btree_insert(&info->btree_info, root, block_index, v, new_root, nullptr, false);
  }
  return r;
}

int new_ablock(DmArrayInfo* info, uint32_t nr, const uint8_t* value, uint64_t* location) {
  DmBlock* blk;
  const int r = info->tm->new_block(&kArrayBlockValidator, &blk);
  if (r) return r;
  uint8_t* d = dm_block_data(blk);
  layout::max_entries.put(d, max_entries(info));
  layout::nr_entries.put(d, nr);
  layout::value_size.put(d, info->value_type.size);
  for (uint32_t i = 0; i < nr; i++) std::memcpy(entry(d, info, i), value, info->value_type.size);
  inc_entries(info, d, 0, nr);
  *location = dm_block_location(blk);
  info->tm->unlock(blk);
  return 0;
}

}  // namespace

const DmBlockValidator kArrayBlockValidator{"array", layout::kFormat, check_array_block};

uint32_t dm_array_entries_per_block(const DmArrayInfo* info) {
  return max_entries(info);
}

void dm_array_info_init(DmArrayInfo* info, DmTransactionManager* tm, const DmBtreeValueType& vt) {
  info->tm = tm;
  info->value_type = vt;
  DmBtreeValueType blocks;
  blocks.size = 8;
  blocks.inc = [tm](const uint8_t* v) { tm->inc(get_le64(v)); };
  // Dropping the last reference to an array block drops its values' references too.
  blocks.dec = [info](const uint8_t* v) {
    const uint64_t b = get_le64(v);
    if (info->tm->ref(b) == 1 && info->value_type.dec) {
      DmBlock* blk;
      if (!info->tm->read_lock(b, &kArrayBlockValidator, &blk)) {
        uint8_t* d = dm_block_data(blk);
        dec_entries(info, d, 0, layout::nr_entries.get(d));
        info->tm->unlock(blk);
      }
    }
    info->tm->dec(b);
  };
  blocks.equal = [](const uint8_t* a, const uint8_t* b) { return get_le64(a) == get_le64(b); };
  info->btree_info = DmBtreeInfo{tm, blocks};
}

int dm_array_empty(DmArrayInfo* info, uint64_t* root) {
  return dm_btree_empty(&info->btree_info, root);
}

int dm_array_del(DmArrayInfo* info, uint64_t root) {
  return dm_btree_del(&info->btree_info, root);
}

int dm_array_resize(DmArrayInfo* info, uint64_t root, uint32_t old_size, uint32_t new_size, const uint8_t* value,
                    uint64_t* new_root) {
  KFRAME_NAMED("dm_array_resize");
  const uint32_t per = max_entries(info);
  const uint32_t old_blocks = (old_size + per - 1) / per, new_blocks = (new_size + per - 1) / per;
  *new_root = root;
  int r = 0;
  if (new_size > old_size) {
    if (old_size % per) {
      // Fill the partial last block.
      DmBlock* blk;
      r = shadow_ablock(info, *new_root, old_blocks - 1, &blk, new_root);
      if (r) return r;
      uint8_t* d = dm_block_data(blk);
      const uint32_t from = layout::nr_entries.get(d), to = std::min(per, new_size - (old_blocks - 1) * per);
      for (uint32_t i = from; i < to; i++) std::memcpy(entry(d, info, i), value, info->value_type.size);
      inc_entries(info, d, from, to);
      layout::nr_entries.put(d, to);
      info->tm->unlock(blk);
    }
    for (uint32_t b = old_blocks; b < new_blocks; b++) {
      uint64_t loc;
      r = new_ablock(info, std::min(per, new_size - b * per), value, &loc);
      if (r) return r;
      uint8_t v[8];
      put_le64(v, loc);
      r = dm_btree_insert(&info->btree_info, *new_root, b, v, new_root);
      if (r) return r;
    }
  } else if (new_size < old_size) {
    for (uint32_t b = new_blocks; b < old_blocks; b++) {
      r = dm_btree_remove(&info->btree_info, *new_root, b, new_root);
      if (r) return r;
    }
    if (new_size % per) {
      DmBlock* blk;
      r = shadow_ablock(info, *new_root, new_blocks - 1, &blk, new_root);
      if (r) return r;
      uint8_t* d = dm_block_data(blk);
      const uint32_t keep = new_size - (new_blocks - 1) * per;
      dec_entries(info, d, keep, layout::nr_entries.get(d));
      layout::nr_entries.put(d, keep);
      info->tm->unlock(blk);
    }
  }
  return 0;
}

int dm_array_get_value(DmArrayInfo* info, uint64_t root, uint32_t index, uint8_t* value) {
  const uint32_t per = max_entries(info);
  uint64_t b;
  int r = get_ablock(info, root, index / per, &b);
  if (r) return r;
  DmBlock* blk;
  r = info->tm->read_lock(b, &kArrayBlockValidator, &blk);
  if (r) return r;
  uint8_t* d = dm_block_data(blk);
  if (index % per >= layout::nr_entries.get(d)) {
    r = -ENODATA;
  } else {
    std::memcpy(value, entry(d, info, index % per), info->value_type.size);
  }
  info->tm->unlock(blk);
  return r;
}

int dm_array_set_value(DmArrayInfo* info, uint64_t root, uint32_t index, const uint8_t* value, uint64_t* new_root) {
  KFRAME_NAMED("dm_array_set_value");
  const uint32_t per = max_entries(info);
  DmBlock* blk;
  int r = shadow_ablock(info, root, index / per, &blk, new_root);
  if (r) return r;
  uint8_t* d = dm_block_data(blk);
  if (index % per >= layout::nr_entries.get(d)) {
    info->tm->unlock(blk);
    return -ENODATA;
  }
  uint8_t* old = entry(d, info, index % per);
  const bool same = info->value_type.equal && info->value_type.equal(old, value);
  if (!same) {
    if (info->value_type.inc) info->value_type.inc(value);
    if (info->value_type.dec) info->value_type.dec(old);
  }
  std::memcpy(old, value, info->value_type.size);
  info->tm->unlock(blk);
  return 0;
}

int dm_array_walk(DmArrayInfo* info, uint64_t root, const std::function<int(uint32_t, const uint8_t*)>& fn) {
  const uint32_t per = max_entries(info);
  return dm_btree_walk(&info->btree_info, root, [&](uint64_t key, const uint8_t* v) {
    DmBlock* blk;
    int r = info->tm->read_lock(get_le64(v), &kArrayBlockValidator, &blk);
    if (r) return r;
    uint8_t* d = dm_block_data(blk);
    const uint32_t nr = layout::nr_entries.get(d);
    std::vector<uint8_t> copy(d, d + info->tm->bm()->block_size());
    info->tm->unlock(blk);
    for (uint32_t i = 0; i < nr; i++) {
      r = fn(static_cast<uint32_t>(key) * per + i, entry(copy.data(), info, i));
      if (r) return r;
    }
    return 0;
  });
}

}  // namespace engines::pd
