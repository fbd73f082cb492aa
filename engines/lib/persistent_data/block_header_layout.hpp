// Where a metadata block keeps what its validator checks (prepare_for_write and check in the
// kernel's validators): in every format a checksum of everything after it and the block's own
// location; in dmsim's remaining own formats (kCommonBlockHeader) a magic and a version as well.
// Each format's layout header (btree_layout.hpp, ...) gives its BlockFormat: its header layout and
// the values it expects. Btree nodes and array blocks use the kernel's headers (no magic, no
// version: kBtreeNodeHeader, kArrayBlockHeader); the space maps and the era superblock still use
// the common header until they move to the kernel's formats too.
#pragma once

#include <cstddef>
#include <optional>

#include "engines/lib/persistent_data/codec.hpp"

namespace engines::pd {

struct BlockHeaderLayout {
  Le32 csum;     // crc32c of [csum.end(), block end), XOR the structure's constant
  Le64 blocknr;  // where the block belongs: catches misdirected writes
  std::optional<Le32> magic;
  std::optional<Le32> version;
};

// dmsim's common 24-byte header, with which every dmsim metadata block starts:
//   @0 csum u32, @4 magic u32, @8 blocknr u64, @16 version u32, @20 reserved u32.
inline constexpr BlockHeaderLayout kCommonBlockHeader{
    .csum = {0}, .blocknr = {8}, .magic = Le32{4}, .version = Le32{16}};
constexpr size_t kBlockHeaderSize = 24;

// A structure's block header and the values that identify its blocks.
struct BlockFormat {
  const BlockHeaderLayout* header;
  uint32_t magic;     // for a header with a magic field
  uint32_t csum_xor;  // XORed into the checksum, so one structure's never validates another's
  uint32_t version;   // for a header with a version field
};

}  // namespace engines::pd
