// The era checks against a correct engine, in the style of the device-mapper test suite's era
// tests: what a user does to an era device must not make era-written-since or metadata-check
// fail, and the checks must observe without leaving a trace; where they cannot judge, they say
// why.
#include "tests/engines/era/era_test_helpers.hpp"

using namespace eratest;

namespace {

const char* kCreate = "  - dmsetup create eradev --table \"0 2048 era /dev/meta /dev/data 128\"\n";  // 16 blocks
std::string dd_block(int block, const char* source = "urandom") {
  return std::string("  - dd if=/dev/") + source +
         " of=/dev/mapper/eradev bs=64k count=1 seek=" + std::to_string(block) + " oflag=direct\n";
}
const char* kChecks = "expect: [no-errors, era-written-since, metadata-check]\n";

verify::UnitResult check(const std::string& steps, const std::string& extra = kChecks,
                         const std::vector<std::string>& knobs = {}) {
  const scenarios::Scenario s = verifytest::scenario(era_scenario(steps, extra));
  return verify::run_exploration(s, 0, knobs, {});
}

bool mentions(const verify::UnitResult& u, const std::string& kind, const std::string& words) {
  for (const auto& e : u.failures)
    for (const auto& v : e.violations)
      if (v.kind == kind && v.title.find(words) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("dd if=/dev/zero through era is a write era_invalidate reports, and the check owes it") {
  const std::string steps = std::string(kCreate) + dd_block(3, "zero");
  const verify::UnitResult u = check(steps);
  INFO(violations_text(u));
  REQUIRE(u.passed);

  const Steps r =
      run_steps(era_scenario(steps + "  - dmsetup message eradev 0 take_metadata_snap\n"
                                     "  - era_invalidate --written-since 1 --metadata-snapshot /dev/meta\n"));
  REQUIRE(r.out(3) == "<blocks>\n  <block block=\"3\"/>\n</blocks>\n");

  // A zero write lost at a power cut is caught like any other.
  const verify::UnitResult lost =
      check(steps + "  - sync /dev/mapper/eradev\n  - power-cut\n" + kCreate, kChecks, {"era.no_writeset_recovery"});
  INFO(violations_text(lost));
  REQUIRE(mentions(lost, "era-written-since", "block 3 of /dev/mapper/eradev"));
}

TEST_CASE("a metadata device zeroed and given a new era target starts a new history") {
  const std::string steps = std::string(kCreate) + dd_block(1) + dd_block(2) +
                            "  - dmsetup remove eradev\n"
                            "  - dd if=/dev/zero of=/dev/meta bs=4k count=1 oflag=direct\n" +
                            kCreate + dd_block(5);
  const verify::UnitResult u = check(steps);
  INFO(violations_text(u));
  REQUIRE(u.passed);

  // The new history is judged as strictly as the first: a write in it lost at a power cut is
  // caught, and the writes before the reformat are not what it is blamed for.
  const verify::UnitResult lost =
      check(steps + "  - sync /dev/mapper/eradev\n  - power-cut\n" + kCreate, kChecks, {"era.no_writeset_recovery"});
  INFO(violations_text(lost));
  REQUIRE(mentions(lost, "era-written-since", "block 5 of /dev/mapper/eradev"));
  REQUIRE(!mentions(lost, "era-written-since", "block 1 of"));
  REQUIRE(!mentions(lost, "era-written-since", "block 2 of"));
}

TEST_CASE("the era checks on a scenario holding a metadata snapshot leave the kernel log untouched") {
  const std::string steps = std::string(kCreate) + dd_block(1) + "  - dmsetup message eradev 0 take_metadata_snap\n" +
                            dd_block(4) + "  - dmsetup message eradev 0 checkpoint\n" + dd_block(6);
  const Steps with = run_steps(era_scenario(steps, kChecks));
  const Steps without = run_steps(era_scenario(steps, "expect: [no-errors]\n"));
  REQUIRE(with.run.out.check_violations.empty());
  REQUIRE(with.run.out.check_notes.empty());
  REQUIRE(with.run.sim.dmesg == without.run.sim.dmesg);
  const verify::UnitResult u = check(steps);
  INFO(violations_text(u));
  REQUIRE(u.passed);
}

TEST_CASE("checks whose metadata device the steps removed say so and judge nothing") {
  const std::string steps =
      "  - dmsetup create md --table \"0 8192 linear /dev/meta 0\"\n"
      "  - dmsetup create eradev --table \"0 2048 era /dev/mapper/md /dev/data 128\"\n" +
      dd_block(1) + "  - dmsetup remove eradev\n  - dmsetup remove md\n";
  const verify::UnitResult u = check(steps);
  INFO(violations_text(u));
  REQUIRE(u.passed);
  REQUIRE(u.notes == std::vector<std::string>{
                         "era-written-since could not judge: metadata device /dev/mapper/md was removed at step 5",
                         "metadata-check could not judge: metadata device /dev/mapper/md was removed at step 5"});
  REQUIRE(u.verdict.find("; era-written-since could not judge: metadata device /dev/mapper/md was removed at step 5") !=
          std::string::npos);
}

TEST_CASE("an era table refused at resume leaves nothing behind: the devices below can be removed") {
  // smallest_invalid_origin, then the cleanup a test suite does after it.
  const Steps r = run_steps(
      era_scenario("  - dmsetup create origin --table \"0 137438953472 error\"\n"
                   "  - ! dmsetup create eradev --table \"0 137438953472 era /dev/meta /dev/mapper/origin 64\"\n"
                   "  - dmsetup remove origin\n"));
  REQUIRE(r.step(1).err == "device-mapper: resume ioctl on eradev  failed: Invalid argument");
  REQUIRE(r.step(2).exit_code == 0);
}

TEST_CASE("reading corrupt era metadata, the checks and the tools report it themselves, never in the kernel log") {
  // Metadata lives in the low blocks of the device: zero the first 64 after the superblock.
  const std::string steps = std::string(kCreate) + dd_block(1) + "  - dmsetup message eradev 0 checkpoint\n" +
                            dd_block(2) +
                            "  - dmsetup remove eradev\n"
                            "  - dd if=/dev/zero of=/dev/meta bs=4k count=64 seek=1 oflag=direct\n"
                            "  - ! era_check /dev/meta\n";
  const Steps with = run_steps(era_scenario(steps, "expect: [metadata-check]\n"));
  const Steps without = run_steps(era_scenario(steps, "expect: [no-errors]\n"));
  REQUIRE(!with.run.out.check_violations.empty());
  REQUIRE(with.run.sim.dmesg == without.run.sim.dmesg);
  // era_check's own report, on its stderr: the superblock examined, then what is damaged.
  REQUIRE(with.step(6).err.rfind("examining superblock\n", 0) == 0);
  REQUIRE(with.step(6).err.size() > std::string("examining superblock\n").size());
  REQUIRE(!with.logged("block manager"));
}
