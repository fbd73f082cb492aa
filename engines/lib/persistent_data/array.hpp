// dm-array (dm-array.c): fixed-size values packed into array blocks, the blocks referenced
// from a btree keyed by block index. The array's length is kept by the caller (in its
// superblock); reading or writing an index past the end fails with -ENODATA, as
// dm_array_set_value does in the era resize bug.
// Array blocks are encoded as array_layout.hpp says.
#pragma once

#include <cstdint>
#include <functional>

#include "engines/lib/persistent_data/btree.hpp"

namespace engines::pd {

struct DmArrayInfo {
  DmTransactionManager* tm = nullptr;
  DmBtreeValueType value_type;
  DmBtreeInfo btree_info;  // block index -> array block
};

extern const DmBlockValidator kArrayBlockValidator;

void dm_array_info_init(DmArrayInfo* info, DmTransactionManager* tm, const DmBtreeValueType& vt);
int dm_array_empty(DmArrayInfo* info, uint64_t* root);
int dm_array_resize(DmArrayInfo* info, uint64_t root, uint32_t old_size, uint32_t new_size, const uint8_t* value,
                    uint64_t* new_root);
int dm_array_del(DmArrayInfo* info, uint64_t root);
int dm_array_get_value(DmArrayInfo* info, uint64_t root, uint32_t index, uint8_t* value);
int dm_array_set_value(DmArrayInfo* info, uint64_t root, uint32_t index, const uint8_t* value, uint64_t* new_root);
int dm_array_walk(DmArrayInfo* info, uint64_t root, const std::function<int(uint32_t index, const uint8_t* value)>& fn);
uint32_t dm_array_entries_per_block(const DmArrayInfo* info);

}  // namespace engines::pd
