// Where a metadata block keeps what its validator checks (prepare_for_write and check in the
// kernel's validators): in every format a checksum of everything after it and the block's own
// location; a magic and a version only where a format has them (the kernel's superblocks keep
// theirs at their own offsets, and check them after the validator). Each format's layout header
// (btree_layout.hpp, space_map_layout.hpp, era_layout.hpp, ...) gives its BlockFormat: its header
// layout and the values it expects. Every format here is the kernel's.
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

// A structure's block header and the values that identify its blocks.
struct BlockFormat {
  const BlockHeaderLayout* header;
  uint32_t magic;     // for a header with a magic field
  uint32_t csum_xor;  // XORed into the checksum, so one structure's never validates another's
  uint32_t version;   // for a header with a version field
};

}  // namespace engines::pd
