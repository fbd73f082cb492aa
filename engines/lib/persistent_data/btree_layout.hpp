// dmsim's btree node (magic 'BTND'). After the common block header:
//   @24 flags u32 (kInternalNode or kLeafNode), @28 nr_entries u32, @32 max_entries u32,
//   @36 value_size u32, @40 keys u64[max_entries], then values[max_entries] of value_size bytes.
// Internal nodes hold u64 child block numbers as values.
#pragma once

#include "engines/lib/persistent_data/block_header_layout.hpp"

namespace engines::pd::btree_layout {

inline constexpr BlockFormat kFormat{
    .header = &kCommonBlockHeader, .magic = 0x444e5442 /* "BTND" */, .csum_xor = 121107, .version = 1};

constexpr uint32_t kInternalNode = 1, kLeafNode = 2;
constexpr Le32 flags{24}, nr_entries{28}, max_entries{32}, value_size{36};
constexpr LeArray<uint64_t> keys{40};
constexpr size_t kNodeHeaderSize = keys.offset;

// The values start after all max_entries keys.
constexpr size_t value_offset(uint32_t max, uint32_t vsize, uint32_t i) {
  return keys.at(max) + static_cast<size_t>(vsize) * i;
}

// A multiple of three entries per node, as dm-btree.c sizes them: 3n suits repeated insert and
// remove loops better than 2n + 1.
constexpr uint32_t max_entries_for(size_t block_size, uint32_t vsize) {
  return static_cast<uint32_t>(3 * (((block_size - kNodeHeaderSize) / (8 + vsize)) / 3));
}

}  // namespace engines::pd::btree_layout
