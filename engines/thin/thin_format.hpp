// dm-thin's on-disk format (drivers/md/dm-thin-metadata.c), shared by the pool's metadata code
// and the userland tools (thin_check, thin_dump): the constants, the superblock and the two
// value types of the mapping trees, byte for byte as the kernel packs them. All fields are
// little-endian and packed.
//
// Superblock (block 0, or a metadata snapshot's copy):
//   @0 csum u32 (crc32c of bytes 4..4095 XOR 160774), @4 flags u32, @8 blocknr u64,
//   @16 uuid[16], @32 magic u64, @40 version u32, @44 time u32, @48 trans_id u64,
//   @56 held_root u64, @64 data_space_map_root[128], @192 metadata_space_map_root[128],
//   @320 data_mapping_root u64, @328 device_details_root u64, @336 data_block_size u32 (sectors),
//   @340 metadata_block_size u32 (sectors), @344 metadata_nr_blocks u64, @352 compat_flags u32,
//   @356 compat_ro_flags u32, @360 incompat_flags u32; zero after.
// Device details (the details tree's values, 24 bytes): @0 mapped_blocks u64,
//   @8 transaction_id u64, @16 creation_time u32, @20 snapshotted_time u32.
// Mapping (the bottom-level trees' values, 8 bytes): (data block << 24) | time.
#pragma once

#include <cstdint>

#include "engines/lib/persistent_data/block_header_layout.hpp"
#include "engines/lib/persistent_data/block_manager.hpp"
#include "engines/lib/persistent_data/space_map_layout.hpp"

