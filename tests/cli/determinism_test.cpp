// Same scenario, same seed, same binary: the same bytes, compared across separate processes
// (exec, not fork, so heap addresses and the process id differ between the runs).
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "sim/simulation.hpp"
#include "tests/cli/cli_test_helpers.hpp"

using namespace clitest;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An era stack with racing writes and checkpoints, a power cut and random crash states, run
// with the leak knob on so that leak reports are part of what must be identical.
const char* kEraRace = R"(name: det
disks:
  meta: {size: 4MiB, profile: sata-ssd, initial: zero}
  data: {size: 64MiB, profile: sata-ssd}
steps:
  - dmsetup create eradev --table "0 8192 era /dev/meta /dev/data 128"
  - dd if=/dev/urandom of=/dev/mapper/eradev bs=4k count=4 oflag=direct &
  - dmsetup message eradev 0 checkpoint
  - dd if=/dev/urandom of=/dev/mapper/eradev bs=4k count=2 seek=300 oflag=direct
  - wait
  - dmsetup remove eradev
  - dmsetup create eradev --table "0 8192 era /dev/meta /dev/data 128"
  - dd if=/dev/urandom of=/dev/mapper/eradev bs=4k count=1 seek=17 oflag=direct
  - power-cut
  - dmsetup create eradev --table "0 8192 era /dev/meta /dev/data 128"
explore: {crash-points: every-flush, crash-states: random:2, max-crash-points: 6, preempt-rate: 0.4}
)";

}  // namespace

TEST_CASE("two processes running the same scenario and seed write byte-identical results, traces and reports") {
  TempDir dir("determinism");
  const std::string file = dir.write("det.yaml", kEraRace);
  std::string json[2], trace[2], report[2], html[2], out[2];
  for (int i = 0; i < 2; i++) {
    const std::string n = std::to_string(i);
    const Ran r =
        run_dmsim({"run", file, "--seed", "5", "--knob", "era.leak_writesets", "--json", dir.path + "/r" + n + ".json",
                   "--trace", dir.path + "/t" + n + ".txt", "--report", dir.path + "/rep" + n},
                  120);
    INFO(r.err);
    REQUIRE(r.code == 1);  // the leak knob is found
    json[i] = slurp(dir.path + "/r" + n + ".json");
    trace[i] = slurp(dir.path + "/t" + n + ".txt");
    report[i] = slurp(dir.path + "/rep" + n + "/det-seed5-1/report.md");
    html[i] = slurp(dir.path + "/rep" + n + "/det-seed5-1/report.html");
    out[i] = r.out;
  }
  REQUIRE(json[0].find("kmemleak") != std::string::npos);
  REQUIRE(trace[0].size() > 1000);
  REQUIRE(json[0] == json[1]);
  REQUIRE(trace[0] == trace[1]);
  REQUIRE_FALSE(report[0].empty());
  REQUIRE(report[0] == report[1]);
  REQUIRE(html[0].find("id=\"timeline-svg\"") != std::string::npos);
  REQUIRE(html[0] == html[1]);
  // stdout differs only in the report folder each run was given.
  const size_t at = out[1].find("/rep1/");
  REQUIRE(at != std::string::npos);
  REQUIRE(out[0] == out[1].replace(at, 6, "/rep0/"));
}

TEST_CASE("what a dying simulation printed carries no absolute paths, process ids or heap addresses") {
  const std::string text =
      "dmsim_tests: /home/ci/build/dmsim/verify/phase.cpp:123: void f(): Assertion `x' failed.\n"
      "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010\n"
      "    #0 0x55d1c0ffee00 in g /work/main/engines/era/era_target.cpp:77\n";
  REQUIRE(sim::reproducible_text(text) ==
          "dmsim_tests: verify/phase.cpp:123: void f(): Assertion `x' failed.\n"
          "==PID==ERROR: AddressSanitizer: heap-use-after-free on address 0x(address)\n"
          "    #0 0x(address) in g engines/era/era_target.cpp:77\n");
}
