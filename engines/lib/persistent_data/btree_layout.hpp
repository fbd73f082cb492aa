// The kernel's btree node (struct btree_node in dm-btree-internal.h), no magic and no version:
//   @0 csum u32 (crc32c of bytes 4..end, XOR 121107), @4 flags u32 (kInternalNode or kLeafNode),
//   @8 blocknr u64, @16 nr_entries u32, @20 max_entries u32, @24 value_size u32, @28 padding u32,
//   @32 keys u64[max_entries], then values[max_entries] of value_size bytes.
// Internal nodes hold u64 child block numbers as values (value_size 8).
#pragma once

#include "engines/lib/persistent_data/block_header_layout.hpp"

namespace engines::pd::btree_layout {

// The part of struct node_header the block validator looks at: the checksum and the location.
inline constexpr BlockHeaderLayout kBtreeNodeHeader{
    .csum = {0}, .blocknr = {8}, .magic = std::nullopt, .version = std::nullopt};
inline constexpr BlockFormat kFormat{.header = &kBtreeNodeHeader, .magic = 0, .csum_xor = 121107, .version = 0};

constexpr uint32_t kInternalNode = 1, kLeafNode = 2;
constexpr Le32 flags{4}, nr_entries{16}, max_entries{20}, value_size{24}, padding{28};
constexpr LeArray<uint64_t> keys{32};
constexpr size_t kNodeHeaderSize = keys.offset;

// The values start after all max_entries keys.
constexpr size_t value_offset(uint32_t max, uint32_t vsize, uint32_t i) {
  return keys.at(max) + static_cast<size_t>(vsize) * i;
}

// calc_max_entries: a multiple of three entries per node, as dm-btree.c sizes them (3n suits
// repeated insert and remove loops better than 2n + 1): 252 for 8-byte values in 4 KiB blocks.
constexpr uint32_t max_entries_for(size_t block_size, uint32_t vsize) {
  return static_cast<uint32_t>(3 * (((block_size - kNodeHeaderSize) / (8 + vsize)) / 3));
}
static_assert(max_entries_for(4096, 4) == 336 && max_entries_for(4096, 8) == 252 && max_entries_for(4096, 12) == 201 &&
              max_entries_for(4096, 16) == 168);

}  // namespace engines::pd::btree_layout
