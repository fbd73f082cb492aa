#include "engines/lib/persistent_data/space_map_common.hpp"

#include <algorithm>
#include <cstring>

#include "engines/lib/persistent_data/codec.hpp"
#include "sim/assert.hpp"

namespace engines::pd {

const DmBlockValidator kSmBitmapValidator{"sm_bitmap", sm_bitmap_layout::kFormat};
const DmBlockValidator kSmIndexValidator{"index", sm_metadata_index_layout::kFormat};

namespace {

namespace bitmap = sm_bitmap_layout;
namespace index_layout = sm_metadata_index_layout;
namespace ie_layout = sm_index_entry_layout;

void log_err(const std::string& msg) {
  pd_log("device-mapper: space map common: " + msg);
}

uint64_t div_up(uint64_t n, uint64_t d) {
  return (n + d - 1) / d;
}

// Every entry of the word at `e` (a multiple of 32) is non-zero (dm_bitmap_word_used).
bool bitmap_word_used(const uint8_t* words, uint32_t e) {
  const uint64_t w = get_le64(words + 8 * (e / bitmap::kEntriesPerWord));
  constexpr uint64_t kLowOfEachPair = 0x5555555555555555ull;
  return ((w | (w >> 1)) & kLowOfEachPair) == kLowOfEachPair;
}

// The first zero entry in [begin, end), skipping fully used words (sm_find_free).
int sm_find_free(const uint8_t* words, uint32_t begin, uint32_t end, uint32_t* result) {
  while (begin < end) {
    if (begin % bitmap::kEntriesPerWord == 0 && bitmap_word_used(words, begin)) {
      begin += bitmap::kEntriesPerWord;
      continue;
    }
    if (!sm_lookup_bitmap(words, begin)) {
      *result = begin;
      return 0;
    }
    begin++;
  }
  return -ENOSPC;
}

const uint8_t* bitmap_words(DmBlock* b) {
  return dm_block_data(b) + bitmap::kHeaderSize;
}

// ---- the two flavours of the index (ll->load_ie, save_ie, init_index, open_index, max_entries,
// commit in the kernel) ----

int metadata_ll_load_ie(LlDisk* ll, uint64_t index, DiskIndexEntry* ie) {
  if (index >= ll->mi.size()) {
    log_err("index " + std::to_string(index) + " beyond the metadata space map's index block");
    return -EINVAL;
  }
  *ie = ll->mi[index];
  return 0;
}

int metadata_ll_save_ie(LlDisk* ll, uint64_t index, const DiskIndexEntry& ie) {
  DMSIM_ASSERT(index < ll->mi.size(), "metadata space map: saving an index entry beyond the index block");
  ll->bitmap_index_changed = true;
  ll->mi[index] = ie;
  return 0;
}

void metadata_index_pack(const LlDisk& ll, uint8_t* d) {
  for (uint32_t i = 0; i < ll.mi.size(); i++) index_entry_pack(ll.mi[i], d + index_layout::entry_offset(i));
}

int metadata_ll_init_index(LlDisk* ll) {
  DmBlock* b;
  const int r = ll->tm->new_block(&kSmIndexValidator, &b);
  if (r) return r;
  metadata_index_pack(*ll, dm_block_data(b));
  ll->bitmap_root = dm_block_location(b);
  ll->tm->unlock(b);
  return 0;
}

int metadata_ll_open(LlDisk* ll) {
  DmBlock* b;
  const int r = ll->tm->read_lock(ll->bitmap_root, &kSmIndexValidator, &b);
  if (r) return r;
  const uint8_t* d = dm_block_data(b);
  for (uint32_t i = 0; i < ll->mi.size(); i++) ll->mi[i] = index_entry_unpack(d + index_layout::entry_offset(i));
  ll->tm->unlock(b);
  return 0;
}

// The index block is shadowed: a new location on the first commit of a transaction.
int metadata_ll_commit(LlDisk* ll) {
  DmBlock* b;
  int inc;
  const int r = ll->tm->shadow_block(ll->bitmap_root, &kSmIndexValidator, &b, &inc);
  if (r) return r;
  metadata_index_pack(*ll, dm_block_data(b));
  ll->bitmap_root = dm_block_location(b);
  ll->tm->unlock(b);
  return 0;
}

int disk_ll_load_ie(LlDisk* ll, uint64_t index, DiskIndexEntry* ie) {
  uint8_t v[ie_layout::kSize];
  const int r = dm_btree_lookup(&ll->bitmap_info, ll->bitmap_root, index, v);
  if (!r) *ie = index_entry_unpack(v);
  return r;
}

int disk_ll_save_ie(LlDisk* ll, uint64_t index, const DiskIndexEntry& ie) {
  uint8_t v[ie_layout::kSize];
  index_entry_pack(ie, v);
  return dm_btree_insert(&ll->bitmap_info, ll->bitmap_root, index, v, &ll->bitmap_root);
}

int save_ie(LlDisk* ll, uint64_t index, const DiskIndexEntry& ie) {
  return ll->kind == LlKind::kMetadata ? metadata_ll_save_ie(ll, index, ie) : disk_ll_save_ie(ll, index, ie);
}

uint64_t max_entries(const LlDisk& ll) {
  return ll.kind == LlKind::kMetadata ? index_layout::kMaxMetadataBitmaps : UINT64_MAX;
}

int sm_ll_init(LlDisk* ll, DmTransactionManager* tm, LlKind kind) {
  *ll = LlDisk{};
  ll->kind = kind;
  ll->tm = tm;
  // Bitmaps are replaced by shadowing, which already dropped the old one's reference: the
  // index tree does no reference counting of its values, nor does the ref-count tree.
  ll->bitmap_info.tm = tm;
  ll->bitmap_info.value_type.size = ie_layout::kSize;
  ll->ref_count_info.tm = tm;
  ll->ref_count_info.value_type.size = sizeof(uint32_t);
  ll->block_size = tm->bm()->block_size();
  ll->entries_per_block = bitmap::entries_per_block(ll->block_size);
  return 0;
}

void root_unpack(LlDisk* ll, const uint8_t* root) {
  ll->nr_blocks = sm_root_layout::nr_blocks.get(root);
  ll->nr_allocated = sm_root_layout::nr_allocated.get(root);
  ll->bitmap_root = sm_root_layout::bitmap_root.get(root);
  ll->ref_count_root = sm_root_layout::ref_count_root.get(root);
}

int sm_ll_lookup_big_ref_count(LlDisk* ll, uint64_t b, uint32_t* result) {
  uint8_t v[4];
  const int r = dm_btree_lookup(&ll->ref_count_info, ll->ref_count_root, b, v);
  if (!r) *result = get_le32(v);
  return r;
}

// Changes one count: shadows its bitmap, moves the count in or out of the ref-count tree, and
// keeps the index entry's nr_free and none_free_before hint (sm_ll_mutate).
int sm_ll_mutate(LlDisk* ll, uint64_t b, const std::function<int(uint32_t old, uint32_t* ref_count)>& mutator,
                 AllocationEvent* ev) {
  if (b >= ll->nr_blocks) {
    log_err("block " + std::to_string(b) + " is beyond the space map (" + std::to_string(ll->nr_blocks) + " blocks)");
    return -EINVAL;
  }
  const uint64_t index = b / ll->entries_per_block;
  const uint32_t bit = static_cast<uint32_t>(b % ll->entries_per_block);
  DiskIndexEntry ie;
  int r = sm_ll_load_ie(ll, index, &ie);
  if (r) return r;
  DmBlock* nb;
  int inc;
  r = ll->tm->shadow_block(ie.blocknr, &kSmBitmapValidator, &nb, &inc);
  if (r) {
    log_err("dm_tm_shadow_block() failed");
    return r;
  }
  ie.blocknr = dm_block_location(nb);
  uint8_t* words = dm_block_data(nb) + bitmap::kHeaderSize;
  uint32_t old = sm_lookup_bitmap(words, bit);
  if (old > 2) {
    r = sm_ll_lookup_big_ref_count(ll, b, &old);
    if (r) {
      ll->tm->unlock(nb);
      return r;
    }
  }
  uint32_t ref_count;
  r = mutator(old, &ref_count);
  if (r) {
    ll->tm->unlock(nb);
    return r;
  }
  if (ref_count <= 2) {
    sm_set_bitmap(words, bit, ref_count);
    ll->tm->unlock(nb);
    if (old > 2) {
      r = dm_btree_remove(&ll->ref_count_info, ll->ref_count_root, b, &ll->ref_count_root);
      if (r) return r;
    }
  } else {
    sm_set_bitmap(words, bit, 3);
    ll->tm->unlock(nb);
    uint8_t v[4];
    put_le32(v, ref_count);
    r = dm_btree_insert(&ll->ref_count_info, ll->ref_count_root, b, v, &ll->ref_count_root);
    if (r) {
      log_err("ref count insert failed");
      return r;
    }
  }
  if (ref_count && !old) {
    *ev = AllocationEvent::kAlloc;
    ll->nr_allocated++;
    ie.nr_free--;
    if (ie.none_free_before == bit) ie.none_free_before = bit + 1;
  } else if (old && !ref_count) {
    *ev = AllocationEvent::kFree;
    ll->nr_allocated--;
    ie.nr_free++;
    ie.none_free_before = std::min(ie.none_free_before, bit);
  } else {
    *ev = AllocationEvent::kNone;
  }
  return save_ie(ll, index, ie);
}

}  // namespace

void index_entry_pack(const DiskIndexEntry& ie, uint8_t* out) {
  ie_layout::blocknr.put(out, ie.blocknr);
  ie_layout::nr_free.put(out, ie.nr_free);
  ie_layout::none_free_before.put(out, ie.none_free_before);
}

DiskIndexEntry index_entry_unpack(const uint8_t* in) {
  return DiskIndexEntry{ie_layout::blocknr.get(in), ie_layout::nr_free.get(in), ie_layout::none_free_before.get(in)};
}

uint32_t sm_lookup_bitmap(const uint8_t* words, uint32_t e) {
  const uint64_t w = get_le64(words + 8 * (e / bitmap::kEntriesPerWord));
  const uint32_t bit = 2 * (e % bitmap::kEntriesPerWord);
  const uint32_t hi = (w >> bit) & 1, lo = (w >> (bit + 1)) & 1;
  return hi << 1 | lo;
}

void sm_set_bitmap(uint8_t* words, uint32_t e, uint32_t value) {
  uint8_t* p = words + 8 * (e / bitmap::kEntriesPerWord);
  const uint32_t bit = 2 * (e % bitmap::kEntriesPerWord);
  uint64_t w = get_le64(p);
  w &= ~(uint64_t{3} << bit);
  w |= uint64_t{(value >> 1) & 1} << bit;
  w |= uint64_t{value & 1} << (bit + 1);
  put_le64(p, w);
}

int sm_ll_load_ie(LlDisk* ll, uint64_t index, DiskIndexEntry* ie) {
  return ll->kind == LlKind::kMetadata ? metadata_ll_load_ie(ll, index, ie) : disk_ll_load_ie(ll, index, ie);
}

int sm_ll_new_metadata(LlDisk* ll, DmTransactionManager* tm) {
  int r = sm_ll_init(ll, tm, LlKind::kMetadata);
  if (r) return r;
  r = metadata_ll_init_index(ll);
  if (r) return r;
  return dm_btree_empty(&ll->ref_count_info, &ll->ref_count_root);
}

int sm_ll_open_metadata(LlDisk* ll, DmTransactionManager* tm, const uint8_t* root) {
  int r = sm_ll_init(ll, tm, LlKind::kMetadata);
  if (r) return r;
  root_unpack(ll, root);
  // Not a kernel check: a corrupt root must not make a checker walk past the device.
  if (ll->nr_blocks == 0 || ll->nr_blocks > tm->bm()->nr_blocks() || ll->nr_blocks > kSmMetadataMaxBlocks) {
    log_err("metadata space map root claims " + std::to_string(ll->nr_blocks) + " blocks");
    return -EILSEQ;
  }
  return metadata_ll_open(ll);
}

int sm_ll_new_disk(LlDisk* ll, DmTransactionManager* tm) {
  int r = sm_ll_init(ll, tm, LlKind::kDisk);
  if (r) return r;
  r = dm_btree_empty(&ll->bitmap_info, &ll->bitmap_root);
  if (r) return r;
  return dm_btree_empty(&ll->ref_count_info, &ll->ref_count_root);
}

int sm_ll_open_disk(LlDisk* ll, DmTransactionManager* tm, const uint8_t* root) {
  const int r = sm_ll_init(ll, tm, LlKind::kDisk);
  if (r) return r;
  root_unpack(ll, root);
  return 0;
}

int sm_ll_extend(LlDisk* ll, uint64_t extra_blocks) {
  const uint64_t nr_blocks = ll->nr_blocks + extra_blocks;
  const uint64_t old_blocks = div_up(ll->nr_blocks, ll->entries_per_block);
  const uint64_t blocks = div_up(nr_blocks, ll->entries_per_block);
  if (blocks > max_entries(*ll)) {
    log_err("space map too large");
    return -EINVAL;
  }
  // Set before allocating: a metadata map may allocate the new bitmaps in the new area.
  ll->nr_blocks = nr_blocks;
  for (uint64_t i = old_blocks; i < blocks; i++) {
    DmBlock* b;
    int r = ll->tm->new_block(&kSmBitmapValidator, &b);
    if (r) return r;
    DiskIndexEntry ie;
    ie.blocknr = dm_block_location(b);
    ll->tm->unlock(b);
    // Every entry counts as free, even past nr_blocks in the last bitmap, as the kernel has it.
    ie.nr_free = ll->entries_per_block;
    ie.none_free_before = 0;
    r = save_ie(ll, i, ie);
    if (r) return r;
  }
  return 0;
}

int sm_ll_lookup_bitmap(LlDisk* ll, uint64_t b, uint32_t* result) {
  if (b >= ll->nr_blocks) {
    log_err("block " + std::to_string(b) + " out of bounds");
    return -EINVAL;
  }
  DiskIndexEntry ie;
  int r = sm_ll_load_ie(ll, b / ll->entries_per_block, &ie);
  if (r) return r;
  DmBlock* blk;
  r = ll->tm->read_lock(ie.blocknr, &kSmBitmapValidator, &blk);
  if (r) return r;
  *result = sm_lookup_bitmap(bitmap_words(blk), static_cast<uint32_t>(b % ll->entries_per_block));
  ll->tm->unlock(blk);
  return 0;
}

int sm_ll_lookup(LlDisk* ll, uint64_t b, uint32_t* result) {
  const int r = sm_ll_lookup_bitmap(ll, b, result);
  if (r || *result != 3) return r;
  return sm_ll_lookup_big_ref_count(ll, b, result);
}

int sm_ll_find_free_block(LlDisk* ll, uint64_t begin, uint64_t end, uint64_t* result) {
  const uint64_t epb = ll->entries_per_block;
  const uint64_t index_begin = begin / epb, index_end = div_up(end, epb);
  uint64_t bit_begin = begin % epb;
  uint64_t last_end = end % epb;
  if (last_end == 0) last_end = epb;
  for (uint64_t i = index_begin; i < index_end; i++, bit_begin = 0) {
    DiskIndexEntry ie;
    int r = sm_ll_load_ie(ll, i, &ie);
    if (r) return r;
    if (ie.nr_free == 0) continue;
    DmBlock* blk;
    r = ll->tm->read_lock(ie.blocknr, &kSmBitmapValidator, &blk);
    if (r) return r;
    const uint64_t bit_end = i == index_end - 1 ? last_end : epb;
    uint32_t position;
    r = sm_find_free(bitmap_words(blk), static_cast<uint32_t>(std::max<uint64_t>(bit_begin, ie.none_free_before)),
                     static_cast<uint32_t>(bit_end), &position);
    ll->tm->unlock(blk);
    if (r == -ENOSPC) continue;  // the search started part way into this bitmap
    if (r) return r;
    *result = i * epb + position;
    return 0;
  }
  return -ENOSPC;
}

int sm_ll_find_common_free_block(LlDisk* old_ll, LlDisk* new_ll, uint64_t begin, uint64_t end, uint64_t* result) {
  for (;;) {
    int r = sm_ll_find_free_block(new_ll, begin, end, result);
    if (r) return r;
    // Free now; it must not be in use in the committed state either.
    if (*result >= old_ll->nr_blocks) return 0;
    uint32_t count;
    r = sm_ll_lookup(old_ll, *result, &count);
    if (r) return r;
    if (!count) return 0;
    begin = *result + 1;
  }
}

int sm_ll_insert(LlDisk* ll, uint64_t b, uint32_t ref_count, AllocationEvent* ev) {
  return sm_ll_mutate(
      ll, b,
      [ref_count](uint32_t, uint32_t* n) {
        *n = ref_count;
        return 0;
      },
      ev);
}

int sm_ll_inc(LlDisk* ll, uint64_t b, AllocationEvent* ev) {
  return sm_ll_mutate(
      ll, b,
      [](uint32_t old, uint32_t* n) {
        *n = old + 1;
        return 0;
      },
      ev);
}

int sm_ll_dec(LlDisk* ll, uint64_t b, AllocationEvent* ev) {
  return sm_ll_mutate(
      ll, b,
      [b](uint32_t old, uint32_t* n) {
        if (!old) {
          log_err("unable to decrement a reference count below 0 (block " + std::to_string(b) + ")");
          return -EINVAL;
        }
        *n = old - 1;
        return 0;
      },
      ev);
}

int sm_ll_commit(LlDisk* ll) {
  if (!ll->bitmap_index_changed) return 0;
  // disk_ll_commit has nothing to write: its index tree went through the transaction manager.
  const int r = ll->kind == LlKind::kMetadata ? metadata_ll_commit(ll) : 0;
  if (!r) ll->bitmap_index_changed = false;
  return r;
}

void sm_ll_copy_root(const LlDisk& ll, uint8_t* out) {
  sm_root_layout::nr_blocks.put(out, ll.nr_blocks);
  sm_root_layout::nr_allocated.put(out, ll.nr_allocated);
  sm_root_layout::bitmap_root.put(out, ll.bitmap_root);
  sm_root_layout::ref_count_root.put(out, ll.ref_count_root);
}

int sm_ll_storage_blocks(LlDisk* ll, std::vector<uint64_t>* out) {
  auto add = [out](uint64_t b) {
    out->push_back(b);
    return 0;
  };
  const uint64_t nr_bitmaps = div_up(ll->nr_blocks, ll->entries_per_block);
  if (ll->kind == LlKind::kMetadata) {
    out->push_back(ll->bitmap_root);
    if (nr_bitmaps > ll->mi.size()) return -EILSEQ;
    for (uint64_t i = 0; i < nr_bitmaps; i++) out->push_back(ll->mi[i].blocknr);
  } else {
    int r = dm_btree_walk_nodes(&ll->bitmap_info, ll->bitmap_root, add);
    if (r) return r;
    r = dm_btree_walk(&ll->bitmap_info, ll->bitmap_root, [out](uint64_t, const uint8_t* v) {
      out->push_back(index_entry_unpack(v).blocknr);
      return 0;
    });
    if (r) return r;
  }
  return dm_btree_walk_nodes(&ll->ref_count_info, ll->ref_count_root, add);
}

}  // namespace engines::pd
