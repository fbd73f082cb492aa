// The limits every parsed scenario keeps (limits_problem), which parse_scenario asserts of its
// result: the corpus and the language's own examples keep them, and each limit names what breaks it.
#include <cmath>
#include <filesystem>

#include "tests/language/scenario_test_helpers.hpp"

using namespace scenarios;

namespace {

// One disk and one step, both within every limit.
Scenario within_limits() {
  Scenario s;
  s.disks.push_back(DiskSpec{});
  s.disks[0].name = "sda";
  s.disks[0].bytes = 4096;
  Step sync;
  sync.line = sync.column = 1;
  sync.cmd.kind = CmdKind::Sync;
  sync.cmd.text = "sync";
  s.steps.push_back(sync);
  return s;
}

}  // namespace

TEST_CASE("every scenario of the corpus keeps the limits") {
  scenariotest::register_once();
  size_t parsed = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(DMSIM_SOURCE_DIR) + "/scenarios")) {
    if (e.path().extension() != ".yaml") continue;
    INFO(e.path());
    try {
      REQUIRE(limits_problem(load_scenario(e.path().string())) == "");
      parsed++;
    } catch (const ScenarioError&) {
      // A scenario meant to be refused says nothing about the limits.
    }
  }
  REQUIRE(parsed >= 10);
}

TEST_CASE("a scenario within the limits has no limits problem") {
  REQUIRE(limits_problem(within_limits()) == "");
  REQUIRE(limits_problem(scenarios::parse_scenario(scenariotest::scenario("- sleep 1"), "t.yaml")) == "");
}

TEST_CASE("each limit a scenario breaks is named") {
  Scenario s = within_limits();
  s.disks[0].bytes = kMaxDeviceBytes + 4096;
  REQUIRE(limits_problem(s) == "disk sda has " + std::to_string(kMaxDeviceBytes + 4096) + " bytes");

  s = within_limits();
  s.steps[0].line = 0;
  REQUIRE(limits_problem(s) == "a step without a position: sync");

  s = within_limits();
  s.steps[0].cmd.kind = CmdKind::Sleep;
  s.steps[0].cmd.seconds = std::nan("");
  REQUIRE(limits_problem(s) == "sleep beyond the limits: sync");

  s = within_limits();
  s.steps[0].cmd.kind = CmdKind::Dd;
  s.steps[0].cmd.bs = 2ULL << 40;
  REQUIRE(limits_problem(s) == "dd beyond the limits: sync");

  s = within_limits();
  s.steps[0].cmd.kind = CmdKind::Blkdiscard;
  s.steps[0].cmd.offset = 100;
  REQUIRE(limits_problem(s) == "blkdiscard beyond the limits: sync");

  s = within_limits();
  s.explore.seeds = 0;
  REQUIRE(limits_problem(s) == "seeds 0");

  s = within_limits();
  s.explore.crash_states = CrashStateMode::Random;
  REQUIRE(limits_problem(s) == "crash-state count 0");

  s = within_limits();
  s.explore.max_crash_points = kMaxCrashPoints + 1;
  REQUIRE(limits_problem(s) == "max-crash-points " + std::to_string(kMaxCrashPoints + 1));

  s = within_limits();
  s.explore.preempt_rate = std::nan("");
  REQUIRE(limits_problem(s).rfind("preempt-rate ", 0) == 0);

  s = within_limits();
  s.catalog = Catalog{"era.status_in_worker", "deadlock", ""};
  REQUIRE(limits_problem(s) == "catalog without a match");
}
