// dmsim explore end to end, on few runs: a planted bug is found without a scenario pointing at
// it and comes back shrunk; the fixed engines give no finding; runs report engine states.
#include "explore/explorer.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "explore/grammar.hpp"
#include "language/scenario.hpp"

namespace fs = std::filesystem;

namespace {

std::string temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("dmsim-explore-test-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

explore::ExploreOptions few_runs(const std::string& engine, uint64_t runs, const std::string& dir) {
  explore::ExploreOptions o;
  o.engine = engine;
  o.max_runs = runs;
  o.budget_s = 1e9;
  o.jobs = 2;
  o.out_dir = dir;
  return o;
}

}  // namespace

TEST_CASE("explore finds a planted bug blind and hands back a shrunk reproduction that only fails with it") {
  const std::string dir = temp_dir("leak");
  explore::ExploreOptions o = few_runs("era", 6, dir);
  o.knobs = {"era.leak_writesets"};
  o.stop_at_first = true;
  const explore::ExploreSummary s = explore::run_explore(o, {});
  REQUIRE(s.findings.size() == 1);
  const explore::Finding& f = s.findings[0];
  CHECK(f.signature.kind == "leak");
  REQUIRE(fs::exists(f.file));
  REQUIRE_FALSE(f.shrunk_file.empty());
  CHECK(f.shrunk.steps_after <= f.steps);
  CHECK(f.shrunk.steps_after <= 3);
  const std::string shrunk = slurp(f.shrunk_file);
  CHECK(shrunk.find("# reproduces [leak]") != std::string::npos);
  const scenarios::Scenario sc = scenarios::parse_scenario(shrunk, f.shrunk_file);
  verify::RunOptions opt;
  CHECK_FALSE(verify::run_exploration(sc, f.seed, {"era.leak_writesets"}, opt).passed);
  CHECK(verify::run_exploration(sc, f.seed, {}, opt).passed);
  fs::remove_all(dir);
}

TEST_CASE("explore on the fixed engines finds nothing and the runs report engine states") {
  for (const auto& engine : explore::grammar_engines()) {
    const std::string dir = temp_dir(engine);
    explore::ExploreOptions o = few_runs(engine, 8, dir);
    o.shrink = false;
    const explore::ExploreSummary s = explore::run_explore(o, {});
    INFO(engine);
    CHECK(s.runs == 8);
    for (const auto& f : s.findings) FAIL_CHECK(f.signature.text() << " in " << f.file);
    CHECK(s.generator_errors.empty());
    CHECK(s.states > 0);
    const auto g = explore::make_grammar(engine);
    const uint64_t k = g->small_vocabulary().size();
    CHECK(s.exhaustive_total == k + k * k + k * k * k);
    fs::remove_all(dir);
  }
}
