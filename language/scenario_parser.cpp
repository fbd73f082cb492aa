// Scenario files are YAML; every problem is reported with the file, line and column that
// yaml-cpp marks, and nothing runs while any is left.
#include <sys/stat.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "engines/checks.hpp"
#include "language/scenario.hpp"
#include "model/disk_profile.hpp"
#include "model/knobs.hpp"
#include "sim/assert.hpp"
#include "sim/preemption_point.hpp"

namespace scenarios {

ScenarioError::ScenarioError(std::vector<std::string> errs)
    : std::runtime_error(errs.empty() ? "scenario error" : errs.front()), errors(std::move(errs)) {}

size_t Scenario::first_power_cut() const {
  for (size_t i = 0; i < steps.size(); i++)
    if (steps[i].cmd.kind == CmdKind::PowerCut) return i;
  return steps.size();
}

std::vector<std::string> builtin_check_names() {
  return {"no-deadlock", "no-hung-task", "no-lockdep", "no-errors", "block-device", "no-leaks", "real-tools"};
}

bool known_detect_kind(const std::string& kind) {
  static const std::set<std::string> kinds = {"deadlock",     "hung-task",       "lock-order", "recursive-locking",
                                              "atomic-sleep", "lock-misuse",     "warning",    "bug",
                                              "errors",       "block-device",    "leak",       "step-failed",
                                              "step-output",  "step-unfinished", "budget",     "crash",
                                              "annotation",   "real-tools"};
  return kinds.count(kind) || kind == kMaxFlushesPerFlush || kind == kNoWritesAfter || engines::find_check(kind);
}

namespace {

// Control characters from the file (a newline inside a quoted word, say) are escaped, so that
// every error stays one "FILE:LINE:COL: message" line.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (ch < 0x20 || ch == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      out += std::string("\\x") + hex[ch >> 4] + hex[ch & 15];
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out;
}

// The file being parsed and every problem found in it so far, each one "FILE:LINE:COL: message".
struct ParseContext {
  std::string file;
  std::vector<std::string> errors;
  std::string text;  // the file's text, for what yaml-cpp does not tell (how a scalar was written)
  void error(const YAML::Mark& m, const std::string& msg, int col_offset = 0) {
    const int line = m.is_null() ? 0 : m.line + 1, col = m.is_null() ? 0 : m.column + 1 + col_offset;
    errors.push_back(file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " +
                     printable(msg.empty() ? "invalid YAML" : msg));
  }
};

// "a, b, c": the values a message offers instead of a wrong one.
template <class Names>
std::string joined(const Names& names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return list;
}

// A count from 1 to `max`, digits only; nullopt for anything else (nine digits bound stoull).
std::optional<uint64_t> count_up_to(const std::string& s, uint64_t max) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9 || std::stoull(s) == 0 ||
      std::stoull(s) > max)
    return std::nullopt;
  return std::stoull(s);
}

// yaml-cpp keeps one of two equal keys and loads only the first document, without a word; a
// file that says two things must not run as one of them. This pass sees the parser's events,
// where every key still has its own mark.
class StructureCheck : public YAML::EventHandler {
 public:
  StructureCheck(ParseContext& ctx, const std::string& text) : ctx_(ctx), text_(text) {}

  // yaml-cpp 0.7 starts document after document at a stray ',' without consuming it: the caller
  // stops once this is true.
  bool stuck() const { return stuck_; }

  void OnDocumentStart(const YAML::Mark& m) override {
    if (documents_ > 0 && m.pos <= last_start_) {
      const std::string ch = m.pos >= 0 && static_cast<size_t>(m.pos) < text_.size() ? text_.substr(m.pos, 1) : "";
      ctx_.error(m, "unexpected '" + ch + "' (',' separates the items of a [ ] or { } collection)");
      stuck_ = true;
      return;
    }
    last_start_ = m.pos;
    if (++documents_ == 2) ctx_.error(m, "a second YAML document starts here; a scenario file holds one document");
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m, nullptr, "null"); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m, nullptr, "an alias"); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string& value) override {
    node(m, &value, "");
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(m, nullptr, "a list");
    frames_.push_back(Frame{false, true, {}});
  }
  void OnSequenceEnd() override { pop(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(m, nullptr, "a map");
    frames_.push_back(Frame{true, true, {}});
  }
  void OnMapEnd() override { pop(); }

 private:
  struct Frame {
    bool map;
    bool key_next;  // maps: the next node is a key (else its value)
    std::map<std::string, YAML::Mark> keys;
  };

  // A node starts inside the innermost collection; in a map, every other one is a key.
  void node(const YAML::Mark& m, const std::string* scalar, const char* what) {
    if (frames_.empty() || !frames_.back().map) return;
    Frame& f = frames_.back();
    const bool is_key = f.key_next;
    f.key_next = !f.key_next;
    if (!is_key) return;
    if (!scalar) {
      ctx_.error(m, std::string("a key must be a plain string, not ") + what);
      return;
    }
    auto [it, fresh] = f.keys.emplace(*scalar, m);
    if (!fresh)
      ctx_.error(m, "duplicate key '" + *scalar + "' (first at line " + std::to_string(it->second.line + 1) +
                        ", column " + std::to_string(it->second.column + 1) + ")");
  }
  void pop() {
    if (!frames_.empty()) frames_.pop_back();
  }

  ParseContext& ctx_;
  const std::string& text_;
  int documents_ = 0, last_start_ = -1;
  bool stuck_ = false;
  std::vector<Frame> frames_;
};

