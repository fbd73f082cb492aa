// dm-era's on-disk structures in dmsim's block encoding. The kernel's superblock fields, field for
// field, after the common block header:
//   @24 flags u32, @28 data_block_size u32, @32 metadata_block_size u32, @36 nr_blocks u32,
//   @40 current_era u32, @44 current_writeset (a writeset_disk), @56 writeset_tree_root u64,
//   @64 era_array_root u64, @72 metadata_snap u64, @80 metadata space map root (32 bytes).
// A writeset_disk, as the kernel packs it (also the writeset tree's values): @0 nr_bits u32,
// @4 root u64.
#pragma once

#include "engines/lib/persistent_data/block_header_layout.hpp"
#include "engines/lib/persistent_data/space_map_layout.hpp"

namespace engines::era {

namespace writeset_disk_layout {
constexpr pd::Le32 nr_bits{0};
constexpr pd::Le64 root{4};
constexpr size_t kSize = root.end();
}  // namespace writeset_disk_layout

namespace superblock_layout {
inline constexpr const pd::BlockHeaderLayout* kHeader = &pd::kCommonBlockHeader;
constexpr pd::Le32 flags{24}, data_block_size{28}, metadata_block_size{32}, nr_blocks{36}, current_era{40};
constexpr size_t kCurrentWriteset = 44;
constexpr pd::Le64 writeset_tree_root{56}, era_array_root{64}, metadata_snap{72};
constexpr size_t kMetadataSpaceMapRoot = 80;
static_assert(kCurrentWriteset + writeset_disk_layout::kSize <= writeset_tree_root.offset);
// Every field is in the first sector: the engine journal's commit records keep only that sector.
static_assert(kMetadataSpaceMapRoot + pd::kSpaceMapRootSize <= 512);
}  // namespace superblock_layout

}  // namespace engines::era
