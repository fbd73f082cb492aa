// Module parameters set and read by steps through /sys/module, as on a real machine: what a
// write changes, what a refused write does, and that a power cut (a reboot) forgets them.
#include <sstream>

#include "engines/lib/kcopyd.hpp"
#include "engines/module_params.hpp"
#include "model/disk_trace.hpp"
#include "tests/verify/verify_test_helpers.hpp"

using namespace verifytest;
using namespace verify;

namespace {

const std::string kSubjob = "/sys/module/dm_mod/parameters/kcopyd_subjob_size_kb";

// `pre` steps, then a test-kcopyd device that copies what sda held to sdb before each write
// goes on, and one 512 KiB write through it.
std::string copy_512k_after(const std::string& pre) {
  return "name: subjob\ndisks:\n  sda: {size: 4MiB, profile: nvme}\n  sdb: {size: 4MiB, profile: nvme}\nsteps:\n" +
         pre +
         "  - dmsetup create k --table \"0 8192 test-kcopyd /dev/sda copy /dev/sdb\"\n"
         "  - dd if=/dev/urandom of=/dev/mapper/k bs=512k count=1 oflag=direct\n";
}

// The sizes, in sectors, of the writes disk `i` of the phase received.
std::vector<uint32_t> write_sizes(const PhaseOutput& out, size_t i) {
  std::istringstream in(out.disks.at(i).trace);
  std::vector<uint32_t> sizes;
  for (const auto& r : model::DiskTrace::load(in).records)
    if (r.op == model::ReqOp::Write) sizes.push_back(r.sectors);
  return sizes;
}

std::string steps_text(const PhaseOutput& out) {
  std::string s;
  for (const auto& st : out.steps) s += st.text + " -> " + std::to_string(st.exit_code) + " " + st.out + st.err + "\n";
  return s;
}

}  // namespace

TEST_CASE("echo into kcopyd_subjob_size_kb sets the sub-job size of kcopyd clients created afterwards") {
  const PhaseOutput before = run_steps(scenario(copy_512k_after("")));
  INFO(steps_text(before));
  REQUIRE(before.steps.back().exit_code == 0);
  REQUIRE(write_sizes(before, 1) == std::vector<uint32_t>{1024});  // one 512 KiB sub-job
  const PhaseOutput after = run_steps(scenario(copy_512k_after("  - echo 64 > " + kSubjob + "\n")));
  INFO(steps_text(after));
  REQUIRE(after.steps.at(0).exit_code == 0);
  REQUIRE(after.steps.back().exit_code == 0);
  REQUIRE(write_sizes(after, 1) == std::vector<uint32_t>(8, 128));  // eight 64 KiB sub-jobs
}

TEST_CASE("cat prints a module parameter as the kernel does, after a client's creation has clamped it") {
  const PhaseOutput out = run_steps(scenario(copy_512k_after("  - run: cat " + kSubjob +
                                                             "\n    output: '^512$'\n"
                                                             "  - echo 0 > " +
                                                             kSubjob + "\n  - cat " + kSubjob + "\n") +
                                             "  - cat " + kSubjob + "\n"));
  INFO(steps_text(out));
  REQUIRE(out.steps.at(0).out == "512\n");
  REQUIRE(out.steps.at(2).out == "0\n");     // the write is stored as given
  REQUIRE(out.steps.back().out == "512\n");  // dm_get_kcopyd_subjob_size wrote the default back
}

TEST_CASE("a value the kernel refuses fails the step with bash's write error and leaves the parameter") {
  const std::string steps = "  - ! echo sixty-four > " + kSubjob + "\n  - ! echo -1 > " + kSubjob +
                            "\n  - ! echo 4294967296 > " + kSubjob + "\n  - cat " + kSubjob + "\n";
  const scenarios::Scenario s = scenario("name: bad\ndisks:\n  sda: {size: 1MiB}\nsteps:\n" + steps);
  const PhaseOutput out = run_steps(s);
  INFO(steps_text(out));
  REQUIRE(out.steps.at(0).exit_code == 1);
  REQUIRE(out.steps.at(0).err == "echo: write error: Invalid argument");
  REQUIRE(out.steps.at(1).err == "echo: write error: Invalid argument");
  REQUIRE(out.steps.at(2).err == "echo: write error: Numerical result out of range");
  REQUIRE(out.steps.at(3).out == "512\n");
  UnitResult expected = run_exploration(s, 0, {}, {});
  INFO(violations_text(expected));
  REQUIRE(expected.passed);
  // Unmarked, the refused write is a failed step.
  UnitResult unmarked = run_exploration(
      scenario("name: bad\ndisks:\n  sda: {size: 1MiB}\nsteps:\n  - echo sixty-four > " + kSubjob + "\n"), 0, {}, {});
  REQUIRE_FALSE(unmarked.passed);
  REQUIRE(unmarked.failures.at(0).violations.at(0).kind == "step-failed");
  REQUIRE(unmarked.failures.at(0).violations.at(0).title ==
          "step 1 failed: echo sixty-four > " + kSubjob + ": echo: write error: Invalid argument");
}

TEST_CASE("a read-only parameter refuses the write as bash does: Permission denied") {
  static unsigned ro_value = 3;
  engines::register_module_param({.module = "test_params",
                                  .name = "read_only",
                                  .description = "a 0444 parameter",
                                  .value = &ro_value,
                                  .writable = false});
  const std::string file = "/sys/module/test_params/parameters/read_only";
  const PhaseOutput out = run_steps(
      scenario("name: ro\ndisks:\n  sda: {size: 1MiB}\nsteps:\n  - ! echo 4 > " + file + "\n  - cat " + file + "\n"));
  INFO(steps_text(out));
  REQUIRE(out.steps.at(0).exit_code == 1);
  REQUIRE(out.steps.at(0).err == file + ": Permission denied");
  REQUIRE(out.steps.at(1).out == "3\n");
}

TEST_CASE("module parameters do not survive a power cut: the recovery boots with the defaults") {
  auto cut_then_cat = [](const std::string& expected) {
    return scenario("name: reboot\ndisks:\n  sda: {size: 1MiB}\nsteps:\n  - echo 64 > " + kSubjob + "\n  - run: cat " +
                    kSubjob + "\n    output: '^64$'\n  - power-cut\n  - run: cat " + kSubjob + "\n    output: '^" +
                    expected + "$'\n");
  };
  UnitResult defaults = run_exploration(cut_then_cat("512"), 0, {}, {});
  INFO(violations_text(defaults));
  REQUIRE(defaults.passed);
  UnitResult kept = run_exploration(cut_then_cat("64"), 0, {}, {});
  REQUIRE_FALSE(kept.passed);
  REQUIRE(has_kind(kept, "step-output"));
}

TEST_CASE("a phase starts with the defaults whatever the parent process left in a parameter's variable") {
  const unsigned saved = engines::kcopyd_subjob_size_kb;
  engines::kcopyd_subjob_size_kb = 64;
  const PhaseOutput out =
      run_steps(scenario("name: boot\ndisks:\n  sda: {size: 1MiB}\nsteps:\n  - cat " + kSubjob + "\n"));
  engines::kcopyd_subjob_size_kb = saved;
  REQUIRE(out.steps.at(0).out == "512\n");
}
