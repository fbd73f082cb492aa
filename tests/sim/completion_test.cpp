#include <catch2/catch.hpp>

#include "sim/kernel.hpp"
#include "sim/simulation.hpp"

using namespace sim;

TEST_CASE("wait_for_completion returns after complete from another thread") {
  SimResult r = run_isolated({}, [] {
    static Completion* c;
    c = new Completion("c");
    kthread_run(
        [] {
          msleep(10);
          note("completing");
          complete(c);
        },
        "signaler");
    wait_for_completion(c);
    note("woken");
  });
  INFO(r.summary());
  REQUIRE(r.status == RunStatus::Completed);
  REQUIRE(r.notes == std::vector<std::string>{"completing", "woken"});
}
