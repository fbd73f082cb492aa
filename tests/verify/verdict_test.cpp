// What a verdict must rest on: every crash point recovers a real state, a step that never
// finished fails whatever `expect:` says, catalog entries are detected by their own finding,
// and steps can assert what a command prints.
#include <filesystem>
#include <fstream>

#include "reports/report_writer.hpp"
#include "tests/verify/verify_test_helpers.hpp"
#include "verify/results.hpp"

using namespace verifytest;
using namespace verify;

namespace {

// A linear device over one disk, written and synced, cut, then the given recovery steps.
std::string crash_then(const std::string& recovery, const std::string& extra) {
  return "name: t\ndisks:\n  sda: {size: 16MiB, profile: nvme}\nsteps:\n"
         "  - dmsetup create lin --table \"0 32768 linear /dev/sda 0\"\n"
         "  - dd if=/dev/urandom of=/dev/mapper/lin bs=4k count=2 oflag=direct\n"
         "  - sync /dev/mapper/lin\n"
         "  - power-cut\n" +
         recovery + extra;
}

// The test target that waits in status for its own resume (the table-swap hang's shape).
std::string stalled_resume(const std::string& extra) {
  return "name: stall\ndisks:\n  vg/data: {size: 1GiB, profile: sata-ssd}\nsteps:\n"
         "  - dmsetup create dev --table \"0 1048576 test-stall-status /dev/vg/data 0\"\n"
         "  - dmsetup suspend dev\n"
         "  - dmsetup load dev --table \"0 2097152 test-stall-status /dev/vg/data 0\"\n"
         "  - dmsetup status dev &\n"
         "  - sleep 1\n"
         "  - dmsetup resume dev\n" +
         extra;
}

const Violation* find_kind(const UnitResult& u, const std::string& kind) {
  for (const auto& e : u.failures)
    for (const auto& v : e.violations)
      if (v.kind == kind) return &v;
  return nullptr;
}

bool has_violation(const UnitResult& u, const std::string& kind, const std::string& title) {
  for (const auto& e : u.failures)
    for (const auto& v : e.violations)
      if (v.kind == kind && v.title == title) return true;
  return false;
}

std::string status_steps(const std::string& status_step) {
  return "name: out\ndisks:\n  sda: {size: 16MiB}\nsteps:\n"
         "  - dmsetup create lin --table \"0 32768 linear /dev/sda 0\"\n" +
         status_step;
}

}  // namespace

TEST_CASE("in Z3 mode a recovery whose own steps fail is run and fails, though no crash state could lose data") {
  // Everything was synced, so Z3 proves no crash state breaks an obligation; the recovery
  // must still run, and its steps fail.
  const std::string recovery =
      "  - dmsetup create lin --table \"0 32768 linear /dev/nosuchdisk 0\"\n"
      "  - dmsetup message lin 0 hello\n";
  UnitResult u = run_exploration(scenario(crash_then(recovery, "explore: {crash-states: z3}\n")), 0, {}, {});
  INFO(violations_text(u));
  REQUIRE_FALSE(u.passed);
  REQUIRE(u.recoveries == 1);
  REQUIRE(u.failures.at(0).crash_state == "durable");
  REQUIRE(has_kind(u, "step-failed"));
  REQUIRE(u.z3.ruled_out == 1);
}