std::string as_string(ParseContext& ctx, const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) {
    ctx.error(n.Mark(), what + " must be a string");
    return {};
  }
  return n.Scalar();
}

bool as_bool(ParseContext& ctx, const YAML::Node& n, const std::string& what, bool fallback) {
  if (!n.IsScalar()) {
    ctx.error(n.Mark(), what + " must be true or false");
    return fallback;
  }
  const std::string v = n.Scalar();
  if (v == "true" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "no" || v == "off") return false;
  ctx.error(n.Mark(), what + " must be true or false, got '" + v + "'");
  return fallback;
}

void check_keys(ParseContext& ctx, const YAML::Node& map, const std::set<std::string>& allowed,
                const std::string& where) {
  for (const auto& kv : map) {
    const std::string k = kv.first.Scalar();
    if (!allowed.count(k))
      ctx.error(kv.first.Mark(), "unknown key '" + k + "' in " + where + " (expected one of: " + joined(allowed) + ")");
  }
}

// The directory of the scenario file, where output-file and image paths start.
std::string base_dir(const std::string& file) {
  const size_t slash = file.rfind('/');
  return slash == std::string::npos ? std::string() : file.substr(0, slash + 1);
}

// `image: PATH`: a regular file of whole sectors that fits the disk (`d.bytes`, 0 when the
// size was wrong: then only the file itself is checked). Read here, so that every run of the
// scenario starts from the same bytes.
void read_disk_image(ParseContext& ctx, const YAML::Node& n, DiskSpec& d) {
  const std::string rel = as_string(ctx, n, "image");
  if (rel.empty()) {
    ctx.error(n.Mark(), "image must be the path of a file");
    return;
  }
  const std::string path = rel[0] == '/' ? rel : base_dir(ctx.file) + rel;
  auto refuse = [&](const std::string& why) {
    ctx.error(n.Mark(), "image '" + rel + "' of disk '" + d.name + "': " + why);
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return refuse(std::string("cannot read ") + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return refuse(path + " is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size % 512)
    return refuse("the file has " + std::to_string(size) + " bytes, not a whole number of 512-byte sectors");
  if (d.bytes && size > d.bytes)
    return refuse("the file has " + std::to_string(size) + " bytes, more than the disk's " + std::to_string(d.bytes));
  if (size > kMaxImageBytes)
    return refuse("the file has " + std::to_string(size) + " bytes; an image has at most " +
                  format_size(kMaxImageBytes) + " (it is held in memory)");
  std::ifstream in(path, std::ios::binary);
  std::string bytes(size, '\0');
  if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(size)))
    return refuse("cannot read " + path + ": read error");
  d.image = rel;
  d.image_bytes = std::make_shared<const std::string>(std::move(bytes));
}

DiskSpec parse_disk(ParseContext& ctx, const YAML::Node& key, const YAML::Node& v) {
  DiskSpec d;
  d.name = key.Scalar();
  if (d.name.empty() || d.name[0] == '/' || d.name.find("..") != std::string::npos ||
      std::count(d.name.begin(), d.name.end(), '/') > 1)
    ctx.error(key.Mark(), "disk name '" + d.name + "' must be NAME or VG/LV");
  if (!v.IsMap()) {
    ctx.error(v.Mark(), "disk '" + d.name + "' needs a map such as {size: 1GiB}");
    return d;
  }
  check_keys(ctx, v,
             {"size", "profile", "write_cache", "logical_block_size", "initial", "discard", "discard_zeroes", "image"},
             "disk '" + d.name + "'");
  if (!v["size"]) {
    ctx.error(v.Mark(), "disk '" + d.name + "' needs a size");
  } else {
    const std::string s = as_string(ctx, v["size"], "size");
    std::string why;
    auto b = parse_size(s, &why);
    if (!b)
      ctx.error(v["size"].Mark(), "bad size '" + s + "': " + why);
    else if (*b == 0 || *b % 4096)
      ctx.error(v["size"].Mark(), "bad size '" + s + "': expected a multiple of 4 KiB such as 64MiB or 1GiB");
    else if (*b > kMaxDeviceBytes)
      ctx.error(v["size"].Mark(), "disk size '" + s + "' is above dmsim's limit of " + format_size(kMaxDeviceBytes) +
                                      " (a content token addresses 2^36 sectors)");
    else
      d.bytes = *b;
  }
  if (v["profile"]) {
    d.profile = as_string(ctx, v["profile"], "profile");
    if (!model::disk_profile(d.profile))
      ctx.error(v["profile"].Mark(),
                "unknown profile '" + d.profile + "' (expected one of: " + joined(model::disk_profile_names()) + ")");
  }
  if (v["write_cache"]) d.write_cache = as_bool(ctx, v["write_cache"], "write_cache", true);
  if (v["discard"]) d.discard = as_bool(ctx, v["discard"], "discard", true);
  if (v["discard_zeroes"]) d.discard_zeroes = as_bool(ctx, v["discard_zeroes"], "discard_zeroes", true);
  if (v["logical_block_size"]) {
    const std::string s = as_string(ctx, v["logical_block_size"], "logical_block_size");
    if (s == "512" || s == "4096")
      d.logical_block_size = static_cast<uint32_t>(std::stoul(s));
    else
      ctx.error(v["logical_block_size"].Mark(), "logical_block_size must be 512 or 4096");
  }
  if (v["initial"]) {
    const std::string s = as_string(ctx, v["initial"], "initial");
    if (s == "zero")
      d.initial_zero = true;
    else if (s != "random")
      ctx.error(v["initial"].Mark(), "initial must be random or zero");
  }
  if (v["image"]) read_disk_image(ctx, v["image"], d);
  return d;
}

// explore keys, one reader each: the node is the key's value.
void read_preempt_at(ParseContext& ctx, const YAML::Node& n, Explore& e) {
  if (!n.IsSequence()) {
    ctx.error(n.Mark(), "preempt-at must be a list of preemption points");
    return;
  }
  const auto& known = sim::preemption_point_names();
  for (const auto& p : n) {
    const std::string v = as_string(ctx, p, "preempt-at");
    if (std::find(known.begin(), known.end(), v) == known.end())
      ctx.error(p.Mark(), "unknown preemption point '" + v + "' (expected one of: " + joined(known) + ")");
    else
      e.preempt_at.push_back(v);
  }
}

void read_crash_points(ParseContext& ctx, const YAML::Node& n, Explore& e) {
  const std::string v = as_string(ctx, n, "crash-points");
  if (v == "none")
    e.crash_points = CrashPoints::None;
  else if (v == "steps")
    e.crash_points = CrashPoints::Steps;
  else if (v == "every-io")
    e.crash_points = CrashPoints::EveryIo;
  else if (v == "every-flush")
    e.crash_points = CrashPoints::EveryFlush;
  else
    ctx.error(n.Mark(), "crash-points must be none, steps, every-io or every-flush");
}

void read_crash_states(ParseContext& ctx, const YAML::Node& n, Explore& e) {
  const std::string v = as_string(ctx, n, "crash-states");
  // The N of z3+random:N, all<=N and random:N; 0 (after an error) when it is not one.
  auto count = [&](size_t prefix) -> uint64_t {
    if (auto k = count_up_to(v.substr(prefix), kMaxCrashStates)) return *k;
    ctx.error(n.Mark(),
              "bad count in crash-states '" + v + "': expected N from 1 to " + std::to_string(kMaxCrashStates));
    return 0;
  };
  if (v == "z3") {
    e.crash_states = CrashStateMode::Z3;
  } else if (v.rfind("z3+random:", 0) == 0) {
    e.crash_states = CrashStateMode::Z3;
    e.also_random = count(10);
  } else if (v == "prefix") {
    e.crash_states = CrashStateMode::Prefix;
  } else if (v == "durable") {
    e.crash_states = CrashStateMode::Durable;
  } else if (v.rfind("all<=", 0) == 0) {
    e.crash_states = CrashStateMode::All;
    e.crash_state_count = count(5);
  } else if (v.rfind("random:", 0) == 0) {
    e.crash_states = CrashStateMode::Random;
    e.crash_state_count = count(7);
  } else {
    ctx.error(n.Mark(), "crash-states must be z3, z3+random:N, all<=N, random:N, prefix or durable");
  }
}

void read_seeds(ParseContext& ctx, const YAML::Node& n, Explore& e) {
  if (auto k = count_up_to(as_string(ctx, n, "seeds"), kMaxSeeds))
    e.seeds = *k;
  else
    ctx.error(n.Mark(), "seeds must be a number from 1 to " + std::to_string(kMaxSeeds));
}

void read_preempt_rate(ParseContext& ctx, const YAML::Node& n, Explore& e) {
  try {
    e.preempt_rate = n.as<double>();
  } catch (const std::exception&) {
    ctx.error(n.Mark(), "preempt-rate must be a number between 0 and 1");
  }
  if (!(e.preempt_rate >= 0 && e.preempt_rate <= 1))  // NaN too
    ctx.error(n.Mark(), "preempt-rate must be between 0 and 1");
}

void read_max_crash_points(ParseContext& ctx, const YAML::Node& n, Explore& e) {
  if (auto k = count_up_to(as_string(ctx, n, "max-crash-points"), kMaxCrashPoints))
    e.max_crash_points = *k;
  else
    ctx.error(n.Mark(), "max-crash-points must be a number from 1 to " + std::to_string(kMaxCrashPoints));
}

void read_crash_after(ParseContext& ctx, const YAML::Node& n, Explore& e) {
  if (auto k = count_up_to(as_string(ctx, n, "crash-after"), 1000000))
    e.crash_after_step = *k;
  else
    ctx.error(n.Mark(), "crash-after must be a step number (from 1)");
}

void read_knobs(ParseContext& ctx, const YAML::Node& n, Explore& e) {
  if (!n.IsSequence()) {
    ctx.error(n.Mark(), "knobs must be a list");
    return;
  }
  for (const auto& k : n) {
    const std::string name = as_string(ctx, k, "knob");
    if (!model::find_knob(name)) ctx.error(k.Mark(), "unknown knob '" + name + "' (see dmsim catalog)");
    e.knobs.push_back(name);
  }
}

// The explore keys, in the order their errors are reported.
using ExploreReader = void (*)(ParseContext&, const YAML::Node&, Explore&);
const std::vector<std::pair<std::string, ExploreReader>>& explore_keys() {
  static const std::vector<std::pair<std::string, ExploreReader>> keys = {
      {"preempt-at", read_preempt_at},     {"crash-points", read_crash_points},
      {"crash-states", read_crash_states}, {"seeds", read_seeds},
      {"preempt-rate", read_preempt_rate}, {"max-crash-points", read_max_crash_points},
      {"crash-after", read_crash_after},   {"knobs", read_knobs}};
  return keys;
}

void parse_explore(ParseContext& ctx, const YAML::Node& n, Explore& e) {
  if (!n.IsMap()) {
    ctx.error(n.Mark(), "explore must be a map");
    return;
  }
  std::set<std::string> allowed;
  for (const auto& [key, read] : explore_keys()) allowed.insert(key);
  check_keys(ctx, n, allowed, "explore");
  for (const auto& [key, read] : explore_keys())
    if (const YAML::Node v = n[key]) read(ctx, v, e);
}

void parse_machine(ParseContext& ctx, const YAML::Node& n, Machine& m) {
  if (!n.IsMap()) {
    ctx.error(n.Mark(), "machine must be a map");
    return;
  }
  check_keys(ctx, n, {"bits-per-long", "preempt-rt"}, "machine");
  if (const YAML::Node b = n["bits-per-long"]) {
    const std::string v = as_string(ctx, b, "bits-per-long");
    if (v == "32" || v == "64")
      m.bits_per_long = v == "32" ? 32 : 64;
    else
      ctx.error(b.Mark(), "bits-per-long must be 32 or 64");
  }
  if (const YAML::Node rt = n["preempt-rt"]) m.preempt_rt = as_bool(ctx, rt, "preempt-rt", false);
}

// What the steps may refer to: declared disks, and dm devices from the create steps before.
// Only a disk's size is known from the text: a dm device's size is its live table's, which
// `dmsetup load` + `resume` change at run time, so its bounds are checked when the step runs.
struct DeviceBook {
  std::map<std::string, uint64_t> sectors;  // path -> size; 0 for dm devices (a run-time fact)
  void add_dm(const std::string& name) { sectors["/dev/mapper/" + name] = 0; }
  void remove_dm(const std::string& name) { sectors.erase("/dev/mapper/" + name); }
  // dm devices are gone after a power cut; disks stay.
  void power_cut() {
    std::erase_if(sectors, [](const auto& entry) { return entry.first.rfind("/dev/mapper/", 0) == 0; });
    after_cut = true;
  }
  bool after_cut = false;  // a power cut came before the step being checked
};

// A step that reads or writes a device: the device exists at this step, and on a disk (whose
// size the text decides) the step stays within it unless it is meant to fail.
void check_device_step(ParseContext& ctx, const YAML::Mark& m, const Command& cmd, const DeviceBook& book) {
  auto dev_error = [&](const std::string& msg) { ctx.error(m, msg, static_cast<int>(cmd.device_at)); };
  auto it = book.sectors.find(cmd.device);
  if (it == book.sectors.end()) {
    dev_error("unknown device '" + cmd.device + "' (declared disks are /dev/NAME or /dev/VG/LV; dm devices " +
              "are /dev/mapper/NAME once a step created them" + (book.after_cut ? ", again after the power cut" : "") +
              ")");
    return;
  }
  // A disk never changes size, so a step that must run past its end is a mistake of the
  // file, reported here; a step marked `!` wants the run-time failure and gets it.
  const uint64_t bytes = it->second * 512;
  if (!bytes || cmd.expect_failure) return;
  uint64_t end = 0;
  if (cmd.kind == CmdKind::Dd &&
      (__builtin_add_overflow(cmd.seek, cmd.count, &end) || __builtin_mul_overflow(end, cmd.bs, &end) || end > bytes))
    dev_error("dd writes " + std::to_string(cmd.count) + " block(s) of " + std::to_string(cmd.bs) +
              " bytes from block " + std::to_string(cmd.seek) + ", past the end of " + cmd.device + " (" +
              std::to_string(bytes) + " bytes); mark the step '!' if it is meant to fail");
  if (cmd.kind == CmdKind::Blkdiscard && cmd.offset > bytes)
    dev_error("blkdiscard offset " + std::to_string(cmd.offset) + " is greater than the size of " + cmd.device + " (" +
              std::to_string(bytes) + " bytes); mark the step '!' if it is meant to fail");
}

// REQUIRES: marks[i] is where step i was written (parse_steps keeps them side by side).
void check_steps(ParseContext& ctx, const Scenario& s, const std::vector<YAML::Mark>& marks) {
  DMSIM_ASSERT(marks.size() == s.steps.size(), "a step without its mark would be reported at another's line");
  DeviceBook book;
  for (const auto& d : s.disks) book.sectors["/dev/" + d.name] = d.bytes / 512;
  double slept = 0;
  for (size_t i = 0; i < s.steps.size(); i++) {
    const Command& cmd = s.steps[i].cmd;
    const YAML::Mark& m = marks[i];
    switch (cmd.kind) {
      case CmdKind::DmCreate:
        if (cmd.expect_failure) break;  // a create that must fail leaves no device behind
        if (book.sectors.count("/dev/mapper/" + cmd.name))
          ctx.error(m, "device '" + cmd.name + "' already exists at this step");
        book.add_dm(cmd.name);
        break;
      case CmdKind::DmRemove:
        if (!cmd.expect_failure) book.remove_dm(cmd.name);
        break;
      case CmdKind::PowerCut:
        book.power_cut();
        break;
      case CmdKind::Sleep:
        // The sum, not only each sleep, must keep the simulated clock (u64 ns) far from wrapping.
        slept += cmd.seconds;
        if (slept > 1000 * kMaxSleepSeconds)
          ctx.error(m, "the sleeps up to this step add up to more than " +
                           std::to_string(static_cast<uint64_t>(1000 * kMaxSleepSeconds)) + " simulated seconds");
        break;
      case CmdKind::Sync:
        if (cmd.device.empty()) break;  // sync without a device: every one
        check_device_step(ctx, m, cmd, book);
        break;
      case CmdKind::Dd:
      case CmdKind::Blkdiscard:
      case CmdKind::BlockdevGetsz:
        check_device_step(ctx, m, cmd, book);
        break;
      default:
        break;
    }
  }
}

// A regular expression as std::regex reads it (ECMAScript); an error names what is wrong.
bool valid_regex(ParseContext& ctx, const YAML::Node& n, const std::string& re, const std::string& what) {
  try {
    std::regex compiled(re, std::regex::ECMAScript);
    return true;
  } catch (const std::regex_error& e) {
    ctx.error(n.Mark(), "bad regular expression in " + what + ": " + e.what());
    return false;
  }
}

std::optional<OutputExpectation> parse_output(ParseContext& ctx, const YAML::Node& step, const char* regex_key,
                                              const char* file_key) {
  if (step[regex_key] && step[file_key]) {
    ctx.error(step[file_key].Mark(),
              std::string("a step takes either ") + regex_key + " or " + file_key + ", not both");
    return std::nullopt;
  }
  if (step[regex_key]) {
    const std::string re = as_string(ctx, step[regex_key], regex_key);
    if (!valid_regex(ctx, step[regex_key], re, regex_key)) return std::nullopt;
    return OutputExpectation{OutputExpectation::Regex, re, std::string(regex_key) + ": '" + re + "'"};
  }
  if (step[file_key]) {
    const std::string rel = as_string(ctx, step[file_key], file_key);
    const std::string path = !rel.empty() && rel[0] == '/' ? rel : base_dir(ctx.file) + rel;
    std::ifstream in(path);
    if (rel.empty() || !in) {
      ctx.error(step[file_key].Mark(), std::string("cannot read ") + file_key + " '" + path + "'");
      return std::nullopt;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return OutputExpectation{OutputExpectation::Exact, ss.str(), std::string(file_key) + ": " + rel};
  }
  return std::nullopt;
}

// A step is a command line, or a map {run: COMMAND, output: REGEX | output-file: PATH,
// error: REGEX | error-file: PATH} asserting what the command prints.
std::optional<Step> parse_step(ParseContext& ctx, const YAML::Node& st) {
  const bool is_map = st.IsMap();
  if (!st.IsScalar() && !is_map) {
    ctx.error(st.Mark(), "a step is one command line (quote it if it contains ': '), or {run: COMMAND, output: REGEX}");
    return std::nullopt;
  }
  if (is_map) {
    check_keys(ctx, st, {"run", "output", "output-file", "error", "error-file"}, "a step");
    if (!st["run"] || !st["run"].IsScalar()) {
      ctx.error(st.Mark(), "a step map needs 'run: COMMAND'");
      return std::nullopt;
    }
  }
  const YAML::Node& line = is_map ? st["run"] : st;
  std::optional<CommandError> err;
  Step step;
  step.cmd = parse_command(line.Scalar(), &err);
  // "- ! cmd" reaches us as a YAML non-specific tag: the shell's "this must fail". yaml-cpp gives
  // every quoted scalar that tag too, so only a "!" written in the text counts.
  auto bang = [&ctx](const YAML::Node& n) {
    const auto pos = static_cast<size_t>(n.Mark().pos);
    return n.Tag() == "!" && n.Mark().pos >= 0 && pos < ctx.text.size() && ctx.text[pos] == '!';
  };
  if (bang(st) || bang(line)) step.cmd.expect_failure = true;
  step.line = line.Mark().line + 1;
  step.column = line.Mark().column + 1;
  if (err) {
    ctx.error(line.Mark(), err->message, static_cast<int>(err->at));
    return std::nullopt;
  }
  if (is_map) {
    step.output = parse_output(ctx, st, "output", "output-file");
    step.error = parse_output(ctx, st, "error", "error-file");
  }
  return step;
}

// catalog: {knob: NAME, detects: {kind: KIND, match: REGEX}}: the finding the knob's bug
// produces, precisely enough that no other bug's finding is taken for it.
std::optional<Catalog> parse_catalog(ParseContext& ctx, const YAML::Node& cat) {
  const char* form = "catalog must be {knob: NAME, detects: {kind: KIND, match: REGEX}}";
  if (!cat.IsMap() || !cat["knob"] || !cat["detects"]) {
    ctx.error(cat.Mark(), form);
    return std::nullopt;
  }
  check_keys(ctx, cat, {"knob", "detects"}, "catalog");
  Catalog k;
  k.knob = as_string(ctx, cat["knob"], "knob");
  if (!model::find_knob(k.knob)) ctx.error(cat["knob"].Mark(), "unknown knob '" + k.knob + "' (see dmsim catalog)");
  const YAML::Node& d = cat["detects"];
  if (!d.IsMap() || !d["kind"] || !d["match"]) {
    ctx.error(d.Mark(), std::string(form) +
                            ": detects names the finding's kind and a regular expression only its bug's " +
                            "finding matches");
    return std::nullopt;
  }
  check_keys(ctx, d, {"kind", "match"}, "detects");
  k.detects = as_string(ctx, d["kind"], "kind");
  if (!known_detect_kind(k.detects)) ctx.error(d["kind"].Mark(), "unknown finding kind '" + k.detects + "'");
  k.match = as_string(ctx, d["match"], "match");
  if (k.match.empty()) ctx.error(d["match"].Mark(), "match must not be empty");
  valid_regex(ctx, d["match"], k.match, "match");
  return k;
}

// The YAML document, once the structure check found no repeated key and no second document.
// Throws ScenarioError when the text is not YAML or not a map.
YAML::Node load_yaml(ParseContext& ctx, const std::string& text) {
  YAML::Node root;
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    StructureCheck structure(ctx, text);
    while (!structure.stuck() && parser.HandleNextDocument(structure)) {
    }
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    ctx.error(e.mark, e.msg);
    throw ScenarioError(ctx.errors);
  }
  if (!root.IsMap()) {
    ctx.error(root.Mark(), "a scenario is a map with name, disks and steps");
    throw ScenarioError(ctx.errors);
  }
  return root;
}

void parse_disks(ParseContext& ctx, const YAML::Node& root, Scenario& s) {
  if (!root["disks"] || !root["disks"].IsMap() || root["disks"].size() == 0) {
    ctx.error(root["disks"] ? root["disks"].Mark() : root.Mark(), "'disks' must map disk names to {size: ...}");
    return;
  }
  for (const auto& kv : root["disks"]) s.disks.push_back(parse_disk(ctx, kv.first, kv.second));
}

// The steps that parsed, and beside each the mark of its command line (for check_steps).
// The input file of a tool step (`-i PATH`, `--input PATH`, `--input=PATH`), if it exists next to
// the scenario: into s.input_files. Errors only for what a run could not use.
void read_input_file(ParseContext& ctx, const YAML::Node& where, const Command& c, Scenario& s) {
  for (size_t i = 0; i < c.args.size(); i++) {
    std::string rel;
    if ((c.args[i] == "-i" || c.args[i] == "--input") && i + 1 < c.args.size())
      rel = c.args[i + 1];
    else if (c.args[i].rfind("--input=", 0) == 0)
      rel = c.args[i].substr(8);
    if (rel.empty() || s.input_files.count(rel)) continue;
    const std::string path = rel[0] == '/' ? rel : base_dir(ctx.file) + rel;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > kMaxScenarioFileBytes) {
      ctx.error(where.Mark(), "input file '" + rel + "' of " + c.tool + ": " + path +
                                  (S_ISREG(st.st_mode) ? " is larger than " + format_size(kMaxScenarioFileBytes)
                                                       : " is not a regular file"));
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    std::string bytes(static_cast<size_t>(st.st_size), '\0');
    if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
      ctx.error(where.Mark(), "input file '" + rel + "' of " + c.tool + ": cannot read " + path);
      continue;
    }
    s.input_files[rel] = std::make_shared<const std::string>(std::move(bytes));
  }
}

