#include "engines/lib/persistent_data/space_map.hpp"

#include <string>

#include "engines/lib/persistent_data/block_manager.hpp"

namespace engines::pd {

uint32_t DmSpaceMap::get_count(uint64_t b) {
  uint32_t count = 0;
  if (get_count(b, &count)) {
    pd_log("device-mapper: space map: unable to look up the count of block " + std::to_string(b));
    return 0;
  }
  return count;
}

}  // namespace engines::pd
