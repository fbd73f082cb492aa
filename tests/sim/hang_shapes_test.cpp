#include <catch2/catch.hpp>

#include "sim/detector_demos.hpp"
#include "sim/simulation.hpp"

using namespace sim;

namespace {
SimResult run_demo(const DetectorDemo& d) {
  return run_isolated(d.config, d.body);
}
}  // namespace

TEST_CASE("every detector demonstration shows what it claims") {
  for (const auto& d : all_detector_demos()) {
    SECTION(d.name) {
      SimResult r = run_demo(d);
      INFO(d.name << ": " << r.summary());
      for (const auto& f : r.findings) INFO(f.text);
      CHECK(d.judge(r) == "");
    }
  }
}
