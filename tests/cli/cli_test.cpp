#include "cli/cli.hpp"

#include <catch2/catch.hpp>

#include "language/scenario.hpp"
#include "tests/cli/cli_test_helpers.hpp"

using namespace clitest;

namespace {

// Two crash points (the dd's write and the sync's flush), one crash-state variable each at most.
const char* kCrashScenario = R"(name: cli-crash
disks:
  sda: {size: 1MiB, profile: nvme}
steps:
  - dd if=/dev/urandom of=/dev/sda bs=4k count=1 oflag=direct
  - sync /dev/sda
  - power-cut
  - blockdev --getsz /dev/sda
explore: {crash-points: every-io}
)";

const char* kPlainScenario = R"(name: cli-plain
disks:
  sda: {size: 1MiB}
steps:
  - dd if=/dev/zero of=/dev/sda bs=4k count=1
)";

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("dmsim run on a FIFO exits 2 at once, naming it, instead of blocking on the open") {
  TempDir dir("cli-fifo");
  const std::string fifo = dir.fifo("pipe.yaml");
  const Ran r = run_dmsim({"run", fifo}, 20);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.code == 2);
  REQUIRE(contains(r.err, fifo + ":0:0: not a scenario file: a FIFO"));
}

TEST_CASE("dmsim run on a directory exits 2 naming it") {
  TempDir dir("cli-dir");
  const Ran r = run_dmsim({"run", dir.path}, 20);
  REQUIRE(r.code == 2);
  REQUIRE(contains(r.err, dir.path + ":0:0: not a scenario file: a directory"));
}

TEST_CASE("dmsim check refuses a FIFO among a directory's scenario files, by name, and runs nothing") {
  TempDir dir("cli-check-fifo");
  dir.write("good.yaml", kPlainScenario);
  const std::string fifo = dir.fifo("pipe.yaml");
  const Ran r = run_dmsim({"check", dir.path}, 30);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.code == 2);
  REQUIRE(contains(r.err, "pipe.yaml:0:0: not a scenario file: a FIFO"));
  REQUIRE(contains(r.err, "nothing was run"));
}

TEST_CASE("a bad scenario file exits 2 with FILE:LINE:COL") {
  TempDir dir("cli-bad");
  const std::string f = dir.write("dup.yaml", std::string(kPlainScenario) + "name: again\n");
  const Ran r = run_dmsim({"run", f}, 20);
  REQUIRE(r.code == 2);
  REQUIRE(contains(r.err, f + ":6:1: duplicate key 'name' (first at line 1, column 1)"));
}

TEST_CASE("dmsim run --trace to a path that cannot be written exits 2 before anything runs") {
  TempDir dir("cli-trace");
  const std::string f = dir.write("s.yaml", kPlainScenario);
  const std::string blocker = dir.write("not-a-dir", "");
  const Ran r = run_dmsim({"run", f, "--trace", blocker + "/trace.txt"}, 20);
  INFO(r.err);
  REQUIRE(r.code == 2);
  REQUIRE(contains(r.err, "dmsim: cannot write --trace " + blocker + "/trace.txt"));
  REQUIRE(r.out.empty());  // no verdict: the scenario did not run
  // A writable path gets the trace.
  const Ran ok = run_dmsim({"run", f, "--trace", dir.path + "/trace.txt"}, 60);
  REQUIRE(ok.code == 0);
  REQUIRE(std::filesystem::file_size(dir.path + "/trace.txt") > 0);
}

TEST_CASE("dmsim run --crash-point beyond the scenario's crash points exits 2 and says how many there are") {
  TempDir dir("cli-point");
  const std::string f = dir.write("s.yaml", kCrashScenario);
  const Ran r = run_dmsim({"run", f, "--crash-point", "999"}, 60);
  INFO(r.out + r.err);
  REQUIRE(r.code == 2);
  REQUIRE(contains(r.err,
                   "dmsim: --crash-point 999 is out of range: with seed 0 the scenario has 2 crash point(s) "
                   "(0 to 1)"));
  const Ran ok = run_dmsim({"run", f, "--crash-point", "1"}, 60);
  INFO(ok.out + ok.err);
  REQUIRE(ok.code == 0);
  REQUIRE(contains(ok.out, "pass: 1 exploration(s)"));
}

TEST_CASE("dmsim run --crash-choice that is not hex, has the wrong length or comes without --crash-point exits 2") {
  TempDir dir("cli-choice");
  const std::string f = dir.write("s.yaml", kCrashScenario);
  Ran r = run_dmsim({"run", f, "--crash-point", "0", "--crash-choice", "xyz"}, 60);
  REQUIRE(r.code == 2);
  REQUIRE(contains(r.err, "--crash-choice must be lowercase hexadecimal, got 'xyz'"));
  r = run_dmsim({"run", f, "--crash-point", "0", "--crash-choice", "00000000"}, 60);
  INFO(r.err);
  REQUIRE(r.code == 2);
  REQUIRE(contains(r.err, "--crash-choice 00000000 does not fit crash point 0: expected "));
  r = run_dmsim({"run", f, "--crash-choice", "0"}, 60);
  REQUIRE(r.code == 2);
  REQUIRE(contains(r.err, "--crash-choice needs --crash-point"));
}

