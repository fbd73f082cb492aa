// The storage world of one simulation: its disks and mapped devices, the device paths a
// dmsetup user would type (/dev/mapper/NAME, /dev/dm-N, /dev/NAME, /dev/VG/LV, MAJOR:MINOR),
// open counts, the device-mapper control interface, and the files of the test host that tools
// read and write (thin_dump -o, thin_restore -i).
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

  // Files of the test host, by the path a step names: outside the simulated storage, so a power
  // cut keeps what was written before it (the harness carries them into the recovery). Every
  // write is kept with its time; file() is the latest, null when there is none.
  struct FileWrite {
    std::string path;
    uint64_t ns = 0;
    std::string bytes;
  };
  const std::string* file(const std::string& path) const;
  void write_file(const std::string& path, std::string bytes, uint64_t ns);
  const std::vector<FileWrite>& file_writes() const { return files_; }

 private:
  std::vector<std::unique_ptr<VolatileCacheDisk>> disks_;
  std::map<std::string, BlockDevice*> paths_;
  std::map<BlockDevice*, int> open_;
  std::unique_ptr<DmControl> dm_;
  std::vector<FileWrite> files_;
};

}  // namespace model
