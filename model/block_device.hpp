// A block device as the block layer sees it (gendisk + request_queue): a capacity, queue
// limits and a submit function. submit_bio() performs block core's checks before the driver
// sees a bio: FLUSH/FUA stripped without a volatile cache (an empty flush completes at once),
// unsupported discards refused, beyond-capacity bios failed, and splitting to the limits for
// request-based devices (dm devices split for themselves).
#pragma once

#include <cstdint>
#include <string>

#include "model/bio.hpp"

namespace model {

struct QueueLimits {
  uint32_t logical_block_size = 512;   // bytes
  uint32_t physical_block_size = 512;  // bytes
  uint32_t max_sectors = 2560;         // per read/write bio (1280 KiB)
  uint32_t max_discard_sectors = 0;    // 0: discard not supported
  uint32_t discard_granularity = 0;    // bytes
  uint32_t max_write_zeroes_sectors = 0;
  bool write_cache = false;  // a volatile write-back cache (QUEUE_FLAG_WC)
  bool fua = false;          // native FUA
  uint32_t io_min = 0;       // bytes; 0: no preference
  uint32_t io_opt = 0;       // bytes; 0: no preference

  // blk_stack_limits for one leg under a stacking device.
  void stack(const QueueLimits& below);
  // The starting point of a stacking device before its legs are added.
  static QueueLimits stacking_defaults();
};

class BlockDevice {
 public:
  BlockDevice(std::string name, uint32_t major, uint32_t minor);
  virtual ~BlockDevice();
  BlockDevice(const BlockDevice&) = delete;
  BlockDevice& operator=(const BlockDevice&) = delete;

  const std::string& name() const { return name_; }
  uint32_t major() const { return major_; }
  uint32_t minor() const { return minor_; }
  std::string devt() const { return std::to_string(major_) + ":" + std::to_string(minor_); }
  uint64_t capacity() const { return capacity_; }  // sectors
  void set_capacity(uint64_t sectors) { capacity_ = sectors; }

  QueueLimits limits;

  // The driver: receives bios that passed block core's checks.
  virtual void submit(Bio* bio) = 0;
  // bio-based drivers (dm) split for themselves; request-based ones are split by block core.
  virtual bool bio_based() const { return false; }

 private:
  std::string name_;
  uint32_t major_, minor_;
  uint64_t capacity_ = 0;
};

// submit_bio / submit_bio_noacct.
void submit_bio(Bio* bio);
// Submits and sleeps until the bio completes; returns its status. The bio is not freed.
BlkStatus submit_bio_wait(Bio* bio);

}  // namespace model
