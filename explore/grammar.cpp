#include "explore/grammar.hpp"

#include "engines/checks.hpp"

namespace explore {

uint64_t Rng::next() {
  uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string yaml_quoted(const std::string& s) {
  std::string o = "'";
  // A line break inside a single-quoted scalar is written as an empty line (YAML folds a lone one
  // into a space): a table of several lines.
  for (char c : s) o += c == '\'' ? std::string("''") : c == '\n' ? std::string("\n\n    ") : std::string(1, c);
  return o + "'";
}

void ScenarioText::step(const std::string& cmd) {
  steps_.push_back(cmd);
}

void ScenarioText::must_fail(const std::string& cmd) {
  steps_.push_back("! " + cmd);
}

std::string ScenarioText::yaml(const std::string& name, const std::string& about, const std::string& disks,
                               const std::string& machine, bool power_cut) const {
  std::string y = "name: " + name + "\n";
  y += "about: " + yaml_quoted(about) + "\n";
  if (!machine.empty()) y += "machine: " + machine + "\n";
  y += "disks:\n" + disks;
  y += "steps:\n";
  for (const auto& s : steps_) y += "  - " + yaml_quoted(s) + "\n";
  if (!expect_.empty()) {
    // The defaults (every check that can judge the scenario) written out, plus the extras.
    y += "expect:\n";
    for (const char* c : {"no-deadlock", "no-hung-task", "no-lockdep", "no-errors", "no-leaks"})
      y += "  - " + std::string(c) + "\n";
    if (power_cut) y += "  - block-device\n";
    for (const auto& c : engines::check_names()) y += "  - " + c + "\n";
    for (const auto& e : expect_) y += "  - " + e + "\n";
  }
  if (power_cut)
    y += "explore: {crash-points: every-flush, crash-states: z3+random:2, max-crash-points: 16" +
         (crash_after_ ? ", crash-after: " + std::to_string(crash_after_) : std::string()) + "}\n";
  return y;
}

std::string describe(const Program& p) {
  std::string s = "setup " + std::to_string(p.setup) + "; ops";
  for (const auto& o : p.ops) {
    s += ' ';
    s += std::to_string(o.op);
    s += ':';
    s += std::to_string(o.arg);
  }
  s += "; seed ";
  s += std::to_string(p.seed);
  return s;
}

}  // namespace explore

namespace explore {

std::unique_ptr<Grammar> make_era_grammar();
std::unique_ptr<Grammar> make_thin_grammar();
std::unique_ptr<Grammar> make_clone_grammar();
std::unique_ptr<Grammar> make_snapshot_grammar();

std::unique_ptr<Grammar> make_grammar(const std::string& engine) {
  if (engine == "era") return make_era_grammar();
  if (engine == "thin") return make_thin_grammar();
  if (engine == "clone") return make_clone_grammar();
  if (engine == "snapshot") return make_snapshot_grammar();
  return nullptr;
}

std::vector<std::string> grammar_engines() {
  return {"era", "thin", "clone", "snapshot"};
}

}  // namespace explore
