#include "engines/lib/persistent_data/bitset.hpp"

#include "engines/lib/persistent_data/codec.hpp"

namespace engines::pd {

void dm_disk_bitset_init(DmTransactionManager* tm, DmDiskBitset* info) {
  DmBtreeValueType words;
  words.size = 8;
  dm_array_info_init(&info->array_info, tm, words);
  info->current_index_set = false;
  info->dirty = false;
}

int dm_bitset_empty(DmDiskBitset* info, uint64_t* root) {
  return dm_array_empty(&info->array_info, root);
}

int dm_bitset_resize(DmDiskBitset* info, uint64_t root, uint32_t old_nr_entries, uint32_t new_nr_entries,
                     bool default_value, uint64_t* new_root) {
  const uint32_t old_words = (old_nr_entries + kBitsPerArrayEntry - 1) / kBitsPerArrayEntry;
  const uint32_t new_words = (new_nr_entries + kBitsPerArrayEntry - 1) / kBitsPerArrayEntry;
  uint8_t v[8];
  put_le64(v, default_value ? ~0ULL : 0);
  return dm_array_resize(&info->array_info, root, old_words, new_words, v, new_root);
}

int dm_bitset_del(DmDiskBitset* info, uint64_t root) {
  return dm_array_del(&info->array_info, root);
}

int dm_bitset_flush(DmDiskBitset* info, uint64_t root, uint64_t* new_root) {
  *new_root = root;
  if (!info->current_index_set || !info->dirty) return 0;
  uint8_t v[8];
  put_le64(v, info->current_bits);
  const int r = dm_array_set_value(&info->array_info, root, info->current_index, v, new_root);
  if (r) return r;
  info->current_index_set = false;
  info->dirty = false;
  return 0;
}

namespace {

int read_bits(DmDiskBitset* info, uint64_t root, uint32_t array_index) {
  uint8_t v[8];
  const int r = dm_array_get_value(&info->array_info, root, array_index, v);
  if (r) return r;
  info->current_bits = get_le64(v);
  info->current_index_set = true;
  info->current_index = array_index;
  info->dirty = false;
  return 0;
}

// The cached word if it has this index (whatever bitset it came from), else flush and read.
int get_array_entry(DmDiskBitset* info, uint64_t root, uint32_t index, uint64_t* new_root) {
  const uint32_t array_index = index / kBitsPerArrayEntry;
  *new_root = root;
  if (info->current_index_set) {
    if (info->current_index == array_index) return 0;
    const int r = dm_bitset_flush(info, root, new_root);
    if (r) return r;
  }
  return read_bits(info, *new_root, array_index);
}

}  // namespace

int dm_bitset_set_bit(DmDiskBitset* info, uint64_t root, uint32_t index, uint64_t* new_root) {
  const int r = get_array_entry(info, root, index, new_root);
  if (r) return r;
  info->current_bits |= 1ULL << (index % kBitsPerArrayEntry);
  info->dirty = true;
  return 0;
}

int dm_bitset_clear_bit(DmDiskBitset* info, uint64_t root, uint32_t index, uint64_t* new_root) {
  const int r = get_array_entry(info, root, index, new_root);
  if (r) return r;
  info->current_bits &= ~(1ULL << (index % kBitsPerArrayEntry));
  info->dirty = true;
  return 0;
}

int dm_bitset_test_bit(DmDiskBitset* info, uint64_t root, uint32_t index, uint64_t* new_root, bool* result) {
  const int r = get_array_entry(info, root, index, new_root);
  if (r) return r;
  *result = (info->current_bits >> (index % kBitsPerArrayEntry)) & 1;
  return 0;
}

}  // namespace engines::pd
