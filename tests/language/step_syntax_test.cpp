// Steps that assert their output, and catalog entries that name their finding precisely.
#include "tests/language/scenario_test_helpers.hpp"

using namespace scenarios;
using scenariotest::first_error;
using scenariotest::scenario;

TEST_CASE("a step map runs its command and keeps the output it must print") {
  const Scenario s = parse_scenario(scenario("  - run: dmsetup status x\n    output: '^0 8 linear $'\n"
                                             "  - run: '! dmsetup remove y'\n    error: 'No such device'\n"),
                                    "t.yaml");
  REQUIRE(s.steps.size() == 2);
  REQUIRE(s.steps[0].cmd.kind == CmdKind::DmStatus);
  REQUIRE(s.steps[0].output);
  REQUIRE(s.steps[0].output->kind == OutputExpectation::Regex);
  REQUIRE(s.steps[0].output->pattern == "^0 8 linear $");
  REQUIRE(s.steps[1].cmd.expect_failure);
  REQUIRE(s.steps[1].error->pattern == "No such device");
  REQUIRE(s.steps[0].line == 6);
}

TEST_CASE("step maps are checked like the rest of the file") {
  SECTION("a bad regular expression") {
    REQUIRE(first_error(scenario("  - run: sync\n    output: '(unclosed'\n"))
                .rfind("t.yaml:7:13: bad regular expression in output: ", 0) == 0);
  }
  SECTION("both a regular expression and a file") {
    REQUIRE(first_error(scenario("  - run: sync\n    output: x\n    output-file: y.txt\n")) ==
            "t.yaml:8:18: a step takes either output or output-file, not both");
  }
  SECTION("an output file that cannot be read") {
    REQUIRE(first_error(scenario("  - run: sync\n    output-file: no/such.txt\n")) ==
            "t.yaml:7:18: cannot read output-file 'no/such.txt'");
  }
  SECTION("a map without a command") {
    REQUIRE(first_error(scenario("  - output: x\n")) == "t.yaml:6:5: a step map needs 'run: COMMAND'");
  }
  SECTION("an unknown key") {
    REQUIRE(first_error(scenario("  - run: sync\n    stdout: x\n"))
                .rfind("t.yaml:7:5: unknown key 'stdout' in a step", 0) == 0);
  }
  SECTION("a command error points into the run value") {
    REQUIRE(first_error(scenario("  - run: dmsetup frobnicate x\n")) ==
            "t.yaml:6:18: unknown dmsetup command 'frobnicate'");
  }
}

TEST_CASE("a catalog entry names the kind of finding and an expression only its bug's finding matches") {
  const std::string knob = "catalog:\n  knob: era.status_in_worker\n";
  SECTION("the old form without a match is refused") {
    REQUIRE(first_error(scenario("  - sync\n", knob + "  detects: deadlock\n"))
                .rfind("t.yaml:9:12: catalog must be {knob: NAME, detects: {kind: KIND, match: REGEX}}", 0) == 0);
  }
  SECTION("a bad expression") {
    REQUIRE(first_error(scenario("  - sync\n", knob + "  detects: {kind: deadlock, match: '[srcu'}\n"))
                .rfind("t.yaml:9:36: bad regular expression in match: ", 0) == 0);
  }
  SECTION("an unknown kind") {
    REQUIRE(first_error(scenario("  - sync\n", knob + "  detects: {kind: oops, match: x}\n")) ==
            "t.yaml:9:19: unknown finding kind 'oops'");
  }
  SECTION("the full form") {
    const Scenario s = parse_scenario(
        scenario("  - sync\n", knob + "  detects: {kind: deadlock, match: 'srcu md->io_barrier'}\n"), "t.yaml");
    REQUIRE(s.catalog->detects == "deadlock");
    REQUIRE(s.catalog->match == "srcu md->io_barrier");
  }
}

