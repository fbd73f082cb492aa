// dm-clone's on-disk format (dm-clone-metadata.c's struct superblock_disk), shared by the target
// and the checks that read recovered metadata. Block 0 holds the superblock; the region bitmap is
// a dm-bitset (one bit per region, 1 = hydrated) whose root the superblock names. All fields are
// little-endian and packed:
//   @0 csum u32 (crc32c of bytes 4..4095 XOR 257649492), @4 flags u32, @8 blocknr u64,
//   @16 uuid[16], @32 magic u64 (0x8af27f64), @40 version u32 (1), @44 metadata_space_map_root[128],
//   @172 region_size u64, @180 target_size u64 (sectors), @188 bitset_root u64; zero after.
#pragma once

#include <cstdint>
#include <string>

#include "engines/lib/persistent_data/block_header_layout.hpp"
#include "engines/lib/persistent_data/block_manager.hpp"
#include "engines/lib/persistent_data/space_map_layout.hpp"

namespace engines::clone {

constexpr uint64_t SUPERBLOCK_LOCATION = 0;
constexpr uint64_t SUPERBLOCK_MAGIC = 0x8af27f64;
constexpr uint32_t SUPERBLOCK_CSUM_XOR = 257649492;
constexpr uint32_t DM_CLONE_MIN_METADATA_VERSION = 1, DM_CLONE_MAX_METADATA_VERSION = 1;
constexpr unsigned DM_CLONE_METADATA_BLOCK_SIZE = 8;  // sectors
constexpr unsigned DM_CLONE_MAX_CONCURRENT_LOCKS = 5;
// The metadata space map's limit, and the size above which the constructor warns about it.
constexpr uint64_t DM_CLONE_METADATA_MAX_SECTORS = 255ull * ((1 << 14) - 64) * 8;
constexpr uint64_t DM_CLONE_METADATA_MAX_SECTORS_WARNING = 2 * DM_CLONE_METADATA_MAX_SECTORS;

namespace superblock_layout {
constexpr size_t kUuidLen = 16;
constexpr size_t kSpaceMapRootSize = 128;
constexpr pd::Le32 csum{0}, flags{4};
constexpr pd::Le64 blocknr{8};
constexpr size_t kUuid = 16;
constexpr pd::Le64 magic{32};
constexpr pd::Le32 version{40};
constexpr size_t kMetadataSpaceMapRoot = 44;
constexpr pd::Le64 region_size{172}, target_size{180}, bitset_root{188};
constexpr size_t kSize = bitset_root.end();

inline constexpr pd::BlockHeaderLayout kHeader{.csum = csum, .blocknr = blocknr, .magic = {}, .version = {}};

static_assert(kUuid + kUuidLen == magic.offset);
static_assert(version.end() == kMetadataSpaceMapRoot);
static_assert(kMetadataSpaceMapRoot + kSpaceMapRootSize == region_size.offset);
static_assert(pd::kSpaceMapRootSize <= kSpaceMapRootSize);
static_assert(kSize == 196);
// Every field is in the first sector: the engine journal's commit records keep only that sector.
static_assert(kSize <= 512);
}  // namespace superblock_layout

// sb_validator ("superblock"): sb_prepare_for_write and sb_check, with the kernel's messages.
extern const pd::DmBlockValidator sb_validator;

struct superblock_fields {
  uint32_t flags = 0;
  uint64_t blocknr = SUPERBLOCK_LOCATION;  // read only: the validator writes the location
  uint64_t magic = SUPERBLOCK_MAGIC;
  uint32_t version = DM_CLONE_MAX_METADATA_VERSION;
  uint8_t metadata_space_map_root[superblock_layout::kSpaceMapRootSize] = {};
  uint64_t region_size = 0;
  uint64_t target_size = 0;
  uint64_t bitset_root = 0;
};

// Every field but csum and blocknr, which the validator fills in when the block is written.
void superblock_pack(const superblock_fields& f, uint8_t* block);
superblock_fields superblock_unpack(const uint8_t* block);

}  // namespace engines::clone
