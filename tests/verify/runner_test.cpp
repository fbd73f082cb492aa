#include <set>
#include <sstream>

#include "reports/report_writer.hpp"
#include "tests/verify/verify_test_helpers.hpp"
#include "verify/results.hpp"

using namespace verifytest;
using namespace verify;

namespace {

const char* kMixedWorkload = R"(name: linear-mixed
disks:
  sda: {size: 16MiB, profile: nvme}
steps:
  - dmsetup create lin --table "0 32768 linear /dev/sda 0"
  - dd if=/dev/urandom of=/dev/mapper/lin bs=4k count=6 oflag=direct
  - sync /dev/mapper/lin
  - dd if=/dev/urandom of=/dev/mapper/lin bs=4k count=3 seek=2 oflag=direct
  - dd if=/dev/urandom of=/dev/mapper/lin bs=4k count=2 seek=20 oflag=direct,dsync
  - blkdiscard -o 49152 -l 8192 /dev/mapper/lin
  - dd if=/dev/zero of=/dev/mapper/lin bs=4k count=1 seek=30 oflag=direct
  - power-cut
  - dmsetup create lin --table "0 32768 linear /dev/sda 0"
explore:
  crash-points: every-io
  crash-states: all<=64
)";

std::string cache_scenario(const std::string& crash_states, const std::string& crash_points) {
  return R"(name: cache
disks:
  sda: {size: 16MiB, profile: nvme}
steps:
  - dmsetup create c --table "0 32768 test-writeback-cache /dev/sda 0"
  - dd if=/dev/urandom of=/dev/mapper/c bs=4k count=8 oflag=direct
  - sync /dev/mapper/c
  - power-cut
  - dmsetup create c --table "0 32768 test-writeback-cache /dev/sda 0"
explore: {crash-states: )" +
         crash_states + ", crash-points: " + crash_points + "}\n";
}

}  // namespace

