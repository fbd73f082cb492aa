// Helpers for model tests: a fresh simulation with a storage World, disks made from one line.
#pragma once

#include "model/crash_states.hpp"
#include "model/sync_io.hpp"
#include "model/world.hpp"
#include "tests/sim/sim_test_helpers.hpp"

namespace modeltest {

using namespace simtest;

// Runs `body` with a World created for it, in a process of its own.
inline SimResult run_world(std::function<void(model::World&)> body, SimConfig cfg = {}) {
  return simtest::run([body] { body(*new model::World); }, cfg);
}

inline model::VolatileCacheDisk& disk(model::World& w, const std::string& name, uint64_t sectors,
                                      bool write_cache = true, const std::string& profile = "instant",
                                      uint32_t lbs = 512) {
  model::DiskConfig c;
  c.name = name;
  c.sectors = sectors;
  c.write_cache = write_cache;
  c.profile = profile;
  c.logical_block_size = lbs;
  return w.add_disk(c);
}

inline model::Token read_token(model::BlockDevice* dev, uint64_t sector) {
  std::vector<model::Sector> v;
  model::blk_read(dev, sector, 1, &v);
  return v.at(0).token;
}

// All crash states of `d` if power failed now.
inline model::CrashStateSpace crash_space(const model::VolatileCacheDisk& d) {
  return model::CrashStateSpace(d.trace(), d.initial_media(), d.limits.logical_block_size, d.config().discard_zeroes,
                                sim::ktime_get_ns());
}

}  // namespace modeltest
