// The kernel's space-map formats (dm-space-map-common.h; KERNEL_FORMATS.md §6), in 4 KiB
// metadata blocks:
// - the root `disk_sm_root` (32 bytes) a client keeps in its superblock: @0 nr_blocks u64,
//   @8 nr_allocated u64, @16 bitmap_root u64 (the metadata index block, or the root of the disk
//   space map's index btree), @24 ref_count_root u64;
// - `disk_index_entry` (16 bytes): @0 bitmap block u64, @8 nr_free u32, @12 none_free_before u32;
// - a bitmap block: @0 csum u32, @4 not_used u32, @8 blocknr u64, @16 2-bit entries;
// - the metadata index block `disk_metadata_index`: @0 csum u32, @4 padding u32, @8 blocknr u64,
//   @16 255 index entries.
// Bitmaps and index blocks carry no magic and no version: only the checksum's XOR tells them apart.
#pragma once

#include "engines/lib/persistent_data/block_header_layout.hpp"

namespace engines::pd {

constexpr size_t kSpaceMapRootSize = 32;

namespace sm_root_layout {
constexpr Le64 nr_blocks{0}, nr_allocated{8}, bitmap_root{16}, ref_count_root{24};
static_assert(ref_count_root.end() == kSpaceMapRootSize);
}  // namespace sm_root_layout

// The space map's blocks are the metadata device's 4 KiB blocks.
constexpr size_t kSpaceMapBlockSize = 4096;

// The header both bitmaps and the metadata index start with: csum @0, blocknr @8.
inline constexpr BlockHeaderLayout kSpaceMapBlockHeader{
    .csum = {0}, .blocknr = {8}, .magic = std::nullopt, .version = std::nullopt};

namespace sm_index_entry_layout {
constexpr Le64 blocknr{0};
constexpr Le32 nr_free{8}, none_free_before{12};
constexpr size_t kSize = 16;
static_assert(none_free_before.end() == kSize);
}  // namespace sm_index_entry_layout

namespace sm_bitmap_layout {
inline constexpr BlockFormat kFormat{.header = &kSpaceMapBlockHeader, .magic = 0, .csum_xor = 240779, .version = 0};
constexpr Le32 not_used{4};
constexpr size_t kHeaderSize = 16;
// Entry e lives in the little-endian u64 word e / 32, at bits 2 (e % 32) (the high bit of the
// count) and 2 (e % 32) + 1 (the low bit).
constexpr uint32_t kEntriesPerByte = 4, kEntriesPerWord = 32;
constexpr uint32_t entries_per_block(size_t block_size) {
  return static_cast<uint32_t>((block_size - kHeaderSize) * kEntriesPerByte);
}
static_assert(entries_per_block(kSpaceMapBlockSize) == 16320);
}  // namespace sm_bitmap_layout

namespace sm_metadata_index_layout {
inline constexpr BlockFormat kFormat{.header = &kSpaceMapBlockHeader, .magic = 0, .csum_xor = 160478, .version = 0};
constexpr Le32 padding{4};
constexpr size_t kIndexOffset = 16;
constexpr uint32_t kMaxMetadataBitmaps = 255;  // MAX_METADATA_BITMAPS
constexpr size_t entry_offset(uint32_t i) {
  return kIndexOffset + sm_index_entry_layout::kSize * i;
}
static_assert(entry_offset(kMaxMetadataBitmaps) == kSpaceMapBlockSize);
}  // namespace sm_metadata_index_layout

// DM_SM_METADATA_MAX_BLOCKS: the largest metadata device one index block covers.
constexpr uint64_t kSmMetadataMaxBlocks =
    uint64_t{sm_metadata_index_layout::kMaxMetadataBitmaps} * sm_bitmap_layout::entries_per_block(kSpaceMapBlockSize);

}  // namespace engines::pd
