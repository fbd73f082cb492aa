// Faults a disk applies to matching bios, in the manner of dm-flakey and dm-dust: fail them
// with EIO, acknowledge writes without storing them, or delay them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/bio.hpp"

namespace model {

enum class FaultAction { Error, Drop, Delay };

struct FaultRule {
  bool reads = false, writes = true, flushes = false, discards = false;
  uint64_t start = 0, end = UINT64_MAX;  // sector range [start, end) the bio must overlap
  uint64_t skip = 0;                     // let this many matching bios through first
  uint64_t count = 0;                    // then affect this many (0: all)
  FaultAction action = FaultAction::Error;
  double delay_s = 0;  // for Delay
  uint64_t seen = 0, fired = 0;
};

struct FaultDecision {
  bool error = false, drop = false;
  double extra_delay_s = 0;
};

class FaultInjector {
 public:
  void add(const FaultRule& r) { rules_.push_back(r); }
  void clear() { rules_.clear(); }
  FaultDecision decide(const Bio& bio);
  const std::vector<FaultRule>& rules() const { return rules_; }

 private:
  std::vector<FaultRule> rules_;
};

}  // namespace model
