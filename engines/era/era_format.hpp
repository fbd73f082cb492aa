// dm-era's on-disk format, shared by the target and the userland tools (era_invalidate,
// era_dump, era_check): its constants, and the superblock and writesets in core, encoded and
// decoded as era_layout.hpp lays them out.
#pragma once

#include <cstdint>
#include <string>

#include "engines/era/era_layout.hpp"
#include "engines/lib/persistent_data/block_manager.hpp"

namespace engines::era {

constexpr uint64_t SUPERBLOCK_LOCATION = 0;
constexpr uint64_t SUPERBLOCK_MAGIC = 2126579579;
constexpr uint32_t SUPERBLOCK_CSUM_XOR = 146538381;
constexpr uint32_t MIN_ERA_VERSION = 1, MAX_ERA_VERSION = 1;
constexpr uint64_t INVALID_WRITESET_ROOT = SUPERBLOCK_LOCATION;
constexpr uint32_t MIN_BLOCK_SIZE = 8;  // sectors
constexpr unsigned DM_ERA_METADATA_BLOCK_SIZE = 4096;
constexpr unsigned ERA_MAX_CONCURRENT_LOCKS = 5;
constexpr unsigned INSERTS_PER_STEP = 100;
constexpr size_t WRITESET_DISK_SIZE = writeset_disk_layout::kSize;
constexpr size_t SPACE_MAP_ROOT_SIZE = superblock_layout::kSpaceMapRootSize;
constexpr size_t UUID_LEN = superblock_layout::kUuidLen;

// sb_validator ("superblock"): sb_prepare_for_write and sb_check.
extern const pd::DmBlockValidator sb_validator;
// The userland tools' superblock validator (era/superblock.cc): the checksum only; the tools
// check the other fields themselves (era_check), or not at all.
extern const pd::DmBlockValidator tools_sb_validator;

struct writeset_metadata {
  uint32_t nr_bits = 0;
  uint64_t root = INVALID_WRITESET_ROOT;
};

void ws_pack(const writeset_metadata& core, uint8_t* disk);
writeset_metadata ws_unpack(const uint8_t* disk);

// The fields of a superblock, in core. The defaults are what prepare_superblock writes for the
// fields the kernel does not keep in core (flags 0, uuid zero, magic, version 1).
struct superblock_fields {
  uint32_t flags = 0;
  uint64_t blocknr = SUPERBLOCK_LOCATION;  // read only: the validator writes the location
  uint8_t uuid[UUID_LEN] = {};
  uint64_t magic = SUPERBLOCK_MAGIC;
  uint32_t version = MAX_ERA_VERSION;
  // The space map's root (pd::kSpaceMapRootSize bytes), the rest zero.
  uint8_t metadata_space_map_root[SPACE_MAP_ROOT_SIZE] = {};
  uint32_t data_block_size = 0;
  uint32_t metadata_block_size = DM_ERA_METADATA_BLOCK_SIZE >> 9;
  uint32_t nr_blocks = 0;
  uint32_t current_era = 0;
  writeset_metadata current_writeset;
  uint64_t writeset_tree_root = 0;
  uint64_t era_array_root = 0;
  uint64_t metadata_snap = SUPERBLOCK_LOCATION;
};

// Every field but csum and blocknr, which the validator fills in when the block is written.
void superblock_pack(const superblock_fields& f, uint8_t* block);
superblock_fields superblock_unpack(const uint8_t* block);

}  // namespace engines::era
