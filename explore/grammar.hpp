// The per-engine grammars `dmsim explore` generates scenarios from. A program is a setup choice
// and a list of operations, each with the seed of its arguments; rendering it replays the
// grammar's model of the world (devices, tables, suspension, snapshots held), skips every
// operation whose precondition does not hold at its place, and writes an ordinary scenario
// file. Nothing in a grammar names a knob: operations are what users and tools do.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace explore {

// splitmix64: a small deterministic generator, so a program renders the same bytes everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next();
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  bool chance(unsigned one_in) { return below(one_in) == 0; }

 private:
  uint64_t s_;
};

struct OpInst {
  uint32_t op = 0;   // index in the grammar's vocabulary
  uint32_t arg = 0;  // seeds the operation's arguments
};

struct Program {
  uint32_t setup = 0;  // index of the grammar's setup choices
  std::vector<OpInst> ops;
  uint64_t seed = 0;  // the schedule seed the scenario runs with
};

struct Rendered {
  std::string yaml;
  std::vector<OpInst> kept;  // the operations that rendered (preconditions held)
  size_t steps = 0;
  bool power_cut = false;
};

class Grammar {
 public:
  virtual ~Grammar() = default;
  virtual std::string engine() const = 0;
  virtual size_t setups() const = 0;
  virtual std::vector<std::string> vocabulary() const = 0;
  // The operations bounded-exhaustive search enumerates sequences of.
  virtual std::vector<uint32_t> small_vocabulary() const = 0;
  virtual Rendered render(const Program& p, const std::string& name) const = 0;
};

// "era", "thin", "clone" or "snapshot"; null for an engine without a grammar.
std::unique_ptr<Grammar> make_grammar(const std::string& engine);
std::vector<std::string> grammar_engines();

// ---- what the grammars share ----

// The steps and expectations of one scenario as a grammar writes it.
class ScenarioText {
 public:
  void step(const std::string& cmd);       // a command that must succeed
  void must_fail(const std::string& cmd);  // a command the kernel refuses ('!')
  void expect(const std::string& item) { expect_.push_back(item); }
  // No crash point before this many steps have finished (what recovery relies on is in place).
  void crash_after_here() { crash_after_ = steps_.size(); }
  size_t steps() const { return steps_.size(); }
  // The scenario file: name, a comment with the program, disks and machine as given (YAML
  // mapping text), the steps, the default checks plus the extra expectations, and the explore
  // settings (every flush a crash point when a power cut is among the steps).
  std::string yaml(const std::string& name, const std::string& about, const std::string& disks,
                   const std::string& machine, bool power_cut) const;

 private:
  std::vector<std::string> steps_;
  std::vector<std::string> expect_;
  size_t crash_after_ = 0;
};

// A single-quoted YAML scalar (only the quote itself is escaped, as '').
std::string yaml_quoted(const std::string& s);

// The program in one line, for the scenario's comment: "setup 1; ops 3:17 5:2 ...; seed 9".
std::string describe(const Program& p);

}  // namespace explore
