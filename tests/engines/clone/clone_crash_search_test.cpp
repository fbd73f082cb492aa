// The Z3 obligation "no committed region points at unflushed data": each clone commit record
// names the regions its superblock sets for the first time, so Z3 can ask directly for a crash
// state in which that superblock survived while a region's data did not.
#include "tests/engines/engine_test_helpers.hpp"

namespace {

// Background hydration over a slow source while user flushes trigger commits: copies complete
// during the commits' destination flushes. Crash points at every flush, each with Z3's states.
scenarios::Scenario hydration_under_flushes() {
  std::string steps =
      "  - dmsetup create cl --table \"0 16384 clone /dev/meta /dev/dest /dev/src 8 0 2 hydration_threshold 4\"\n"
      "  - sleep 0.5\n";
  for (const char* gap : {"0.0021", "0.0043", "0.0057", "0.0011"})
    steps += std::string("  - sync /dev/mapper/cl\n  - sleep ") + gap + "\n";
  steps +=
      "  - sync /dev/mapper/cl\n  - power-cut\n"
      "  - dmsetup create cl --table \"0 16384 clone /dev/meta /dev/dest /dev/src 8 1 no_hydration\"\n";
  return verifytest::scenario(
      "name: clone-z3\ndisks:\n  meta: {size: 16MiB, profile: nvme, initial: zero}\n"
      "  dest: {size: 16MiB, profile: sata-ssd}\n  src: {size: 16MiB, profile: hdd}\nsteps:\n" +
      steps +
      "expect: [clone-committed-durable]\nexplore: {crash-points: every-flush, crash-states: z3, crash-after: 1}\n");
}

}  // namespace

TEST_CASE("with clone's commit records Z3 rules out every crash state of the fixed engine", "[clone][z3]") {
  verifytest::register_once();
  const verify::UnitResult u = verify::run_exploration(hydration_under_flushes(), 0, {}, {});
  INFO(verifytest::violations_text(u));
  REQUIRE(u.passed);
  REQUIRE(u.crash_points >= 10);
  REQUIRE(u.z3.ruled_out == u.crash_points);
  REQUIRE(u.z3.models == 0);
}

TEST_CASE("with the single-phase commit Z3's first model is a committed region whose copy was not flushed",
          "[clone][z3]") {
  verifytest::register_once();
  const verify::UnitResult u = verify::run_exploration(hydration_under_flushes(), 0, {"clone.single_phase_commit"}, {});
  INFO(verifytest::violations_text(u));
  REQUIRE_FALSE(u.passed);
  REQUIRE(u.failures.at(0).crash_state == "z3 model 1");
  REQUIRE(u.z3.unconfirmed == 0);
  REQUIRE(verifytest::has_kind(u, "clone-committed-durable"));
}
