// Helpers for thin tests: a pool on a 16 MiB metadata disk (zeroed) and a 256 MiB data disk,
// with 64 KiB blocks, written as scenario steps.
#pragma once

#include <string>

#include "tests/engines/engine_test_helpers.hpp"

namespace thintest {

using enginetest::run_steps;
using enginetest::Steps;
using verifytest::has_kind;
using verifytest::violations_text;

inline std::string thin_scenario(const std::string& steps, const std::string& extra = "") {
  return "name: thin-test\ndisks:\n  meta: {size: 16MiB, profile: nvme, initial: zero}\n"
         "  data: {size: 256MiB, profile: nvme}\nsteps:\n" +
         steps + extra;
}

// Steps that create "pool" (64 KiB blocks, `features` as the table's feature args) and thin
// device 0 as "thin".
inline std::string pool_and_thin(const std::string& features = "") {
  return "  - dmsetup create pool --table \"0 524288 thin-pool /dev/meta /dev/data 128 0" +
         (features.empty() ? std::string() : " " + features) +
         "\"\n"
         "  - dmsetup message pool 0 create_thin 0\n"
         "  - dmsetup create thin --table \"0 262144 thin /dev/mapper/pool 0\"\n";
}

inline scenarios::Scenario catalog_scenario(const std::string& file) {
  return enginetest::catalog_scenario("thin", file);
}

}  // namespace thintest
