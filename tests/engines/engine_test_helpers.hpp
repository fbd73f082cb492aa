// Helpers shared by the engines' tests: a stack written as scenario steps, run once without a
// power cut, with each step's output and exit code kept for the test to read; and the
// repository's catalog scenarios, by engine and file name.
#pragma once

#include <catch2/catch.hpp>

#include "tests/verify/verify_test_helpers.hpp"
#include "verify/phase.hpp"

namespace enginetest {

struct Steps {
  scenarios::Scenario scenario;
  verify::PhaseRun run;
  const verify::StepRecord& step(size_t i) const { return run.out.steps.at(i); }
  const std::string& out(size_t i) const { return step(i).out; }
  // Whether the kernel log has a line containing `what`.
  bool logged(const std::string& what) const {
    for (const auto& l : run.sim.dmesg)
      if (l.find(what) != std::string::npos) return true;
    return false;
  }
};

// Runs the steps in one simulation, as the first phase of a scenario.
inline Steps run_steps(const std::string& yaml, const std::vector<std::string>& knobs = {}) {
  Steps s{verifytest::scenario(yaml), {}};
  verify::PhaseInput in;
  in.scenario = &s.scenario;
  in.first_step = 0;
  in.end_step = s.scenario.first_power_cut();
  in.knobs = knobs;
  in.config = verify::seed_config(s.scenario, 0);
  s.run = verify::run_phase(in);
  return s;
}

// scenarios/<engine>/catalog/<file> of the repository.
inline scenarios::Scenario catalog_scenario(const std::string& engine, const std::string& file) {
  verifytest::register_once();
  return scenarios::load_scenario(std::string(DMSIM_SOURCE_DIR) + "/scenarios/" + engine + "/catalog/" + file);
}

// A knob against its catalog scenario: with the knob off the scenario passes (every seed it
// explores), with it on dmsim reports the kind of violation the knob's bug produces, matching
// the entry's expression (with some seed).
inline void knob_is_caught(const scenarios::Scenario& s, const std::string& knob, const std::string& kind) {
  REQUIRE(s.catalog);
  REQUIRE(s.catalog->knob == knob);
  REQUIRE(s.catalog->detects == kind);
  for (uint64_t seed = 0; seed < s.explore.seeds; seed++) {
    const verify::UnitResult off = verify::run_exploration(s, seed, s.explore.knobs, {});
    INFO(verifytest::violations_text(off));
    REQUIRE(off.passed);
  }
  std::vector<std::string> with = s.explore.knobs;
  with.push_back(knob);
  bool caught = false;
  std::string seen;
  verify::RunOptions keep_all;
  keep_all.keep_failures = 64;
  for (uint64_t seed = 0; seed < s.explore.seeds && !caught; seed++) {
    const verify::UnitResult on = verify::run_exploration(s, seed, with, keep_all);
    // Caught as the catalog entry says: its kind, and its match, which only this bug produces.
    caught = verify::detected_by(*s.catalog, on);
    seen += verifytest::violations_text(on);
  }
  INFO(seen);
  REQUIRE(caught);
}

}  // namespace enginetest
