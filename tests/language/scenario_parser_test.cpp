#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/language/scenario_test_helpers.hpp"

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

TEST_CASE("machine: sets the kernel's unsigned long width and PREEMPT_RT; anything else is refused") {
  Scenario s = parse_scenario(
      "name: t\nmachine: {bits-per-long: 32, preempt-rt: true}\ndisks: {sda: {size: 1MiB}}\n"
      "steps: [sync]\n",
      "t.yaml");
  REQUIRE(s.machine.bits_per_long == 32);
  REQUIRE(s.machine.preempt_rt);
  REQUIRE(parse_scenario("name: t\ndisks: {sda: {size: 1MiB}}\nsteps: [sync]\n", "t.yaml").machine.bits_per_long == 64);
  REQUIRE(first_error("name: t\nmachine: {bits-per-long: 16}\ndisks: {sda: {size: 1MiB}}\nsteps: [sync]\n") ==
          "t.yaml:2:26: bits-per-long must be 32 or 64");
  REQUIRE(first_error("name: t\nmachine: {cpus: 4}\ndisks: {sda: {size: 1MiB}}\nsteps: [sync]\n") ==
          "t.yaml:2:11: unknown key 'cpus' in machine (expected one of: bits-per-long, preempt-rt)");
}

TEST_CASE("a quoted step is an ordinary command: only a written '!' makes a step one that must fail") {
  Scenario s = parse_scenario(scenario(R"(  - 'dmsetup remove a'
  - "dmsetup remove b"
  - ! dmsetup remove c
  - run: 'dmsetup remove d'
  - run: '! dmsetup remove e'
  - run: ! dmsetup remove f
  - dmsetup remove g
)"),
                              "quoted.yaml");
  REQUIRE(s.steps.size() == 7);
  const bool must_fail[] = {false, false, true, false, true, true, false};
  for (size_t i = 0; i < 7; i++) {
    INFO("step " << i);
    REQUIRE(s.steps[i].cmd.expect_failure == must_fail[i]);
  }
}