TEST_CASE("exceptions map to exit codes: bad usage and bad input 2, anything else an internal error 3") {
  using namespace dmsim::cli;
  REQUIRE(run_guarded([]() -> int { throw UsageError("bad option", "hint"); }) == kExitUsage);
  REQUIRE(run_guarded([]() -> int { throw scenarios::ScenarioError({"f.yaml:1:1: bad"}); }) == kExitUsage);
  REQUIRE(run_guarded([]() -> int { throw std::logic_error("an invariant broke"); }) == kExitInternal);
  REQUIRE(run_guarded([]() -> int { throw std::runtime_error("not a phase output"); }) == kExitInternal);
  REQUIRE(run_guarded([]() -> int { throw 42; }) == kExitInternal);
  REQUIRE(run_guarded([] { return kExitViolation; }) == kExitViolation);
  REQUIRE(kExitInternal == 3);
}

TEST_CASE("the usage text documents every exit code") {
  const Ran r = run_dmsim({"--help"}, 20);
  REQUIRE(r.code == 0);
  REQUIRE(contains(r.out,
                   "exit codes: 0 ok, 1 a check failed or a violation was found, 2 bad usage or bad input,\n"
                   "            3 internal error"));
}

TEST_CASE("dmsim bench fuzz-parser runs a seeded campaign in child processes and reports it") {
  TempDir dir("cli-fuzz");
  const Ran r = run_dmsim({"bench", "fuzz-parser", "--execs", "1500", "--seed", "7", "--json", "--corpus",
                           std::string(DMSIM_SOURCE_DIR) + "/scenarios", "--findings", dir.path},
                          120);
  INFO(r.out + r.err);
  REQUIRE(r.code == 0);
  REQUIRE(contains(r.out, "\"benchmark\": \"fuzz-parser\", \"seed\": 7"));
  REQUIRE(contains(r.out, "\"executions\": 1500,"));
  REQUIRE(contains(r.out, "\"findings\": []"));
}

TEST_CASE("dmsim explore refuses a missing or unknown engine and a bad budget before anything runs") {
  auto r = clitest::run_dmsim({"explore"});
  CHECK(r.code == 2);
  CHECK(r.err.find("explore needs --engine") != std::string::npos);
  r = clitest::run_dmsim({"explore", "--engine", "linear"});
  CHECK(r.code == 2);
  CHECK(r.err.find("no grammar for engine 'linear'") != std::string::npos);
  r = clitest::run_dmsim({"explore", "--engine", "era", "--budget", "ten"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--budget must be a positive duration") != std::string::npos);
  r = clitest::run_dmsim({"explore", "--engine", "era", "--budget", "1m", "--runs", "3"});
  CHECK(r.code == 2);
}

TEST_CASE("dmsim shrink of a scenario that passes exits 1 and writes nothing") {
  const std::string out = "/tmp/dmsim-cli-shrink-" + std::to_string(::getpid()) + ".yaml";
  const auto r = clitest::run_dmsim(
      {"shrink", std::string(DMSIM_SOURCE_DIR) + "/scenarios/era/properties/basic-tracking.yaml", "--out", out}, 120);
  CHECK(r.code == 1);
  CHECK(r.out.find("passes: nothing to shrink") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(out));
}

TEST_CASE("dmsim explore exits 1 on a finding and leaves the scenario with its shrunk form and HTML reports") {
  const std::string dir = "/tmp/dmsim-cli-explore-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  const auto r = clitest::run_dmsim(
      {"explore", "--engine", "era", "--knob", "era.leak_writesets", "--runs", "4", "--stop-at-first", "--out", dir},
      120);
  CHECK(r.code == 1);
  CHECK(r.out.find("1 distinct failure(s)") != std::string::npos);
  CHECK(r.out.find("shrunk: " + dir + "/shrunk/") != std::string::npos);
  CHECK(std::filesystem::exists(dir + "/reports/index.html"));
  size_t html = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) html += e.path().filename() == "report.html";
  CHECK(html >= 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("dmsim shrink replays a named crash state and refuses one the scenario does not have") {
  const std::string file = std::string(DMSIM_SOURCE_DIR) + "/scenarios/era/catalog/writeset-recovery.yaml";
  const std::string out = "/tmp/dmsim-cli-shrink-crash-" + std::to_string(::getpid()) + ".yaml";
  auto r = clitest::run_dmsim({"shrink", file, "--knob", "era.no_writeset_recovery", "--crash-point", "99",
                               "--crash-choice", "0", "--out", out},
                              120);
  CHECK(r.code == 2);
  CHECK(r.err.find("crash point") != std::string::npos);
  r = clitest::run_dmsim({"shrink", file, "--knob", "era.no_writeset_recovery", "--crash-choice", "0"});
  CHECK(r.code == 2);
  r = clitest::run_dmsim(
      {"shrink", file, "--knob", "era.no_writeset_recovery", "--crash-point", "0", "--crash-choice", "0", "--out", out},
      120);
  CHECK(r.code == 0);
  CHECK(r.out.find("reproduces [era-written-since]") != std::string::npos);
  CHECK(r.out.find("--crash-point 0 --crash-choice") != std::string::npos);
  std::filesystem::remove(out);
}
