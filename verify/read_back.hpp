// The recovery's read-back: every sector the steps before the crash wrote or discarded, read
// through the recovered stack, for the block-device oracle to judge in the parent process.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/world.hpp"
#include "verify/phase_output.hpp"

namespace verify {

// The sectors of each top device that the steps before the crash wrote or discarded (at most
// `limit` per device), in order.
std::vector<std::pair<std::string, std::vector<uint64_t>>> sectors_to_check(const TopIoLog& log, uint64_t crash_ns,
                                                                            uint64_t limit);

// REQUIRES: runs in the recovery's simulation, once its steps have settled. Devices whose thin
// the steps before the crash deleted are not read: their content is owed to nobody.
std::vector<OracleRead> read_back(const model::World& world, const TopIoLog& before_crash, uint64_t crash_ns,
                                  const engines::Journal* before_crash_journal);

}  // namespace verify
