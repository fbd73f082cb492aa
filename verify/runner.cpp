#include "verify/runner.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "engines/checks.hpp"
#include "sim/trace.hpp"
#include "verify/block_device_oracle.hpp"
#include "verify/crash_explorer.hpp"
#include "verify/crash_search.hpp"
#include "verify/phase.hpp"

namespace verify {

using engines::CommitRecord;
using scenarios::CrashStateMode;
using scenarios::Scenario;

namespace {

// Obligations from the engines' commit records: for every write acknowledged before the crash,
// the superblock that survives on the metadata device must be one of the commits that record
// the write's block, or a later one. One obligation per metadata device: the strictest.
std::vector<BlockDeviceOracle::Obligation> commit_obligations(const PhaseOutput& p1, uint64_t crash_ns) {
  std::map<std::pair<std::string, uint64_t>, std::vector<size_t>> by_place;  // (device, sector) -> records
  const auto& commits = p1.journal.commits;
  for (size_t i = 0; i < commits.size(); i++) by_place[{commits[i].metadata_device, commits[i].sector}].push_back(i);
  std::vector<BlockDeviceOracle::Obligation> out;
  for (const auto& [place, idx] : by_place) {
    // The first commit (position in idx) that records each (top device, block).
    std::map<std::pair<std::string, uint64_t>, size_t> first;
    for (size_t k = 0; k < idx.size(); k++)
      for (uint64_t b : commits[idx[k]].blocks) first.emplace(std::make_pair(commits[idx[k]].top_device, b), k);
    size_t need = 0;
    bool any = false;
    for (const auto& io : p1.io.ios) {
      if (io.kind != TopIo::Data && io.kind != TopIo::Zero) continue;
      if (!io.acked || io.ack_ns > crash_ns || io.status != 0 || !io.sectors) continue;
      const CommitRecord* rec = nullptr;
      for (size_t k : idx)
        if (commits[k].top_device == io.device) rec = &commits[k];
      if (!rec || !rec->block_sectors) continue;
      for (uint64_t b = io.sector / rec->block_sectors; b <= (io.sector + io.sectors - 1) / rec->block_sectors; b++) {
        auto it = first.find({io.device, b});
        need = std::max(need, it == first.end() ? idx.size() : it->second);
        any = true;
      }
    }
    if (!any) continue;
    BlockDeviceOracle::Obligation ob;
    ob.device = place.first;
    ob.sector = place.second;
    for (size_t k = need; k < idx.size(); k++) ob.legal.tokens.push_back(commits[idx[k]].token);
    out.push_back(std::move(ob));
  }
  return out;
}

}  // namespace

sim::SimConfig seed_config(const Scenario& s, uint64_t seed) {
  sim::SimConfig c;
  c.seed = seed;
  c.preempt_rate = seed == 0 ? 0.0 : s.explore.preempt_rate;
  c.main_thread_name = "sh";
  c.preempt_only = s.explore.preempt_at;
  return c;
}

namespace {

// Which expect entry a violation kind answers to; empty: always reported.
std::string check_for_kind(const std::string& kind) {
  static const std::map<std::string, std::string> m = {
      {"deadlock", "no-deadlock"},    {"hung-task", "no-hung-task"},
      {"lock-order", "no-lockdep"},   {"recursive-locking", "no-lockdep"},
      {"atomic-sleep", "no-lockdep"}, {"lock-misuse", "no-lockdep"},
      {"warning", "no-errors"},       {"bug", "no-errors"},
      {"errors", "no-errors"},        {"step-failed", "no-errors"},
      {"leak", "no-leaks"},           {"block-device", "block-device"},
      {"annotation", "no-deadlock"},
  };
  auto it = m.find(kind);
  if (it != m.end()) return it->second;
  if (kind == "budget" || kind == "crash") return {};
  return kind;  // engine checks answer to their own name
}

std::string transcript_of(const PhaseOutput& p, const std::string& heading) {
  std::string t = heading.empty() ? "" : "# " + heading + "\n";
  for (const auto& st : p.steps) {
    t += "$ " + st.text + "\n";
    if (!st.out.empty()) t += st.out + (st.out.back() == '\n' ? "" : "\n");
    if (!st.err.empty()) t += st.err + (st.err.back() == '\n' ? "" : "\n");
    if (!st.finished) t += "(still running when the run ended)\n";
  }
  return t;
}

// Everything wrong with one simulated phase, filtered by what the scenario expects.
void phase_violations(const Scenario& s, const PhaseRun& run, std::vector<Violation>& out) {
  auto add = [&](const std::string& kind, const std::string& title, const std::string& detail) {
    const std::string check = check_for_kind(kind);
    if (!check.empty() && std::find(s.expect.begin(), s.expect.end(), check) == s.expect.end()) return;
    out.push_back({kind, title, detail});
  };
  for (const auto& f : run.sim.findings) add(sim::finding_kind_name(f.kind), f.title, f.text);
  // Target errors in the kernel log, except while a step that is meant to fail ran.
  std::vector<std::pair<size_t, size_t>> excused;
  for (const auto& st : run.out.steps)
    if (st.expect_failure) excused.emplace_back(st.dmesg_from, st.dmesg_to);
  for (size_t i = 0; i < run.sim.dmesg.size(); i++) {
    const std::string& line = run.sim.dmesg[i];
    const bool excuse =
        std::any_of(excused.begin(), excused.end(), [&](auto r) { return i >= r.first && i < r.second; });
    if (!excuse && line.find("device-mapper:") != std::string::npos)
      add("errors", "kernel log: " + line.substr(line.find("device-mapper:")), line);
  }
  for (const auto& st : run.out.steps) {
    if (!st.finished) continue;
    if (st.expect_failure && st.exit_code == 0)
      add("step-failed", "step " + std::to_string(st.index + 1) + " was expected to fail but succeeded: " + st.text,
          st.out);
    if (!st.expect_failure && st.exit_code != 0)
      add("step-failed",
          "step " + std::to_string(st.index + 1) + " failed: " + st.text + (st.err.empty() ? "" : ": " + st.err),
          st.err);
  }
  if (run.out.leaked_bios)
    add("leak", std::to_string(run.out.leaked_bios) + " bio(s) never completed or freed after the steps settled", "");
  for (const auto& [check, msg] : run.out.check_violations) add(check, check + ": " + msg, msg);
}

struct Ctx {
  const Scenario& s;
  uint64_t seed;
  std::vector<std::string> knobs;
  const RunOptions& opt;
  UnitResult& unit;
};

void record(Ctx& c, Exploration e) {
  c.unit.explorations++;
  if (e.violations.empty()) return;
  if (c.unit.passed) c.unit.recoveries_to_first_failure = c.unit.recoveries;
  c.unit.passed = false;
  if (c.unit.failures.size() < c.opt.keep_failures) c.unit.failures.push_back(std::move(e));
}

// Runs the recovery on one crash state and judges it.
Exploration recover(Ctx& c, const PhaseOutput& p1, const std::string& p1_transcript, const MultiDiskCrashSpace& space,
                    int64_t point, const CrashPoint& cp, const std::vector<bool>& choice, const std::string& state,
                    bool* block_device_failed) {
  const size_t cut = c.s.first_power_cut();
  PhaseInput in;
  in.scenario = &c.s;
  in.first_step = cut + 1;
  in.end_step = c.s.steps.size();
  in.images = space.images(choice);
  in.knobs = c.knobs;
  in.config = seed_config(c.s, c.seed);
  in.before_crash = &p1.io;
  in.before_crash_journal = &p1.journal;
  in.crash_ns = cp.ns;
  PhaseRun run = run_phase(in, c.opt.wall_timeout_s);
  c.unit.recoveries++;
  Exploration e;
  e.seed = c.seed;
  e.knobs = c.knobs;
  e.crash_point = point;
  e.crash_ns = cp.ns;
  e.crash_label = cp.label;
  e.crash_state = state;
  e.choice_hex = choice_to_hex(choice);
  e.lost_writes = space.describe(choice);
  std::string at = sim::format_time(cp.ns);
  at.erase(0, at.find_first_not_of(' '));
  e.transcript = p1_transcript + "# power cut at " + at + " s (" + cp.label + ")\n" + transcript_of(run.out, "");
  phase_violations(c.s, run, e.violations);
  if (!run.out.finished) {
    e.violations.push_back({"crash", "the recovery steps did not finish", run.sim.summary()});
    return e;
  }
  bool zero_disks = false;
  for (const auto& d : c.s.disks) zero_disks |= d.initial_zero;
  BlockDeviceOracle oracle(p1.io, cp.ns, zero_disks);
  std::vector<std::string> problems;
  auto bad = oracle.judge(run.out.reads, &problems);
  if (std::find(c.s.expect.begin(), c.s.expect.end(), "block-device") != c.s.expect.end()) {
    for (const auto& p : problems) e.violations.push_back({"block-device", p, ""});
    if (!bad.empty()) {
      std::string detail;
      for (size_t i = 0; i < bad.size() && i < 20; i++)
        detail += bad[i].device + " sector " + std::to_string(bad[i].sector) + ": found " + bad[i].found +
                  ", expected " + bad[i].expected + "\n";
      if (bad.size() > 20) detail += "... and " + std::to_string(bad.size() - 20) + " more sectors\n";
      e.violations.push_back({"block-device",
                              std::to_string(bad.size()) + " sector(s) read values the device may not hold, first " +
                                  bad[0].device + " sector " + std::to_string(bad[0].sector) + ": found " +
                                  bad[0].found + ", expected " + bad[0].expected,
                              detail});
      if (block_device_failed) *block_device_failed = true;
    }
  }
  return e;
}

}  // namespace

UnitResult run_exploration(const Scenario& s, uint64_t seed, const std::vector<std::string>& knobs,
                           const RunOptions& opt) {
  UnitResult unit;
  unit.file = s.file;
  unit.scenario = s.name;
  unit.seed = seed;
  unit.knobs = knobs;
  Ctx c{s, seed, knobs, opt, unit};
  const size_t cut = s.first_power_cut();
  PhaseInput in;
  in.scenario = &s;
  in.first_step = 0;
  in.end_step = cut;
  in.knobs = knobs;
  in.config = seed_config(s, seed);
  PhaseRun p1 = run_phase(in, opt.wall_timeout_s);
  if (!opt.trace_path.empty()) {
    std::ofstream f(opt.trace_path);
    for (const auto& line : p1.sim.trace) f << line << "\n";
  }
  const std::string t1 = transcript_of(p1.out, "");
  Exploration base;
  base.seed = seed;
  base.knobs = knobs;
  base.transcript = t1;
  phase_violations(s, p1, base.violations);
  if (cut >= s.steps.size() || !p1.out.finished) {
    if (cut < s.steps.size() && !p1.out.finished && base.violations.empty())
      base.violations.push_back({"crash", "the steps before the power cut did not finish", p1.sim.summary()});
    record(c, std::move(base));
  } else {
    const bool p1_bad = !base.violations.empty();
    if (p1_bad) record(c, std::move(base));
    const auto points = crash_points(s, p1.out);
    unit.crash_points = points.size();
    for (size_t pi = 0; pi < points.size(); pi++) {
      if (opt.only_crash_point && static_cast<int64_t>(pi) != *opt.only_crash_point) continue;
      if (opt.stop_at_first_failure && !unit.passed) break;
      const CrashPoint& cp = points[pi];
      MultiDiskCrashSpace space(p1.out, cp.ns);
      std::set<std::string> seen;  // crash states already recovered (by choice)
      auto try_state = [&](const std::vector<bool>& choice, const std::string& label, bool* bd) {
        if (opt.stop_at_first_failure && !unit.passed) return;
        if (!seen.insert(choice_to_hex(choice)).second) return;
        record(c, recover(c, p1.out, t1, space, static_cast<int64_t>(pi), cp, choice, label, bd));
      };
      if (opt.only_choice) {
        try_state(choice_from_hex(*opt.only_choice, space.variables()), "given", nullptr);
        continue;
      }
      uint64_t k = 0;
      switch (s.explore.crash_states) {
        case CrashStateMode::Durable:
          try_state(std::vector<bool>(space.variables(), false), "durable", nullptr);
          break;
        case CrashStateMode::All:
          space.enumerate(s.explore.crash_state_count,
                          [&](const auto& ch) { try_state(ch, "all " + std::to_string(k++), nullptr); });
          break;
        case CrashStateMode::Random:
          space.sample(seed * 1000003 + pi, s.explore.crash_state_count,
                       [&](const auto& ch) { try_state(ch, "random " + std::to_string(k++), nullptr); });
          break;
        case CrashStateMode::Prefix:
          space.prefixes([&](const auto& ch) { try_state(ch, "prefix " + std::to_string(k++), nullptr); });
          break;
        case CrashStateMode::Z3: {
          std::set<std::string> devices;
          for (const auto& io : p1.out.io.ios) devices.insert(io.device);
          bool zero_disks = false;
          for (const auto& d : s.disks) zero_disks |= d.initial_zero;
          BlockDeviceOracle oracle(p1.out.io, cp.ns, zero_disks);
          const auto records = commit_obligations(p1.out, cp.ns);
          CrashSearch search(space, oracle, p1.out.data_map, {devices.begin(), devices.end()}, records);
          // Obligations whose place on the disks is unknown (metadata-driven mappings without
          // declared commit records) are covered by the pessimistic state instead; so is the
          // recovery logic of engines with commit records, which Z3 does not model.
          if (search.unlocated() || !p1.out.journal.commits.empty())
            try_state(std::vector<bool>(space.variables(), false), "durable", nullptr);
          for (int model = 0; model < 8; model++) {
            auto ch = search.next();
            if (!ch) {
              // No crash state at this point can break an encoded obligation: proven, no run.
              if (model == 0) unit.explorations++;
              break;
            }
            bool confirmed = false;
            try_state(*ch, "z3 model " + std::to_string(model + 1), &confirmed);
            if (confirmed) break;  // one confirmed violation per crash point is enough
          }
          break;
        }
      }
    }
  }
  unit.verdict = unit.passed ? "pass: " + std::to_string(unit.explorations) + " exploration(s)"
                             : "FAIL: " + (unit.failures.empty() ? std::string("violation")
                                                                 : unit.failures[0].violations[0].kind + ": " +
                                                                       unit.failures[0].violations[0].title);
  return unit;
}

UnitResult run_unit(const Scenario& s, uint64_t seed, const RunOptions& opt) {
  std::vector<std::string> knobs = s.explore.knobs;
  knobs.insert(knobs.end(), opt.extra_knobs.begin(), opt.extra_knobs.end());
  if (!s.catalog || !opt.extra_knobs.empty()) return run_exploration(s, seed, knobs, opt);
  // A catalog entry is one unit over all its seeds: the fixed behaviour must pass with every
  // seed, and the knob must be caught as what it claims with at least one (a race may need a
  // particular interleaving).
  UnitResult u;
  for (uint64_t k = 0; k < s.explore.seeds; k++) {
    UnitResult off = run_exploration(s, k, knobs, opt);
    u.explorations += off.explorations;
    u.recoveries += off.recoveries;
    if (!off.passed) {
      off.explorations = u.explorations;
      off.recoveries = u.recoveries;
      off.verdict = "FAIL: fails with " + s.catalog->knob + " off: " + off.verdict;
      return off;
    }
    if (k == 0) u = off;
  }
  std::vector<std::string> with = knobs;
  with.push_back(s.catalog->knob);
  UnitResult on;
  bool detected = false;
  uint64_t k = 0;
  for (; k < s.explore.seeds && !detected; k++) {
    on = run_exploration(s, k, with, opt);
    u.explorations += on.explorations;
    u.recoveries += on.recoveries;
    for (const auto& f : on.failures)
      for (const auto& v : f.violations) detected |= v.kind == s.catalog->detects;
  }
  const std::string seeds =
      s.explore.seeds > 1 ? " (seed " + std::to_string(k - 1) + " of " + std::to_string(s.explore.seeds) + ")" : "";
  if (!detected) {
    u.passed = false;
    u.failures = on.failures;
    u.knobs = with;
    u.verdict = "FAIL: " + s.catalog->knob + " on was not detected as " + s.catalog->detects +
                (on.passed ? " (no violation)" : " (found " + on.failures[0].violations[0].kind + " instead)");
  } else {
    u.verdict = "pass: " + s.catalog->knob + " detected as " + s.catalog->detects + seeds + ", passes with it off" +
                (s.explore.seeds > 1 ? " (all " + std::to_string(s.explore.seeds) + " seeds)" : "");
    u.catalog = on.failures.empty() ? "" : on.failures[0].violations[0].title;
    u.failures = on.failures;  // kept for the report of what was detected
    u.knobs = with;
  }
  return u;
}

std::vector<UnitRef> plan_units(const std::vector<Scenario>& all, long shard_k, long shard_n, bool plain) {
  std::vector<UnitRef> out;
  size_t index = 0;
  for (size_t i = 0; i < all.size(); i++) {
    // A catalog entry is a single unit that runs its seeds itself.
    const uint64_t seeds = all[i].catalog && !plain ? 1 : all[i].explore.seeds;
    for (uint64_t seed = 0; seed < seeds; seed++, index++)
      if (static_cast<long>(index % static_cast<size_t>(shard_n)) == shard_k - 1) out.push_back({i, seed});
  }
  return out;
}

std::string replay_command(const UnitResult& u, const Exploration& e) {
  std::string cmd = "dmsim run " + u.file + " --seed " + std::to_string(e.seed);
  for (const auto& k : e.knobs) cmd += " --knob " + k;
  if (e.crash_point >= 0) cmd += " --crash-point " + std::to_string(e.crash_point) + " --crash-choice " + e.choice_hex;
  return cmd;
}

}  // namespace verify
