// dm-bitset (dm-bitset.c): a dm-array of little-endian u64 words with a one-word cache. The
// cache is keyed only by the word index, not by the bitset's root: after reading word 0 of one
// bitset, a test of bit 5 of another bitset is answered from the first one's word unless
// dm_disk_bitset_init reset the cache in between (the era digestion hazard). flush writes a
// dirty cached word back and forgets it; a clean cached word is kept.
#pragma once

#include <cstdint>

#include "engines/lib/persistent_data/array.hpp"

namespace engines::pd {

struct DmDiskBitset {
  DmArrayInfo array_info;
  uint32_t current_index = 0;
  bool current_index_set = false;
  uint64_t current_bits = 0;
  bool dirty = false;
};

constexpr uint32_t kBitsPerArrayEntry = 64;

void dm_disk_bitset_init(DmTransactionManager* tm, DmDiskBitset* info);
int dm_bitset_empty(DmDiskBitset* info, uint64_t* root);
int dm_bitset_resize(DmDiskBitset* info, uint64_t root, uint32_t old_nr_entries, uint32_t new_nr_entries,
                     bool default_value, uint64_t* new_root);
int dm_bitset_del(DmDiskBitset* info, uint64_t root);
int dm_bitset_flush(DmDiskBitset* info, uint64_t root, uint64_t* new_root);
int dm_bitset_set_bit(DmDiskBitset* info, uint64_t root, uint32_t index, uint64_t* new_root);
int dm_bitset_clear_bit(DmDiskBitset* info, uint64_t root, uint32_t index, uint64_t* new_root);
int dm_bitset_test_bit(DmDiskBitset* info, uint64_t root, uint32_t index, uint64_t* new_root, bool* result);

}  // namespace engines::pd
