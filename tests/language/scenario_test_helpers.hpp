// Helpers for scenario-language tests: parse a text, read its first error.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "engines/engine_registry.hpp"
#include "language/scenario.hpp"

namespace scenariotest {

inline void register_once() {
  static const bool done = [] {
    engines::register_engines();
    return true;
  }();
  (void)done;
}

// Engines register their targets, tools and checks before any scenario text is parsed.
inline const bool registered = (register_once(), true);

// The first error for a scenario text, or "" when it parses.
inline std::string first_error(const std::string& text) {
  register_once();
  try {
    scenarios::parse_scenario(text, "t.yaml");
    return "";
  } catch (const scenarios::ScenarioError& e) {
    return e.errors.at(0);
  }
}

// A valid scenario with `steps` (YAML list items) and extra top-level lines.
inline std::string scenario(const std::string& steps, const std::string& extra = "") {
  return "name: t\n"
         "disks:\n"
         "  sda: {size: 1MiB}\n"
         "  vg/lv: {size: 4MiB, profile: sata-ssd, write_cache: false}\n"
         "steps:\n" +
         steps + extra;
}

}  // namespace scenariotest
