// Helpers for runner tests: scenarios written inline, run with the real runner.
#pragma once

#include <catch2/catch.hpp>

#include "engines/tools.hpp"
#include "scenarios/scenario.hpp"
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
