// Engine checks: invariants that an engine registers (era-written-since, clone-committed-durable,
// metadata-check, ...). They run after recovery, in the recovery simulation, and read the
// recovered metadata the way the real tools would. The runner hands them what the top of the
// stack saw.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace engines {

// A write acknowledged (or in flight) at the top of the stack before the crash, as the oracle
// recorded it.
struct TopWrite {
  std::string device;  // "/dev/mapper/eradev"
  uint64_t sector = 0, sectors = 0;
  uint64_t id = 0;  // the bio id, as in the data tokens
  uint64_t submit_ns = 0, ack_ns = 0;
  bool acked = false;
};

struct CheckInput {
  std::vector<TopWrite> writes;  // before the crash
  uint64_t crash_ns = 0;
};

struct CheckViolation {
  std::string check;
  std::string message;
};

struct EngineCheck {
  std::string name;
  std::string about;
  std::function<std::vector<CheckViolation>(const CheckInput& in)> run;
};

void register_check(const EngineCheck& c);
const EngineCheck* find_check(const std::string& name);
std::vector<std::string> check_names();

}  // namespace engines
