// dmsim's space-map formats, all in 4 KiB metadata blocks:
// - the root (32 bytes) a client keeps in its superblock: @0 magic u32 'SMR1', @4 reserved u32,
//   @8 nr_blocks u64, @16 nr_allocated u64, @24 index block u64;
// - the index block (magic 'SMIX', after the common header): @24 nr_entries u32,
//   @32 count block numbers u64[];
// - count blocks (magic 'SMCT', after the common header): @24 first block u64, @32 nr u32,
//   @40 reference counts u32[nr].
#pragma once

#include "engines/lib/persistent_data/block_header_layout.hpp"

namespace engines::pd {

constexpr size_t kSpaceMapRootSize = 32;

namespace sm_root_layout {
constexpr uint32_t kMagic = 0x31524d53;  // "SMR1"
constexpr Le32 magic{0}, reserved{4};
constexpr Le64 nr_blocks{8}, nr_allocated{16}, index_block{24};
static_assert(index_block.end() == kSpaceMapRootSize);
}  // namespace sm_root_layout

// The space map's blocks are the metadata device's 4 KiB blocks.
constexpr size_t kSpaceMapBlockSize = 4096;

namespace sm_index_layout {
inline constexpr BlockFormat kFormat{
    .header = &kCommonBlockHeader, .magic = 0x58494d53 /* "SMIX" */, .csum_xor = 160478, .version = 1};
constexpr Le32 nr_entries{24};
constexpr LeArray<uint64_t> count_blocks{32};
constexpr size_t kMaxEntries = count_blocks.capacity(kSpaceMapBlockSize);
}  // namespace sm_index_layout

namespace sm_counts_layout {
inline constexpr BlockFormat kFormat{
    .header = &kCommonBlockHeader, .magic = 0x54434d53 /* "SMCT" */, .csum_xor = 240779, .version = 1};
constexpr Le64 first_block{24};
constexpr Le32 nr_entries{32};
constexpr LeArray<uint32_t> counts{40};
constexpr size_t kMaxEntries = counts.capacity(kSpaceMapBlockSize);
}  // namespace sm_counts_layout

}  // namespace engines::pd
