// Module parameters in steps, as through sysfs on a real machine: `echo VALUE > /sys/module/M/
// parameters/P` and `cat` of the same file. The names are checked when the file is parsed; the
// value is the parameter's business when the step runs.
#include "tests/language/scenario_test_helpers.hpp"

using namespace scenarios;
using scenariotest::first_error;
using scenariotest::scenario;

namespace {

const std::string kSubjob = "/sys/module/dm_mod/parameters/kcopyd_subjob_size_kb";

const Command& only_step(const Scenario& s) {
  REQUIRE(s.steps.size() == 1);
  return s.steps[0].cmd;
}

Command parse_step(const std::string& step) {
  return only_step(parse_scenario(scenario("  - " + step + "\n"), "t.yaml"));
}

}  // namespace

TEST_CASE("echo into a module parameter's sysfs file is a parameter write with echo's bytes") {
  const Command c = parse_step("echo 64 > " + kSubjob);
  REQUIRE(c.kind == CmdKind::ParamWrite);
  REQUIRE(c.module == "dm_mod");
  REQUIRE(c.param == "kcopyd_subjob_size_kb");
  REQUIRE(c.value == "64\n");
  SECTION("-n leaves out the newline, and the redirection may touch the file name") {
    const Command n = parse_step("echo -n 0x40 >" + kSubjob);
    REQUIRE(n.kind == CmdKind::ParamWrite);
    REQUIRE(n.value == "0x40");
  }
  SECTION("a value the kernel would refuse parses: the write fails when it runs") {
    const Command bad = parse_step("! echo sixty-four > " + kSubjob);
    REQUIRE(bad.kind == CmdKind::ParamWrite);
    REQUIRE(bad.expect_failure);
    REQUIRE(bad.value == "sixty-four\n");
  }
}

TEST_CASE("cat of a module parameter's sysfs file is a parameter read") {
  const Command c = parse_step("cat /sys/module/dm_clone/parameters/clone_hydration_throttle");
  REQUIRE(c.kind == CmdKind::ParamRead);
  REQUIRE(c.module == "dm_clone");
  REQUIRE(c.param == "clone_hydration_throttle");
}

TEST_CASE("echo b > /proc/sysrq-trigger is still a power cut, and takes no other letter") {
  REQUIRE(parse_step("echo b > /proc/sysrq-trigger").kind == CmdKind::PowerCut);
  REQUIRE(first_error(scenario("  - echo c > /proc/sysrq-trigger\n")) ==
          "t.yaml:6:10: only 'echo b > /proc/sysrq-trigger' (an immediate reboot: a power cut) is supported");
}

TEST_CASE("an unknown module or parameter is an error at its name that lists what exists") {
  SECTION("a module without parameters") {
    const std::string e = first_error(scenario("  - echo 1 > /sys/module/dm_nope/parameters/x\n"));
    REQUIRE(e.rfind("t.yaml:6:26: no module 'dm_nope' with parameters (has: ", 0) == 0);
    REQUIRE(e.find("dm_clone") != std::string::npos);
    REQUIRE(e.find("dm_mod") != std::string::npos);
  }
  SECTION("a parameter the module does not have, for echo and cat alike") {
    const std::string msg = "no parameter 'kcopyd_subjob_size' in module dm_mod (has: kcopyd_subjob_size_kb)";
    REQUIRE(first_error(scenario("  - echo 1 > /sys/module/dm_mod/parameters/kcopyd_subjob_size\n")) ==
            "t.yaml:6:44: " + msg);
    REQUIRE(first_error(scenario("  - cat /sys/module/dm_mod/parameters/kcopyd_subjob_size\n")) ==
            "t.yaml:6:39: " + msg);
  }
}

TEST_CASE("echo and cat reach only module parameters and sysrq, with a redirection and one file") {
  SECTION("another file") {
    REQUIRE(first_error(scenario("  - echo 1 > /tmp/x\n")) ==
            "t.yaml:6:14: echo: dmsim has no file '/tmp/x' (module parameters are "
            "/sys/module/MODULE/parameters/NAME)");
    REQUIRE(first_error(scenario("  - cat /sys/module/dm_mod/parameters\n")) ==
            "t.yaml:6:9: cat: dmsim has no file '/sys/module/dm_mod/parameters' (module parameters are "
            "/sys/module/MODULE/parameters/NAME)");
  }
  SECTION("echo without a redirection") {
    REQUIRE(first_error(scenario("  - echo 64\n")) ==
            "t.yaml:6:12: expected '> /sys/module/MODULE/parameters/NAME' (dmsim's echo writes module "
            "parameters and /proc/sysrq-trigger)");
  }
  SECTION("a redirection without a file") {
    REQUIRE(first_error(scenario("  - echo 64 >\n")) == "t.yaml:6:14: expected a file after '>'");
  }
  SECTION("more than one file") {
    REQUIRE(first_error(scenario("  - cat " + kSubjob + " " + kSubjob + "\n")) ==
            "t.yaml:6:" + std::to_string(9 + kSubjob.size() + 1) + ": unexpected argument '" + kSubjob + "'");
  }
}
