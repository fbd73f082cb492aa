// Z3 crash-state search with thin's commit records: each commit names its superblock sector and
// the data blocks it maps for the first time, so Z3 can ask directly for a crash state whose
// surviving superblock maps a block whose data never reached the media.
#include "tests/engines/thin/thin_test_helpers.hpp"

using namespace thintest;

namespace {

// A write into a block shared with a snapshot is copied to a new block; the periodic commit
// then maps it. Crash points from the snapshot on, each with Z3's states.
const std::string kCopyThenPeriodicCommit =
    thin_scenario(pool_and_thin() +
                      "  - dd if=/dev/urandom of=/dev/mapper/thin bs=64k count=4 oflag=direct\n"
                      "  - sync /dev/mapper/thin\n"
                      "  - dmsetup suspend thin\n"
                      "  - dmsetup message pool 0 create_snap 1 0\n"
                      "  - dmsetup resume thin\n"
                      "  - dd if=/dev/urandom of=/dev/mapper/thin bs=4k count=1 seek=49 oflag=direct\n"
                      "  - sleep 3\n"
                      "  - power-cut\n"
                      "  - dmsetup create pool --table \"0 524288 thin-pool /dev/meta /dev/data 128 0\"\n"
                      "  - dmsetup create thin --table \"0 262144 thin /dev/mapper/pool 0\"\n",
                  "expect: [no-errors, block-device, thin-mappings-durable]\n"
                  "explore: {crash-points: every-flush, crash-states: z3, crash-after: 5}\n");

}  // namespace

TEST_CASE("with thin's commit records Z3 rules out every crash state of the fixed pool", "[thin][z3]") {
  const verify::UnitResult u = verify::run_exploration(verifytest::scenario(kCopyThenPeriodicCommit), 0, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
  REQUIRE(u.crash_points >= 5);
  REQUIRE(u.z3.ruled_out == u.crash_points);
  REQUIRE(u.z3.models == 0);
}

TEST_CASE("without the pre-commit data flush Z3's first model is a surviving commit that maps a lost copy",
          "[thin][z3]") {
  const verify::UnitResult u = verify::run_exploration(verifytest::scenario(kCopyThenPeriodicCommit), 0,
                                                       {"thin.no_data_flush_before_commit"}, {});
  INFO(violations_text(u));
  REQUIRE_FALSE(u.passed);
  REQUIRE(u.failures.at(0).crash_state == "z3 model 1");
  REQUIRE(u.z3.unconfirmed == 0);
  REQUIRE((has_kind(u, "block-device") || has_kind(u, "thin-mappings-durable")));
}
