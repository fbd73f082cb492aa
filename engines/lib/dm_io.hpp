// dm-io (dm-io.c): one request over several regions of block devices, synchronous or with a
// callback that receives a bit per failed region. The callback runs where the last bio
// completes (interrupt context), as in the kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "model/bio.hpp"
#include "model/block_device.hpp"
#include "sim/wait_object.hpp"

namespace engines {

struct DmIoRegion {
  model::BlockDevice* bdev = nullptr;
  uint64_t sector = 0;
  uint64_t count = 0;  // sectors
};

struct DmIoRequest {
  model::ReqOp op = model::ReqOp::Read;
  unsigned flags = 0;
  // The memory: `count` sectors of each region map onto buf[offset ...]. Unused for
  // discards and write-zeroes; a read fills it (from the first region only).
  std::shared_ptr<model::SectorBuffer> buf;
  uint32_t offset = 0;
  // Set for an asynchronous request; `error_bits` has bit i set when region i failed.
  std::function<void(unsigned long error_bits)> notify;
  // For an asynchronous request: made to follow the request's bios, for whoever waits for the
  // notification (a kcopyd job).
  sim::Holder* where = nullptr;
};

// Returns 0, or -EIO for a synchronous request with a failed region (see *error_bits).
int dm_io(const DmIoRequest& req, const std::vector<DmIoRegion>& where, unsigned long* error_bits = nullptr);

}  // namespace engines
