// The grammars: every program renders to a scenario that parses, the same program to the same
// bytes, operations whose precondition fails are skipped, and nothing names a knob.
#include "explore/grammar.hpp"

#include <catch2/catch.hpp>

#include "language/scenario.hpp"

namespace {

explore::Program random_program(explore::Rng& r, const explore::Grammar& g) {
  explore::Program p;
  p.setup = static_cast<uint32_t>(r.below(g.setups()));
  const uint64_t len = 1 + r.below(14);
  for (uint64_t i = 0; i < len; i++)
    p.ops.push_back({static_cast<uint32_t>(r.below(g.vocabulary().size())), static_cast<uint32_t>(r.next())});
  return p;
}

uint32_t op_named(const explore::Grammar& g, const std::string& name) {
  const auto v = g.vocabulary();
  for (uint32_t i = 0; i < v.size(); i++)
    if (v[i] == name) return i;
  FAIL("no operation " << name << " in the " << g.engine() << " grammar");
  return 0;
}

}  // namespace

TEST_CASE("every program of every grammar renders a scenario that parses") {
  for (const auto& engine : explore::grammar_engines()) {
    const auto g = explore::make_grammar(engine);
    REQUIRE(g);
    explore::Rng r(42);
    for (int i = 0; i < 300; i++) {
      const explore::Program p = random_program(r, *g);
      const explore::Rendered out = g->render(p, engine + "-t");
      INFO(out.yaml);
      REQUIRE_NOTHROW(scenarios::parse_scenario(out.yaml, "generated.yaml"));
      CHECK(out.kept.size() <= p.ops.size());
    }
  }
}

TEST_CASE("a program renders to the same bytes every time") {
  for (const auto& engine : explore::grammar_engines()) {
    const auto g = explore::make_grammar(engine);
    explore::Rng r(7);
    const explore::Program p = random_program(r, *g);
    CHECK(g->render(p, "x").yaml == g->render(p, "x").yaml);
  }
}

TEST_CASE("an operation whose precondition does not hold is skipped and not rendered") {
  const auto g = explore::make_grammar("era");
  // Nothing is suspended after the setup: a resume has nothing to resume.
  const explore::Rendered out = g->render({0, {{op_named(*g, "resume"), 1}}, 0}, "x");
  CHECK(out.kept.empty());
  CHECK(out.yaml.find("dmsetup resume") == std::string::npos);
  const explore::Rendered both = g->render({0, {{op_named(*g, "suspend"), 1}, {op_named(*g, "resume"), 2}}, 0}, "x");
  CHECK(both.kept.size() == 2);
}

TEST_CASE("a power cut ends the operations and the recovery re-creates the device") {
  const auto g = explore::make_grammar("thin");
  const explore::Rendered out =
      g->render({0, {{op_named(*g, "write"), 3}, {op_named(*g, "power-cut"), 0}, {op_named(*g, "write"), 4}}, 0}, "x");
  CHECK(out.power_cut);
  CHECK(out.kept.size() == 2);
  const scenarios::Scenario s = scenarios::parse_scenario(out.yaml, "x.yaml");
  const size_t cut = s.first_power_cut();
  REQUIRE(cut < s.steps.size());
  CHECK(s.steps[cut + 1].cmd.text.find("dmsetup create pool") == 0);
  CHECK(s.explore.crash_points == scenarios::CrashPoints::EveryFlush);
  CHECK(s.explore.crash_after_step >= 3);  // the pool and its first thin exist before any crash
}

TEST_CASE("no grammar names a knob: generated scenarios turn nothing on") {
  for (const auto& engine : explore::grammar_engines()) {
    const auto g = explore::make_grammar(engine);
    explore::Rng r(3);
    for (int i = 0; i < 50; i++) {
      const auto s = scenarios::parse_scenario(g->render(random_program(r, *g), "x").yaml, "x.yaml");
      CHECK(s.explore.knobs.empty());
      CHECK_FALSE(s.catalog);
    }
  }
}

TEST_CASE("the small vocabulary is part of the whole one and includes a power cut") {
  for (const auto& engine : explore::grammar_engines()) {
    const auto g = explore::make_grammar(engine);
    const auto all = g->vocabulary();
    bool cut = false;
    for (uint32_t op : g->small_vocabulary()) {
      REQUIRE(op < all.size());
      cut |= all[op] == "power-cut";
    }
    CHECK(cut);
  }
}
