// A seeded mutational fuzzer for the scenario parser. Every input must either parse into a
// scenario within the language's limits (parse_scenario asserts them: a breach aborts, and the
// campaign records the crash), or be refused with a ScenarioError whose every message is one
// "FILE:LINE:COL: message" line; any other exception is a finding. Input number i is a
// pure function of (seed, i, seed corpus), so a finding replays from its number alone and a
// campaign can be split into batches (the benchmark runs each in a process of its own, to catch
// crashes and hangs too).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "language/scenario.hpp"

namespace bench::fuzz {

// The file name the fuzzer parses under: no ':' in it, so the message format is unambiguous.
constexpr const char* kFuzzFile = "fuzz.yaml";
constexpr size_t kMaxInputBytes = 16 * 1024;

struct Finding {
  uint64_t execution = 0;  // input number in the campaign
  std::string kind;        // exception, bad-message, crash, hang
  std::string detail;
  std::string input;

  template <class Ar>
  void serialize(Ar& ar) {
    ar(execution, kind, detail, input);
  }
  bool operator==(const Finding&) const = default;
};

// What parsing one input showed: a finding, or the normalised error messages (locations and
// quoted values stripped) when it was refused.
struct Outcome {
  bool parsed = false;
  std::vector<std::string> messages;
  std::optional<Finding> finding;
};
Outcome check_input(const std::string& text);

// The oracle for a refusal: each message is "^[^:]+:\d+:\d+: .+" on one line (with the
// fuzzer's file name).
bool well_formed_message(const std::string& message);

// "fuzz.yaml:3:7: bad size '12x': ..." -> "bad size '*': ..." (digits become N): the kind of error.
std::string normalise_message(const std::string& message);

// The mutator: seeds (scenario files), a dictionary of the language's words and YAML's syntax.
class Mutator {
 public:
  explicit Mutator(std::vector<std::string> seeds);
  // Input number `i` of the campaign with `seed`.
  std::string input(uint64_t seed, uint64_t i) const;
  const std::vector<std::string>& seeds() const { return seeds_; }

 private:
  std::vector<std::string> seeds_;
};

// A batch's report crosses from its child process to the campaign (sim::to_wire/from_wire).
struct Report {
  uint64_t executions = 0, parsed = 0, refused = 0;
  std::map<std::string, uint64_t> messages;  // normalised message -> how often
  std::vector<Finding> findings;
  void add(const Outcome& o);
  void merge(const Report& other);

  template <class Ar>
  void serialize(Ar& ar) {
    ar(executions, parsed, refused, messages, findings);
  }
  bool operator==(const Report&) const = default;
};

// Runs inputs [first, end) in this process.
Report run(const Mutator& m, uint64_t seed, uint64_t first, uint64_t end);

// The *.yaml regular files under `dir` (sorted), read whole; a built-in scenario when none.
std::vector<std::string> load_corpus(const std::string& dir);

}  // namespace bench::fuzz
