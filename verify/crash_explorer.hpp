// Crash points and crash states of a scenario's first phase. A crash point is an instant of the
// run (the power-cut step, the end of a step, an I/O or flush completion); at each, the disks'
// traces give one space of crash states per disk, combined here into one vector of boolean
// choices (the may-persist blocks of every disk, disk after disk).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "language/scenario.hpp"
#include "model/crash_states.hpp"
#include "verify/phase.hpp"

namespace verify {

struct CrashPoint {
  uint64_t ns;
  std::string label;  // "power cut", "after step 3", "after I/O 17 on sda", ...
};

// The crash points the scenario's explore settings ask for, in time order (at most `max`).
std::vector<CrashPoint> crash_points(const scenarios::Scenario& s, const PhaseOutput& phase1);

class MultiDiskCrashSpace {
 public:
  // `starts`: the images the first phase's disks started from (starting_images), or empty.
  MultiDiskCrashSpace(const PhaseOutput& phase1, uint64_t crash_ns, const std::vector<model::DiskImage>& starts = {});

  size_t variables() const { return total_; }
  size_t disks() const { return spaces_.size(); }
  const model::CrashStateSpace& disk(size_t i) const { return *spaces_[i]; }
  size_t offset(size_t i) const { return offsets_[i]; }

  std::vector<model::DiskImage> images(const std::vector<bool>& choice) const;
  void enumerate(uint64_t bound, const std::function<void(const std::vector<bool>&)>& fn) const;
  void sample(uint64_t seed, uint64_t n, const std::function<void(const std::vector<bool>&)>& fn) const;
  void prefixes(const std::function<void(const std::vector<bool>&)>& fn) const;
  std::string describe(const std::vector<bool>& choice) const;

 private:
  std::vector<model::DiskTrace> traces_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<model::CrashStateSpace>> spaces_;
  std::vector<size_t> offsets_;
  size_t total_ = 0;
};

std::string choice_to_hex(const std::vector<bool>& c);
std::vector<bool> choice_from_hex(const std::string& hex, size_t n);
// Why `hex` is not a choice of `n` variables as choice_to_hex writes it; "" when it is one.
std::string choice_hex_problem(const std::string& hex, size_t n);

}  // namespace verify
