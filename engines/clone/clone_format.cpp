#include "engines/clone/clone_format.hpp"

#include <cstring>

#include "engines/lib/persistent_data/codec.hpp"

namespace engines::clone {

namespace sb = superblock_layout;

namespace {
// sb_check: the location, the magic, the checksum, then the version, in the kernel's order and
// words (prefixed "clone metadata:", its DM_MSG_PREFIX).
int sb_check(const pd::DmBlockValidator& v, uint64_t location, const uint8_t* data, size_t size, std::string* why) {
  const uint64_t blocknr = sb::blocknr.get(data);
  if (blocknr != location) {
    *why = "clone metadata: Superblock check failed: blocknr " + std::to_string(blocknr) + ", expected " +
           std::to_string(location);
    return -ENOTBLK;
  }
  const uint64_t magic = sb::magic.get(data);
  if (magic != SUPERBLOCK_MAGIC) {
    *why = "clone metadata: Superblock check failed: magic " + std::to_string(magic) + ", expected " +
           std::to_string(SUPERBLOCK_MAGIC);
    return -EILSEQ;
  }
  const uint32_t csum = pd::dm_bm_checksum(data + sb::csum.end(), size - sb::csum.end(), v.format.csum_xor);
  if (csum != sb::csum.get(data)) {
    *why = "clone metadata: Superblock check failed: checksum " + std::to_string(csum) + ", expected " +
           std::to_string(sb::csum.get(data));
    return -EILSEQ;
  }
  const uint32_t version = sb::version.get(data);
  if (version < DM_CLONE_MIN_METADATA_VERSION || version > DM_CLONE_MAX_METADATA_VERSION) {
    *why = "clone metadata: Clone metadata version " + std::to_string(version) + " found, but only versions between " +
           std::to_string(DM_CLONE_MIN_METADATA_VERSION) + " and " + std::to_string(DM_CLONE_MAX_METADATA_VERSION) +
           " supported.";
    return -EINVAL;
  }
  return 0;
}
}  // namespace

const pd::DmBlockValidator sb_validator{
    "superblock",
    {.header = &sb::kHeader, .magic = 0, .csum_xor = SUPERBLOCK_CSUM_XOR, .version = 0},
    nullptr,
    sb_check};

void superblock_pack(const superblock_fields& f, uint8_t* b) {
  sb::flags.put(b, f.flags);
  std::memset(b + sb::kUuid, 0, sb::kUuidLen);  // the UUID is unused: always zero
  sb::magic.put(b, f.magic);
  sb::version.put(b, f.version);
  std::memcpy(b + sb::kMetadataSpaceMapRoot, f.metadata_space_map_root, sb::kSpaceMapRootSize);
  sb::region_size.put(b, f.region_size);
  sb::target_size.put(b, f.target_size);
  sb::bitset_root.put(b, f.bitset_root);
}

superblock_fields superblock_unpack(const uint8_t* b) {
  superblock_fields f;
  f.flags = sb::flags.get(b);
  f.blocknr = sb::blocknr.get(b);
  f.magic = sb::magic.get(b);
  f.version = sb::version.get(b);
  std::memcpy(f.metadata_space_map_root, b + sb::kMetadataSpaceMapRoot, sb::kSpaceMapRootSize);
  f.region_size = sb::region_size.get(b);
  f.target_size = sb::target_size.get(b);
  f.bitset_root = sb::bitset_root.get(b);
  return f;
}

}  // namespace engines::clone
