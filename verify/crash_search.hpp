// Crash-state search with Z3. For one crash point, each may-persist block of each disk is a
// boolean; for every sector the top of the stack must read back (an oracle obligation), at
// each place on the disks where it may live, the content of that place in the crash image is a chain of
// if-then-else over the blocks that may have overwritten it, newest first. Z3 is asked for an
// assignment under which some obligation reads a value it may not hold. Each model becomes a
// concrete image that the real recovery then runs on; only a confirmed violation counts, and an
// unconfirmed model is blocked before asking again.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "verify/block_device_oracle.hpp"
#include "verify/crash_explorer.hpp"

namespace verify {

class CrashSearch {
 public:
  // `extra`: obligations from elsewhere than the oracle (engines' commit records).
  CrashSearch(const MultiDiskCrashSpace& space, const BlockDeviceOracle& oracle,
              const std::vector<std::string>& devices, const std::vector<BlockDeviceOracle::Obligation>& extra = {});
  ~CrashSearch();

  // Obligations whose location on the disks is known (encoded) or not (left to recovery).
  size_t encoded() const { return encoded_; }
  size_t unlocated() const { return unlocated_; }
  // The next assignment that violates an encoded obligation, or nothing when none is left.
  std::optional<std::vector<bool>> next();
  uint64_t solver_calls() const { return calls_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  size_t encoded_ = 0, unlocated_ = 0;
  uint64_t calls_ = 0;
};

}  // namespace verify
