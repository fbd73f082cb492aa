// dm-clone's checks judge what they are given: clone-status on status lines the steps printed
// (no simulation needed), and the registry knows every clone check.
#include <catch2/catch.hpp>

#include "engines/checks.hpp"
#include "tests/verify/verify_test_helpers.hpp"

namespace {

std::vector<engines::CheckViolation> status_check(const std::string& line) {
  verifytest::register_once();
  const engines::EngineCheck* c = engines::find_check("clone-status");
  REQUIRE(c);
  engines::CheckInput in;
  in.step_outputs.push_back({3, "dmsetup status cl", line + "\n", true});
  return c->run(in);
}

}  // namespace

TEST_CASE("clone-status accepts the kernel's status lines, Fail and Error", "[clone][checks]") {
  REQUIRE(status_check("0 131072 clone 8 6/4096 128 9/1024 0 1 no_hydration 4 hydration_threshold 1 "
                       "hydration_batch_size 1 rw")
              .empty());
  REQUIRE(status_check("0 131072 clone 8 6/4096 128 1024/1024 1 2 no_hydration no_discard_passdown 4 "
                       "hydration_threshold 0 hydration_batch_size 9 ro")
              .empty());
  REQUIRE(status_check("0 131072 clone Fail").empty());
  REQUIRE(status_check("0 131072 clone Error").empty());
}

TEST_CASE("clone-status flags a hydrated count above the region count, a wrong region count, bad features",
          "[clone][checks]") {
  const auto v = status_check(
      "0 17179869184 clone 8 66212/262144 8 18446744071562067968/2147483648 0 0 4 hydration_threshold 1 "
      "hydration_batch_size 1 rw");
  REQUIRE(v.size() == 1);
  REQUIRE(v[0].message.find("the hydrated count 18446744071562067968 is more than the 2147483648 regions") !=
          std::string::npos);
  REQUIRE(
      status_check("0 131072 clone 8 6/4096 128 9/1000 0 0 4 hydration_threshold 1 hydration_batch_size 1 rw").size() ==
      1);
  REQUIRE(status_check("0 131072 clone 8 6/4096 128 9/1024 0 2 no_hydration 4 hydration_threshold 1 "
                       "hydration_batch_size 1 rw")
              .size() == 1);
  REQUIRE(status_check("0 131072 clone 8 5000/4096 128 9/1024 0 0 4 hydration_threshold 1 hydration_batch_size 1 rw")
              .size() == 1);
  REQUIRE(status_check("0 131072 clone 8 6/4096 128 9/1024 0 0 rw").size() == 1);  // no core args
}

TEST_CASE("the clone checks are registered", "[clone][checks]") {
  verifytest::register_once();
  for (const char* name :
       {"clone-committed-durable", "clone-source-intact", "clone-status", "clone-discard-containment"})
    REQUIRE(engines::find_check(name));
}
