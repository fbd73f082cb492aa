// The dm-era target type ("era"), registered with dm core.
#pragma once

#include <cstdint>
#include <string>

namespace engines::era {

void register_era_target();

// The devices and block size of the last era table built for a mapped device, kept after the
// device is gone so that checkers can still find its metadata.
struct era_table_info {
  std::string metadata_dev, origin_dev;
  uint32_t block_size = 0;
};
const era_table_info* era_table_for(const std::string& device_name);

}  // namespace engines::era
