// Runs a scenario: the steps up to the power cut once per seed, then, for each crash point and
// each crash state the explore settings ask for, the recovery steps on the crashed images, and
// judges every run with the detectors, the block-device oracle and the engine checks. A unit of
// work is one scenario with one seed (and, for catalog entries, both knob settings), so that
// shards of a check cover each exploration exactly once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "language/scenario.hpp"
#include "sim/config.hpp"
#include "sim/result.hpp"
#include "verify/thread_timeline.hpp"

namespace verify {

struct Violation {
  std::string kind;  // deadlock, hung-task, block-device, step-failed, era-written-since, ...
  std::string title;
  std::string detail;
};

struct Exploration {
  uint64_t seed = 0;
  std::vector<std::string> knobs;
  int64_t crash_point = -1;  // index in the crash points, -1 without a power cut
  uint64_t crash_ns = 0;
  std::string crash_label;
  std::string crash_state;  // "durable", "all 5", "random 3", "prefix 2", "z3 model 1"
  std::string choice_hex;
  std::string lost_writes;
  std::vector<Violation> violations;
  std::string transcript;
  std::string images;  // --save-images: the directory with this crash state's images
  // Kept failures only: the threads of the phase that failed, read from its trace (reports).
  ThreadTimeline timeline;
};

// How the Z3 crash search went over a unit's crash points. Z3 only adds crash states to the
// durable one every crash point recovers; what it proves is stated, never counted as a run.
struct Z3Accounting {
  uint64_t models = 0;       // crash states Z3 proposed (each recovered for real)
  uint64_t unconfirmed = 0;  // of them, recoveries that showed no violation
  uint64_t ruled_out = 0;    // crash points where Z3 proved no other state breaks an encoded obligation
  uint64_t truncated = 0;    // crash points where the model cap stopped the search first
  uint64_t unlocated = 0;    // obligations Z3 could not place on the disks (left to the recoveries)
};

// How the real-tools check went for one tool over a unit's runs.
struct RealToolCount {
  std::string tool;  // "era_check"
  uint64_t passed = 0, failed = 0;
};

struct UnitResult {
  std::string file, scenario;
  uint64_t seed = 0;
  std::vector<std::string> knobs;  // on in the run that decides the verdict
  uint64_t explorations = 0;       // runs judged: recoveries, or the whole run without a power cut
  uint64_t recoveries = 0, crash_points = 0;
  uint64_t recoveries_to_first_failure = 0;  // 0: nothing failed
  Z3Accounting z3;
  std::vector<std::string> notes;     // what the reader must know about the search (truncation, ...)
  std::vector<Exploration> failures;  // at most a few, the first ones
  bool passed = true;
  bool harness_timeout = false;  // a run was killed by the wall clock: no verdict either way
  std::string verdict;           // one line
  std::string catalog;           // catalog entries: what the knob-on run showed
  // --crash-point / --crash-choice that do not fit this run (found once phase 1 has told how
  // many crash points and crash-state variables there are): nothing was explored, not passed.
  std::string input_error;
  std::vector<RealToolCount> real_tools;   // images the installed tools judged
  std::vector<std::string> missing_tools;  // tools real-tools would have run, not installed
  std::string images;                      // --save-images: this unit's directory
  // The engines' state signatures seen after the steps of every phase (explore's coverage).
  std::vector<std::string> states;
};

struct RunOptions {
  std::vector<std::string> extra_knobs;     // --knob
  std::optional<int64_t> only_crash_point;  // --crash-point
  std::optional<std::string> only_choice;   // --crash-choice (hex)
  size_t keep_failures = 3;
  bool stop_at_first_failure = false;  // benchmarks: how far the search had to go
  double wall_timeout_s = 300;
  // --save-images DIR: every disk at the end of the first phase, and the crash and recovered
  // images of the power cut's durable state and of each kept failure, under
  // unit_image_dir(DIR, ...) (verify/images.hpp; layout in README "The CLI").
  std::string save_images;
  std::string trace_path;  // --trace: the first phase's event trace goes to this file (throws
                           // std::runtime_error when it cannot be written)
};

// Config of a seed: seed 0 is SimGrid's own order; others perturb the schedule.
sim::SimConfig seed_config(const scenarios::Scenario& s, uint64_t seed);

// One scenario with one seed and the given knobs on: every exploration it asks for.
UnitResult run_exploration(const scenarios::Scenario& s, uint64_t seed, const std::vector<std::string>& knobs,
                           const RunOptions& opt);

// Whether some violation of `u` is what the catalog entry names (kind and match).
bool detected_by(const scenarios::Catalog& cat, const UnitResult& u);

// The unit `check` runs: for a catalog entry (one unit over all its seeds), knob off must pass
// with every seed and knob on must fail with the kind it names with some seed; otherwise one
// exploration run with the scenario's knobs (and, with extra knobs, catalog entries run so too).
UnitResult run_unit(const scenarios::Scenario& s, uint64_t seed, const RunOptions& opt);

// The units of a check, in file order: every seed of every scenario; shard K of N takes every
// N-th starting at the K-th (K from 1), so the shards partition the units.
struct UnitRef {
  size_t scenario;
  uint64_t seed;
};
// `plain`: catalog entries are plain scenarios too (extra knobs are on), one unit per seed.
std::vector<UnitRef> plan_units(const std::vector<scenarios::Scenario>& all, long shard_k, long shard_n,
                                bool plain = false);

// The command that replays an exploration exactly.
std::string replay_command(const UnitResult& u, const Exploration& e);

}  // namespace verify
