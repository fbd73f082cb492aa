// Engine checks: invariants that an engine registers (era-written-since, clone-committed-durable,
// metadata-check, ...). They run after recovery, in the recovery simulation, and read the
// recovered metadata the way the real tools would. The runner hands them what the top of the
// stack saw.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engines/journal.hpp"

namespace engines {

// A write or discard submitted at the top of the stack, as the oracle recorded it.
struct TopWrite {
  std::string device;  // "/dev/mapper/eradev"
  uint64_t sector = 0, sectors = 0;
  uint64_t id = 0;  // the bio id, as in the data tokens
  uint64_t submit_ns = 0, ack_ns = 0;
  bool acked = false;  // acknowledged (before the crash, for writes before it)
  bool discard = false;
  bool zero = false;          // a write of zeroes (dd if=/dev/zero): its sectors hold zeroes, not its own tokens
  bool before_crash = false;  // in the phase before the power cut (times are that phase's)
  size_t events_before = 0;   // how many of CheckInput::events were recorded before its submission
};

// What a step of this phase printed (a status line, say), as the user saw it.
struct StepOutput {
  size_t step = 0;      // 1-based, in the scenario
  std::string command;  // as written
  std::string out;
  bool succeeded = false;
};

struct CheckInput {
  std::vector<TopWrite> writes;       // before the crash, then this phase's
  std::vector<JournalEvent> events;   // the engines' journal, in the same order
  size_t events_before_phase = 0;     // how many of `events` the phase before the crash recorded
  std::vector<CommitRecord> commits;  // the engines' commit records, before the crash then this phase's
  uint64_t crash_ns = 0;
  bool after_crash = false;
  // Devices the steps removed and did not create again, with the (1-based) step that removed
  // them: "/dev/mapper/md" -> 14.
  std::map<std::string, size_t> removed_at;
  std::vector<StepOutput> step_outputs;  // this phase's finished steps
};

struct CheckViolation {
  std::string check;
  std::string message;
  // The check could not judge (`message` says why, e.g. the metadata device is gone): reported
  // with the result as a note, not as a violation.
  bool cannot_judge = false;
};

struct EngineCheck {
  std::string name;
  std::string about;
  std::function<std::vector<CheckViolation>(const CheckInput& in)> run;
};

void register_check(const EngineCheck& c);
// The engines' parts of the "metadata-check" check (era_check, thin_check, ... style), each
// judging the metadata devices of its own targets.
void register_metadata_checker(const std::string& engine,
                               std::function<std::vector<CheckViolation>(const CheckInput& in)> fn);
const EngineCheck* find_check(const std::string& name);
std::vector<std::string> check_names();

}  // namespace engines
