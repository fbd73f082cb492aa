// struct dm_table: the targets of one loaded table and the devices they opened (dm-table.c).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/dm/dm_target.hpp"

namespace model {

class DmTable {
 public:
  explicit DmTable(MappedDevice* md) : md_(md) {}
  ~DmTable();
  DmTable(const DmTable&) = delete;
  DmTable& operator=(const DmTable&) = delete;

  // dm_table_add_target: validates the range and runs the target's ctr. 0 or -errno; on error
  // the kernel's message is in the log and `error()` says it.
  int add_target(const std::string& type, uint64_t start, uint64_t len, const std::string& params);
  // dm_table_complete: the table must cover [0, size) without gaps.
  int complete();
  // dm_table_destroy: dtr of every target (in reverse order), then the devices are put.
  void destroy();

  DmTarget* find_target(uint64_t sector) const;
  uint64_t size() const;
  MappedDevice* md() const { return md_; }
  const std::vector<std::unique_ptr<DmTarget>>& targets() const { return targets_; }
  const std::string& error() const { return error_; }

  // Queue limits of the device with this table: the legs' limits stacked, then io_hints.
  QueueLimits compute_limits();

  void presuspend_targets();
  // An interrupted suspend takes presuspend back (dm_table_presuspend_undo_targets).
  void presuspend_undo_targets();
  void postsuspend_targets();
  // preresume of every target (stopping at the first failure), then resume of every target.
  int resume_targets();

  // Devices opened through dm_get_device, for the table status and open counts.
  DmDev* get_device(const std::string& path);
  void put_device(DmDev* d);
  // The block devices the table holds open (dmsetup deps).
  std::vector<BlockDevice*> devices() const;

 private:
  MappedDevice* md_;
  std::vector<std::unique_ptr<DmTarget>> targets_;
  std::vector<std::unique_ptr<DmDev>> devices_;
  std::string error_;
  bool destroyed_ = false;
};

// dm_split_args: whitespace-separated words, a backslash escapes the next character.
DmArgs dm_split_args(const std::string& params);

}  // namespace model