TEST_CASE("each kind of mistake is reported with file, line and column, and nothing else parses it away") {
  SECTION("an unknown key") {
    REQUIRE(first_error("name: t\nfoo: 1\ndisks: {sda: {size: 1MiB}}\nsteps: [sync]\n") ==
            "t.yaml:2:1: unknown key 'foo' in the scenario (expected one of: about, catalog, disks, expect, explore, "
            "machine, name, source, steps)");
  }
  SECTION("an unknown command") {
    REQUIRE(first_error(scenario("  - fsck /dev/sda\n")) == "t.yaml:6:5: unknown command 'fsck'");
  }
  SECTION("an unknown dmsetup command, pointing at the word") {
    REQUIRE(first_error(scenario("  - dmsetup frobnicate x\n")) == "t.yaml:6:13: unknown dmsetup command 'frobnicate'");
  }
  SECTION("a bad size") {
    REQUIRE(
        first_error("name: t\ndisks:\n  sda: {size: 12 parsecs}\nsteps: [sync]\n") ==
        "t.yaml:3:15: bad size '12 parsecs': unknown unit ' parsecs' (s, K, M, G, T, KiB, MiB, GiB, TiB, kB, MB, GB)");
  }
  SECTION("an unknown device, pointing at the path") {
    REQUIRE(first_error(scenario("  - dd if=/dev/zero of=/dev/sdz bs=4k count=1\n"))
                .rfind("t.yaml:6:24: unknown device '/dev/sdz'", 0) == 0);
  }
  SECTION("a dm device used before a step created it") {
    REQUIRE(first_error(scenario("  - sync /dev/mapper/x\n")).rfind("t.yaml:6:10: unknown device '/dev/mapper/x'", 0) ==
            0);
  }
  SECTION("a write beyond the end of a disk, whose size never changes") {
    REQUIRE(first_error(scenario("  - dd if=/dev/zero of=/dev/sda bs=4k count=300\n")) ==
            "t.yaml:6:24: dd writes 300 block(s) of 4096 bytes from block 0, past the end of /dev/sda (1048576 "
            "bytes); mark the step '!' if it is meant to fail");
  }
  SECTION("a discard that starts beyond the end of a disk") {
    REQUIRE(first_error(scenario("  - blkdiscard -o 2MiB /dev/sda\n")) ==
            "t.yaml:6:24: blkdiscard offset 2097152 is greater than the size of /dev/sda (1048576 bytes); mark the "
            "step '!' if it is meant to fail");
  }
  SECTION("an unknown profile") {
    REQUIRE(first_error("name: t\ndisks:\n  sda: {size: 1MiB, profile: floppy}\nsteps: [sync]\n")
                .rfind("t.yaml:3:30: unknown profile 'floppy'", 0) == 0);
  }
  SECTION("a bad crash-states value") {
    REQUIRE(first_error(scenario("  - power-cut\n", "explore: {crash-states: everything}\n")) ==
            "t.yaml:7:25: crash-states must be z3, z3+random:N, all<=N, random:N, prefix or durable");
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

// ---- input the text alone decides is bad: refused with its location, never wrapped or accepted ----

TEST_CASE("sizes that do not fit in 64 bits are refused, not wrapped") {
  // 16777217 TiB is 2^64 + 2^40 bytes: it used to wrap to a 1 TiB disk.
  REQUIRE(first_error("name: t\ndisks:\n  sda: {size: 16777217TiB}\nsteps: [sync]\n") ==
          "t.yaml:3:15: bad size '16777217TiB': the size does not fit in 64 bits");
  REQUIRE(first_error("name: t\ndisks:\n  sda: {size: 99999999999999999999999}\nsteps: [sync]\n") ==
          "t.yaml:3:15: bad size '99999999999999999999999': the size does not fit in 64 bits");
  REQUIRE(first_error(scenario("  - blkdiscard -o 16777217T /dev/sda\n")) ==
          "t.yaml:6:19: bad size '16777217T': the size does not fit in 64 bits");
  REQUIRE(parse_size("16777216TiB") == std::nullopt);
  REQUIRE(parse_size("16777215TiB") == 16777215ULL << 40);
}

TEST_CASE("disks larger than a content token can address are refused, with the limit") {
  REQUIRE(first_error("name: t\ndisks:\n  sda: {size: 33TiB}\nsteps: [sync]\n") ==
          "t.yaml:3:15: disk size '33TiB' is above dmsim's limit of 32TiB (a content token addresses 2^36 sectors)");
  REQUIRE(first_error("name: t\ndisks:\n  sda: {size: 32TiB}\nsteps: [sync]\n").empty());
}

TEST_CASE("dd operands are non-negative integers, and a block is at most kMaxDdBlockBytes") {
  // A dm device's size is a run-time fact, so only the operands themselves are judged here.
  const std::string create = "  - dmsetup create x --table \"0 2048 linear /dev/sda 0\"\n";
  SECTION("count=-1 (strtoull would read 2^64-1)") {
    REQUIRE(first_error(scenario(create + "  - dd if=/dev/zero of=/dev/mapper/x bs=4k count=-1\n")) ==
            "t.yaml:7:50: bad number '-1' for count=: expected a non-negative integer");
  }
  SECTION("a count beyond 64 bits") {
    REQUIRE(first_error(scenario(create + "  - dd if=/dev/zero of=/dev/mapper/x bs=4k count=18446744073709551616\n")) ==
            "t.yaml:7:50: bad number '18446744073709551616' for count=: the number does not fit in 64 bits");
  }
  SECTION("bs=2T (its sector count wrapped to a 0-sector bio, 'copied' without a write)") {
    REQUIRE(first_error(scenario(create + "  - dd if=/dev/zero of=/dev/mapper/x bs=2T count=1\n")) ==
            "t.yaml:7:41: block size '2T' is above dmsim's maximum of 64MiB (each block is one bio held in memory; "
            "use a smaller bs and a larger count)");
  }
  SECTION("bs=1T (a bio payload of 2^31 sectors)") {
    REQUIRE(first_error(scenario(create + "  - dd if=/dev/zero of=/dev/mapper/x bs=1T count=1\n"))
                .rfind("t.yaml:7:41: block size '1T' is above dmsim's maximum of 64MiB", 0) == 0);
  }
  SECTION("seek*bs beyond 64 bits or beyond the largest device") {
    REQUIRE(
        first_error(scenario(create + "  - dd if=/dev/zero of=/dev/mapper/x bs=64M seek=281474976710656 count=1\n")) ==
        "t.yaml:7:50: dd seeks beyond 32TiB, the largest device dmsim models (seek=281474976710656 blocks of "
        "67108864 bytes)");
    REQUIRE(first_error(scenario(create + "  - dd if=/dev/zero of=/dev/mapper/x bs=1M seek=33554433 count=1\n"))
                .rfind("t.yaml:7:49: dd seeks beyond 32TiB", 0) == 0);
    REQUIRE(
        first_error(scenario(create + "  - dd if=/dev/zero of=/dev/mapper/x bs=1M seek=33554431 count=1\n")).empty());
  }
  SECTION("the largest block is accepted") {
    REQUIRE(first_error(scenario(create + "  - dd if=/dev/zero of=/dev/mapper/x bs=64M count=1\n")).empty());
  }
}

TEST_CASE("sleep takes a finite number of seconds") {
  for (const std::string v : {"nan", "inf", "-inf", "1e400", "-1", "1000001"}) {
    INFO(v);
    REQUIRE(first_error(scenario("  - sleep " + v + "\n")) ==
            "t.yaml:6:11: bad number of seconds '" + v + "': expected a finite number from 0 to 1000000");
  }
  REQUIRE(first_error(scenario("  - sleep 0.25\n")).empty());
}

TEST_CASE("explore counts are positive and bounded") {
  const std::string cut = "  - power-cut\n";
  REQUIRE(first_error(scenario(cut, "explore: {crash-states: random:0}\n")) ==
          "t.yaml:7:25: bad count in crash-states 'random:0': expected N from 1 to 100000");
  REQUIRE(first_error(scenario(cut, "explore: {crash-states: all<=0}\n")) ==
          "t.yaml:7:25: bad count in crash-states 'all<=0': expected N from 1 to 100000");
  REQUIRE(first_error(scenario(cut, "explore: {seeds: 10001}\n")) ==
          "t.yaml:7:18: seeds must be a number from 1 to 10000");
  REQUIRE(first_error(scenario(cut, "explore: {max-crash-points: 0}\n")) ==
          "t.yaml:7:29: max-crash-points must be a number from 1 to 100000");
  REQUIRE(first_error(scenario(cut, "explore: {preempt-rate: .nan}\n")) ==
          "t.yaml:7:25: preempt-rate must be between 0 and 1");
}

TEST_CASE("a key given twice is refused wherever it is, pointing at the second") {
  SECTION("at the top") {
    REQUIRE(first_error("name: t\ndisks: {sda: {size: 1MiB}}\nname: u\nsteps: [sync]\n") ==
            "t.yaml:3:1: duplicate key 'name' (first at line 1, column 1)");
  }
  SECTION("a disk declared twice") {
    REQUIRE(first_error("name: t\ndisks:\n  sda: {size: 1MiB}\n  sda: {size: 2MiB}\nsteps: [sync]\n") ==
            "t.yaml:4:3: duplicate key 'sda' (first at line 3, column 3)");
  }
  SECTION("inside a disk") {
    REQUIRE(first_error("name: t\ndisks:\n  sda: {size: 1MiB, size: 2MiB}\nsteps: [sync]\n") ==
            "t.yaml:3:21: duplicate key 'size' (first at line 3, column 9)");
  }
  SECTION("inside explore, quoted or not") {
    REQUIRE(first_error(scenario("  - power-cut\n", "explore:\n  seeds: 1\n  \"seeds\": 2\n")) ==
            "t.yaml:9:3: duplicate key 'seeds' (first at line 8, column 3)");
  }
}

TEST_CASE("a second YAML document is refused where it starts") {
  REQUIRE(first_error(scenario("  - sync\n", "---\nname: other\n")) ==
          "t.yaml:7:1: a second YAML document starts here; a scenario file holds one document");
  // An explicit start of the only document is fine.
  REQUIRE(first_error("---\n" + scenario("  - sync\n")).empty());
}

TEST_CASE("keys are plain strings, not lists, maps or aliases") {
  REQUIRE(first_error("name: t\n[a, b]: 1\ndisks: {sda: {size: 1MiB}}\nsteps: [sync]\n") ==
          "t.yaml:2:1: a key must be a plain string, not a list");
  REQUIRE(first_error("name: t\n? {a: 1}\n: 1\ndisks: {sda: {size: 1MiB}}\nsteps: [sync]\n") ==
          "t.yaml:2:3: a key must be a plain string, not a map");
  REQUIRE(first_error("name: &n t\n*n : 1\ndisks: {sda: {size: 1MiB}}\nsteps: [sync]\n") ==
          "t.yaml:2:1: a key must be a plain string, not an alias");
}

TEST_CASE("an error message is one line: control characters from the file are escaped") {
  REQUIRE(first_error(scenario("  - \"'fs\\nck' /dev/sda\"\n")) == "t.yaml:6:5: unknown command 'fs\\nck'");
}

TEST_CASE("bounds that depend on a dm device's size now are left to the run") {
  // The create makes x 1 MiB; load + resume may grow it before the dd, so the parser cannot know.
  REQUIRE(first_error(scenario("  - dmsetup create x --table \"0 2048 linear /dev/vg/lv 0\"\n"
                               "  - dd if=/dev/zero of=/dev/mapper/x bs=4k count=1 seek=300\n"
                               "  - blkdiscard -o 2MiB /dev/mapper/x\n"))
              .empty());
  // A disk's end is known, but a step marked '!' wants the run-time failure.
  REQUIRE(first_error(scenario("  - ! dd if=/dev/zero of=/dev/sda bs=4k count=300\n")).empty());
  // util-linux cuts a length that runs past the end: not an error.
  REQUIRE(first_error(scenario("  - blkdiscard -o 4096 -l 4MiB /dev/sda\n")).empty());
}

TEST_CASE("a scenario path that is not a regular file is refused before reading") {
  const std::string dir = "/tmp/dmsim-parser-test-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string fifo = dir + "/pipe.yaml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto error_of = [](const std::string& path) {
    try {
      load_scenario(path);
      return std::string();
    } catch (const ScenarioError& e) {
      return e.errors.at(0);
    }
  };
  // Opening a FIFO for reading blocks until a writer comes: it must not be opened at all.
  REQUIRE(error_of(fifo) == fifo + ":0:0: not a scenario file: a FIFO (a scenario must be a regular file)");
  REQUIRE(error_of(dir) == dir + ":0:0: not a scenario file: a directory (a scenario must be a regular file)");
  REQUIRE(error_of("/dev/null") ==
          "/dev/null:0:0: not a scenario file: a character device (a scenario must be a regular file)");
  REQUIRE(error_of(dir + "/missing.yaml") ==
          dir + "/missing.yaml:0:0: cannot read the file: No such file or directory");
  std::filesystem::remove_all(dir);
}

TEST_CASE("a stray ',' where a document starts is refused, not read as endless empty documents") {
  // yaml-cpp 0.7 reports a new document at the ',' again and again without consuming it.
  REQUIRE(first_error(",\n") == "t.yaml:1:1: unexpected ',' (',' separates the items of a [ ] or { } collection)");
  REQUIRE(first_error("&f,\n&f,") ==
          "t.yaml:1:3: a second YAML document starts here; a scenario file holds one document");
}
