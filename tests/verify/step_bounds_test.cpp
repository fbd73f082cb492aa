// Bounds that depend on a device's size at run time: dd and blkdiscard judge them when they run,
// as the kernel and the real tools do, not the parser from the size a create step gave.
#include "tests/verify/verify_test_helpers.hpp"
#include "verify/crash_explorer.hpp"

using namespace verifytest;
using namespace verify;

namespace {

// A 4 MiB disk with a dm linear device `x` of `sectors` over it, then `steps`.
std::string over_x(uint64_t sectors, const std::string& steps, const std::string& disk = "{size: 4MiB}") {
  return "name: bounds\ndisks:\n  sda: " + disk + "\nsteps:\n  - dmsetup create x --table \"0 " +
         std::to_string(sectors) + " linear /dev/sda 0\"\n" + steps;
}

std::vector<const TopIo*> ios_of(const PhaseOutput& out, const std::string& device, TopIo::Kind kind) {
  std::vector<const TopIo*> v;
  for (const auto& io : out.io.ios)
    if (io.device == device && io.kind == kind) v.push_back(&io);
  return v;
}

}  // namespace

TEST_CASE("a dm device grown by load and resume takes writes and discards past its old end") {
  const scenarios::Scenario s = scenario(over_x(2048,
                                                "  - dmsetup suspend x\n"
                                                "  - dmsetup load x --table \"0 8192 linear /dev/sda 0\"\n"
                                                "  - dmsetup resume x\n"
                                                "  - dd if=/dev/urandom of=/dev/mapper/x bs=4k count=4 seek=300\n"
                                                "  - blkdiscard -o 2MiB -l 64k /dev/mapper/x\n"));
  UnitResult u = run_exploration(s, 0, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
  const PhaseOutput out = run_steps(s);
  REQUIRE(out.steps.at(4).out == "4+0 records in\n4+0 records out\n16384 bytes copied\n");
  REQUIRE(ios_of(out, "/dev/mapper/x", TopIo::Data).size() == 4);
}

TEST_CASE("dd past the end writes the blocks that fit, cuts the one crossing it, then fails with ENOSPC") {
  // 2112 sectors: 16 blocks of 64 KiB and half of a 17th.
  const PhaseOutput out =
      run_steps(scenario(over_x(2112, "  - ! dd if=/dev/urandom of=/dev/mapper/x bs=64k count=20\n")));
  const StepRecord& dd = out.steps.at(1);
  REQUIRE(dd.exit_code == 1);
  REQUIRE(dd.err == "dd: error writing '/dev/mapper/x': No space left on device");
  REQUIRE(dd.out == "17+0 records in\n16+0 records out\n1081344 bytes copied\n");
  const auto writes = ios_of(out, "/dev/mapper/x", TopIo::Data);
  REQUIRE(writes.size() == 17);
  uint64_t sectors = 0;
  for (const TopIo* io : writes) {
    REQUIRE(io->acked);
    sectors += io->sectors;
  }
  REQUIRE(sectors == 2112);  // every byte counted as copied was written, and nothing more
  REQUIRE(writes.back()->sector == 2048);
  REQUIRE(writes.back()->sectors == 64);
}

TEST_CASE("dd at the exact end writes nothing and fails with ENOSPC; seeking past it fails like lseek") {
  const PhaseOutput out =
      run_steps(scenario(over_x(2048,
                                "  - ! dd if=/dev/zero of=/dev/mapper/x bs=4k count=1 seek=256\n"
                                "  - ! dd if=/dev/zero of=/dev/mapper/x bs=4k count=1 seek=257\n")));
  REQUIRE(out.steps.at(1).exit_code == 1);
  REQUIRE(out.steps.at(1).err == "dd: error writing '/dev/mapper/x': No space left on device");
  REQUIRE(out.steps.at(1).out == "1+0 records in\n0+0 records out\n0 bytes copied\n");
  REQUIRE(out.steps.at(2).exit_code == 1);
  REQUIRE(out.steps.at(2).err == "dd: /dev/mapper/x: cannot seek: Invalid argument");
  REQUIRE(out.steps.at(2).out == "0+0 records in\n0+0 records out\n0 bytes copied\n");
  REQUIRE(ios_of(out, "/dev/mapper/x", TopIo::Zero).empty());
}

TEST_CASE("a dd step that runs past the end is a failed step unless marked to fail") {
  UnitResult u =
      run_exploration(scenario(over_x(2048, "  - dd if=/dev/zero of=/dev/mapper/x bs=1M count=2\n")), 0, {}, {});
  REQUIRE_FALSE(u.passed);
  REQUIRE(u.verdict ==
          "FAIL: step-failed: step 2 failed: dd if=/dev/zero of=/dev/mapper/x bs=1M count=2: dd: error "
          "writing '/dev/mapper/x': No space left on device");
}

TEST_CASE("blkdiscard refuses an offset past the end and cuts a length that runs past it, as util-linux") {
  const PhaseOutput out = run_steps(scenario(over_x(2048,
                                                    "  - blkdiscard -o 1048576 -l 4096 /dev/mapper/x\n"
                                                    "  - ! blkdiscard -o 2MiB /dev/mapper/x\n"
                                                    "  - blkdiscard -o 512k -l 4MiB /dev/mapper/x\n"
                                                    "  - blkdiscard -l 0 /dev/mapper/x\n")));
  // An offset at the end is not past it: nothing to discard, success (util-linux's loop is empty).
  REQUIRE(out.steps.at(1).exit_code == 0);
  REQUIRE(out.steps.at(2).exit_code == 1);
  REQUIRE(out.steps.at(2).err == "blkdiscard: /dev/mapper/x: offset is greater than device size");
  REQUIRE(out.steps.at(3).exit_code == 0);
  REQUIRE(out.steps.at(4).exit_code == 0);
  const auto discards = ios_of(out, "/dev/mapper/x", TopIo::Discard);
  REQUIRE(discards.size() == 1);
  REQUIRE(discards[0]->sector == 1024);
  REQUIRE(discards[0]->sectors == 1024);
}

TEST_CASE("blkdiscard checks the offset against the device's own logical block size") {
  const PhaseOutput out = run_steps(scenario(
      "name: lbs\ndisks:\n  sda: {size: 4MiB, logical_block_size: 4096}\nsteps:\n  - ! blkdiscard -o 512 /dev/sda\n"));
  REQUIRE(out.steps.at(0).exit_code == 1);
  REQUIRE(out.steps.at(0).err == "blkdiscard: /dev/sda: offset 512 is not aligned to sector size 4096");
  REQUIRE(out.io.ios.empty());
}

TEST_CASE("a crash point beyond the scenario's crash points is an error, not a pass with no explorations") {
  const scenarios::Scenario s = scenario(over_x(2048,
                                                "  - dd if=/dev/urandom of=/dev/mapper/x bs=4k count=1\n"
                                                "  - power-cut\n"
                                                "  - blockdev --getsz /dev/sda\n"
                                                "explore: {crash-points: steps}\n"));
  RunOptions opt;
  opt.only_crash_point = 999;
  UnitResult u = run_exploration(s, 0, {}, opt);
  REQUIRE_FALSE(u.passed);
  REQUIRE(u.explorations == 0);
  REQUIRE(u.input_error.rfind("--crash-point 999 is out of range: with seed 0 the scenario has ", 0) == 0);
  REQUIRE(u.verdict == "ERROR: " + u.input_error);
  opt.only_crash_point = 0;
  REQUIRE(run_exploration(s, 0, {}, opt).input_error.empty());
}

TEST_CASE("a crash point asked of a scenario without a power cut is an error") {
  RunOptions opt;
  opt.only_crash_point = 0;
  UnitResult u = run_exploration(scenario(over_x(2048, "")), 0, {}, opt);
  REQUIRE_FALSE(u.passed);
  REQUIRE(u.input_error == "--crash-point needs a scenario with a power-cut step; this one has none");
}

TEST_CASE("a crash choice must have one hex digit per four variables and no bits beyond them") {
  REQUIRE(choice_hex_problem("0", 0).empty());
  REQUIRE(choice_hex_problem("f1", 5).empty());
  REQUIRE(choice_hex_problem(choice_to_hex(std::vector<bool>(9, true)), 9).empty());
  REQUIRE(choice_hex_problem("f", 5) == "expected 2 hex digit(s) for 5 crash-state variable(s), got 1");
  REQUIRE(choice_hex_problem("f3", 5) == "the last digit sets variables beyond the 5 there are");
  REQUIRE(choice_hex_problem("g", 4) == "expected lowercase hexadecimal digits");
  REQUIRE(choice_hex_problem("", 4) == "expected lowercase hexadecimal digits");
}

TEST_CASE("crash-after leaves out the crash points before its step has finished") {
  const std::string steps =
      "  - dd if=/dev/urandom of=/dev/mapper/x bs=4k count=1\n"
      "  - dd if=/dev/urandom of=/dev/mapper/x bs=4k count=1 seek=1\n"
      "  - dd if=/dev/urandom of=/dev/mapper/x bs=4k count=1 seek=2\n"
      "  - power-cut\n"
      "  - dmsetup create x --table \"0 2048 linear /dev/sda 0\"\n";
  // Step 1 (over_x's) creates x; crash-after 3 leaves out the points after steps 1 and 2.
  const std::string disk = "{size: 4MiB, profile: nvme}";  // steps that take time, so each ends at its own instant
  const UnitResult all =
      run_exploration(scenario(over_x(2048, steps + "explore: {crash-points: steps}\n", disk)), 0, {}, {});
  const UnitResult later = run_exploration(
      scenario(over_x(2048, steps + "explore: {crash-points: steps, crash-after: 3}\n", disk)), 0, {}, {});
  INFO(violations_text(all));
  REQUIRE(all.passed);
  REQUIRE(later.passed);
  REQUIRE(later.explorations + 2 == all.explorations);
}
