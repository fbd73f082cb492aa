#include "verify/runner.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "engines/checks.hpp"
#include "model/disk_trace.hpp"
#include "sim/assert.hpp"
#include "sim/thread.hpp"
#include "sim/trace.hpp"
#include "verify/block_device_oracle.hpp"
#include "verify/commit_obligations.hpp"
#include "verify/crash_explorer.hpp"
#include "verify/crash_search.hpp"
#include "verify/disk_history.hpp"
#include "verify/images.hpp"
#include "verify/phase.hpp"

namespace verify {

using scenarios::CrashStateMode;
using scenarios::Scenario;

sim::SimConfig seed_config(const Scenario& s, uint64_t seed) {
  sim::SimConfig c;
  c.seed = seed;
  c.preempt_rate = seed == 0 ? 0.0 : s.explore.preempt_rate;
  c.main_thread_name = "sh";
  c.preempt_only = s.explore.preempt_at;
  c.bits_per_long = s.machine.bits_per_long;
  c.preempt_rt = s.machine.preempt_rt;
  return c;
}

namespace {

// Which `expect:` entry may leave a violation kind out, or empty when it always counts. Only
// the checks that judge results (the block-device oracle, engine checks) can be narrowed: a
// hang, an unfinished step, a warning, a leak or a wrong output is never excused by what a
// scenario chose to ask for.
std::string narrowing_check(const std::string& kind) {
  if (kind == "block-device" || kind == "real-tools" || kind == scenarios::kMaxFlushesPerFlush ||
      kind == scenarios::kNoWritesAfter || engines::find_check(kind))
    return kind;
  return {};
}

bool expects(const Scenario& s, const std::string& check) {
  return std::find(s.expect.begin(), s.expect.end(), check) != s.expect.end();
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

std::string seconds(uint64_t ns) {
  std::string at = sim::format_time(ns);
  return at.erase(0, at.find_first_not_of(' '));
}

std::string step_name(const StepRecord& st) {
  return "step " + std::to_string(st.index + 1) + " `" + st.text + "`";
}

// Empty when `actual` is what the step must print; else what differs, for the report.
std::string output_mismatch(const scenarios::OutputExpectation& x, std::string actual) {
  bool ok;
  if (x.kind == scenarios::OutputExpectation::Exact) {
    ok = actual == x.pattern;
  } else {
    // The whole output, as cram and lit compare it; a final newline is not part of the match.
    if (!actual.empty() && actual.back() == '\n') actual.pop_back();
    ok = std::regex_match(actual, std::regex(x.pattern, std::regex::ECMAScript));
  }
  if (ok) return {};
  return "expected (" + x.source + "):\n" + x.pattern + (x.pattern.empty() || x.pattern.back() != '\n' ? "\n" : "") +
         "actual:\n" + actual + (actual.empty() || actual.back() != '\n' ? "\n" : "");
}

// `max-flushes-per-flush`: the flushes of the budget's disk submitted while each acknowledged
// flush at the top of the stack was in flight.
void judge_flush_budget(const Scenario& s, const PhaseRun& run, std::vector<Violation>& out) {
  if (!s.flush_budget || s.flush_budget->disk_index >= run.out.disks.size()) return;
  const scenarios::FlushBudget& b = *s.flush_budget;
  std::istringstream text(run.out.disks[b.disk_index].trace);
  const model::DiskTrace trace = model::DiskTrace::load(text);
  for (const auto& io : run.out.io.ios) {
    if (io.kind != TopIo::Flush || !io.acked) continue;
    uint64_t n = 0;
    for (const auto& r : trace.records)
      if (r.flushes() && r.submit_ns >= io.submit_ns && r.submit_ns < io.ack_ns) n++;
    if (n <= b.max) continue;
    out.push_back({scenarios::kMaxFlushesPerFlush,
                   "a flush of " + io.device + " at " + seconds(io.submit_ns) + " s cost " + std::to_string(n) +
                       " flushes of disk " + b.disk + " (at most " + std::to_string(b.max) + " expected)",
                   "the flush was submitted at " + seconds(io.submit_ns) + " s and acknowledged at " +
                       seconds(io.ack_ns) + " s"});
  }
}

// `no-writes-after`: the writes and flushes of the disk submitted after the step finished (in
// the phase that ran that step).
void judge_write_silence(const Scenario& s, const PhaseRun& run, std::vector<Violation>& out) {
  if (!s.write_silence || s.write_silence->disk_index >= run.out.disks.size()) return;
  const scenarios::WriteSilence& w = *s.write_silence;
  const StepRecord* after = nullptr;
  for (const auto& st : run.out.steps)
    if (st.index + 1 == w.step && st.finished) after = &st;
  if (!after) return;
  std::istringstream text(run.out.disks[w.disk_index].trace);
  const model::DiskTrace trace = model::DiskTrace::load(text);
  std::vector<const model::IoRecord*> late;
  for (const auto& r : trace.records)
    if ((r.is_write() || r.flushes()) && r.submit_ns > after->end_ns) late.push_back(&r);
  if (late.empty()) return;
  const model::IoRecord& first = *late.front();
  std::string by;
  for (const auto& st : run.out.steps)
    if (st.start_ns <= first.submit_ns && (!st.finished || first.submit_ns <= st.end_ns))
      by = " during " + step_name(st);
  std::string detail;
  for (size_t i = 0; i < late.size() && i < 20; i++)
    detail += seconds(late[i]->submit_ns) + " s: " + model::req_op_name(late[i]->op) +
              model::req_flags_string(late[i]->flags) + " " + std::to_string(late[i]->sector) + "+" +
              std::to_string(late[i]->sectors) + "\n";
  out.push_back({scenarios::kNoWritesAfter,
                 "disk " + w.disk + " was written " + std::to_string(late.size()) + " time(s) after step " +
                     std::to_string(w.step) + ", first " + model::req_op_name(first.op) +
                     model::req_flags_string(first.flags) + " " + std::to_string(first.sector) + "+" +
                     std::to_string(first.sectors) + " at " + seconds(first.submit_ns) + " s" + by,
                 detail});
}

// Everything wrong with one simulated phase. `cut_by_power`: the phase ends at a power cut, so
// steps still running in the background then were cut off, not stuck.
void phase_violations(const Scenario& s, const PhaseRun& run, bool cut_by_power, std::vector<Violation>& out) {
  auto add = [&](const std::string& kind, const std::string& title, const std::string& detail) {
    const std::string check = narrowing_check(kind);
    if (!check.empty() && !expects(s, check)) return;
    out.push_back({kind, title, detail});
  };
  for (const auto& f : run.sim.findings) add(sim::finding_kind_name(f.kind), f.title, f.text);
  // Target errors in the kernel log (KERN_ERR: not DMWARN or DMINFO), except while a step that
  // is meant to fail ran (to the end of the phase for one a power cut cut off).
  std::vector<std::pair<size_t, size_t>> excused;
  for (const auto& st : run.out.steps)
    if (st.expect_failure) excused.emplace_back(st.dmesg_from, st.finished ? st.dmesg_to : run.sim.dmesg.size());
  for (size_t i = 0; i < run.sim.dmesg.size(); i++) {
    const std::string& line = run.sim.dmesg[i];
    const bool excuse =
        std::any_of(excused.begin(), excused.end(), [&](auto r) { return i >= r.first && i < r.second; });
    const bool error = i >= run.sim.dmesg_levels.size() || run.sim.dmesg_levels[i] <= sim::KERN_ERR;
    if (!excuse && error && line.find("device-mapper:") != std::string::npos)
      add("errors", "kernel log: " + line.substr(line.find("device-mapper:")), line);
  }
  const bool reached_cut = cut_by_power && run.out.finished;
  for (const auto& st : run.out.steps) {
    if (!st.finished) {
      if (!reached_cut)
        add("step-unfinished", step_name(st) + " never finished",
            "started at " + seconds(st.start_ns) + " s; the run ended at " + seconds(run.sim.end_time_ns) +
                " s with the step still running");
      continue;
    }
    if (st.expect_failure && st.exit_code == 0)
      add("step-failed", "step " + std::to_string(st.index + 1) + " was expected to fail but succeeded: " + st.text,
          st.out);
    if (!st.expect_failure && st.exit_code != 0)
      add("step-failed",
          "step " + std::to_string(st.index + 1) + " failed: " + st.text + (st.err.empty() ? "" : ": " + st.err),
          st.err);
    const scenarios::Step& spec = s.steps.at(st.index);
    if (spec.output) {
      const std::string diff = output_mismatch(*spec.output, st.out);
      if (!diff.empty()) add("step-output", step_name(st) + " printed other output than expected", diff);
    }
    if (spec.error) {
      const std::string diff = output_mismatch(*spec.error, st.err);
      if (!diff.empty()) add("step-output", step_name(st) + " printed other errors than expected", diff);
    }
  }
  if (run.out.leaked_bios)
    add("leak", std::to_string(run.out.leaked_bios) + " bio(s) never completed or freed after the steps settled", "");
  if (expects(s, scenarios::kMaxFlushesPerFlush)) judge_flush_budget(s, run, out);
  if (expects(s, scenarios::kNoWritesAfter)) judge_write_silence(s, run, out);
  // A message of several lines (a tool's output quoted) is titled by its first.
  for (const auto& [check, msg] : run.out.check_violations)
    add(check, check + ": " + msg.substr(0, msg.find('\n')), msg);
}

// Keeps what the checks of a phase could not judge, once each, in the order first seen.
void collect_notes(const PhaseOutput& out, UnitResult& unit) {
  for (const auto& [check, why] : out.check_notes) {
    const std::string note = check + " could not judge: " + why;
    if (std::find(unit.notes.begin(), unit.notes.end(), note) == unit.notes.end()) unit.notes.push_back(note);
  }
}

std::string notes_suffix(const UnitResult& u) {
  std::string s;
  for (const auto& n : u.notes) s += "; " + n;
  return s;
}

// The block-device oracle's verdict on a recovery's read-back.
void judge_block_device(const Scenario& s, const BlockDeviceOracle& oracle, const PhaseOutput& recovered,
                        std::vector<Violation>& out) {
  if (!expects(s, "block-device")) return;
  std::vector<std::string> problems;
  auto bad = oracle.judge(recovered.reads, &problems);
  for (const auto& p : problems) out.push_back({"block-device", p, ""});
  if (bad.empty()) return;
  std::string detail;
  for (size_t i = 0; i < bad.size() && i < 20; i++)
    detail += bad[i].device + " sector " + std::to_string(bad[i].sector) + ": found " + bad[i].found + ", expected " +
              bad[i].expected + "\n";
  if (bad.size() > 20) detail += "... and " + std::to_string(bad.size() - 20) + " more sectors\n";
  out.push_back({"block-device",
                 std::to_string(bad.size()) + " sector(s) read values the device may not hold, first " + bad[0].device +
                     " sector " + std::to_string(bad[0].sector) + ": found " + bad[0].found + ", expected " +
                     bad[0].expected,
                 detail});
}

// The first phase as the oracle sees it.
PhaseView view_of(const PhaseOutput& p, const std::vector<DiskHistory>& disks) {
  return PhaseView{&p.io, &disks, &p.claims};
}

constexpr int kZ3MaxModels = 8;  // unconfirmed models per crash point before the search gives up

std::string pass_verdict(const Scenario& s, const UnitResult& u) {
  std::string v = "pass: " + std::to_string(u.explorations) + " exploration(s)";
  if (s.explore.crash_states != CrashStateMode::Z3 || !u.crash_points) return v;
  v = "pass: " + std::to_string(u.recoveries) + " crash state(s) recovered at " + std::to_string(u.crash_points) +
      " crash point(s); Z3 ruled out every other state at " + std::to_string(u.z3.ruled_out);
  if (u.z3.truncated) v += ", search truncated at " + std::to_string(u.z3.truncated);
  return v;
}

// The verdict line of a finished unit, before any catalog wording.
// "; real era_check: 57 image(s) passed": what the installed tools judged, when they ran.
std::string real_tools_suffix(const UnitResult& u) {
  std::string s;
  for (const auto& t : u.real_tools)
    if (t.passed || t.failed)
      s += "; real " + t.tool + ": " + std::to_string(t.passed) + " image(s) passed" +
           (t.failed ? ", " + std::to_string(t.failed) + " failed" : "");
  return s;
}

// Adds a phase's real-tools runs and missing tools to the unit's.
void tally_real_tools(const PhaseOutput& out, UnitResult& u) {
  for (const auto& t : out.real_tools) {
    auto it = std::find_if(u.real_tools.begin(), u.real_tools.end(), [&](const auto& c) { return c.tool == t.tool; });
    if (it == u.real_tools.end()) it = u.real_tools.insert(u.real_tools.end(), RealToolCount{t.tool, 0, 0});
    it->passed += t.passed;
    it->failed += t.failed;
  }
  for (const auto& m : out.missing_tools)
    if (std::find(u.missing_tools.begin(), u.missing_tools.end(), m) == u.missing_tools.end())
      u.missing_tools.push_back(m);
}

// Adds a phase's engine state signatures to the unit's, each once.
void tally_states(const PhaseOutput& out, UnitResult& u) {
  for (const auto& st : out.states)
    if (std::find(u.states.begin(), u.states.end(), st) == u.states.end()) u.states.push_back(st);
}

std::string verdict_of(const Scenario& s, const UnitResult& unit) {
  if (!unit.input_error.empty()) return "ERROR: " + unit.input_error;
  if (unit.harness_timeout) return "TIMEOUT: the harness killed a run after its wall-clock budget; no verdict";
  return (unit.passed ? pass_verdict(s, unit)
                      : "FAIL: " + (unit.failures.empty() ? std::string("violation")
                                                          : unit.failures[0].violations[0].kind + ": " +
                                                                unit.failures[0].violations[0].title)) +
         notes_suffix(unit) + real_tools_suffix(unit);
}

// Why --crash-point does not fit a run with `points` crash points; "" when it does.
std::string crash_point_problem(int64_t only, uint64_t seed, size_t points) {
  if (only >= 0 && static_cast<size_t>(only) < points) return "";
  return "--crash-point " + std::to_string(only) + " is out of range: with seed " + std::to_string(seed) +
         " the scenario has " + std::to_string(points) + " crash point(s)" +
         (points == 0 ? "" : " (0 to " + std::to_string(points - 1) + ")");
}

// One exploration unit as it runs: a scenario with a seed and knobs, its first phase, then a
// recovery per crash state its explore settings ask for at each crash point, every run judged
// and recorded in the UnitResult it builds.
class UnitExplorer {
 public:
  UnitExplorer(const Scenario& s, uint64_t seed, const std::vector<std::string>& knobs, const RunOptions& opt,
               UnitResult& unit)
      : s_(s), seed_(seed), knobs_(knobs), opt_(opt), unit_(unit) {}

  void run() {
    const size_t cut = s_.first_power_cut();
    const bool has_cut = cut < s_.steps.size();
    const PhaseRun p1 = run_first_phase(cut);
    collect_notes(p1.out, unit_);
    tally_real_tools(p1.out, unit_);
    tally_states(p1.out, unit_);
    save_first_phase(p1.out);
    Exploration base;
    base.seed = seed_;
    base.knobs = knobs_;
    base.transcript = transcript_of(p1.out, "");
    phase_violations(s_, p1, has_cut, base.violations);
    if (!has_cut || !p1.out.finished) {
      if (has_cut && !p1.out.finished && base.violations.empty())
        base.violations.push_back({"crash", "the steps before the power cut did not finish", p1.sim.summary()});
      record(std::move(base), &p1.sim);
    } else {
      if (!base.violations.empty()) record(std::move(base), &p1.sim);
      explore_crash_points(p1.out);
    }
    if (unit_.input_error.empty() && opt_.only_crash_point && !has_cut)
      unit_.input_error = "--crash-point needs a scenario with a power-cut step; this one has none";
    if (!unit_.input_error.empty()) unit_.passed = false;
    unit_.verdict = verdict_of(s_, unit_);
  }

 private:
  // The first phase as every recovery after it needs it.
  struct FirstPhase {
    const PhaseOutput& out;
    std::vector<DiskHistory> disks;
    std::string transcript;
  };
  // One crash point as its crash states are recovered.
  struct PointRun {
    size_t index;
    const CrashPoint& cp;
    MultiDiskCrashSpace space;
    std::map<std::string, bool> seen;  // crash states already recovered (by choice): violated?
    uint64_t labels = 0;               // crash states named so far ("all 3", "random 4")
  };

  PhaseRun run_first_phase(size_t cut) {
    PhaseInput in;
    in.scenario = &s_;
    in.first_step = 0;
    in.end_step = cut;
    in.images = starts_;
    in.knobs = knobs_;
    in.config = seed_config(s_, seed_);
    PhaseRun p1 = run_phase(in, opt_.wall_timeout_s);
    if (!opt_.trace_path.empty()) {
      std::ofstream f(opt_.trace_path);
      for (const auto& line : p1.sim.trace) f << line << "\n";
      f.close();
      if (!f) throw std::runtime_error("cannot write the trace to " + opt_.trace_path);
    }
    return p1;
  }

  // --save-images: what the disks held at the end of the first phase, DIR/<unit>/steps/.
  void save_first_phase(const PhaseOutput& out) {
    if (opt_.save_images.empty()) return;
    unit_.images = unit_image_dir(opt_.save_images, s_.name, seed_, knobs_);
    for (size_t i = 0; i < out.disks.size() && i < s_.disks.size(); i++)
      write_image_file(image_after(out.disks[i], starts_.empty() ? new_disk_image(out.disks[i]) : starts_[i]),
                       unit_.images + "/steps/" + s_.disks[i].name + ".bin");
  }

  // --save-images: a recovered crash state's images, DIR/<unit>/<name>/<disk>.bin as the
  // recovery found them and <name>/recovered/<disk>.bin as it left them.
  void save_recovery(const std::string& name, const PhaseInput& in, const PhaseRun& run, Exploration& e) {
    const std::string dir = unit_.images + "/" + name;
    for (size_t i = 0; i < in.images.size() && i < s_.disks.size(); i++) {
      write_image_file(in.images[i], dir + "/" + s_.disks[i].name + ".bin");
      if (i < run.out.disks.size())
        write_image_file(image_after(run.out.disks[i], in.images[i]), dir + "/recovered/" + s_.disks[i].name + ".bin");
    }
    e.images = dir;
  }

  // Returns whether the exploration showed a violation.
  // `steps`: the first phase's simulation, whose trace a kept failure's timeline is read from
  // (recover() reads a recovery's itself).
  bool record(Exploration e, const sim::SimResult* steps = nullptr) {
    unit_.explorations++;
    if (e.violations.empty()) return false;
    for (const auto& v : e.violations) unit_.harness_timeout |= v.kind == "harness-timeout";
    if (unit_.passed) unit_.recoveries_to_first_failure = unit_.recoveries;
    unit_.passed = false;
    if (unit_.failures.size() < opt_.keep_failures) {
      if (steps && unit_.failures.size() < kTimelineFailures)
        e.timeline = thread_timeline(steps->trace, steps->end_time_ns, "steps");
      unit_.failures.push_back(std::move(e));
    }
    return true;
  }

  void explore_crash_points(const PhaseOutput& p1_out) {
    const auto points = crash_points(s_, p1_out);
    p1_.emplace(FirstPhase{p1_out, disk_histories(p1_out.disks, starts_), transcript_of(p1_out, "")});
    unit_.crash_points = points.size();
    points_ = points.size();
    if (opt_.only_crash_point) unit_.input_error = crash_point_problem(*opt_.only_crash_point, seed_, points.size());
    for (size_t pi = 0; pi < points.size() && unit_.input_error.empty(); pi++) {
      if (opt_.only_crash_point && static_cast<int64_t>(pi) != *opt_.only_crash_point) continue;
      if (opt_.stop_at_first_failure && !unit_.passed) break;
      PointRun pt{pi, points[pi], MultiDiskCrashSpace(p1_out, points[pi].ns, starts_), {}, 0};
      explore_point(pt);
    }
    if (unit_.z3.truncated)
      unit_.notes.push_back("Z3 search truncated after " + std::to_string(kZ3MaxModels) + " unconfirmed models at " +
                            std::to_string(unit_.z3.truncated) + " crash point(s), first at crash point " +
                            std::to_string(first_truncated_));
    if (unit_.z3.unlocated)
      unit_.notes.push_back(std::to_string(unit_.z3.unlocated) +
                            " obligation(s) had no known place on the disks; only the recovered states judged them");
  }

  // Recovers the crash states the explore settings (or --crash-choice) ask for at one point.
  void explore_point(PointRun& pt) {
    if (opt_.only_choice) {
      const std::string problem = choice_hex_problem(*opt_.only_choice, pt.space.variables());
      if (!problem.empty()) {
        unit_.input_error = "--crash-choice " + *opt_.only_choice + " does not fit crash point " +
                            std::to_string(pt.index) + ": " + problem;
        return;
      }
      try_state(pt, choice_from_hex(*opt_.only_choice, pt.space.variables()), "given");
      return;
    }
    const std::vector<bool> durable(pt.space.variables(), false);
    auto numbered = [this, &pt](const std::string& mode) {
      return [this, &pt, mode](const std::vector<bool>& ch) {
        try_state(pt, ch, mode + " " + std::to_string(pt.labels++));
      };
    };
    switch (s_.explore.crash_states) {
      case CrashStateMode::Durable:
        try_state(pt, durable, "durable");
        break;
      case CrashStateMode::All:
        pt.space.enumerate(s_.explore.crash_state_count, numbered("all"));
        break;
      case CrashStateMode::Random:
        pt.space.sample(random_seed(pt), s_.explore.crash_state_count, numbered("random"));
        break;
      case CrashStateMode::Prefix:
        pt.space.prefixes(numbered("prefix"));
        break;
      case CrashStateMode::Z3: {
        // Every crash point recovers its durable state for real: Z3 only adds the states it
        // finds that could break an obligation, and what it proves is counted, not run.
        const bool durable_failed = try_state(pt, durable, "durable");
        if (durable_failed && opt_.stop_at_first_failure) break;
        z3_states(pt);
        // Random states besides: what Z3's obligations do not encode is only seen by running.
        if (s_.explore.also_random) pt.space.sample(random_seed(pt), s_.explore.also_random, numbered("random"));
        break;
      }
    }
  }

  uint64_t random_seed(const PointRun& pt) const { return seed_ * 1000003 + pt.index; }

  // The states Z3 finds could break an obligation, each recovered for real, until one confirms
  // a violation, Z3 proves none is left, or kZ3MaxModels unconfirmed ones truncate the search.
  void z3_states(PointRun& pt) {
    const PhaseOutput& p1 = p1_->out;
    std::set<std::string> devices;
    for (const auto& io : p1.io.ios) devices.insert(io.device);
    BlockDeviceOracle oracle(view_of(p1, p1_->disks), pt.cp.ns);
    oracle.set_snapshot_origins(engines::snapshot_origins(p1.journal.events));
    oracle.set_external_origins(engines::external_origins(p1.journal.events), &p1.data_map);
    oracle.set_clone_sources(engines::clone_sources(p1.journal.events));
    oracle.set_merge_sources(engines::merge_sources(p1.journal.events));
    std::vector<BlockDeviceOracle::Obligation> extra = commit_obligations(p1, pt.cp.ns);
    for (auto& ob : mapping_obligations(p1, pt.space, pt.cp.ns)) extra.push_back(std::move(ob));
    CrashSearch search(pt.space, oracle, {devices.begin(), devices.end()}, extra);
    unit_.z3.unlocated += search.unlocated();
    bool proven = false, confirmed = false;
    for (int model = 0; model < kZ3MaxModels && !confirmed; model++) {
      auto ch = search.next();
      if (!ch) {
        proven = true;
        break;
      }
      unit_.z3.models++;
      confirmed = try_state(pt, *ch, "z3 model " + std::to_string(model + 1));
      if (!confirmed) unit_.z3.unconfirmed++;
    }
    if (proven) {
      unit_.z3.ruled_out++;
    } else if (!confirmed) {
      if (!unit_.z3.truncated) first_truncated_ = pt.index;
      unit_.z3.truncated++;
    }
  }

  // Recovers one crash state once; true when it showed a violation.
  bool try_state(PointRun& pt, const std::vector<bool>& choice, const std::string& label) {
    if (opt_.stop_at_first_failure && !unit_.passed) return false;
    const auto [it, fresh] = pt.seen.emplace(choice_to_hex(choice), false);
    if (fresh) it->second = record(recover(pt, choice, label));
    return it->second;
  }

  // Runs the recovery on one crash state, judges it and saves its images if asked to.
  Exploration recover(const PointRun& pt, const std::vector<bool>& choice, const std::string& label) {
    PhaseInput in;
    PhaseRun run;
    Exploration e = recover_and_judge(pt, choice, label, in, run);
    if (!e.violations.empty() && unit_.failures.size() < std::min(opt_.keep_failures, kTimelineFailures))
      e.timeline = thread_timeline(run.sim.trace, run.sim.end_time_ns, "recovery");
    if (opt_.save_images.empty()) return e;
    const bool kept = !e.violations.empty() && unit_.failures.size() < opt_.keep_failures;
    const bool power_cut_durable =
        pt.index + 1 == points_ && std::none_of(choice.begin(), choice.end(), [](bool b) { return b; });
    if (kept) save_recovery("crash-" + std::to_string(++saved_crashes_), in, run, e);
    if (power_cut_durable) {
      Exploration ignored;
      save_recovery("power-cut", in, run, ignored);
    }
    return e;
  }

  Exploration recover_and_judge(const PointRun& pt, const std::vector<bool>& choice, const std::string& label,
                                PhaseInput& in, PhaseRun& run) {
    // REQUIRES: a choice for every crash-state variable of the point.
    DMSIM_ASSERT(choice.size() == pt.space.variables(), "a crash state chooses every may-persist block");
    const FirstPhase& p1 = *p1_;
    in.scenario = &s_;
    in.first_step = s_.first_power_cut() + 1;
    in.end_step = s_.steps.size();
    in.images = pt.space.images(choice);
    in.knobs = knobs_;
    in.config = seed_config(s_, seed_);
    in.before_crash = &p1.out.io;
    in.before_crash_journal = &p1.out.journal;
    in.before_crash_files = &p1.out.file_writes;
    in.crash_ns = pt.cp.ns;
    run = run_phase(in, opt_.wall_timeout_s);
    unit_.recoveries++;
    collect_notes(run.out, unit_);
    tally_real_tools(run.out, unit_);
    tally_states(run.out, unit_);
    Exploration e;
    e.seed = seed_;
    e.knobs = knobs_;
    e.crash_point = static_cast<int64_t>(pt.index);
    e.crash_ns = pt.cp.ns;
    e.crash_label = pt.cp.label;
    e.crash_state = label;
    e.choice_hex = choice_to_hex(choice);
    e.lost_writes = pt.space.describe(choice);
    e.transcript = p1.transcript + "# power cut at " + seconds(pt.cp.ns) + " s (" + pt.cp.label + ")\n" +
                   transcript_of(run.out, "");
    phase_violations(s_, run, false, e.violations);
    // A recovery that did not get to its read-back has nothing for the oracle to judge; what
    // stopped it (a hang, an unfinished step, a crash) is already a violation.
    if (!run.out.finished) {
      if (e.violations.empty())
        e.violations.push_back({"crash", "the recovery steps did not finish", run.sim.summary()});
      return e;
    }
    if (!expects(s_, "block-device")) return e;
    const std::vector<DiskHistory> after = disk_histories(run.out.disks);
    BlockDeviceOracle oracle(view_of(p1.out, p1.disks), pt.cp.ns);
    oracle.set_snapshot_origins(engines::snapshot_origins(p1.out.journal.events));
    oracle.set_external_origins(engines::external_origins(p1.out.journal.events), &p1.out.data_map);
    oracle.set_clone_sources(engines::clone_sources(p1.out.journal.events));
    oracle.set_merge_sources(engines::merge_sources(p1.out.journal.events));
    oracle.add_recovery(view_of(run.out, after));
    judge_block_device(s_, oracle, run.out, e.violations);
    return e;
  }

  const Scenario& s_;
  const uint64_t seed_;
  const std::vector<std::string> knobs_;
  const RunOptions& opt_;
  UnitResult& unit_;
  const std::vector<model::DiskImage> starts_ = starting_images(s_);  // the disks' `image:`s, or none
  std::optional<FirstPhase> p1_;                                      // once the first phase reached its power cut
  uint64_t first_truncated_ = 0;  // the first crash point whose Z3 search was truncated
  size_t points_ = 0;             // crash points of the unit (the last is the power cut)
  uint64_t saved_crashes_ = 0;    // crash-N directories --save-images wrote
};

}  // namespace

UnitResult run_exploration(const Scenario& s, uint64_t seed, const std::vector<std::string>& knobs,
                           const RunOptions& opt) {
  UnitResult unit;
  unit.file = s.file;
  unit.scenario = s.name;
  unit.seed = seed;
  unit.knobs = knobs;
  UnitExplorer(s, seed, knobs, opt, unit).run();
  return unit;
}

namespace {

// Whether a violation is the finding a catalog entry names: its kind, and its match somewhere
// in the title or the detail.
bool is_detection(const scenarios::Catalog& cat, const Violation& v) {
  return v.kind == cat.detects && std::regex_search(v.title + "\n" + v.detail, std::regex(cat.match));
}

}  // namespace

bool detected_by(const scenarios::Catalog& cat, const UnitResult& u) {
  for (const auto& f : u.failures)
    for (const auto& v : f.violations)
      if (is_detection(cat, v)) return true;
  return false;
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
      if (!off.harness_timeout) off.verdict = "FAIL: fails with " + s.catalog->knob + " off: " + off.verdict;
      return off;
    }
    if (k == 0) u = off;
  }
  std::vector<std::string> with = knobs;
  with.push_back(s.catalog->knob);
  UnitResult on;
  bool detected = false;
  uint64_t k = 0;
  // Failures kept per run are few; keep them all so a detection behind another violation counts.
  RunOptions all_failures = opt;
  all_failures.keep_failures = std::max<size_t>(opt.keep_failures, 64);
  for (; k < s.explore.seeds && !detected; k++) {
    on = run_exploration(s, k, with, all_failures);
    u.explorations += on.explorations;
    u.recoveries += on.recoveries;
    detected = detected_by(*s.catalog, on);
    if (on.harness_timeout && !detected) break;
  }
  const std::string seeds =
      s.explore.seeds > 1 ? " (seed " + std::to_string(k - 1) + " of " + std::to_string(s.explore.seeds) + ")" : "";
  const std::string what = s.catalog->detects + " matching /" + s.catalog->match + "/";
  u.knobs = with;
  if (!detected) {
    u.passed = false;
    u.harness_timeout = on.harness_timeout;
    u.failures = on.failures;
    if (u.failures.size() > opt.keep_failures) u.failures.resize(opt.keep_failures);
    u.verdict = on.harness_timeout ? on.verdict
                                   : "FAIL: " + s.catalog->knob + " on was not detected as " + what +
                                         (on.passed ? " (no violation)"
                                                    : " (found " + on.failures[0].violations[0].kind + ": " +
                                                          on.failures[0].violations[0].title + " instead)");
    return u;
  }
  // Report the detecting exploration first.
  std::stable_partition(on.failures.begin(), on.failures.end(), [&](const Exploration& e) {
    return std::any_of(e.violations.begin(), e.violations.end(),
                       [&](const Violation& v) { return is_detection(*s.catalog, v); });
  });
  if (on.failures.size() > opt.keep_failures) on.failures.resize(opt.keep_failures);
  u.verdict = "pass: " + s.catalog->knob + " detected as " + what + seeds + ", passes with it off" +
              (s.explore.seeds > 1 ? " (all " + std::to_string(s.explore.seeds) + " seeds)" : "") + notes_suffix(u);
  for (const auto& v : on.failures[0].violations)
    if (is_detection(*s.catalog, v)) {
      u.catalog = v.title;
      break;
    }
  u.failures = on.failures;  // kept for the report of what was detected
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
