#include "tests/scenarios/scenario_test_helpers.hpp"

using namespace scenarios;
using scenariotest::first_error;
using scenariotest::scenario;

TEST_CASE("the example from the issue parses into its steps, with background and expectations") {
  Scenario s = parse_scenario(R"(name: era-table-swap-deadlock
about: status on a suspended era device holds SRCU while blocked; resume with a new table deadlocks
source: "dm-devel, 2021-12-01, Deadlock when swapping a table with a dm-era target"
disks:
  datavg/erameta: {size: 64MiB, profile: sata-ssd, write_cache: true}
  datavg/eradata: {size: 1GiB, profile: sata-ssd}
steps:
  - dmsetup create eradev --table "0 1048576 era /dev/datavg/erameta /dev/datavg/eradata 8192"
  - dmsetup suspend eradev
  - dmsetup load eradev --table "0 2097152 era /dev/datavg/erameta /dev/datavg/eradata 8192"
  - dmsetup status eradev &
  - sleep 1
  - dmsetup resume eradev
expect: [no-deadlock, no-hung-task]
)",
                              "era.yaml");
  REQUIRE(s.disks.size() == 2);
  REQUIRE(s.disks[1].bytes == (1ULL << 30));
  REQUIRE(s.steps.size() == 6);
  REQUIRE(s.steps[3].cmd.kind == CmdKind::DmStatus);
  REQUIRE(s.steps[3].cmd.background);
  REQUIRE(s.steps[0].cmd.table == "0 1048576 era /dev/datavg/erameta /dev/datavg/eradata 8192");
  REQUIRE(s.steps[4].cmd.seconds == 1.0);
  REQUIRE(s.steps[0].line == 8);
  REQUIRE(s.expect == std::vector<std::string>{"no-deadlock", "no-hung-task"});
}

TEST_CASE("the shell vocabulary parses: dd flags, sync, blkdiscard, blockdev, power cuts") {
  Scenario s =
      parse_scenario(scenario(R"(  - dmsetup create x --table "0 $(blockdev --getsz /dev/sda) linear /dev/sda 0"
  - dd if=/dev/zero of=/dev/mapper/x bs=4k count=2 seek=1 oflag=direct,dsync conv=fsync
  - sync /dev/mapper/x
  - blkdiscard -o 4096 -l 8192 /dev/mapper/x
  - blockdev --getsz /dev/vg/lv
  - ! dmsetup remove nonexistent
  - echo b > /proc/sysrq-trigger
  - dmsetup create x --table "0 2048 linear /dev/sda 0"
)"),
                     "t.yaml");
  const Command& dd = s.steps[1].cmd;
  REQUIRE(dd.kind == CmdKind::Dd);
  REQUIRE(dd.zero_source);
  REQUIRE(dd.bs == 4096);
  REQUIRE(dd.count == 2);
  REQUIRE(dd.seek == 1);
  REQUIRE(dd.fua);
  REQUIRE(dd.fsync_at_end);
  REQUIRE(s.steps[3].cmd.offset == 4096);
  REQUIRE(s.steps[3].cmd.length == 8192);
  REQUIRE(s.steps[5].cmd.expect_failure);
  REQUIRE(s.steps[6].cmd.kind == CmdKind::PowerCut);
  REQUIRE(s.first_power_cut() == 6);
  // With a power cut the block-device oracle is among the default checks.
  REQUIRE(std::find(s.expect.begin(), s.expect.end(), "block-device") != s.expect.end());
}

