// thin-mappings-durable: the sectors of a written thin block that were not written through the
// device read zeroes (or the snapshot origin's data), after a crash too.
#include "tests/engines/thin/thin_test_helpers.hpp"

using namespace thintest;

namespace {

// The seed's zeroing sequence: a 4 KiB write provisions a 64 KiB block (kcopyd zeroes it first),
// the periodic commit makes the mapping durable, then the power fails.
std::string zeroing_then_power_cut() {
  return thin_scenario(pool_and_thin() +
                           "  - dd if=/dev/urandom of=/dev/mapper/thin bs=4k count=1 seek=33 oflag=direct\n"
                           "  - sleep 2\n"
                           "  - power-cut\n"
                           "  - dmsetup create pool --table \"0 524288 thin-pool /dev/meta /dev/data 128 0\"\n"
                           "  - dmsetup create thin --table \"0 262144 thin /dev/mapper/pool 0\"\n",
                       "expect: [no-errors, thin-mappings-durable]\nexplore: {crash-states: random:4}\n");
}

}  // namespace

TEST_CASE("a provisioned block's unwritten sectors read zeroes after a crash, unless its zeroing was not flushed",
          "[thin][checks]") {
  const scenarios::Scenario s = verifytest::scenario(zeroing_then_power_cut());
  const verify::UnitResult fixed = verify::run_exploration(s, 0, {}, {});
  INFO(violations_text(fixed));
  REQUIRE(fixed.passed);
  const verify::UnitResult bug = verify::run_exploration(s, 0, {"thin.no_data_flush_before_commit"}, {});
  INFO(violations_text(bug));
  REQUIRE(has_kind(bug, "thin-mappings-durable"));
  REQUIRE(violations_text(bug).find("/dev/mapper/thin: 1") != std::string::npos);  // a count of sectors
}

TEST_CASE("thin-mappings-durable judges only thin devices it can read: a missing one is a note, not a pass",
          "[thin][checks]") {
  const Steps r = run_steps(thin_scenario(pool_and_thin() +
                                              "  - dd if=/dev/urandom of=/dev/mapper/thin bs=4k count=1 oflag=direct\n"
                                              "  - dmsetup remove thin\n",
                                          "expect: [thin-mappings-durable]\n"));
  REQUIRE(r.run.out.check_violations.empty());
  REQUIRE(r.run.out.check_notes.size() == 1);
  REQUIRE(r.run.out.check_notes[0].second.find("/dev/mapper/thin does not exist") != std::string::npos);
}
