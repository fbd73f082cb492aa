// A scenario file: a bug report's steps to reproduce, the disks they run on, what must hold,
// and what dmsim may vary when exploring. See README "Scenario files" for the format.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "language/command.hpp"

namespace scenarios {

struct DiskSpec {
  std::string name;  // "sda" or "datavg/erameta"
  uint64_t bytes = 0;
  std::string profile = "instant";
  bool write_cache = true;
  uint32_t logical_block_size = 512;
  bool initial_zero = false;
  bool discard = true;
  bool discard_zeroes = true;
  // `image: PATH` (relative to the scenario file): the media starts with these bytes, the rest
  // of the disk keeps its initial content. Read when the file is parsed; null without an image.
  std::string image;
  std::shared_ptr<const std::string> image_bytes;
};

// What a step must print, as a cram/lit test would assert it: a regular expression matched
// against the whole output (one trailing newline ignored), or exact text from a file.
struct OutputExpectation {
  enum Kind { Regex, Exact } kind = Regex;
  std::string pattern;  // the regular expression, or the exact text
  std::string source;   // as written: "output: '...'" or "output-file: expected/x.xml"
};

struct Step {
  Command cmd;
  int line = 0, column = 0;                 // 1-based, where the step text starts
  std::optional<OutputExpectation> output;  // on stdout
  std::optional<OutputExpectation> error;   // on stderr
};

enum class CrashPoints { None, Steps, EveryIo, EveryFlush };
enum class CrashStateMode { Durable, Z3, All, Random, Prefix };

// Bounds on explore settings: each seed is a unit of work and each crash state a recovery run,
// so a value beyond these is a typo (or a CI job of days), not a plan.
constexpr uint64_t kMaxSeeds = 10000;
constexpr uint64_t kMaxCrashStates = 100000;  // N of all<=N and random:N
constexpr uint64_t kMaxCrashPoints = 100000;  // max-crash-points
// An image a disk starts from is held in memory (one map entry per non-zero sector).
constexpr uint64_t kMaxImageBytes = 1ULL << 30;
// A scenario file larger than this is not a scenario (and reading it would take the memory).
constexpr uint64_t kMaxScenarioFileBytes = 4ULL << 20;

struct Explore {
  CrashPoints crash_points = CrashPoints::None;
  CrashStateMode crash_states = CrashStateMode::Durable;  // durable: every cached write lost
  uint64_t crash_state_count = 0;                         // N of all<=N / random:N
  // z3+random:N: beside Z3's states, N seeded random ones at each crash point, for what the
  // obligations Z3 encodes do not cover (recovery logic, metadata the checks read).
  uint64_t also_random = 0;
  uint64_t seeds = 1;
  double preempt_rate = 0.2;            // used when seeds > 1
  std::vector<std::string> preempt_at;  // only these preemption points (empty: all)
  std::vector<std::string> knobs;
  uint64_t max_crash_points = 200;
  // crash-after: K: no crash point before step K (1-based) has finished, as a crash test arms its
  // crash only once the setup it relies on is in place; 0 explores from the first step.
  uint64_t crash_after_step = 0;
};

// `machine: {bits-per-long: 32, preempt-rt: true}`: the kernel build the steps run on. A 32-bit
// kernel's unsigned long is what dm-clone's region arithmetic overflowed in; PREEMPT_RT makes
// spinlock_t a sleeping lock.
struct Machine {
  unsigned bits_per_long = 64;
  bool preempt_rt = false;
};

struct Catalog {
  std::string knob;
  std::string detects;  // the finding kind
  std::string match;    // ECMAScript regular expression searched in the finding's title and detail
};

// `max-flushes-per-flush: {disk: NAME, max: N}`: every flush acknowledged at the top of the stack
// caused at most N flushes of that disk while it was in flight (a flush that costs two cache
// flushes of the data device is a performance bug even when nothing is lost).
constexpr const char* kMaxFlushesPerFlush = "max-flushes-per-flush";
struct FlushBudget {
  std::string disk;       // as declared under disks:
  size_t disk_index = 0;  // its position there
  uint64_t max = 0;
};

// `no-writes-after: {disk: NAME, step: K}`: once step K (1-based) has finished, nothing writes or
// flushes that disk until the end of the phase (activating or querying must leave it untouched).
constexpr const char* kNoWritesAfter = "no-writes-after";
struct WriteSilence {
  std::string disk;
  size_t disk_index = 0;
  uint64_t step = 0;
};

struct Scenario {
  std::string file;
  std::string name, about, source;
  std::vector<DiskSpec> disks;
  std::vector<Step> steps;
  std::vector<std::string> expect;  // explicit or the defaults
  bool expect_given = false;
  std::optional<FlushBudget> flush_budget;    // with kMaxFlushesPerFlush in `expect`
  std::optional<WriteSilence> write_silence;  // with kNoWritesAfter in `expect`
  Explore explore;
  Machine machine;
  std::optional<Catalog> catalog;
  // The files tool steps read (`-i PATH`, relative to the scenario file) that exist when it is
  // parsed, by the path as written: read here, so that every run starts from the same bytes. A
  // path that does not exist is left to the run (an earlier step may write it, or the tool says so).
  std::map<std::string, std::shared_ptr<const std::string>> input_files;

  // Index of the first power-cut step, or steps.size().
  size_t first_power_cut() const;
};

// Every error of a file, each "FILE:LINE:COL: message".
struct ScenarioError : std::runtime_error {
  explicit ScenarioError(std::vector<std::string> errs);
  std::vector<std::string> errors;
};

// Parses and checks a scenario; throws ScenarioError listing every problem found. load_scenario
// refuses, before reading, anything but a regular file (a FIFO would block, a directory or a
// device is not a scenario) and files above kMaxScenarioFileBytes.
Scenario load_scenario(const std::string& path);
Scenario parse_scenario(const std::string& text, const std::string& file);

// The limits every parsed scenario keeps, which the runs rely on: disks and I/O within what
// dmsim models, finite sleeps, explore counts within their bounds, each step with its position.
// "" when `s` keeps them, else the first it breaks. parse_scenario asserts it of its result.
std::string limits_problem(const Scenario& s);

// The checks `expect:` may name, and the finding kinds a catalog entry may detect.
std::vector<std::string> builtin_check_names();
bool known_detect_kind(const std::string& kind);

}  // namespace scenarios
