// Helpers for era tests: an era stack written as scenario steps, run once without a power cut,
// with each step's output and exit code kept for the test to read.
#pragma once

#include <catch2/catch.hpp>

#include "tests/verify/verify_test_helpers.hpp"
#include "verify/phase.hpp"

namespace eratest {

using verifytest::has_kind;
using verifytest::violations_text;

// A scenario with a 4 MiB metadata disk (zeroed) and a 64 MiB origin, and the given steps.
inline std::string era_scenario(const std::string& steps, const std::string& extra = "") {
  return "name: era-test\ndisks:\n  meta: {size: 4MiB, profile: nvme, initial: zero}\n"
         "  data: {size: 64MiB, profile: nvme}\nsteps:\n" +
         steps + extra;
}

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

// The catalog scenario of the repository, by file name.
inline scenarios::Scenario catalog_scenario(const std::string& file) {
  verifytest::register_once();
  return scenarios::load_scenario(std::string(DMSIM_SOURCE_DIR) + "/scenarios/era/catalog/" + file);
}

}  // namespace eratest
