// The block-device refinement oracle. After a crash and recovery, every sector the steps wrote
// must read a value the device may legally hold: the last value acknowledged before the last
// completed flush or FUA covering it, or any value written to it after that (old or new). Never
// garbage, never zeroes nobody wrote, never a value from another block. It knows only what the
// top of the stack saw: the steps' writes, discards, flushes and acknowledgements.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/content.hpp"
#include "verify/phase.hpp"
#include "verify/top_io_log.hpp"

namespace verify {

struct LegalValues {
  std::vector<model::Token> tokens;  // exact values that may be read
  bool original = false;             // the content before any durable write (not known exactly)
  bool zero_allowed = false;         // a discard or write of zeroes may be what persisted
  std::string describe() const;
  bool allows(model::Token t) const;
};

class BlockDeviceOracle {
 public:
  // `original_may_be_zero`: some disk started zero-filled, so never-written data may read zeroes.
  BlockDeviceOracle(const TopIoLog& log, uint64_t crash_ns, bool original_may_be_zero);

  LegalValues legal(const std::string& device, uint64_t sector) const;
  // Sectors whose durable value the oracle knows exactly, with that obligation (for Z3).
  struct Obligation {
    std::string device;
    uint64_t sector;
    LegalValues legal;
  };
  std::vector<Obligation> obligations(const std::string& device) const;

  struct Violation {
    std::string device;
    uint64_t sector;
    std::string found, expected;
  };
  std::vector<Violation> judge(const std::vector<OracleRead>& reads, std::vector<std::string>* problems) const;

 private:
  const TopIoLog& log_;
  uint64_t crash_ns_;
  bool original_may_be_zero_;
};

}  // namespace verify
