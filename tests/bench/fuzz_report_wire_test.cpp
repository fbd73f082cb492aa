// A fuzz batch's report crosses from the child that parsed the batch to the campaign as
// sim/wire.hpp bytes: it comes back equal, and bytes that are not exactly one report are refused.
#include <catch2/catch.hpp>

#include "bench/parser_fuzz.hpp"
#include "sim/wire.hpp"

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

fuzz::Report round_trip(const fuzz::Report& r) {
  return sim::from_wire<fuzz::Report>(sim::to_wire(r), "fuzz batch report");
}

}  // namespace

TEST_CASE("a fuzz report comes back equal, messages and findings included") {
  const fuzz::Report r = report();
  const fuzz::Report back = round_trip(r);
  REQUIRE(back.executions == r.executions);
  REQUIRE(back.parsed == r.parsed);
  REQUIRE(back.refused == r.refused);
  REQUIRE(back.messages == r.messages);
  REQUIRE(back.findings == r.findings);
  REQUIRE(back == r);
  REQUIRE(round_trip(fuzz::Report{}) == fuzz::Report{});
}

TEST_CASE("a fuzz report cut short anywhere is refused, never read as a shorter one") {
  const std::string bytes = sim::to_wire(report());
  for (size_t n : {size_t{0}, size_t{8}, size_t{24}, bytes.size() / 2, bytes.size() - 1})
    REQUIRE_THROWS_AS(sim::from_wire<fuzz::Report>(bytes.substr(0, n), "fuzz batch report"), sim::WireError);
}

TEST_CASE("bytes left over after a fuzz report are refused") {
  const std::string bytes = sim::to_wire(report()) + std::string(3, '\0');
  REQUIRE_THROWS_WITH(sim::from_wire<fuzz::Report>(bytes, "fuzz batch report"),
                      Catch::Contains("fuzz batch report") && Catch::Contains("3 byte(s) left after the last field"));
}