TEST_CASE("each kind of mistake is reported with file, line and column, and nothing else parses it away") {
  SECTION("an unknown key") {
    REQUIRE(first_error("name: t\nfoo: 1\ndisks: {sda: {size: 1MiB}}\nsteps: [sync]\n") ==
            "t.yaml:2:1: unknown key 'foo' in the scenario (expected one of: about, catalog, disks, expect, explore, "
            "name, source, steps)");
  }
  SECTION("an unknown command") {
    REQUIRE(first_error(scenario("  - fsck /dev/sda\n")) == "t.yaml:6:5: unknown command 'fsck'");
  }
  SECTION("an unknown dmsetup command, pointing at the word") {
    REQUIRE(first_error(scenario("  - dmsetup frobnicate x\n")) == "t.yaml:6:13: unknown dmsetup command 'frobnicate'");
  }
  SECTION("a bad size") {
    REQUIRE(first_error("name: t\ndisks:\n  sda: {size: 12 parsecs}\nsteps: [sync]\n") ==
            "t.yaml:3:15: bad size '12 parsecs': expected a multiple of 4 KiB such as 64MiB or 1GiB");
  }
  SECTION("an unknown device, pointing at the path") {
    REQUIRE(first_error(scenario("  - dd if=/dev/zero of=/dev/sdz bs=4k count=1\n"))
                .rfind("t.yaml:6:24: unknown device '/dev/sdz'", 0) == 0);
  }
  SECTION("a dm device used before a step created it") {
    REQUIRE(first_error(scenario("  - sync /dev/mapper/x\n")).rfind("t.yaml:6:10: unknown device '/dev/mapper/x'", 0) ==
            0);
  }
  SECTION("a write beyond the end of a device") {
    REQUIRE(first_error(scenario("  - dd if=/dev/zero of=/dev/sda bs=4k count=300\n")) ==
            "t.yaml:6:24: dd writes up to byte 1228800 but /dev/sda has 1048576 bytes");
  }
  SECTION("a discard beyond the end of a dm device whose size the table gives") {
    REQUIRE(first_error(scenario("  - dmsetup create x --table \"0 100 linear /dev/sda 0\"\n"
                                 "  - blkdiscard -o 40960 -l 12800 /dev/mapper/x\n")) ==
            "t.yaml:7:34: blkdiscard range ends at byte 53760 but /dev/mapper/x has 51200 bytes");
  }
  SECTION("an unknown profile") {
    REQUIRE(first_error("name: t\ndisks:\n  sda: {size: 1MiB, profile: floppy}\nsteps: [sync]\n")
                .rfind("t.yaml:3:30: unknown profile 'floppy'", 0) == 0);
  }
  SECTION("a bad crash-states value") {
    REQUIRE(first_error(scenario("  - power-cut\n", "explore: {crash-states: everything}\n")) ==
            "t.yaml:7:25: crash-states must be z3, all<=N, random:N, prefix or durable");
  }
  SECTION("crash points without a power cut to recover from") {
    REQUIRE(first_error(scenario("  - sync\n", "explore:\n  crash-points: every-io\n"))
                .rfind("t.yaml:8:17: crash-points needs a power-cut step", 0) == 0);
  }
  SECTION("an unknown knob") {
    REQUIRE(first_error(scenario("  - sync\n", "explore: {knobs: [era.nonsense]}\n")) ==
            "t.yaml:7:19: unknown knob 'era.nonsense' (see dmsim catalog)");
  }
  SECTION("an unknown check") {
    REQUIRE(first_error(scenario("  - sync\n", "expect: [no-deadlock, no-bugs]\n"))
                .rfind("t.yaml:7:23: unknown check 'no-bugs'", 0) == 0);
  }
  SECTION("an unterminated quote") {
    REQUIRE(first_error(scenario("  - dmsetup create x --table \"0 1 zero\n")) ==
            "t.yaml:6:30: unterminated double quote");
  }
  SECTION("dd without a count") {
    REQUIRE(first_error(scenario("  - dd if=/dev/zero of=/dev/sda bs=4k\n")) == "t.yaml:6:38: dd needs count=N");
  }
  SECTION("broken YAML") {
    REQUIRE(first_error("name: t\ndisks: [\n").rfind("t.yaml:3:1: ", 0) == 0);
  }
}

TEST_CASE("every error of a file is listed, not only the first") {
  try {
    parse_scenario(scenario("  - fsck /dev/sda\n  - mkfs /dev/sda\n", "bogus: 1\n"), "t.yaml");
    FAIL("parsed");
  } catch (const ScenarioError& e) {
    REQUIRE(e.errors.size() == 3);
  }
}

TEST_CASE("dmsetup resume takes --noflush and --nolockfs like suspend; status takes only --noflush") {
  Scenario s = parse_scenario(scenario("  - dmsetup create d --table \"0 8 linear /dev/sda 0\"\n"
                                       "  - dmsetup resume --noflush --nolockfs d\n  - dmsetup resume d\n"),
                              "t.yaml");
  REQUIRE(s.steps.at(1).cmd.kind == CmdKind::DmResume);
  REQUIRE(s.steps.at(1).cmd.noflush);
  REQUIRE(s.steps.at(1).cmd.name == "d");
  REQUIRE(!s.steps.at(2).cmd.noflush);
  REQUIRE(first_error(scenario("  - dmsetup create d --table \"0 8 linear /dev/sda 0\"\n"
                               "  - dmsetup status --nolockfs d\n"))
              .find("unknown option '--nolockfs' for dmsetup status") != std::string::npos);
}
