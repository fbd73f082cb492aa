// Z3 crash-state search with era's commit records: each commit names the superblock sector it
// writes and the blocks it records for the first time, so Z3 can ask for a crash state whose
// surviving superblock misses an acknowledged write's block.
#include "tests/engines/era/era_test_helpers.hpp"

using namespace eratest;

namespace {

const std::string kTwoWritesOneBlock = era_scenario(
    "  - dmsetup create slow --table \"0 8192 delay /dev/meta 0 0 /dev/meta 0 20\"\n"
    "  - dmsetup create eradev --table \"0 2048 era /dev/mapper/slow /dev/data 128\"\n"
    "  - dd if=/dev/urandom of=/dev/mapper/eradev bs=4k count=1 oflag=direct &\n"
    "  - dd if=/dev/urandom of=/dev/mapper/eradev bs=4k count=1 seek=1 oflag=direct\n"
    "  - sync /dev/mapper/eradev\n"
    "  - power-cut\n"
    "  - dmsetup create slow --table \"0 8192 delay /dev/meta 0 0 /dev/meta 0 20\"\n"
    "  - dmsetup create eradev --table \"0 2048 era /dev/mapper/slow /dev/data 128\"\n",
    "expect: [no-errors, block-device, era-written-since, metadata-check]\n"
    "explore: {crash-points: every-flush, crash-states: z3}\n");

// Z3 proposed a crash state whose recovery confirmed a violation (it may be the durable state
// every crash point recovers anyway).
bool found_by_z3(const verify::UnitResult& u) {
  return u.z3.models > u.z3.unconfirmed;
}

}  // namespace

TEST_CASE("with commit records Z3 finds the crash state that loses a write passed before its commit") {
  const scenarios::Scenario s = verifytest::scenario(kTwoWritesOneBlock);
  const verify::UnitResult fixed = verify::run_exploration(s, 0, {}, {});
  INFO(violations_text(fixed));
  REQUIRE(fixed.passed);
  REQUIRE(fixed.z3.ruled_out == fixed.crash_points);
  const verify::UnitResult buggy = verify::run_exploration(s, 0, {"era.incore_bit_before_commit"}, {});
  INFO(violations_text(buggy));
  REQUIRE(has_kind(buggy, "era-written-since"));
  REQUIRE(found_by_z3(buggy));
}
