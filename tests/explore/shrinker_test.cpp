// dmsim shrink: the same failure with fewer steps, simpler explore settings and the fewest
// persisted writes; a passing scenario is left alone.
#include "explore/shrinker.hpp"

#include <catch2/catch.hpp>

#include "language/scenario.hpp"

namespace {

// An era scenario whose leak (with era.leak_writesets) needs only the create and the remove;
// the rest is noise a shrinker must drop.
const char* kNoisyLeak = R"(name: noisy-leak
disks:
  meta: {size: 4MiB, profile: nvme, initial: zero}
  data: {size: 8MiB, profile: nvme}
steps:
  - dmsetup create eradev --table "0 8192 era /dev/meta /dev/data 128"
  - dd if=/dev/urandom of=/dev/mapper/eradev bs=4k count=4 seek=16 oflag=direct,dsync
  - dmsetup message eradev 0 checkpoint
  - dmsetup status eradev
  - dd if=/dev/urandom of=/dev/mapper/eradev bs=4k count=1 seek=48 oflag=direct &
  - wait
  - sleep 1
  - dmsetup remove eradev
  - era_check /dev/meta
)";

}  // namespace

TEST_CASE("shrinking keeps the failure and drops every step it does not need") {
  explore::ShrinkOptions o;
  o.knobs = {"era.leak_writesets"};
  o.jobs = 2;
  const auto r = explore::shrink_scenario(kNoisyLeak, "noisy.yaml", "noisy.shrunk.yaml", {}, o, {});
  REQUIRE(r.reproduced);
  CHECK(r.signature.kind == "leak");
  CHECK(r.steps_before == 9);
  CHECK(r.steps_after == 2);
  const auto s = scenarios::parse_scenario(r.yaml, "noisy.shrunk.yaml");
  REQUIRE(s.steps.size() == 2);
  CHECK(s.steps[0].cmd.kind == scenarios::CmdKind::DmCreate);
  CHECK(s.steps[1].cmd.kind == scenarios::CmdKind::DmRemove);
  CHECK(r.yaml.find("# replay: dmsim run noisy.shrunk.yaml --seed 0 --knob era.leak_writesets") != std::string::npos);
}

TEST_CASE("a scenario that passes is not shrunk") {
  explore::ShrinkOptions o;
  const auto r = explore::shrink_scenario(kNoisyLeak, "noisy.yaml", "out.yaml", {}, o, {});
  CHECK_FALSE(r.reproduced);
  CHECK(r.signature.empty());
}

TEST_CASE("a failure of another signature than the one asked for is not a reproduction") {
  explore::ShrinkOptions o;
  o.knobs = {"era.leak_writesets"};
  const auto r = explore::shrink_scenario(kNoisyLeak, "noisy.yaml", "out.yaml", {"deadlock", "rpc"}, o, {});
  CHECK_FALSE(r.reproduced);
}

TEST_CASE("shrinking a crash keeps the steps numbered by crash-after in place and reduces the crash state") {
  // The thin pool's data is flushed before each commit only with the fix: with the knob, a
  // random crash state of the copy's data loses it. The shrunk crash state persists no more
  // writes than the one first seen.
  const char* text = R"(name: thin-cow-crash
disks:
  meta: {size: 16MiB, profile: sata-ssd, initial: zero}
  data: {size: 256MiB, profile: sata-ssd}
steps:
  - dmsetup create pool --table "0 524288 thin-pool /dev/meta /dev/data 128 0"
  - dmsetup message pool 0 create_thin 0
  - dmsetup create thin --table "0 262144 thin /dev/mapper/pool 0"
  - dmsetup status pool
  - dd if=/dev/urandom of=/dev/mapper/thin bs=64k count=2 oflag=direct
  - dmsetup status pool
  - sleep 3
  - power-cut
  - dmsetup create pool --table "0 524288 thin-pool /dev/meta /dev/data 128 0"
  - dmsetup create thin --table "0 262144 thin /dev/mapper/pool 0"
explore: {crash-points: every-flush, crash-states: random:3, crash-after: 3}
)";
  explore::ShrinkOptions o;
  o.knobs = {"thin.no_data_flush_before_commit"};
  o.jobs = 2;
  const auto r = explore::shrink_scenario(text, "cow.yaml", "cow.shrunk.yaml", {}, o, {});
  REQUIRE(r.reproduced);
  CHECK(r.signature.kind == "block-device");
  CHECK(r.steps_after < r.steps_before);
  CHECK(r.persisted_after <= r.persisted_before);
  const auto s = scenarios::parse_scenario(r.yaml, "cow.shrunk.yaml");
  CHECK(s.explore.crash_after_step <= s.first_power_cut());
  if (r.crash_point >= 0) CHECK(r.replay.find("--crash-point " + std::to_string(r.crash_point)) != std::string::npos);
}