std::vector<YAML::Mark> parse_steps(ParseContext& ctx, const YAML::Node& root, Scenario& s) {
  std::vector<YAML::Mark> marks;
  if (!root["steps"] || !root["steps"].IsSequence() || root["steps"].size() == 0) {
    ctx.error(root["steps"] ? root["steps"].Mark() : root.Mark(), "'steps' must be a list of commands");
    return marks;
  }
  for (const auto& st : root["steps"]) {
    std::optional<Step> step = parse_step(ctx, st);
    if (!step) continue;
    if (step->cmd.kind == CmdKind::Tool) read_input_file(ctx, st.IsMap() ? st["run"] : st, step->cmd, s);
    s.steps.push_back(std::move(*step));
    marks.push_back(st.IsMap() ? st["run"].Mark() : st.Mark());
  }
  return marks;
}

// `disk: NAME` of an expectation: one of the scenario's disks (parsed before `expect:`); its index.
size_t parse_disk_ref(ParseContext& ctx, const YAML::Node& n, const Scenario& s, const std::string& where,
                      std::string* name) {
  *name = as_string(ctx, n, "disk");
  const auto it = std::find_if(s.disks.begin(), s.disks.end(), [&](const DiskSpec& d) { return d.name == *name; });
  if (it != s.disks.end()) return static_cast<size_t>(it - s.disks.begin());
  ctx.error(n.Mark(), "unknown disk '" + *name + "' in " + where + " (not under disks:)");
  return 0;
}