TEST_CASE("linear over a cached disk passes the block-device oracle in every crash state of a mixed workload") {
  const scenarios::Scenario s = scenario(kMixedWorkload);
  UnitResult u = run_exploration(s, 0, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
  REQUIRE(u.crash_points >= 10);
  REQUIRE(u.recoveries >= 50);
}

TEST_CASE("recreating the stack at the wrong offset reads other blocks' data, and the oracle says so") {
  std::string yaml = kMixedWorkload;
  yaml.replace(yaml.rfind("linear /dev/sda 0"), 17, "linear /dev/sda 8");
  UnitResult u = run_exploration(scenario(yaml), 0, {}, {});
  REQUIRE_FALSE(u.passed);
  REQUIRE(has_kind(u, "block-device"));
}

TEST_CASE("a target that ignores flushes fails the oracle in the durable state every crash point recovers") {
  UnitResult u = run_exploration(scenario(cache_scenario("z3", "none")), 0, {"test.cache_ignores_flush"}, {});
  INFO(violations_text(u));
  REQUIRE_FALSE(u.passed);
  REQUIRE(u.recoveries == 1);
  REQUIRE(u.failures.at(0).crash_state == "durable");
  REQUIRE(u.failures.at(0).violations.at(0).kind == "block-device");
  // Z3's model is that same state: confirmed by the recovery that already ran, not run again.
  REQUIRE(u.z3.models == 1);
  REQUIRE(u.z3.unconfirmed == 0);
}

TEST_CASE("Z3 finds a crash state that breaks the oracle when the durable state does not") {
  register_once();
  const auto s =
      scenarios::load_scenario(std::string(DMSIM_SOURCE_DIR) + "/scenarios/selftest/writeback-cache-stale.yaml");
  UnitResult u = run_exploration(s, 0, {"test.cache_stale_writeback"}, {});
  INFO(violations_text(u));
  REQUIRE_FALSE(u.passed);
  REQUIRE(u.crash_points == 1);
  REQUIRE(u.failures.size() == 1);
  REQUIRE(u.failures.at(0).crash_state == "z3 model 1");
  REQUIRE(u.recoveries == 2);  // the durable state (which passes), then Z3's model
}

TEST_CASE("with flushes honoured every crash point recovers its durable state and Z3 rules out the others") {
  UnitResult u = run_exploration(scenario(cache_scenario("z3", "every-flush")), 0, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
  REQUIRE(u.crash_points >= 2);
  REQUIRE(u.recoveries == u.crash_points);
  REQUIRE(u.z3.models == 0);
  REQUIRE(u.z3.ruled_out == u.crash_points);
  REQUIRE(u.verdict.find("Z3 ruled out every other state at " + std::to_string(u.crash_points)) != std::string::npos);
}

TEST_CASE("exhaustive and random crash states find the same cache bug, by more recoveries") {
  for (const char* mode : {"all<=32", "random:8", "prefix", "durable"}) {
    UnitResult u = run_exploration(scenario(cache_scenario(mode, "every-flush")), 0, {"test.cache_ignores_flush"}, {});
    INFO(mode << "\n" << violations_text(u));
    REQUIRE_FALSE(u.passed);
    REQUIRE(has_kind(u, "block-device"));
  }
}

TEST_CASE("a test target that hangs in status while suspended reproduces the table-swap deadlock from YAML") {
  const scenarios::Scenario s = scenario(R"(name: swap
disks:
  vg/data: {size: 1GiB, profile: sata-ssd}
steps:
  - dmsetup create dev --table "0 1048576 test-stall-status /dev/vg/data 0"
  - dmsetup suspend dev
  - dmsetup load dev --table "0 2097152 test-stall-status /dev/vg/data 0"
  - dmsetup status dev &
  - sleep 1
  - dmsetup resume dev
expect: [no-deadlock, no-hung-task]
catalog: {knob: test.status_waits_for_resume, detects: {kind: deadlock, match: "completion stall->resumed"}}
)");
  UnitResult fixed = run_exploration(s, 0, {}, {});
  INFO(violations_text(fixed));
  REQUIRE(fixed.passed);
  UnitResult bug = run_exploration(s, 0, {"test.status_waits_for_resume"}, {});
  INFO(violations_text(bug));
  REQUIRE(has_kind(bug, "deadlock"));
  const std::string& title = bug.failures.at(0).violations.at(0).title;
  REQUIRE(title.find("-> srcu md->io_barrier -> dmsetup:") != std::string::npos);
  REQUIRE(title.find("completion stall->resumed -> mutex md->suspend_lock") != std::string::npos);
  // The catalog unit passes: clean with the knob off, detected as a deadlock with it on.
  UnitResult unit = run_unit(s, 0, {});
  INFO(unit.verdict);
  REQUIRE(unit.passed);
}

TEST_CASE("a failing step is a violation unless it was marked to fail") {
  UnitResult u = run_exploration(scenario(R"(name: s
disks: {sda: {size: 1MiB}}
steps:
  - dmsetup create x --table "0 100 linear /dev/sda 0"
  - ! dmsetup create y --table "0 100 linear /dev/nonexistent 0"
  - dmsetup message x 0 hello
)"),
                                 0, {}, {});
  INFO(violations_text(u));
  REQUIRE_FALSE(u.passed);
  const auto& v = u.failures.at(0).violations;
  REQUIRE(v.size() == 2);  // the message failed, and it logged an error; the '!' step is excused
  REQUIRE(v[0].kind == "errors");
  REQUIRE(v[1].kind == "step-failed");
  REQUIRE(v[1].title ==
          "step 3 failed: dmsetup message x 0 hello: device-mapper: message ioctl on x  failed: Invalid argument");
}

TEST_CASE("a step marked to fail that a power cut cuts off still excuses the errors it caused") {
  // The write's chunk copy cannot be written to the COW device: the snapshot is invalidated (a
  // DMERR) at 8 ms while the write waits to be re-driven; the power goes at 10 ms.
  UnitResult u = run_exploration(scenario(R"(name: s
disks:
  sda: {size: 16MiB, profile: hdd}
steps:
  - dmsetup create badcow --table "0 8192 error"
  - dmsetup create origin --table "0 32768 snapshot-origin /dev/sda"
  - dmsetup suspend origin
  - dmsetup create snap --table "0 32768 snapshot /dev/sda /dev/mapper/badcow N 8"
  - dmsetup resume origin
  - ! dd if=/dev/urandom of=/dev/mapper/origin bs=4k count=1 seek=2 oflag=direct &
  - sleep 0.01
  - power-cut
  - dmsetup create origin --table "0 32768 snapshot-origin /dev/sda"
expect: [no-errors]
)"),
                                 0, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
}

TEST_CASE("the same seed gives byte-identical JSON results, explored seeds included") {
  const scenarios::Scenario s = scenario(cache_scenario("random:4", "every-io"));
  for (uint64_t seed : {0, 3}) {
    const std::string a = results_to_json({run_unit(s, seed, {})});
    const std::string b = results_to_json({run_unit(s, seed, {})});
    REQUIRE(a == b);
    REQUIRE(results_to_json(results_from_json(a, "a.json")) == a);
  }
}

TEST_CASE("the shards of a check together cover every unit exactly once") {
  std::vector<scenarios::Scenario> all;
  for (int seeds : {3, 1, 5, 2}) {
    auto s = scenario(cache_scenario("durable", "none"));
    s.explore.seeds = static_cast<uint64_t>(seeds);
    s.file = "s" + std::to_string(all.size());
    all.push_back(s);
  }
  for (long n : {1, 2, 3, 4, 7, 20}) {
    std::multiset<std::pair<size_t, uint64_t>> seen;
    for (long k = 1; k <= n; k++)
      for (const auto& u : plan_units(all, k, n)) seen.insert({u.scenario, u.seed});
    INFO(n << " shards");
    REQUIRE(seen.size() == 11);
    REQUIRE(std::set<std::pair<size_t, uint64_t>>(seen.begin(), seen.end()).size() == 11);
  }
}

namespace {
// A small XML checker: well-formed nesting, and the attributes CI systems read.
bool junit_shape(const std::string& x, std::string* why) {
  std::vector<std::string> stack;
  size_t i = x.find("?>");
  if (x.rfind("<?xml", 0) != 0 || i == std::string::npos) return (*why = "no XML declaration"), false;
  int testcases = 0, failures = 0;
  while ((i = x.find('<', i)) != std::string::npos) {
    const size_t end = x.find('>', i);
    if (end == std::string::npos) return (*why = "unterminated tag"), false;
    std::string tag = x.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return (*why = "mismatched </" + tag.substr(1) + ">"), false;
      stack.pop_back();
      continue;
    }
    const bool self = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" /"));
    if (name == "testsuites" && !stack.empty()) return (*why = "testsuites not at the root"), false;
    if (name == "testsuite" && (stack.empty() || stack.back() != "testsuites"))
      return (*why = "testsuite outside testsuites"), false;
    if (name == "testcase") {
      testcases++;
      if (stack.empty() || stack.back() != "testsuite") return (*why = "testcase outside testsuite"), false;
      if (tag.find("name=\"") == std::string::npos || tag.find("classname=\"") == std::string::npos)
        return (*why = "testcase without name or classname"), false;
    }
    if (name == "failure") {
      failures++;
      if (stack.empty() || stack.back() != "testcase") return (*why = "failure outside testcase"), false;
      if (tag.find("message=\"") == std::string::npos) return (*why = "failure without message"), false;
    }
    if (!self) stack.push_back(name);
  }
  if (!stack.empty()) return (*why = "unclosed <" + stack.back() + ">"), false;
  if (x.find("tests=\"" + std::to_string(testcases) + "\"") == std::string::npos)
    return (*why = "tests count wrong"), false;
  if (x.find("failures=\"" + std::to_string(failures) + "\"") == std::string::npos)
    return (*why = "failures count wrong"), false;
  return true;
}
}  // namespace