TEST_CASE("max-flushes-per-flush names a declared disk and a count") {
  SECTION("accepted as a map in the expect list") {
    const Scenario s = parse_scenario(
        scenario("  - sync\n", "expect: [no-leaks, {max-flushes-per-flush: {disk: vg/lv, max: 1}}]\n"), "t.yaml");
    REQUIRE(s.flush_budget);
    REQUIRE(s.flush_budget->disk == "vg/lv");
    REQUIRE(s.flush_budget->disk_index == 1);
    REQUIRE(s.flush_budget->max == 1);
    REQUIRE(s.expect.back() == "max-flushes-per-flush");
  }
  SECTION("a bare name says what it needs") {
    REQUIRE(first_error(scenario("  - sync\n", "expect: [max-flushes-per-flush]\n")) ==
            "t.yaml:7:10: max-flushes-per-flush needs a disk and a count: {max-flushes-per-flush: {disk: NAME, max: "
            "N}}");
  }
  SECTION("an unknown disk") {
    REQUIRE(first_error(scenario("  - sync\n", "expect: [{max-flushes-per-flush: {disk: sdz, max: 1}}]\n")) ==
            "t.yaml:7:41: unknown disk 'sdz' in max-flushes-per-flush (not under disks:)");
  }
  SECTION("a bad count") {
    REQUIRE(first_error(scenario("  - sync\n", "expect: [{max-flushes-per-flush: {disk: sda, max: 0}}]\n")) ==
            "t.yaml:7:51: bad max '0' in max-flushes-per-flush: expected a count from 1 to 1000");
  }
}

TEST_CASE("crash-after names a step before the power cut") {
  const std::string steps = "  - sync\n  - power-cut\n  - sync\n";
  REQUIRE(parse_scenario(scenario(steps, "explore: {crash-points: steps, crash-after: 1}\n"), "t.yaml")
              .explore.crash_after_step == 1);
  REQUIRE(first_error(scenario(steps, "explore: {crash-points: steps, crash-after: 3}\n")) ==
          "t.yaml:9:45: crash-after 3 is not a step before the power cut (step 2)");
  REQUIRE(first_error(scenario(steps, "explore: {crash-after: x}\n")) ==
          "t.yaml:9:24: crash-after must be a step number (from 1)");
}

TEST_CASE("no-writes-after names a declared disk and a step of the scenario") {
  const Scenario s =
      parse_scenario(scenario("  - sync\n  - sync\n", "expect: [{no-writes-after: {disk: sda, step: 2}}]\n"), "t.yaml");
  REQUIRE(s.write_silence);
  REQUIRE(s.write_silence->disk == "sda");
  REQUIRE(s.write_silence->step == 2);
  REQUIRE(first_error(scenario("  - sync\n", "expect: [no-writes-after]\n")) ==
          "t.yaml:7:10: no-writes-after needs a disk and a step: {no-writes-after: {disk: NAME, step: K}}");
  REQUIRE(first_error(scenario("  - sync\n", "expect: [{no-writes-after: {disk: sda, step: 5}}]\n")) ==
          "t.yaml:7:9: no-writes-after names step 5 of 1");
}

TEST_CASE("dmsetup status and table take --inactive for the loaded table and nothing else does") {
  const Scenario s = parse_scenario(scenario("  - dmsetup status --inactive x\n  - dmsetup table --inactive x\n"
                                             "  - dmsetup table x\n"),
                                    "t.yaml");
  REQUIRE(s.steps.size() == 3);
  CHECK(s.steps[0].cmd.kind == CmdKind::DmStatus);
  CHECK(s.steps[0].cmd.inactive);
  CHECK(s.steps[1].cmd.kind == CmdKind::DmTable);
  CHECK(s.steps[1].cmd.inactive);
  CHECK_FALSE(s.steps[2].cmd.inactive);
  CHECK(first_error(scenario("  - dmsetup suspend --inactive x\n")).find("unknown option '--inactive'") !=
        std::string::npos);
  CHECK(first_error(scenario("  - dmsetup table --noflush x\n")).find("unknown option '--noflush'") !=
        std::string::npos);
}