// {disk: NAME, max: N}
FlushBudget parse_flush_budget(ParseContext& ctx, const YAML::Node& v, const Scenario& s) {
  FlushBudget b;
  const std::string where = kMaxFlushesPerFlush;
  if (!v.IsMap() || !v["disk"] || !v["max"]) {
    ctx.error(v.Mark(), where + " must be {disk: NAME, max: N}");
    return b;
  }
  check_keys(ctx, v, {"disk", "max"}, where);
  b.disk_index = parse_disk_ref(ctx, v["disk"], s, where, &b.disk);
  const std::string m = as_string(ctx, v["max"], "max");
  if (auto n = count_up_to(m, 1000))
    b.max = *n;
  else
    ctx.error(v["max"].Mark(), "bad max '" + m + "' in " + where + ": expected a count from 1 to 1000");
  return b;
}

// {disk: NAME, step: K}, K a step before any power cut (checked with the whole file).
WriteSilence parse_write_silence(ParseContext& ctx, const YAML::Node& v, const Scenario& s) {
  WriteSilence w;
  const std::string where = kNoWritesAfter;
  if (!v.IsMap() || !v["disk"] || !v["step"]) {
    ctx.error(v.Mark(), where + " must be {disk: NAME, step: K}");
    return w;
  }
  check_keys(ctx, v, {"disk", "step"}, where);
  w.disk_index = parse_disk_ref(ctx, v["disk"], s, where, &w.disk);
  const std::string k = as_string(ctx, v["step"], "step");
  if (auto n = count_up_to(k, 1000000))
    w.step = *n;
  else
    ctx.error(v["step"].Mark(), "bad step '" + k + "' in " + where + ": expected a step number (from 1)");
  return w;
}

