#include "engines/era/era_format.hpp"

#include <cstring>

namespace engines::era {

namespace sb = superblock_layout;
namespace wsd = writeset_disk_layout;

namespace {
// sb_check beyond the common header: the fixed metadata block size.
std::string sb_extra_check(const uint8_t* data, size_t) {
  const uint32_t metadata_block_size = sb::metadata_block_size.get(data);
  if (metadata_block_size != (DM_ERA_METADATA_BLOCK_SIZE >> 9))
    return "metadata block size " + std::to_string(metadata_block_size) + ", wanted 8";
  return {};
}
}  // namespace

const pd::DmBlockValidator sb_validator{
    "era superblock",
    {.header = sb::kHeader, .magic = SUPERBLOCK_MAGIC, .csum_xor = SUPERBLOCK_CSUM_XOR, .version = MAX_ERA_VERSION},
    sb_extra_check};

void ws_pack(const writeset_metadata& core, uint8_t* disk) {
  wsd::nr_bits.put(disk, core.nr_bits);
  wsd::root.put(disk, core.root);
}

writeset_metadata ws_unpack(const uint8_t* disk) {
  return writeset_metadata{wsd::nr_bits.get(disk), wsd::root.get(disk)};
}

void superblock_pack(const superblock_fields& f, uint8_t* b) {
  sb::flags.put(b, f.flags);
  sb::data_block_size.put(b, f.data_block_size);
  sb::metadata_block_size.put(b, f.metadata_block_size);
  sb::nr_blocks.put(b, f.nr_blocks);
  sb::current_era.put(b, f.current_era);
  ws_pack(f.current_writeset, b + sb::kCurrentWriteset);
  sb::writeset_tree_root.put(b, f.writeset_tree_root);
  sb::era_array_root.put(b, f.era_array_root);
  sb::metadata_snap.put(b, f.metadata_snap);
  std::memcpy(b + sb::kMetadataSpaceMapRoot, f.metadata_space_map_root, pd::kSpaceMapRootSize);
}

superblock_fields superblock_unpack(const uint8_t* b) {
  superblock_fields f;
  f.flags = sb::flags.get(b);
  f.data_block_size = sb::data_block_size.get(b);
  f.metadata_block_size = sb::metadata_block_size.get(b);
  f.nr_blocks = sb::nr_blocks.get(b);
  f.current_era = sb::current_era.get(b);
  f.current_writeset = ws_unpack(b + sb::kCurrentWriteset);
  f.writeset_tree_root = sb::writeset_tree_root.get(b);
  f.era_array_root = sb::era_array_root.get(b);
  f.metadata_snap = sb::metadata_snap.get(b);
  std::memcpy(f.metadata_space_map_root, b + sb::kMetadataSpaceMapRoot, pd::kSpaceMapRootSize);
  return f;
}

}  // namespace engines::era
