// What a phase hands back across the process boundary: the steps as they ran, the I/O the top
// of the stack saw, the disks' traces, where the top devices' sectors live, the recovery's
// read-back, the engine checks' verdicts and the engines' journal. Each type lists its fields
// once, for writing and reading alike (sim/wire.hpp); from_wire refuses bytes that are not
// exactly one PhaseOutput.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engines/journal.hpp"
#include "sim/wire.hpp"
#include "verify/top_io_log.hpp"

namespace verify {

struct StepRecord {
  size_t index = 0;
  std::string text;
  bool finished = false;
  int exit_code = 0;
  bool expect_failure = false;
  std::string out, err;
  uint64_t start_ns = 0, end_ns = 0;
  size_t dmesg_from = 0, dmesg_to = 0;  // kernel log lines written while it ran

  template <class Ar>
  void serialize(Ar& ar) {
    ar(index, text, finished, exit_code, expect_failure, out, err, start_ns, end_ns, dmesg_from, dmesg_to);
  }
  bool operator==(const StepRecord&) const = default;
};

// Where a top device's sectors live on the disks at the end of a phase.
struct Extent {
  std::string device;
  Placement at;

  template <class Ar>
  void serialize(Ar& ar) {
    ar(device, at);
  }
  bool operator==(const Extent&) const = default;
};

// A top device that some table held open (a target owned it) when a step ended.
struct Claim {
  std::string device;
  uint64_t ns = 0;

  template <class Ar>
  void serialize(Ar& ar) {
    ar(device, ns);
  }
  bool operator==(const Claim&) const = default;
};

struct DiskState {
  std::string trace;  // DiskTrace text
  uint32_t disk_id = 0;
  uint64_t sectors = 0;
  uint32_t logical_block_size = 512;
  bool initial_zero = false, discard_zeroes = true;

  template <class Ar>
  void serialize(Ar& ar) {
    ar(trace, disk_id, sectors, logical_block_size, initial_zero, discard_zeroes);
  }
  bool operator==(const DiskState&) const = default;
};

struct OracleRead {
  std::string device;
  bool present = false;
  std::vector<std::pair<uint64_t, uint64_t>> values;  // (sector, token)
  std::vector<uint64_t> failed;                       // sectors whose read failed

  template <class Ar>
  void serialize(Ar& ar) {
    ar(device, present, values, failed);
  }
  bool operator==(const OracleRead&) const = default;
};

// How often a real tool (thin-provisioning-tools) judged an image in a phase.
struct ToolTally {
  std::string tool;  // "era_check"
  uint64_t passed = 0, failed = 0;

  template <class Ar>
  void serialize(Ar& ar) {
    ar(tool, passed, failed);
  }
  bool operator==(const ToolTally&) const = default;
};

// A file a tool step wrote on the test host (thin_dump -o), at `ns`.
struct HostFileWrite {
  std::string path;
  uint64_t ns = 0;
  std::string bytes;

  template <class Ar>
  void serialize(Ar& ar) {
    ar(path, ns, bytes);
  }
  bool operator==(const HostFileWrite&) const = default;
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
  engines::Journal journal;                // what the engines recorded (events, commit records)
  std::vector<ToolTally> real_tools;       // the real-tools check's runs
  std::vector<std::string> missing_tools;  // real tools it would have run but are not installed
  std::vector<HostFileWrite> file_writes;  // in the order they were written
  // The engines' state signatures seen after each step (DmControl::state_signatures), each once.
  std::vector<std::string> states;

  template <class Ar>
  void serialize(Ar& ar) {
    ar(finished, steps, io, end_ns, disks, data_map, claims, reads, check_violations, check_notes, leaked_bios, journal,
       real_tools, missing_tools, file_writes, states);
  }
  bool operator==(const PhaseOutput&) const = default;
};

}  // namespace verify
