#include "verify/engine_checks.hpp"

#include <map>
#include <string>

#include "engines/checks.hpp"

namespace verify {

namespace {

using scenarios::CmdKind;
using scenarios::Command;

// The dm devices the phase's steps removed and did not create again, with the step (1-based).
std::map<std::string, size_t> removed_devices(const PhaseInput& in, const PhaseOutput& out) {
  std::map<std::string, size_t> removed;
  for (const auto& st : out.steps) {
    if (!st.finished || st.exit_code != 0) continue;
    const Command& c = in.scenario->steps[st.index].cmd;
    if (c.kind == CmdKind::DmRemove) removed["/dev/mapper/" + c.name] = st.index + 1;
    if (c.kind == CmdKind::DmCreate) removed.erase("/dev/mapper/" + c.name);
  }
  return removed;
}

// A write or discard submitted by `until_ns`, as the checks see it; nothing for a flush.
void add_write(engines::CheckInput& ci, const TopIo& io, bool before_crash, uint64_t until_ns,
               size_t events_before_phase) {
  if (io.kind == TopIo::Flush || io.submit_ns > until_ns) return;
  engines::TopWrite w;
  w.device = io.device;
  w.sector = io.sector;
  w.sectors = io.sectors;
  w.id = io.id;
  w.submit_ns = io.submit_ns;
  w.ack_ns = io.ack_ns;
  w.acked = io.acked && io.ack_ns <= until_ns && io.status == 0;
  w.discard = io.kind == TopIo::Discard;
  w.zero = io.kind == TopIo::Zero;
  w.before_crash = before_crash;
  w.events_before = io.journal_at + (before_crash ? 0 : events_before_phase);
  ci.writes.push_back(w);
}

}  // namespace

engines::CheckInput check_input(const PhaseInput& in, const PhaseOutput& out) {
  engines::CheckInput ci;
  ci.crash_ns = in.crash_ns;
  ci.after_crash = in.before_crash != nullptr;
  // This phase's journal follows the one before the crash: its indexes shift by that length.
  const size_t events_before_phase = in.before_crash_journal ? in.before_crash_journal->events.size() : 0;
  if (in.before_crash) {
    for (const auto& io : in.before_crash->ios) add_write(ci, io, true, in.crash_ns, events_before_phase);
    if (in.before_crash_journal) {
      ci.events = in.before_crash_journal->events;
      ci.events_before_phase = ci.events.size();
      ci.commits = in.before_crash_journal->commits;
    }
  }
  for (const auto& io : out.io.ios) add_write(ci, io, false, UINT64_MAX, events_before_phase);
  const auto& mine = engines::journal().events;
  ci.events.insert(ci.events.end(), mine.begin(), mine.end());
  const auto& commits = engines::journal().commits;
  ci.commits.insert(ci.commits.end(), commits.begin(), commits.end());
  ci.removed_at = removed_devices(in, out);
  for (const auto& st : out.steps)
    if (st.finished) ci.step_outputs.push_back({st.index + 1, st.text, st.out, st.exit_code == 0});
  return ci;
}

void run_engine_checks(const PhaseInput& in, PhaseOutput& out) {
  const engines::CheckInput ci = check_input(in, out);
  for (const auto& name : in.scenario->expect) {
    const engines::EngineCheck* check = engines::find_check(name);
    if (!check) continue;
    for (const auto& v : check->run(ci))
      (v.cannot_judge ? out.check_notes : out.check_violations).emplace_back(v.check, v.message);
  }
}

}  // namespace verify