namespace engines::thin {

constexpr uint64_t THIN_SUPERBLOCK_LOCATION = 0;
constexpr uint64_t THIN_SUPERBLOCK_MAGIC = 27022010;
constexpr uint32_t THIN_VERSION = 2;  // the only version the kernel writes
// Bytes per metadata block (the kernel's constant of that name counts 512-byte sectors: 8).
constexpr unsigned THIN_METADATA_BLOCK_SIZE = 4096;
constexpr uint32_t THIN_METADATA_BLOCK_SECTORS = THIN_METADATA_BLOCK_SIZE >> 9;
constexpr uint32_t THIN_METADATA_NEEDS_CHECK_FLAG = 1;  // superblock `flags` bit 0
constexpr uint32_t SUPERBLOCK_CSUM_XOR = 160774;
constexpr unsigned THIN_MAX_CONCURRENT_LOCKS = 6;  // block locks one thread may hold at once
// The largest metadata device the metadata space map covers, in sectors; the rest is unused.
constexpr uint64_t THIN_METADATA_MAX_SECTORS = pd::kSmMetadataMaxBlocks * THIN_METADATA_BLOCK_SECTORS;
constexpr uint64_t MAX_DEV_ID = (1ull << 24) - 1;  // thin device ids are 24-bit
// No optional features are supported: a superblock with any of these bits set is refused.
constexpr uint32_t THIN_FEATURE_COMPAT_SUPP = 0, THIN_FEATURE_COMPAT_RO_SUPP = 0, THIN_FEATURE_INCOMPAT_SUPP = 0;

constexpr size_t SPACE_MAP_ROOT_SIZE = 128;  // the superblock's room per space map root, zero-padded
constexpr size_t UUID_LEN = 16;
constexpr size_t DEVICE_DETAILS_SIZE = 24;  // sizeof(struct disk_device_details)

namespace superblock_layout {
constexpr pd::Le32 csum{0}, flags{4};
constexpr pd::Le64 blocknr{8};
constexpr size_t kUuid = 16;
constexpr pd::Le64 magic{32};
constexpr pd::Le32 version{40}, time{44};
constexpr pd::Le64 trans_id{48}, held_root{56};
constexpr size_t kDataSpaceMapRoot = 64, kMetadataSpaceMapRoot = 192;
constexpr pd::Le64 data_mapping_root{320}, device_details_root{328};
constexpr pd::Le32 data_block_size{336}, metadata_block_size{340};
constexpr pd::Le64 metadata_nr_blocks{344};
constexpr pd::Le32 compat_flags{352}, compat_ro_flags{356}, incompat_flags{360};
constexpr size_t kSize = incompat_flags.end();

// sb_prepare_for_write / sb_check: the checksum and the location; the magic (a u64) is checked
// by sb_check itself, between the two, in the kernel's order (thin_format.cpp).
inline constexpr pd::BlockHeaderLayout kHeader{.csum = csum, .blocknr = blocknr, .magic = {}, .version = {}};

static_assert(kUuid + UUID_LEN == magic.offset);
static_assert(kDataSpaceMapRoot == held_root.end());
static_assert(kDataSpaceMapRoot + SPACE_MAP_ROOT_SIZE == kMetadataSpaceMapRoot);
static_assert(kMetadataSpaceMapRoot + SPACE_MAP_ROOT_SIZE == data_mapping_root.offset);
static_assert(pd::kSpaceMapRootSize <= SPACE_MAP_ROOT_SIZE);
static_assert(kSize == 364);
// The kernel asserts the superblock fits one sector, so that its meaningful part is written atomically.
static_assert(kSize <= 512);
}  // namespace superblock_layout

// sb_validator ("superblock"): prepare sets blocknr and the checksum; check tests blocknr
// (-ENOTBLK), the magic, then the checksum (-EILSEQ), with the kernel's messages.
extern const pd::DmBlockValidator sb_validator;

// A mapping value: the data block in the upper 40 bits, the time it was mapped in the low 24.
inline uint64_t pack_block_time(uint64_t b, uint32_t t) {
  return (b << 24) | t;
}
inline void unpack_block_time(uint64_t v, uint64_t* b, uint32_t* t) {
  *b = v >> 24;
  *t = static_cast<uint32_t>(v & ((1u << 24) - 1));
}

// struct disk_device_details, in core.
struct disk_device_details {
  uint64_t mapped_blocks = 0;
  uint64_t transaction_id = 0;  // the pool's trans_id when the device was created
  uint32_t creation_time = 0;
  uint32_t snapshotted_time = 0;
};
void device_details_pack(const disk_device_details& d, uint8_t* disk);  // 24 bytes
disk_device_details device_details_unpack(const uint8_t* disk);

// The fields of a superblock, in core. The defaults are what __write_initial_superblock writes
// for the fields the kernel does not keep in core (flags 0, uuid zero, magic, version 2).
struct thin_superblock_fields {
  uint32_t flags = 0;
  uint64_t blocknr = THIN_SUPERBLOCK_LOCATION;  // read only: the validator writes the location
  uint8_t uuid[UUID_LEN] = {};
  uint64_t magic = THIN_SUPERBLOCK_MAGIC;
  uint32_t version = THIN_VERSION;
  uint32_t time = 0;
  uint64_t trans_id = 0;
  uint64_t held_root = 0;  // the metadata snapshot's superblock copy, 0 when none
  // The space maps' roots (pd::kSpaceMapRootSize bytes each), the rest zero.
  uint8_t data_space_map_root[SPACE_MAP_ROOT_SIZE] = {};
  uint8_t metadata_space_map_root[SPACE_MAP_ROOT_SIZE] = {};
  uint64_t data_mapping_root = 0;
  uint64_t device_details_root = 0;
  uint32_t data_block_size = 0;  // sectors
  uint32_t metadata_block_size = THIN_METADATA_BLOCK_SECTORS;
  uint64_t metadata_nr_blocks = 0;
  uint32_t compat_flags = 0, compat_ro_flags = 0, incompat_flags = 0;
};

// Every field but csum and blocknr, which the validator fills in when the block is written.
void superblock_pack(const thin_superblock_fields& f, uint8_t* block);
thin_superblock_fields superblock_unpack(const uint8_t* block);

}  // namespace engines::thin
