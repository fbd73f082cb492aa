// What the steps did at the top of the stack: every write, discard and flush a scenario
// issued, with submission and acknowledgement times. The block-device oracle judges a recovered
// device from this alone, never from engine internals.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/wire.hpp"

namespace verify {

struct TopIo {
  enum Kind : uint8_t { Data, Zero, Discard, Flush };
  Kind kind = Data;
  std::string device;
  uint64_t sector = 0, sectors = 0;
  uint64_t id = 0;  // bio id: data tokens are written_token(id, sector)
  uint64_t submit_ns = 0, ack_ns = 0;
  bool acked = false;
  bool fua = false;
  int status = 0;
  uint64_t journal_at = 0;  // engine journal events of this phase recorded before the submission
};

struct TopIoLog {
  std::vector<TopIo> ios;
  void write(sim::WireWriter& w) const;
  static TopIoLog read(sim::WireReader& r);
};

}  // namespace verify
