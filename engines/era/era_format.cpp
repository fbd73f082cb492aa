#include "engines/era/era_format.hpp"

#include <cstring>

#include "sim/assert.hpp"

namespace engines::era {

namespace sb = superblock_layout;
namespace wsd = writeset_disk_layout;

namespace {
// sb_check: the location, the magic, the checksum, then the version; `why` is the kernel's
// message with dm-era's prefix. The metadata block size is not checked on open.
int sb_check(const pd::DmBlockValidator& v, uint64_t location, const uint8_t* data, size_t size, std::string* why) {
  const uint64_t blocknr = sb::blocknr.get(data);
  if (blocknr != location) {
    *why = "era: sb_check failed: blocknr " + std::to_string(blocknr) + ": wanted " + std::to_string(location);
    return -ENOTBLK;
  }
  const uint64_t magic = sb::magic.get(data);
  if (magic != SUPERBLOCK_MAGIC) {
    *why = "era: sb_check failed: magic " + std::to_string(magic) + ": wanted " + std::to_string(SUPERBLOCK_MAGIC);
    return -EILSEQ;
  }
  const uint32_t csum = pd::dm_bm_checksum(data + sb::csum.end(), size - sb::csum.end(), v.format.csum_xor);
  if (csum != sb::csum.get(data)) {
    *why = "era: sb_check failed: csum " + std::to_string(csum) + ": wanted " + std::to_string(sb::csum.get(data));
    return -EILSEQ;
  }
  // check_metadata_version
  const uint32_t version = sb::version.get(data);
  if (version < MIN_ERA_VERSION || version > MAX_ERA_VERSION) {
    *why = "era: Era metadata version " + std::to_string(version) + " found, but only versions between " +
           std::to_string(MIN_ERA_VERSION) + " and " + std::to_string(MAX_ERA_VERSION) + " supported.";
    return -EINVAL;
  }
  return 0;
}
int tools_sb_check(const pd::DmBlockValidator& v, uint64_t, const uint8_t* data, size_t size, std::string* why) {
  if (pd::dm_bm_checksum(data + sb::csum.end(), size - sb::csum.end(), v.format.csum_xor) == sb::csum.get(data))
    return 0;
  *why = "bad checksum in superblock";
  return -EILSEQ;
}
}  // namespace

const pd::DmBlockValidator tools_sb_validator{
    "superblock",
    {.header = &sb::kHeader, .magic = 0, .csum_xor = SUPERBLOCK_CSUM_XOR, .version = 0},
    nullptr,
    tools_sb_check};

const pd::DmBlockValidator sb_validator{
    "superblock",
    {.header = &sb::kHeader, .magic = 0, .csum_xor = SUPERBLOCK_CSUM_XOR, .version = 0},
    nullptr,
    sb_check};

void ws_pack(const writeset_metadata& core, uint8_t* disk) {
  wsd::nr_bits.put(disk, core.nr_bits);
  wsd::root.put(disk, core.root);
}

writeset_metadata ws_unpack(const uint8_t* disk) {
  return writeset_metadata{wsd::nr_bits.get(disk), wsd::root.get(disk)};
}

void superblock_pack(const superblock_fields& f, uint8_t* b) {
  // INVARIANT: dm_sm_copy_root fills only the root's first bytes; the rest of the 128 stays zero.
  for (size_t i = pd::kSpaceMapRootSize; i < SPACE_MAP_ROOT_SIZE; i++)
    DMSIM_ASSERT(f.metadata_space_map_root[i] == 0, "the space map root's padding is zero");
  sb::flags.put(b, f.flags);
  std::memcpy(b + sb::kUuid, f.uuid, UUID_LEN);
  sb::magic.put(b, f.magic);
  sb::version.put(b, f.version);
  std::memcpy(b + sb::kMetadataSpaceMapRoot, f.metadata_space_map_root, SPACE_MAP_ROOT_SIZE);
  sb::data_block_size.put(b, f.data_block_size);
  sb::metadata_block_size.put(b, f.metadata_block_size);
  sb::nr_blocks.put(b, f.nr_blocks);
  sb::current_era.put(b, f.current_era);
  ws_pack(f.current_writeset, b + sb::kCurrentWriteset);
  sb::writeset_tree_root.put(b, f.writeset_tree_root);
  sb::era_array_root.put(b, f.era_array_root);
  sb::metadata_snap.put(b, f.metadata_snap);
}

superblock_fields superblock_unpack(const uint8_t* b) {
  superblock_fields f;
  f.flags = sb::flags.get(b);
  f.blocknr = sb::blocknr.get(b);
  std::memcpy(f.uuid, b + sb::kUuid, UUID_LEN);
  f.magic = sb::magic.get(b);
  f.version = sb::version.get(b);
  std::memcpy(f.metadata_space_map_root, b + sb::kMetadataSpaceMapRoot, SPACE_MAP_ROOT_SIZE);
  f.data_block_size = sb::data_block_size.get(b);
  f.metadata_block_size = sb::metadata_block_size.get(b);
  f.nr_blocks = sb::nr_blocks.get(b);
  f.current_era = sb::current_era.get(b);
  f.current_writeset = ws_unpack(b + sb::kCurrentWriteset);
  f.writeset_tree_root = sb::writeset_tree_root.get(b);
  f.era_array_root = sb::era_array_root.get(b);
  f.metadata_snap = sb::metadata_snap.get(b);
  return f;
}

}  // namespace engines::era
