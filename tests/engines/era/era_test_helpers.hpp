// Helpers for era tests: an era stack written as scenario steps, run once without a power cut,
// with each step's output and exit code kept for the test to read.
#pragma once

#include <catch2/catch.hpp>

#include "tests/engines/engine_test_helpers.hpp"

namespace eratest {

using verifytest::has_kind;
using verifytest::violations_text;

// A scenario with a 4 MiB metadata disk (zeroed) and a 64 MiB origin, and the given steps.
inline std::string era_scenario(const std::string& steps, const std::string& extra = "") {
  return "name: era-test\ndisks:\n  meta: {size: 4MiB, profile: nvme, initial: zero}\n"
         "  data: {size: 64MiB, profile: nvme}\nsteps:\n" +
         steps + extra;
}

using enginetest::run_steps;
using enginetest::Steps;

// The catalog scenario of the repository, by file name.
inline scenarios::Scenario catalog_scenario(const std::string& file) {
  return enginetest::catalog_scenario("era", file);
}

}  // namespace eratest
