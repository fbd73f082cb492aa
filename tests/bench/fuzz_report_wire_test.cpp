// A fuzz batch's report crosses from the child that parsed the batch to the campaign as
// sim/wire.hpp bytes: it comes back equal, and bytes that are not exactly one report are refused.
#include <catch2/catch.hpp>

#include "bench/parser_fuzz.hpp"
#include "sim/wire.hpp"
#include "tests/sim/wire_test_helpers.hpp"

namespace fuzz = bench::fuzz;

namespace {

fuzz::Report report() {
  fuzz::Report r;
  r.executions = 50'000;
  r.parsed = 4'321;
  r.refused = 45'678;
  r.messages = {{"bad size '*': expected a multiple of N KiB", 17},
                {"unknown key '*' in the scenario (expected one of: ...)", 9'000},
                {"", 1}};
  r.findings = {{12, "exception", "std::out_of_range: stoull", "name: t\nseeds: 0\n"},
                {49'999, "crash", "the parsing process died of signal 11", std::string("\0\xff", 2)}};
  return r;
}

}  // namespace

TEST_CASE("a fuzz report comes back equal, messages and findings included") {
  const fuzz::Report r = report();
  const fuzz::Report back = wiretest::round_trip(r);
  REQUIRE(back == r);
  REQUIRE(wiretest::round_trip(fuzz::Report{}) == fuzz::Report{});
}

TEST_CASE("a fuzz report cut short anywhere, or with bytes after it, is refused") {
  wiretest::require_exact_framing(report(), "fuzz batch report");
}
