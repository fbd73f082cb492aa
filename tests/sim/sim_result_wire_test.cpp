// A simulation's result crosses from run_isolated's child to its parent as sim/wire.hpp bytes:
// it comes back equal, every double bit for bit, and bytes that are not exactly one result are
// refused rather than read as another.
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "sim/result.hpp"
#include "sim/wire.hpp"
#include "tests/sim/wire_test_helpers.hpp"

using sim::FindingKind;
using sim::SimResult;

namespace {

SimResult result() {
  SimResult r;
  r.status = sim::RunStatus::Deadlocked;
  r.end_time_ns = 120'000'000'017ULL;
  r.findings = {{FindingKind::Deadlock, 5'000, "deadlock: era_worker waits for itself", "deadlock: ...\n  era_worker"},
                {FindingKind::Leak, UINT64_MAX, "unreferenced object 0x1", ""}};
  r.trace = {"0.000000 t1 lock a", "", "0.000120 t2 wake t1"};
  r.notes = {"note with a\nnewline", std::string("and a\0NUL", 9)};
  r.dmesg = {"device-mapper: era: metadata commit failed", "device-mapper: thin: pool: switching pool to write mode"};
  r.dmesg_levels = {sim::KERN_ERR, sim::KERN_INFO};
  // Values std::to_string would round: the time of a step, the smallest normal, a NaN payload.
  r.stats = {{"events", 1234567.0},
             {"step_seconds", 0.1 + 0.2},
             {"tiny", std::numeric_limits<double>::min()},
             {"huge", std::numeric_limits<double>::max()},
             {"minus_zero", -0.0},
             {"inf", -std::numeric_limits<double>::infinity()}};
  r.payload = std::string("\x00\xff payload", 10);
  return r;
}

}  // namespace

TEST_CASE("a simulation result comes back equal in every field") {
  const SimResult r = result();
  const SimResult back = wiretest::round_trip(r);
  REQUIRE(back == r);
  REQUIRE(wiretest::round_trip(SimResult{}) == SimResult{});
}

TEST_CASE("a double crosses the wire as its exact bit pattern") {
  const double nan_with_payload = std::bit_cast<double>(0x7ff8'0000'dead'beefULL);
  for (double d : {0.1 + 0.2, -0.0, std::numeric_limits<double>::denorm_min(), 1e300, nan_with_payload}) {
    const double back = sim::from_wire<double>(sim::to_wire(d), "stat");
    REQUIRE(std::bit_cast<uint64_t>(back) == std::bit_cast<uint64_t>(d));
  }
  SimResult r;
  r.stats["nan"] = nan_with_payload;
  REQUIRE(std::bit_cast<uint64_t>(wiretest::round_trip(r).stats.at("nan")) ==
          std::bit_cast<uint64_t>(nan_with_payload));
}

TEST_CASE("a simulation result cut short anywhere, or with bytes after it, is refused") {
  wiretest::require_exact_framing(result(), "simulation result");
}

TEST_CASE("a map whose key repeats is not what a writer wrote, and is refused") {
  sim::WireWriter w;
  w(uint64_t{2}, std::string("events"), 1.0, std::string("events"), 2.0);
  REQUIRE_THROWS_WITH((sim::from_wire<std::map<std::string, double>>(w.bytes(), "stats")),
                      Catch::Contains("stats") && Catch::Contains("repeats"));
}
