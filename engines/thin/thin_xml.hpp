// thin_dump's XML read back as thin_restore 0.9.0 reads it (xml_format.cc over expat, feeding
// restore_emitter): elements superblock, device, range_mapping and single_mapping, checked in
// document order, so the first problem in the file is the one reported, in the tool's words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engines/thin/thin_metadata.hpp"

namespace engines::thin {

// thin_restore's --transaction-id, --data-block-size and --nr-data-blocks: they replace the
// superblock's values before anything is checked against them.
struct thin_restore_overrides {
  std::optional<uint64_t> transaction_id, data_block_size, nr_data_blocks;
};

// The metadata `text` describes, or false with `error` as thin_restore prints it (without the
// final newline): "Parse error at line N:\n<expat's message>\n" for malformed XML, else the
// emitter's message ("could not find attribute: snap_time", "Device already exists",
// "mapping beyond end of data device (10 >= 10)", "unknown tag type", "missing superblock").
// Numbers are decimal digits only (the tools' lexical_cast also wraps a leading '-').
bool parse_thin_xml(const std::string& text, const thin_restore_overrides& o, restore_metadata* out,
                    std::string* error);

}  // namespace engines::thin
