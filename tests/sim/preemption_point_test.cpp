// Preemption points are one list: the enum, the names scenarios use and the trace's words.
#include "sim/preemption_point.hpp"

#include <catch2/catch.hpp>

#include "sim/runtime.hpp"
#include "tests/sim/sim_test_helpers.hpp"

using namespace sim;

TEST_CASE("every preemption point's name finds that point again, and no other name finds one") {
  const auto& names = preemption_point_names();
  REQUIRE(names.size() == kPreemptionPoints);
  for (size_t i = 0; i < names.size(); i++) {
    const auto p = find_preemption_point(names[i]);
    REQUIRE(p.has_value());
    CHECK(static_cast<size_t>(*p) == i);
    CHECK(names[i] == preemption_point_name(*p));
  }
  CHECK_FALSE(find_preemption_point("mutex_lock_nested").has_value());
  CHECK_FALSE(find_preemption_point("").has_value());
}

TEST_CASE("a runtime refuses a preempt_only list naming no preemption point") {
  SimConfig cfg;
  cfg.preempt_only = {"mutex_lock", "not_a_point"};
  CHECK_THROWS_WITH(Runtime(cfg), Catch::Contains("not_a_point"));
}
