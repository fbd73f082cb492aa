// A phase of a scenario: the steps up to a power cut (or the end), or the recovery steps after
// one, run in a simulation of its own. What a phase hands back crosses the process boundary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engines/journal.hpp"
#include "language/scenario.hpp"
#include "model/disk_image.hpp"
#include "sim/config.hpp"
#include "sim/result.hpp"
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
};

struct StepRecord {
  size_t index = 0;
  std::string text;
  bool finished = false;
  int exit_code = 0;
  bool expect_failure = false;
  std::string out, err;
  uint64_t start_ns = 0, end_ns = 0;
  size_t dmesg_from = 0, dmesg_to = 0;  // kernel log lines written while it ran
};

// Where a top device's sectors live on the disks at the end of a phase.
struct Extent {
  std::string device;
  Placement at;
};

// A top device that some table held open (a target owned it) when a step ended.
struct Claim {
  std::string device;
  uint64_t ns = 0;
};

struct DiskState {
  std::string trace;  // DiskTrace text
  uint32_t disk_id = 0;
  uint64_t sectors = 0;
  uint32_t logical_block_size = 512;
  bool initial_zero = false, discard_zeroes = true;
};

struct OracleRead {
  std::string device;
  bool present = false;
  std::vector<std::pair<uint64_t, uint64_t>> values;  // (sector, token)
  std::vector<uint64_t> failed;                       // sectors whose read failed
};

struct PhaseOutput {
  bool finished = false;  // the main step thread got to the end (or to the power cut)
  std::vector<StepRecord> steps;
  TopIoLog io;
  uint64_t end_ns = 0;  // the power cut, or the end of the steps
  std::vector<DiskState> disks;
  std::vector<Extent> data_map;
  std::vector<Claim> claims;
  std::vector<OracleRead> reads;
  std::vector<std::pair<std::string, std::string>> check_violations;  // (check, message)
  std::vector<std::pair<std::string, std::string>> check_notes;       // (check, why it could not judge)
  uint64_t leaked_bios = 0;
  engines::Journal journal;  // what the engines recorded (events, commit records)

  std::string serialize() const;
  static PhaseOutput deserialize(const std::string& bytes);
};

struct PhaseRun {
  sim::SimResult sim;
  PhaseOutput out;
};

// Runs the phase in a process of its own.
PhaseRun run_phase(const PhaseInput& in, double wall_timeout_s = 300);

// The sectors of each top device that the steps before the crash wrote or discarded.
std::vector<std::pair<std::string, std::vector<uint64_t>>> sectors_to_check(const TopIoLog& log, uint64_t crash_ns,
                                                                            uint64_t limit);

}  // namespace verify
