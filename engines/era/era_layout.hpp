// dm-era's on-disk structures, byte for byte as the kernel packs them (dm-era-target.c's
// struct superblock_disk and struct writeset_disk; KERNEL_FORMATS.md §7.1). All fields are
// little-endian and packed.
//
// Superblock (block 0, or a metadata snapshot's copy):
//   @0 csum u32 (crc32c of bytes 4..4095 XOR 146538381), @4 flags u32, @8 blocknr u64,
//   @16 uuid[16], @32 magic u64, @40 version u32, @44 metadata_space_map_root[128],
//   @172 data_block_size u32 (sectors), @176 metadata_block_size u32 (sectors),
//   @180 nr_blocks u32, @184 current_era u32, @188 current_writeset (a writeset_disk),
//   @200 writeset_tree_root u64, @208 era_array_root u64, @216 metadata_snap u64; zero after.
// A writeset_disk (also the writeset tree's values): @0 nr_bits u32, @4 root u64.
#pragma once

#include "engines/lib/persistent_data/block_header_layout.hpp"
#include "engines/lib/persistent_data/space_map_layout.hpp"

namespace engines::era {

namespace writeset_disk_layout {
constexpr pd::Le32 nr_bits{0};
constexpr pd::Le64 root{4};
constexpr size_t kSize = root.end();
static_assert(kSize == 12);
}  // namespace writeset_disk_layout

namespace superblock_layout {
constexpr size_t kUuidLen = 16;            // UUID_LEN
constexpr size_t kSpaceMapRootSize = 128;  // SPACE_MAP_ROOT_SIZE: the space map's root, zero-padded

constexpr pd::Le32 csum{0}, flags{4};
constexpr pd::Le64 blocknr{8};
constexpr size_t kUuid = 16;
constexpr pd::Le64 magic{32};
constexpr pd::Le32 version{40};
constexpr size_t kMetadataSpaceMapRoot = 44;
constexpr pd::Le32 data_block_size{172}, metadata_block_size{176}, nr_blocks{180}, current_era{184};
constexpr size_t kCurrentWriteset = 188;
constexpr pd::Le64 writeset_tree_root{200}, era_array_root{208}, metadata_snap{216};
constexpr size_t kSize = metadata_snap.end();

// sb_prepare_for_write / sb_check: the checksum and the location; the magic (a u64) and the
// version are checked by sb_check itself, in the kernel's order (era_format.cpp).
inline constexpr pd::BlockHeaderLayout kHeader{.csum = csum, .blocknr = blocknr, .magic = {}, .version = {}};

static_assert(kUuid + kUuidLen == magic.offset);
static_assert(version.end() == kMetadataSpaceMapRoot);
static_assert(kMetadataSpaceMapRoot + kSpaceMapRootSize == data_block_size.offset);
static_assert(kCurrentWriteset == current_era.end());
static_assert(kCurrentWriteset + writeset_disk_layout::kSize == writeset_tree_root.offset);
static_assert(pd::kSpaceMapRootSize <= kSpaceMapRootSize);
static_assert(kSize == 224);
// Every field is in the first sector: the engine journal's commit records keep only that sector.
static_assert(kSize <= 512);
}  // namespace superblock_layout

}  // namespace engines::era
