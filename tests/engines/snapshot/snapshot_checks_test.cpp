// dm-snapshot's checks judge what the devices hold: a snapshot whose origin changed underneath it
// fails snapshot-isolation, the same writes through the origin device pass.
#include <catch2/catch.hpp>

#include "tests/verify/verify_test_helpers.hpp"

namespace {

// A persistent snapshot of /dev/base, made durable (its header goes to the COW without FUA, so
// before a flush a crash could take it back to a new snapshot), then `write`, then a power cut
// and the stack rebuilt.
verify::UnitResult after_write(const std::string& write) {
  const std::string yaml = R"(name: isolation
disks:
  base: {size: 16MiB, profile: sata-ssd}
  cow: {size: 4MiB, profile: sata-ssd, initial: zero}
steps:
  - dmsetup create origin --table "0 32768 snapshot-origin /dev/base"
  - dmsetup suspend origin
  - dmsetup create snap --table "0 32768 snapshot /dev/base /dev/cow P 8"
  - dmsetup resume origin
  - sync /dev/mapper/snap
  - )" + write + R"(
  - sync
  - power-cut
  - dmsetup create origin --table "0 32768 snapshot-origin /dev/base"
  - dmsetup suspend origin
  - dmsetup create snap --table "0 32768 snapshot /dev/base /dev/cow P 8"
  - dmsetup resume origin
expect: [snapshot-isolation, snapshot-no-leak, metadata-check]
)";
  return verify::run_unit(verifytest::scenario(yaml), 0, {});
}

}  // namespace

TEST_CASE("snapshot-isolation: origin writes through snapshot-origin leave the snapshot as it was",
          "[snapshot][checks]") {
  const verify::UnitResult u =
      after_write("dd if=/dev/urandom of=/dev/mapper/origin bs=4k count=4 seek=3 oflag=direct");
  INFO(verifytest::violations_text(u));
  REQUIRE(u.passed);
}

TEST_CASE("snapshot-isolation: a write to the origin's device behind the snapshot's back is caught",
          "[snapshot][checks]") {
  // No copy-on-write happens: the snapshot now reads the new data.
  const verify::UnitResult u = after_write("dd if=/dev/urandom of=/dev/base bs=4k count=4 seek=3 oflag=direct");
  INFO(verifytest::violations_text(u));
  REQUIRE(verifytest::has_kind(u, "snapshot-isolation"));
  REQUIRE(verifytest::violations_text(u).find("/dev/mapper/snap: 32 sector(s) read neither what the origin held") !=
          std::string::npos);
}
