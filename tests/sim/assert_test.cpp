// The harness's own invariants stop the process with a message naming the place and the
// condition, relative to the checkout, in every build type.
#include "sim/assert.hpp"

#include <catch2/catch.hpp>

#include "sim/simulation.hpp"

TEST_CASE("a failed DMSIM_ASSERT aborts naming the file relative to the checkout, the condition and why") {
  const sim::ChildOutput out = sim::run_in_child(
      [] {
        const int two = 2;
        DMSIM_ASSERT(two + two == 5, "arithmetic holds");
        return std::string("not reached");
      },
      60);
  REQUIRE_FALSE(out.ok);
  CHECK_THAT(out.error, Catch::Contains("signal 6"));
  CHECK_THAT(out.stderr_text, Catch::Contains("tests/sim/assert_test.cpp:"));
  CHECK_THAT(out.stderr_text, !Catch::Contains(DMSIM_SOURCE_DIR));
  CHECK_THAT(out.stderr_text, Catch::Contains("assertion failed: two + two == 5: arithmetic holds"));
}

TEST_CASE("a DMSIM_ASSERT that holds does nothing") {
  const sim::ChildOutput out = sim::run_in_child(
      [] {
        DMSIM_ASSERT(1 + 1 == 2, "arithmetic holds");
        return std::string("reached");
      },
      60);
  REQUIRE(out.ok);
  CHECK(out.bytes == "reached");
}
