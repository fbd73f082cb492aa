#include "engines/era/era_format.hpp"

#include <cstring>

#include "engines/lib/persistent_data/codec.hpp"

namespace engines::era {

using pd::get_le32;
using pd::get_le64;
using pd::put_le32;
using pd::put_le64;

namespace {
// sb_check beyond the common header: the fixed metadata block size.
std::string sb_extra_check(const uint8_t* data, size_t) {
  if (get_le32(data + 32) != (DM_ERA_METADATA_BLOCK_SIZE >> 9))
    return "metadata block size " + std::to_string(get_le32(data + 32)) + ", wanted 8";
  return {};
}
}  // namespace

const pd::DmBlockValidator sb_validator = {"era superblock", SUPERBLOCK_MAGIC, SUPERBLOCK_CSUM_XOR, MAX_ERA_VERSION,
                                           sb_extra_check};

void ws_pack(const writeset_metadata& core, uint8_t* disk) {
  put_le32(disk, core.nr_bits);
  put_le64(disk + 4, core.root);
}

writeset_metadata ws_unpack(const uint8_t* disk) {
  return writeset_metadata{get_le32(disk), get_le64(disk + 4)};
}

void superblock_pack(const superblock_fields& f, uint8_t* b) {
  put_le32(b + 24, f.flags);
  put_le32(b + 28, f.data_block_size);
  put_le32(b + 32, f.metadata_block_size);
  put_le32(b + 36, f.nr_blocks);
  put_le32(b + 40, f.current_era);
  ws_pack(f.current_writeset, b + 44);
  put_le64(b + 56, f.writeset_tree_root);
  put_le64(b + 64, f.era_array_root);
  put_le64(b + 72, f.metadata_snap);
  std::memcpy(b + 80, f.metadata_space_map_root, pd::kSpaceMapRootSize);
}

superblock_fields superblock_unpack(const uint8_t* b) {
  superblock_fields f;
  f.flags = get_le32(b + 24);
  f.data_block_size = get_le32(b + 28);
  f.metadata_block_size = get_le32(b + 32);
  f.nr_blocks = get_le32(b + 36);
  f.current_era = get_le32(b + 40);
  f.current_writeset = ws_unpack(b + 44);
  f.writeset_tree_root = get_le64(b + 56);
  f.era_array_root = get_le64(b + 64);
  f.metadata_snap = get_le64(b + 72);
  std::memcpy(f.metadata_space_map_root, b + 80, pd::kSpaceMapRootSize);
  return f;
}

}  // namespace engines::era
