// The kernel's array block (struct array_block in dm-array.c), no magic and no version:
//   @0 csum u32 (crc32c of bytes 4..end, XOR 595846735), @4 max_entries u32, @8 nr_entries u32,
//   @12 value_size u32, @16 blocknr u64, @24 values[max_entries] of value_size bytes.
// Note the order: max_entries before nr_entries, and blocknr at 16 (not 8 as in btree nodes).
#pragma once

#include "engines/lib/persistent_data/block_header_layout.hpp"

namespace engines::pd::array_layout {

inline constexpr BlockHeaderLayout kArrayBlockHeader{
    .csum = {0}, .blocknr = {16}, .magic = std::nullopt, .version = std::nullopt};
inline constexpr BlockFormat kFormat{.header = &kArrayBlockHeader, .magic = 0, .csum_xor = 595846735, .version = 0};

constexpr Le32 max_entries{4}, nr_entries{8}, value_size{12};
constexpr size_t kValuesOffset = 24;

constexpr size_t value_offset(uint32_t vsize, uint32_t i) {
  return kValuesOffset + static_cast<size_t>(vsize) * i;
}

// calc_max_entries of dm-array.c: as many values as fit after the header (no multiple-of-3 rule):
// 1018 u32 or 509 u64 values in a 4 KiB block.
constexpr uint32_t max_entries_for(size_t block_size, uint32_t vsize) {
  return static_cast<uint32_t>((block_size - kValuesOffset) / vsize);
}
static_assert(max_entries_for(4096, 4) == 1018 && max_entries_for(4096, 8) == 509);

}  // namespace engines::pd::array_layout