void parse_expect(ParseContext& ctx, const YAML::Node& e, Scenario& s) {
  s.expect_given = true;
  if (!e.IsSequence()) {
    ctx.error(e.Mark(), "expect must be a list of checks");
    return;
  }
  const auto builtin = builtin_check_names();
  for (const auto& item : e) {
    const std::string key = item.IsMap() && item.size() == 1 ? item.begin()->first.Scalar() : "";
    if (key == kMaxFlushesPerFlush) {
      s.flush_budget = parse_flush_budget(ctx, item.begin()->second, s);
      s.expect.push_back(key);
      continue;
    }
    if (key == kNoWritesAfter) {
      s.write_silence = parse_write_silence(ctx, item.begin()->second, s);
      s.expect.push_back(key);
      continue;
    }
    const std::string name = as_string(ctx, item, "check");
    if (name == kMaxFlushesPerFlush) {
      ctx.error(item.Mark(), std::string(kMaxFlushesPerFlush) + " needs a disk and a count: {" + kMaxFlushesPerFlush +
                                 ": {disk: NAME, max: N}}");
      continue;
    }
    if (name == kNoWritesAfter) {
      ctx.error(item.Mark(), std::string(kNoWritesAfter) + " needs a disk and a step: {" + kNoWritesAfter +
                                 ": {disk: NAME, step: K}}");
      continue;
    }
    if (std::find(builtin.begin(), builtin.end(), name) == builtin.end() && !engines::find_check(name)) {
      std::vector<std::string> known = builtin;
      for (const auto& b : engines::check_names()) known.push_back(b);
      ctx.error(item.Mark(), "unknown check '" + name + "' (expected one of: " + joined(known) + ")");
    }
    s.expect.push_back(name);
  }
}

