#include "engines/thin/thin_format.hpp"

#include <cstring>
#include <string>

#include "engines/lib/persistent_data/codec.hpp"

namespace engines::thin {

namespace sb = superblock_layout;

namespace {
// sb_check: the location, the magic, then the checksum; `why` is the kernel's message with
// dm-thin-metadata's prefix.
int sb_check(const pd::DmBlockValidator& v, uint64_t location, const uint8_t* data, size_t size, std::string* why) {
  const uint64_t blocknr = sb::blocknr.get(data);
  if (blocknr != location) {
    *why = std::string("thin metadata: sb_check failed: blocknr ") + std::to_string(blocknr) + ": wanted " +
           std::to_string(location);
    return -ENOTBLK;
  }
  const uint64_t magic = sb::magic.get(data);
  if (magic != THIN_SUPERBLOCK_MAGIC) {
    *why = std::string("thin metadata: sb_check failed: magic ") + std::to_string(magic) + ": wanted " +
           std::to_string(THIN_SUPERBLOCK_MAGIC);
    return -EILSEQ;
  }
  const uint32_t csum = pd::dm_bm_checksum(data + sb::csum.end(), size - sb::csum.end(), v.format.csum_xor);
  if (csum != sb::csum.get(data)) {
    *why = std::string("thin metadata: sb_check failed: csum ") + std::to_string(csum) + ": wanted " +
           std::to_string(sb::csum.get(data));
    return -EILSEQ;
  }
  return 0;
}

namespace dd {
constexpr pd::Le64 mapped_blocks{0}, transaction_id{8};
constexpr pd::Le32 creation_time{16}, snapshotted_time{20};
static_assert(snapshotted_time.end() == DEVICE_DETAILS_SIZE);
}  // namespace dd
}  // namespace

const pd::DmBlockValidator sb_validator{
    "superblock",
    {.header = &sb::kHeader, .magic = 0, .csum_xor = SUPERBLOCK_CSUM_XOR, .version = 0},
    nullptr,
    sb_check};

void device_details_pack(const disk_device_details& d, uint8_t* disk) {
  dd::mapped_blocks.put(disk, d.mapped_blocks);
  dd::transaction_id.put(disk, d.transaction_id);
  dd::creation_time.put(disk, d.creation_time);
  dd::snapshotted_time.put(disk, d.snapshotted_time);
}

disk_device_details device_details_unpack(const uint8_t* disk) {
  return disk_device_details{dd::mapped_blocks.get(disk), dd::transaction_id.get(disk), dd::creation_time.get(disk),
                             dd::snapshotted_time.get(disk)};
}

void superblock_pack(const thin_superblock_fields& f, uint8_t* b) {
  sb::flags.put(b, f.flags);
  std::memcpy(b + sb::kUuid, f.uuid, UUID_LEN);
  sb::magic.put(b, f.magic);
  sb::version.put(b, f.version);
  sb::time.put(b, f.time);
  sb::trans_id.put(b, f.trans_id);
  sb::held_root.put(b, f.held_root);
  std::memcpy(b + sb::kDataSpaceMapRoot, f.data_space_map_root, SPACE_MAP_ROOT_SIZE);
  std::memcpy(b + sb::kMetadataSpaceMapRoot, f.metadata_space_map_root, SPACE_MAP_ROOT_SIZE);
  sb::data_mapping_root.put(b, f.data_mapping_root);
  sb::device_details_root.put(b, f.device_details_root);
  sb::data_block_size.put(b, f.data_block_size);
  sb::metadata_block_size.put(b, f.metadata_block_size);
  sb::metadata_nr_blocks.put(b, f.metadata_nr_blocks);
  sb::compat_flags.put(b, f.compat_flags);
  sb::compat_ro_flags.put(b, f.compat_ro_flags);
  sb::incompat_flags.put(b, f.incompat_flags);
}

thin_superblock_fields superblock_unpack(const uint8_t* b) {
  thin_superblock_fields f;
  f.flags = sb::flags.get(b);
  f.blocknr = sb::blocknr.get(b);
  std::memcpy(f.uuid, b + sb::kUuid, UUID_LEN);
  f.magic = sb::magic.get(b);
  f.version = sb::version.get(b);
  f.time = sb::time.get(b);
  f.trans_id = sb::trans_id.get(b);
  f.held_root = sb::held_root.get(b);
  std::memcpy(f.data_space_map_root, b + sb::kDataSpaceMapRoot, SPACE_MAP_ROOT_SIZE);
  std::memcpy(f.metadata_space_map_root, b + sb::kMetadataSpaceMapRoot, SPACE_MAP_ROOT_SIZE);
  f.data_mapping_root = sb::data_mapping_root.get(b);
  f.device_details_root = sb::device_details_root.get(b);
  f.data_block_size = sb::data_block_size.get(b);
  f.metadata_block_size = sb::metadata_block_size.get(b);
  f.metadata_nr_blocks = sb::metadata_nr_blocks.get(b);
  f.compat_flags = sb::compat_flags.get(b);
  f.compat_ro_flags = sb::compat_ro_flags.get(b);
  f.incompat_flags = sb::incompat_flags.get(b);
  return f;
}

}  // namespace engines::thin