TEST_CASE("JUnit output has the shape CI systems read") {
  const scenarios::Scenario s = scenario(cache_scenario("durable", "none"));
  std::vector<UnitResult> units = {run_exploration(s, 0, {}, {}),
                                   run_exploration(s, 0, {"test.cache_ignores_flush"}, {})};
  REQUIRE(units[0].passed);
  REQUIRE_FALSE(units[1].passed);
  units[1].verdict += " <&\"'>";  // must be escaped
  const std::string x = reports::junit_xml(units, 1.5);
  std::string why;
  INFO(x);
  REQUIRE(junit_shape(x, &why));
  INFO(why);
}

TEST_CASE("a report names the verdict, the exact replay command, the lost writes and the failing blocks") {
  const scenarios::Scenario s = scenario(cache_scenario("durable", "none"));
  UnitResult u = run_exploration(s, 0, {"test.cache_ignores_flush"}, {});
  REQUIRE_FALSE(u.failures.empty());
  const std::string md = reports::markdown_report(u, u.failures[0], &s);
  for (const char* part :
       {"**Verdict:** FAIL",
        "dmsim run inline.yaml --seed 0 --knob test.cache_ignores_flush --crash-point 0 --crash-choice", "## Crash",
        "/dev/mapper/c sector 0: found initial(disk 1, sector 0), expected write#", "## Transcript",
        "$ sync /dev/mapper/c"})
    REQUIRE(md.find(part) != std::string::npos);
}

TEST_CASE("a background step keeps its output while later steps start and finish") {
  // Steps are recorded as they start; a background dd outlives many foreground steps.
  std::string steps =
      "  - dmsetup create d --table \"0 32768 delay /dev/sda 0 50\"\n"
      "  - dd if=/dev/urandom of=/dev/mapper/d bs=4k count=2 oflag=direct &\n";
  for (int i = 0; i < 40; i++) steps += "  - dmsetup status d\n";
  steps += "  - wait\n";
  const UnitResult u =
      run_unit(scenario("name: bg\ndisks:\n  sda: {size: 16MiB, profile: nvme}\nsteps:\n" + steps), 0, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
}
