// The storage world of one simulation: its disks and mapped devices, the device paths a
// dmsetup user would type (/dev/mapper/NAME, /dev/dm-N, /dev/NAME, /dev/VG/LV, MAJOR:MINOR),
// open counts, and the device-mapper control interface.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/dm/dm_ioctl.hpp"
#include "model/volatile_cache_disk.hpp"

namespace model {

class World {
 public:
  World();
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // The world of the running simulation (one per process, like the engine).
  static World& get();

  // A disk named "sda" (/dev/sda) or "vg/lv" (/dev/vg/lv).
  VolatileCacheDisk& add_disk(const DiskConfig& cfg);
  std::vector<VolatileCacheDisk*> disks() const;
  VolatileCacheDisk* disk(const std::string& name) const;

  BlockDevice* lookup(const std::string& path) const;
  void register_path(const std::string& path, BlockDevice* dev);
  void unregister_path(const std::string& path);

  void bdev_get(BlockDevice* b) { open_[b]++; }
  void bdev_put(BlockDevice* b) { open_[b]--; }
  int open_count(BlockDevice* b) const;

  DmControl& dm() { return *dm_; }

 private:
  std::vector<std::unique_ptr<VolatileCacheDisk>> disks_;
  std::map<std::string, BlockDevice*> paths_;
  std::map<BlockDevice*, int> open_;
  std::unique_ptr<DmControl> dm_;
};

}  // namespace model
