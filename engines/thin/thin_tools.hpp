// thin_check, thin_dump and thin_delta as scenario steps (see thin_tools.cpp); register_thin_tools()
// is declared in thin.hpp.
#pragma once

#include <map>
#include <string>

#include "engines/thin/thin_reader.hpp"

namespace engines::thin {

// thin_dump 0.9.0's XML of one device's mappings: runs of consecutive vblocks on consecutive
// data blocks with one time become a range_mapping, the rest single_mappings.
std::string format_mappings_xml(const std::map<uint64_t, thin_mapping>& mappings);

}  // namespace engines::thin
