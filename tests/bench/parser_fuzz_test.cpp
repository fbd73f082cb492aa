// The scenario parser under a seeded mutational fuzzer: a small deterministic campaign; the
// benchmark-sized one is `dmsim bench fuzz-parser`.
#include "bench/parser_fuzz.hpp"

#include <catch2/catch.hpp>
#include <cmath>

#include "engines/engine_registry.hpp"

using namespace scenarios;
namespace fuzz = bench::fuzz;

namespace {

const fuzz::Mutator& corpus_mutator() {
  static const fuzz::Mutator m = [] {
    engines::register_engines();
    return fuzz::Mutator(fuzz::load_corpus(std::string(DMSIM_SOURCE_DIR) + "/scenarios"));
  }();
  return m;
}

}  // namespace

TEST_CASE("every mutated scenario file parses within the limits or is refused with FILE:LINE:COL messages") {
  const fuzz::Mutator& m = corpus_mutator();
  REQUIRE(m.seeds().size() >= 10);  // the corpus under scenarios/ plus the built-in seed
  const fuzz::Report rep = fuzz::run(m, 20240601, 0, 4000);
  std::string findings;
  for (const auto& f : rep.findings)
    findings +=
        "input " + std::to_string(f.execution) + " [" + f.kind + "] " + f.detail + "\n---\n" + f.input + "\n---\n";
  INFO(findings);
  REQUIRE(rep.findings.empty());
  REQUIRE(rep.executions == 4000);
  // A campaign that only produced garbage (or only valid files) would test little: both outcomes
  // occur, and the refusals reach many different checks.
  REQUIRE(rep.parsed >= 200);
  REQUIRE(rep.refused >= 1000);
  REQUIRE(rep.messages.size() >= 100);
}

TEST_CASE("a fuzz input is a function of the seed and its number only") {
  const fuzz::Mutator& m = corpus_mutator();
  REQUIRE(m.input(3, 17) == m.input(3, 17));
  REQUIRE(m.input(3, 17) != m.input(3, 18));
  REQUIRE(m.input(3, 17) != m.input(4, 17));
  // Batches add up to the whole campaign.
  fuzz::Report a = fuzz::run(m, 5, 0, 100);
  a.merge(fuzz::run(m, 5, 100, 200));
  const fuzz::Report whole = fuzz::run(m, 5, 0, 200);
  REQUIRE(a == whole);
}

TEST_CASE("the fuzz oracle flags what a parser must never do") {
  REQUIRE(fuzz::well_formed_message("fuzz.yaml:3:7: unknown key"));
  REQUIRE_FALSE(fuzz::well_formed_message("fuzz.yaml:3: unknown key"));
  REQUIRE_FALSE(fuzz::well_formed_message("fuzz.yaml:x:7: unknown key"));
  REQUIRE_FALSE(fuzz::well_formed_message("fuzz.yaml:3:7: "));
  REQUIRE_FALSE(fuzz::well_formed_message("fuzz.yaml:3:7: two\nlines"));
  REQUIRE_FALSE(fuzz::well_formed_message("other.yaml:3:7: unknown key"));

  // Refused with a located message: no finding, and the message kind is recorded.
  fuzz::Outcome o = fuzz::check_input("name: t\nfoo: 1\n");
  REQUIRE_FALSE(o.finding);
  REQUIRE_FALSE(o.parsed);
  REQUIRE(!o.messages.empty());
  // Parsed within the limits: no finding.
  o = fuzz::check_input("name: t\ndisks: {sda: {size: 1MiB}}\nsteps: [sync]\n");
  REQUIRE(o.parsed);
  REQUIRE_FALSE(o.finding);
  REQUIRE(fuzz::normalise_message("fuzz.yaml:3:7: bad size '12x': expected 4 KiB") == "bad size '*': expected N KiB");
}
