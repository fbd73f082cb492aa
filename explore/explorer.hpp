// dmsim explore: scenarios generated from an engine's grammar and run with crash points, crash
// states and schedule seeds until a budget ends. The search enumerates every sequence of up to
// three operations of a small vocabulary (bounded-exhaustive, as ACE does for file systems),
// interleaved with random longer programs, half of them mutations of programs that reached an
// engine state (the engines' state signatures) not seen before, as coverage-guided fuzzers do.
// Each distinct failure (signature) is kept as a scenario file, then shrunk.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "explore/shrinker.hpp"
#include "explore/signature.hpp"

namespace explore {

struct ExploreOptions {
  std::string engine;
  double budget_s = 600;
  uint64_t max_runs = 0;  // 0: until the budget ends
  uint64_t seed = 1;
  int jobs = 1;
  std::vector<std::string> knobs;
  std::string out_dir = "explore-out";
  bool shrink = true;
  double shrink_budget_s = 180;  // per finding
  bool stop_at_first = false;    // stop the search at the first finding (time-to-find)
  std::string stop_on;           // ECMAScript: stop at the first finding whose "[kind] title" matches
  bool keep_all = false;         // write every generated scenario, not only failing ones
};

struct Finding {
  Signature signature;
  std::string file;  // the generated scenario that showed it first
  uint64_t run = 0;  // its index among the runs
  double seconds = 0;
  uint64_t seed = 0;
  size_t steps = 0;
  verify::UnitResult unit;
  ShrinkResult shrunk;      // when shrinking ran
  std::string shrunk_file;  // "" when it did not reproduce or shrinking was off
};

struct ExploreSummary {
  uint64_t runs = 0, failed_runs = 0, exhaustive_runs = 0, exhaustive_total = 0, random_runs = 0, mutated_runs = 0;
  uint64_t states = 0, recoveries = 0;
  double seconds = 0, search_seconds = 0;
  bool stopped_on_match = false;  // --stop-on matched a finding
  std::vector<Finding> findings;
  std::vector<std::string> generator_errors;  // generated files that did not parse (a grammar bug)
};

// Throws std::invalid_argument for an engine without a grammar.
ExploreSummary run_explore(const ExploreOptions& o, const std::function<void(const std::string&)>& progress);

std::string summary_json(const ExploreOptions& o, const ExploreSummary& s);

}  // namespace explore
