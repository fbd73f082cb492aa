// Read-only views the engine checks use to read disks without perturbing the simulation.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "model/bio.hpp"
#include "model/block_device.hpp"
#include "model/volatile_cache_disk.hpp"

namespace engines {

// A read-only view of a disk's content (what it holds now, or what it held when the phase
// began): each bio completes in its submitter, takes no simulated time and leaves nothing in any
// trace, so the checks observe without perturbing.
class ContentView : public model::BlockDevice {
 public:
  ContentView(uint64_t sectors, std::function<model::Sector(uint64_t)> read)
      : BlockDevice("dmsim-check-view", 7, 254), read_(std::move(read)) {
    set_capacity(sectors);
  }
  void submit(model::Bio* bio) override;

 private:
  std::function<model::Sector(uint64_t)> read_;
};

// The scenario disk a path names ("/dev/sdb"), or nullptr for any other device.
model::VolatileCacheDisk* scenario_disk(const std::string& path);

// Where `sector` of the device at `path` lives on a scenario disk: the disk itself, or through
// the live tables of dm devices stacked over one by fixed maps (linear, delay, flakey); nullptr
// where it cannot be said (no such device, an error target, a table that allocates).
model::VolatileCacheDisk* disk_place(const std::string& path, uint64_t sector, uint64_t* disk_sector);

}  // namespace engines
