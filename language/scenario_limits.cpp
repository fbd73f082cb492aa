// The limits a parsed scenario keeps (scenario.hpp), stated apart from the checks that enforce
// them one key at a time, so that the parser can assert them of its whole result.
#include <cmath>

#include "language/scenario.hpp"

namespace scenarios {

std::string limits_problem(const Scenario& s) {
  for (const auto& d : s.disks)
    if (d.bytes == 0 || d.bytes % 4096 || d.bytes > kMaxDeviceBytes)
      return "disk " + d.name + " has " + std::to_string(d.bytes) + " bytes";
  for (const auto& d : s.disks)
    if (d.image_bytes && (d.image_bytes->size() % 512 || d.image_bytes->size() > d.bytes))
      return "disk " + d.name + " starts from an image of " + std::to_string(d.image_bytes->size()) + " bytes";
  for (const auto& st : s.steps) {
    const Command& c = st.cmd;
    if (st.line <= 0 || st.column <= 0) return "a step without a position: " + c.text;
    uint64_t start = 0;
    if (c.kind == CmdKind::Dd && (c.bs == 0 || c.bs % 512 || c.bs > kMaxDdBlockBytes ||
                                  __builtin_mul_overflow(c.seek, c.bs, &start) || start > kMaxDeviceBytes))
      return "dd beyond the limits: " + c.text;
    if (c.kind == CmdKind::Sleep && !(std::isfinite(c.seconds) && c.seconds >= 0 && c.seconds <= kMaxSleepSeconds))
      return "sleep beyond the limits: " + c.text;
    if (c.kind == CmdKind::Blkdiscard && (c.offset % 512 || c.offset > kMaxDeviceBytes))
      return "blkdiscard beyond the limits: " + c.text;
  }
  const Explore& e = s.explore;
  if (e.seeds < 1 || e.seeds > kMaxSeeds) return "seeds " + std::to_string(e.seeds);
  if ((e.crash_states == CrashStateMode::All || e.crash_states == CrashStateMode::Random) &&
      (e.crash_state_count < 1 || e.crash_state_count > kMaxCrashStates))
    return "crash-state count " + std::to_string(e.crash_state_count);
  if (e.also_random > kMaxCrashStates) return "z3+random count " + std::to_string(e.also_random);
  if (s.catalog && s.catalog->match.empty()) return "catalog without a match";
  if (e.max_crash_points < 1 || e.max_crash_points > kMaxCrashPoints)
    return "max-crash-points " + std::to_string(e.max_crash_points);
  if (!(e.preempt_rate >= 0 && e.preempt_rate <= 1)) return "preempt-rate " + std::to_string(e.preempt_rate);
  return "";
}

}  // namespace scenarios
