// Helpers for runner tests: scenarios written inline, run with the real runner.
#pragma once

#include <catch2/catch.hpp>

#include "engines/engine_registry.hpp"
#include "language/scenario.hpp"
#include "verify/phase.hpp"
#include "verify/runner.hpp"

namespace verifytest {

inline void register_once() {
  static const bool done = [] {
    engines::register_engines();
    return true;
  }();
  (void)done;
}

inline scenarios::Scenario scenario(const std::string& yaml) {
  register_once();
  return scenarios::parse_scenario(yaml, "inline.yaml");
}

// Runs every step of `s` (up to a power cut) once with seed 0 and returns what the executor
// recorded: each step's exit code and output, and every I/O the top of the stack saw.
inline verify::PhaseOutput run_steps(const scenarios::Scenario& s) {
  verify::PhaseInput in;
  in.scenario = &s;
  in.first_step = 0;
  in.end_step = s.first_power_cut();
  in.config = verify::seed_config(s, 0);
  verify::PhaseRun run = verify::run_phase(in);
  REQUIRE(run.out.finished);
  return run.out;
}

inline std::string violations_text(const verify::UnitResult& u) {
  std::string s = u.verdict + "\n";
  for (const auto& e : u.failures) {
    s += "-- " + e.crash_label + " / " + e.crash_state + "\n";
    for (const auto& v : e.violations) s += "[" + v.kind + "] " + v.title + "\n" + v.detail + "\n";
    s += e.transcript;
  }
  return s;
}

inline bool has_kind(const verify::UnitResult& u, const std::string& kind) {
  for (const auto& e : u.failures)
    for (const auto& v : e.violations)
      if (v.kind == kind) return true;
  return false;
}

}  // namespace verifytest
