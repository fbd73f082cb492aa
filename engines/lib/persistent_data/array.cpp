#include "engines/lib/persistent_data/array.hpp"

#include <cstring>
#include <vector>

#include "engines/lib/persistent_data/array_layout.hpp"
#include "engines/lib/persistent_data/codec.hpp"
#include "sim/assert.hpp"

namespace engines::pd {

namespace {

namespace layout = array_layout;

// array_block_check of dm-array.c (location, then checksum), in its words. The kernel trusts the
// header after that; dmsim also refuses counts that would take a walk past the block's end.
int check_array_block(const DmBlockValidator& v, uint64_t location, const uint8_t* d, size_t size, std::string* why) {
  int r = check_blocknr_and_csum(v, location, d, size, "array: array_block_check", why);
  if (r) return r;
  const uint32_t max = layout::max_entries.get(d), nr = layout::nr_entries.get(d), vs = layout::value_size.get(d);
  if (layout::kValuesOffset + static_cast<uint64_t>(max) * vs > size || nr > max) {
    *why = "array: block with max_entries " + std::to_string(max) + ", nr_entries " + std::to_string(nr) +
           ", value_size " + std::to_string(vs) + " does not fit (dmsim refuses it)";
    return -EILSEQ;
  }
  return 0;
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

const DmBlockValidator kArrayBlockValidator{"array", layout::kFormat, nullptr, check_array_block};

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

namespace {

// struct resize of dm-array.c: the array before and after, in full blocks and a partial tail.
struct Resize {
  DmArrayInfo* info;
  uint64_t root;
  uint32_t max_entries;
  uint32_t old_nr_full_blocks, new_nr_full_blocks;
  uint32_t old_nr_entries_in_last_block, new_nr_entries_in_last_block;
  const uint8_t* value;
};

uint32_t total_nr_blocks_needed(uint32_t full, uint32_t in_last) {
  return full + (in_last ? 1 : 0);
}

int insert_new_ablock(DmArrayInfo* info, uint32_t block_index, uint32_t nr, const uint8_t* value, uint64_t* root) {
  uint64_t loc;
  int r = new_ablock(info, nr, value, &loc);
  if (r) return r;
  uint8_t v[8];
  put_le64(v, loc);
  return dm_btree_insert(&info->btree_info, *root, block_index, v, root);
}

// fill_ablock / trim_ablock: entries added are inc'd, entries dropped dec'd.
int resize_tail_block(Resize* rs, uint32_t block_index, uint32_t new_nr) {
  DmBlock* blk;
  int r = shadow_ablock(rs->info, rs->root, block_index, &blk, &rs->root);
  if (r) return r;
  uint8_t* d = dm_block_data(blk);
  const uint32_t nr = layout::nr_entries.get(d);
  DMSIM_ASSERT(new_nr <= layout::max_entries.get(d), "array block resized past max_entries");
  for (uint32_t i = nr; i < new_nr; i++) std::memcpy(entry(d, rs->info, i), rs->value, rs->info->value_type.size);
  if (new_nr > nr) inc_entries(rs->info, d, nr, new_nr);
  if (new_nr < nr) dec_entries(rs->info, d, new_nr, nr);
  layout::nr_entries.put(d, new_nr);
  rs->info->tm->unlock(blk);
  return 0;
}

// shrink of dm-array.c. Blocks go only when the number of full blocks falls: shrinking a partial
// tail to nothing (new size a multiple of max_entries, same full blocks) leaves the tail block
// in the tree, as the kernel does; a later grow overwrites it.
int shrink(Resize* rs) {
  int r;
  if (rs->new_nr_full_blocks < rs->old_nr_full_blocks) {
    const uint32_t begin = total_nr_blocks_needed(rs->new_nr_full_blocks, rs->new_nr_entries_in_last_block);
    const uint32_t end = total_nr_blocks_needed(rs->old_nr_full_blocks, rs->old_nr_entries_in_last_block);
    for (uint32_t b = begin; b != end; b++) {
      r = dm_btree_remove(&rs->info->btree_info, rs->root, b, &rs->root);
      if (r) return r;
    }
  }
  if (rs->new_nr_entries_in_last_block)
    return resize_tail_block(rs, rs->new_nr_full_blocks, rs->new_nr_entries_in_last_block);
  return 0;
}

// grow of dm-array.c: fill the old tail, add full blocks, then a new partial tail.
int grow(Resize* rs) {
  int r;
  if (rs->new_nr_full_blocks > rs->old_nr_full_blocks) {
    uint32_t old_nr_blocks = rs->old_nr_full_blocks;
    if (rs->old_nr_entries_in_last_block > 0) {
      old_nr_blocks++;
      r = resize_tail_block(rs, rs->old_nr_full_blocks, rs->max_entries);
      if (r) return r;
    }
    for (uint32_t b = old_nr_blocks; b != rs->new_nr_full_blocks; b++) {
      r = insert_new_ablock(rs->info, b, rs->max_entries, rs->value, &rs->root);
      if (r) return r;
    }
    if (rs->new_nr_entries_in_last_block)
      return insert_new_ablock(rs->info, rs->new_nr_full_blocks, rs->new_nr_entries_in_last_block, rs->value,
                               &rs->root);
    return 0;
  }
  if (rs->old_nr_entries_in_last_block)
    return resize_tail_block(rs, rs->old_nr_full_blocks, rs->new_nr_entries_in_last_block);
  return insert_new_ablock(rs->info, rs->new_nr_full_blocks, rs->new_nr_entries_in_last_block, rs->value, &rs->root);
}

}  // namespace

int dm_array_resize(DmArrayInfo* info, uint64_t root, uint32_t old_size, uint32_t new_size, const uint8_t* value,
                    uint64_t* new_root) {
  KFRAME_NAMED("dm_array_resize");
  *new_root = root;
  if (old_size == new_size) return 0;
  const uint32_t per = max_entries(info);
  Resize rs{info, root, per, old_size / per, new_size / per, old_size % per, new_size % per, value};
  const int r = new_size > old_size ? grow(&rs) : shrink(&rs);
  if (r) return r;
  *new_root = rs.root;
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
  // array_set_value: only a type with a dec sees the change, dec of the old value then inc of the new.
  const DmBtreeValueType& vt = info->value_type;
  if (vt.dec && !(vt.equal && vt.equal(old, value))) {
    vt.dec(old);
    if (vt.inc) vt.inc(value);
  }
  std::memcpy(old, value, info->value_type.size);
  info->tm->unlock(blk);
  return 0;
}

// walk_ablock: indexes come from each block's own max_entries, as the kernel and the tools number them.
int dm_array_walk(DmArrayInfo* info, uint64_t root, const std::function<int(uint32_t, const uint8_t*)>& fn) {
  return dm_btree_walk(&info->btree_info, root, [&](uint64_t key, const uint8_t* v) {
    DmBlock* blk;
    int r = info->tm->read_lock(get_le64(v), &kArrayBlockValidator, &blk);
    if (r) return r;
    uint8_t* d = dm_block_data(blk);
    const uint32_t nr = layout::nr_entries.get(d), per = layout::max_entries.get(d);
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