TEST_CASE("results and reports say how many crash states were recovered and how many points Z3 ruled out") {
  const std::string recovery = "  - dmsetup create lin --table \"0 32768 linear /dev/sda 0\"\n";
  UnitResult u = run_exploration(
      scenario(crash_then(recovery, "explore: {crash-states: z3, crash-points: every-flush}\n")), 0, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
  REQUIRE(u.recoveries == u.crash_points);
  REQUIRE(u.z3.ruled_out == u.crash_points);
  const std::string json = results_to_json({u});
  REQUIRE(json.find("\"recoveries\": " + std::to_string(u.recoveries)) != std::string::npos);
  REQUIRE(json.find("\"ruled_out\": " + std::to_string(u.z3.ruled_out)) != std::string::npos);
  const UnitResult back = results_from_json(json, "x.json").at(0);
  REQUIRE(back.z3.ruled_out == u.z3.ruled_out);
  REQUIRE(back.z3.models == u.z3.models);
}

TEST_CASE("a step that never finishes fails the run even when expect leaves out the detector that fired") {
  UnitResult u =
      run_exploration(scenario(stalled_resume("expect: [no-errors]\n")), 0, {"test.status_waits_for_resume"}, {});
  INFO(violations_text(u));
  REQUIRE_FALSE(u.passed);
  REQUIRE(has_violation(u, "step-unfinished", "step 6 `dmsetup resume dev` never finished"));
  REQUIRE(has_violation(u, "step-unfinished", "step 4 `dmsetup status dev &` never finished"));
  // The hang's detectors judge the run too: expect may narrow only the result checks.
  REQUIRE(has_kind(u, "deadlock"));
}

TEST_CASE("expect can leave out a result check but not a detector") {
  // A write that the recovery never reads back through the device it wrote: the oracle would
  // fail it, and expect leaves the oracle out; the unfinished step still counts.
  const std::string recovery = "  - dmsetup create other --table \"0 32768 linear /dev/sda 0\"\n";
  UnitResult u = run_exploration(scenario(crash_then(recovery, "expect: [no-errors]\n")), 0, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
  UnitResult judged = run_exploration(scenario(crash_then(recovery, "")), 0, {}, {});
  REQUIRE_FALSE(judged.passed);
  REQUIRE(has_kind(judged, "block-device"));
}

TEST_CASE("a catalog entry is detected only by a finding that matches its expression") {
  const std::string other = R"(catalog:
  knob: test.status_waits_for_resume
  detects: {kind: deadlock, match: "a cycle through some other lock"}
)";
  UnitResult u = run_unit(scenario(stalled_resume(other)), 0, {});
  INFO(u.verdict);
  REQUIRE_FALSE(u.passed);
  REQUIRE(u.verdict.find("was not detected as deadlock matching /a cycle through some other lock/") !=
          std::string::npos);
  const std::string own = R"(catalog:
  knob: test.status_waits_for_resume
  detects: {kind: deadlock, match: "completion stall->resumed -> mutex md->suspend_lock"}
)";
  UnitResult ok = run_unit(scenario(stalled_resume(own)), 0, {});
  INFO(ok.verdict);
  REQUIRE(ok.passed);
}

TEST_CASE("a step's output is judged against its regular expression over the whole output") {
  const std::string good = status_steps("  - run: dmsetup status lin\n    output: '^0 32768 linear $'\n");
  UnitResult ok = run_exploration(scenario(good), 0, {}, {});
  INFO(violations_text(ok));
  REQUIRE(ok.passed);
  // A regular expression that matches only part of the output does not pass.
  const std::string partial = status_steps("  - run: dmsetup status lin\n    output: '0 32768'\n");
  UnitResult bad = run_exploration(scenario(partial), 0, {}, {});
  INFO(violations_text(bad));
  const Violation* v = find_kind(bad, "step-output");
  REQUIRE(v);
  REQUIRE(v->title == "step 2 `dmsetup status lin` printed other output than expected");
  REQUIRE(v->detail == "expected (output: '0 32768'):\n0 32768\nactual:\n0 32768 linear \n");
}

TEST_CASE("a step's error output is judged too, for steps that must fail") {
  const std::string s = status_steps(
      "  - run: '! dmsetup message lin 0 hello'\n"
      "    error: 'device-mapper: message ioctl on lin  failed: .*'\n");
  UnitResult ok = run_exploration(scenario(s), 0, {}, {});
  INFO(violations_text(ok));
  REQUIRE(ok.passed);
  const std::string wrong = status_steps(
      "  - run: '! dmsetup message lin 0 hello'\n"
      "    error: 'No such device'\n");
  UnitResult bad = run_exploration(scenario(wrong), 0, {}, {});
  REQUIRE(find_kind(bad, "step-output"));
}