// REQUIRES: every part parsed without an error, so that the steps are all there.
void check_whole(ParseContext& ctx, const YAML::Node& root, const Scenario& s, const std::vector<YAML::Mark>& marks) {
  check_steps(ctx, s, marks);
  const bool has_cut = s.first_power_cut() < s.steps.size();
  if (s.explore.crash_points != CrashPoints::None && !has_cut)
    ctx.error(root["explore"]["crash-points"].Mark(),
              "crash-points needs a power-cut step: the steps after it are the recovery that runs after each crash");
  if (s.write_silence && s.write_silence->step > s.steps.size())
    ctx.error(root["expect"].Mark(), std::string(kNoWritesAfter) + " names step " +
                                         std::to_string(s.write_silence->step) + " of " +
                                         std::to_string(s.steps.size()));
  if (s.explore.crash_after_step && s.explore.crash_after_step > s.first_power_cut())
    ctx.error(root["explore"]["crash-after"].Mark(), "crash-after " + std::to_string(s.explore.crash_after_step) +
                                                         " is not a step before the power cut (step " +
                                                         std::to_string(s.first_power_cut() + 1) + ")");
}

// Without `expect:`, every check that can judge the scenario.
std::vector<std::string> default_expect(const Scenario& s) {
  std::vector<std::string> expect = {"no-deadlock", "no-hung-task", "no-lockdep", "no-errors", "no-leaks"};
  if (s.first_power_cut() < s.steps.size()) expect.push_back("block-device");
  // The engines' checks judge only their own devices, so every one applies.
  for (const auto& name : engines::check_names()) expect.push_back(name);
  return expect;
}

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& file) {
  ParseContext ctx{file, {}, text};
  const YAML::Node root = load_yaml(ctx, text);
  Scenario s;
  s.file = file;
  check_keys(ctx, root, {"name", "about", "source", "machine", "disks", "steps", "expect", "explore", "catalog"},
             "the scenario");
  if (root["name"])
    s.name = as_string(ctx, root["name"], "name");
  else
    ctx.error(root.Mark(), "missing key 'name'");
  if (root["about"]) s.about = as_string(ctx, root["about"], "about");
  if (root["source"]) s.source = as_string(ctx, root["source"], "source");
  parse_disks(ctx, root, s);
  const std::vector<YAML::Mark> marks = parse_steps(ctx, root, s);
  if (root["expect"]) parse_expect(ctx, root["expect"], s);
  if (root["explore"]) parse_explore(ctx, root["explore"], s.explore);
  if (root["machine"]) parse_machine(ctx, root["machine"], s.machine);
  if (root["catalog"]) s.catalog = parse_catalog(ctx, root["catalog"]);
  // What the parts say together is checked only once each part is right on its own.
  if (ctx.errors.empty()) check_whole(ctx, root, s, marks);
  if (!ctx.errors.empty()) throw ScenarioError(ctx.errors);
  if (!s.expect_given) s.expect = default_expect(s);
  // Invariant: a scenario that parsed keeps the limits the runs rely on (a finite clock, I/O
  // within the devices dmsim models); one beyond them would run and give a verdict about nothing.
  DMSIM_ASSERT(limits_problem(s).empty(), ("parsed beyond the limits: " + limits_problem(s)).c_str());
  return s;
}

Scenario load_scenario(const std::string& path) {
  auto refuse = [&path](const std::string& why) { return ScenarioError({path + ":0:0: " + why}); };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw refuse(std::string("cannot read the file: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    throw refuse(std::string("not a scenario file: ") + kind + " (a scenario must be a regular file)");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxScenarioFileBytes)
    throw refuse("the file has " + std::to_string(st.st_size) + " bytes; a scenario file has at most " +
                 format_size(kMaxScenarioFileBytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw refuse(std::string("cannot read the file: ") + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw refuse("cannot read the file: read error");
  return parse_scenario(ss.str(), path);
}

}  // namespace scenarios
