// Reduces a failing scenario while the same failure (signature) still reproduces: steps dropped
// (halves, quarters, ... single steps, as delta debugging does), I/O shortened and made
// sequential and non-FUA, sleeps shortened, the explore settings simplified (one seed, fewer
// crash points, simpler crash states); then the failing crash state is reduced to the fewest
// persisted writes that still fail, and named by --crash-point/--crash-choice.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "explore/signature.hpp"

namespace explore {

struct ShrinkOptions {
  std::vector<std::string> knobs;  // on in every attempt
  uint64_t seed = 0;
  int jobs = 1;
  double budget_s = 300;  // wall clock for all attempts; the smallest so far is kept
  std::optional<int64_t> crash_point;
  std::optional<std::string> crash_choice;
};

struct ShrinkResult {
  bool reproduced = false;  // the input itself showed the signature
  Signature signature;
  std::string yaml;  // the smallest reproduction, with a comment saying what it reproduces
  size_t steps_before = 0, steps_after = 0;
  uint64_t attempts = 0;
  double seconds = 0;
  verify::UnitResult unit;  // the run of the smallest reproduction
  // The failing crash state, reduced (-1 and "" without a power cut).
  int64_t crash_point = -1;
  std::string crash_choice;
  size_t persisted_before = 0, persisted_after = 0;  // writes the crash state kept
  std::string replay;                                // dmsim run OUT ... reproducing it
};

// With o.crash_point/o.crash_choice, the failure to keep is the one that crash state shows
// (std::invalid_argument when the scenario has no such state); the reduction of the crash state
// starts from it while the steps are unchanged.
// `yaml` is the scenario's text, `file` where it was read (for relative paths and messages),
// `out_file` where the result will be written (its replay command names it). `sig` empty:
// the signature of the first failure the input shows.
ShrinkResult shrink_scenario(const std::string& yaml, const std::string& file, const std::string& out_file,
                             Signature sig, const ShrinkOptions& o,
                             const std::function<void(const std::string&)>& progress);

}  // namespace explore