TEST_CASE("output-file compares the exact text, relative to the scenario file") {
  const auto dir = std::filesystem::temp_directory_path() / "dmsim-output-file-test";
  std::filesystem::create_directories(dir / "expected");
  std::ofstream(dir / "expected" / "table.txt") << "0 32768 linear 8:0 0\n";
  std::ofstream(dir / "s.yaml") << status_steps("  - run: dmsetup table lin\n    output-file: expected/table.txt\n");
  register_once();
  const scenarios::Scenario s = scenarios::load_scenario((dir / "s.yaml").string());
  UnitResult u = run_exploration(s, 0, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
  std::ofstream(dir / "expected" / "table.txt") << "0 32768 linear 8:0 1\n";
  UnitResult wrong = run_exploration(scenarios::load_scenario((dir / "s.yaml").string()), 0, {}, {});
  const Violation* v = find_kind(wrong, "step-output");
  REQUIRE(v);
  REQUIRE(v->detail ==
          "expected (output-file: expected/table.txt):\n0 32768 linear 8:0 1\nactual:\n0 32768 linear 8:0 0\n");
  std::filesystem::remove_all(dir);
}

namespace {

// Writes that may all be lost (nothing synced), then a recovery that builds the stack anew.
std::string unsynced_then(const std::string& recovery) {
  return "name: t\ndisks:\n  sda: {size: 16MiB, profile: nvme}\n  sdb: {size: 16MiB, profile: nvme}\nsteps:\n"
         "  - dmsetup create lin --table \"0 16384 linear /dev/sda 0\"\n"
         "  - dd if=/dev/urandom of=/dev/mapper/lin bs=4k count=2 oflag=direct\n"
         "  - power-cut\n" +
         recovery;
}

}  // namespace

TEST_CASE("a lost write must read what its own place held: a recovery mapped elsewhere fails the oracle") {
  const std::string same = "  - dmsetup create lin --table \"0 16384 linear /dev/sda 0\"\n";
  UnitResult ok = run_exploration(scenario(unsynced_then(same)), 0, {}, {});
  INFO(violations_text(ok));
  REQUIRE(ok.passed);
  for (const char* wrong : {"  - dmsetup create lin --table \"0 16384 linear /dev/sda 8\"\n",
                            "  - dmsetup create lin --table \"0 16384 linear /dev/sdb 0\"\n",
                            "  - dmsetup create lin --table \"0 16384 zero\"\n"}) {
    UnitResult u = run_exploration(scenario(unsynced_then(wrong)), 0, {}, {});
    INFO(wrong << violations_text(u));
    REQUIRE(has_kind(u, "block-device"));
  }
}

TEST_CASE("a target's superblock over sectors a dd wiped earlier is a later write, not a lost one") {
  // dmtest style: wipe the start of the metadata device, then let era format it.
  const std::string yaml = R"(name: wipe
disks:
  meta: {size: 4MiB, profile: nvme}
  data: {size: 64MiB, profile: nvme}
steps:
  - dd if=/dev/zero of=/dev/meta bs=4k count=1 oflag=direct,dsync
  - dmsetup create eradev --table "0 8192 era /dev/meta /dev/data 128"
  - dd if=/dev/urandom of=/dev/mapper/eradev bs=4k count=1 oflag=direct
  - sync /dev/mapper/eradev
  - power-cut
  - dmsetup create eradev --table "0 8192 era /dev/meta /dev/data 128"
)";
  UnitResult u = run_exploration(scenario(yaml), 0, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
}

TEST_CASE("a run the harness kills on the wall clock is a harness timeout, never a verdict about the engine") {
  const std::string recovery = "  - dmsetup create lin --table \"0 32768 linear /dev/sda 0\"\n";
  RunOptions opt;
  opt.wall_timeout_s = 0.0001;  // no simulation can finish in time
  UnitResult u = run_exploration(scenario(crash_then(recovery, "")), 0, {}, opt);
  INFO(violations_text(u));
  REQUIRE(u.harness_timeout);
  REQUIRE_FALSE(u.passed);
  REQUIRE(u.verdict.rfind("TIMEOUT:", 0) == 0);
  REQUIRE(has_kind(u, "harness-timeout"));
  const std::string junit = reports::junit_xml({u}, 1.0);
  REQUIRE(junit.find("<error message=\"TIMEOUT:") != std::string::npos);
  REQUIRE(junit.find("failures=\"0\" errors=\"1\"") != std::string::npos);
}
