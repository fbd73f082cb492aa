// A phase of a scenario: the steps up to a power cut (or the end), or the recovery steps after
// one, run in a simulation of its own. What a phase hands back crosses the process boundary
// (verify/phase_output.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engines/journal.hpp"
#include "language/scenario.hpp"
#include "model/disk_image.hpp"
#include "sim/config.hpp"
#include "sim/result.hpp"
#include "verify/phase_output.hpp"
#include "verify/top_io_log.hpp"

namespace verify {

struct PhaseInput {
  const scenarios::Scenario* scenario = nullptr;
  size_t first_step = 0, end_step = 0;   // steps [first, end); end may be the power-cut step
  std::vector<model::DiskImage> images;  // one per disk to start from, or empty: new disks
  std::vector<std::string> knobs;
  sim::SimConfig config;
  // Recovery phases: what happened before the crash, for the oracle and engine checks.
  const TopIoLog* before_crash = nullptr;
  const engines::Journal* before_crash_journal = nullptr;
  uint64_t crash_ns = 0;
  // The test host's files a recovery starts with: those written before the crash (the scenario's
  // input files come from the scenario itself).
  const std::vector<HostFileWrite>* before_crash_files = nullptr;
};

struct PhaseRun {
  sim::SimResult sim;
  PhaseOutput out;
};

// What the disks of `s` start from: each disk's `image:` over its initial content, one image per
// disk; empty when no disk names an image (new disks).
std::vector<model::DiskImage> starting_images(const scenarios::Scenario& s);

// Runs the phase in a process of its own. Throws sim::WireError when what the process handed
// back is not exactly one PhaseOutput (a harness bug: no verdict may come of it).
PhaseRun run_phase(const PhaseInput& in, double wall_timeout_s = 300);

}  // namespace verify
