// Scenario files are YAML; every problem is reported with the file, line and column that
// yaml-cpp marks, and nothing runs while any is left.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "engines/checks.hpp"
#include "model/disk_profile.hpp"
#include "model/knobs.hpp"
#include "scenarios/scenario.hpp"
#include "sim/config.hpp"

namespace scenarios {

ScenarioError::ScenarioError(std::vector<std::string> errs)
    : std::runtime_error(errs.empty() ? "scenario error" : errs.front()), errors(std::move(errs)) {}

size_t Scenario::first_power_cut() const {
  for (size_t i = 0; i < steps.size(); i++)
    if (steps[i].cmd.kind == CmdKind::PowerCut) return i;
  return steps.size();
}

std::vector<std::string> builtin_check_names() {
  return {"no-deadlock", "no-hung-task", "no-lockdep", "no-errors", "block-device", "no-leaks"};
}

bool known_detect_kind(const std::string& kind) {
  static const std::set<std::string> kinds = {
      "deadlock", "hung-task",    "lock-order", "recursive-locking", "atomic-sleep", "lock-misuse", "warning",   "bug",
      "errors",   "block-device", "leak",       "step-failed",       "budget",       "crash",       "annotation"};
  return kinds.count(kind) || engines::find_check(kind);
}

namespace {

struct Ctx {
  std::string file;
  std::vector<std::string> errors;
  void error(const YAML::Mark& m, const std::string& msg, int col_offset = 0) {
    const int line = m.is_null() ? 0 : m.line + 1, col = m.is_null() ? 0 : m.column + 1 + col_offset;
    errors.push_back(file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + msg);
  }
};

std::string as_string(Ctx& c, const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) {
    c.error(n.Mark(), what + " must be a string");
    return {};
  }
  return n.Scalar();
}

bool as_bool(Ctx& c, const YAML::Node& n, const std::string& what, bool fallback) {
  if (!n.IsScalar()) {
    c.error(n.Mark(), what + " must be true or false");
    return fallback;
  }
  const std::string v = n.Scalar();
  if (v == "true" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "no" || v == "off") return false;
  c.error(n.Mark(), what + " must be true or false, got '" + v + "'");
  return fallback;
}

void check_keys(Ctx& c, const YAML::Node& map, const std::set<std::string>& allowed, const std::string& where) {
  for (const auto& kv : map) {
    const std::string k = kv.first.Scalar();
    if (!allowed.count(k)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      c.error(kv.first.Mark(), "unknown key '" + k + "' in " + where + " (expected one of: " + list + ")");
    }
  }
}

DiskSpec parse_disk(Ctx& c, const YAML::Node& key, const YAML::Node& v) {
  DiskSpec d;
  d.name = key.Scalar();
  if (d.name.empty() || d.name[0] == '/' || d.name.find("..") != std::string::npos ||
      std::count(d.name.begin(), d.name.end(), '/') > 1)
    c.error(key.Mark(), "disk name '" + d.name + "' must be NAME or VG/LV");
  if (!v.IsMap()) {
    c.error(v.Mark(), "disk '" + d.name + "' needs a map such as {size: 1GiB}");
    return d;
  }
  check_keys(c, v, {"size", "profile", "write_cache", "logical_block_size", "initial", "discard", "discard_zeroes"},
             "disk '" + d.name + "'");
  if (!v["size"]) {
    c.error(v.Mark(), "disk '" + d.name + "' needs a size");
  } else {
    const std::string s = as_string(c, v["size"], "size");
    auto b = parse_size(s);
    if (!b || *b == 0 || *b % 4096)
      c.error(v["size"].Mark(), "bad size '" + s + "': expected a multiple of 4 KiB such as 64MiB or 1GiB");
    else
      d.bytes = *b;
  }
  if (v["profile"]) {
    d.profile = as_string(c, v["profile"], "profile");
    if (!model::disk_profile(d.profile)) {
      std::string list;
      for (const auto& n : model::disk_profile_names()) list += (list.empty() ? "" : ", ") + n;
      c.error(v["profile"].Mark(), "unknown profile '" + d.profile + "' (expected one of: " + list + ")");
    }
  }
  if (v["write_cache"]) d.write_cache = as_bool(c, v["write_cache"], "write_cache", true);
  if (v["discard"]) d.discard = as_bool(c, v["discard"], "discard", true);
  if (v["discard_zeroes"]) d.discard_zeroes = as_bool(c, v["discard_zeroes"], "discard_zeroes", true);
  if (v["logical_block_size"]) {
    const std::string s = as_string(c, v["logical_block_size"], "logical_block_size");
    if (s == "512" || s == "4096")
      d.logical_block_size = static_cast<uint32_t>(std::stoul(s));
    else
      c.error(v["logical_block_size"].Mark(), "logical_block_size must be 512 or 4096");
  }
  if (v["initial"]) {
    const std::string s = as_string(c, v["initial"], "initial");
    if (s == "zero")
      d.initial_zero = true;
    else if (s != "random")
      c.error(v["initial"].Mark(), "initial must be random or zero");
  }
  return d;
}

void parse_explore(Ctx& c, const YAML::Node& n, Explore& e) {
  if (!n.IsMap()) {
    c.error(n.Mark(), "explore must be a map");
    return;
  }
  check_keys(c, n, {"crash-points", "crash-states", "seeds", "knobs", "preempt-rate", "preempt-at", "max-crash-points"},
             "explore");
  if (n["preempt-at"]) {
    if (!n["preempt-at"].IsSequence()) {
      c.error(n["preempt-at"].Mark(), "preempt-at must be a list of preemption points");
    } else {
      const auto& known = sim::preemption_point_names();
      for (const auto& p : n["preempt-at"]) {
        const std::string v = as_string(c, p, "preempt-at");
        if (std::find(known.begin(), known.end(), v) == known.end()) {
          std::string list;
          for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
          c.error(p.Mark(), "unknown preemption point '" + v + "' (expected one of: " + list + ")");
        } else {
          e.preempt_at.push_back(v);
        }
      }
    }
  }
  if (n["crash-points"]) {
    const std::string v = as_string(c, n["crash-points"], "crash-points");
    if (v == "none")
      e.crash_points = CrashPoints::None;
    else if (v == "steps")
      e.crash_points = CrashPoints::Steps;
    else if (v == "every-io")
      e.crash_points = CrashPoints::EveryIo;
    else if (v == "every-flush")
      e.crash_points = CrashPoints::EveryFlush;
    else
      c.error(n["crash-points"].Mark(), "crash-points must be none, steps, every-io or every-flush");
  }
  if (n["crash-states"]) {
    const std::string v = as_string(c, n["crash-states"], "crash-states");
    auto number = [&](const std::string& s) -> uint64_t {
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9) {
        c.error(n["crash-states"].Mark(), "bad count in crash-states '" + v + "'");
        return 0;
      }
      return std::stoull(s);
    };
    if (v == "z3")
      e.crash_states = CrashStateMode::Z3;
    else if (v == "prefix")
      e.crash_states = CrashStateMode::Prefix;
    else if (v == "durable")
      e.crash_states = CrashStateMode::Durable;
    else if (v.rfind("all<=", 0) == 0) {
      e.crash_states = CrashStateMode::All;
      e.crash_state_count = number(v.substr(5));
    } else if (v.rfind("random:", 0) == 0) {
      e.crash_states = CrashStateMode::Random;
      e.crash_state_count = number(v.substr(7));
    } else {
      c.error(n["crash-states"].Mark(), "crash-states must be z3, all<=N, random:N, prefix or durable");
    }
  }
  if (n["seeds"]) {
    const std::string v = as_string(c, n["seeds"], "seeds");
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 6 || std::stoull(v) == 0)
      c.error(n["seeds"].Mark(), "seeds must be a positive number");
    else
      e.seeds = std::stoull(v);
  }
  if (n["preempt-rate"]) {
    try {
      e.preempt_rate = n["preempt-rate"].as<double>();
    } catch (const std::exception&) {
      c.error(n["preempt-rate"].Mark(), "preempt-rate must be a number between 0 and 1");
    }
    if (e.preempt_rate < 0 || e.preempt_rate > 1)
      c.error(n["preempt-rate"].Mark(), "preempt-rate must be between 0 and 1");
  }
  if (n["max-crash-points"]) {
    const std::string v = as_string(c, n["max-crash-points"], "max-crash-points");
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 6)
      c.error(n["max-crash-points"].Mark(), "max-crash-points must be a number");
    else
      e.max_crash_points = std::stoull(v);
  }
  if (n["knobs"]) {
    if (!n["knobs"].IsSequence()) {
      c.error(n["knobs"].Mark(), "knobs must be a list");
    } else {
      for (const auto& k : n["knobs"]) {
        const std::string name = as_string(c, k, "knob");
        if (!model::find_knob(name)) c.error(k.Mark(), "unknown knob '" + name + "' (see dmsim catalog)");
        e.knobs.push_back(name);
      }
    }
  }
}

// What the steps may refer to: declared disks, and dm devices from the create steps before.
struct DeviceBook {
  std::map<std::string, uint64_t> sectors;  // path -> size (0: unknown)
  void add_dm(const std::string& name, uint64_t size) { sectors["/dev/mapper/" + name] = size; }
  void remove_dm(const std::string& name) { sectors.erase("/dev/mapper/" + name); }
};

// Table length, resolving $(blockdev --getsz DEV) against known sizes; 0 when unknown.
uint64_t static_table_size(const std::string& table, const DeviceBook& book) {
  uint64_t total = 0;
  std::istringstream lines(table);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ls(line);
    std::string start, len;
    if (!(ls >> start >> len)) continue;
    if (len.rfind("$(blockdev --getsz ", 0) == 0 && len.back() == ')') {
      auto it = book.sectors.find(len.substr(19, len.size() - 20));
      if (it == book.sectors.end() || !it->second) return 0;
      total += it->second;
    } else if (!len.empty() && len.find_first_not_of("0123456789") == std::string::npos) {
      total += std::stoull(len);
    } else {
      return 0;
    }
  }
  return total;
}

void check_steps(Ctx& c, Scenario& s, const std::vector<YAML::Mark>& marks) {
  DeviceBook book;
  for (const auto& d : s.disks) book.sectors["/dev/" + d.name] = d.bytes / 512;
  bool after_cut = false;
  for (size_t i = 0; i < s.steps.size(); i++) {
    Command& cmd = s.steps[i].cmd;
    const YAML::Mark& m = marks[i];
    auto dev_error = [&](const std::string& msg) { c.error(m, msg, static_cast<int>(cmd.device_at)); };
    switch (cmd.kind) {
      case CmdKind::DmCreate:
        if (cmd.expect_failure) break;  // a create that must fail leaves no device behind
        if (book.sectors.count("/dev/mapper/" + cmd.name))
          c.error(m, "device '" + cmd.name + "' already exists at this step");
        book.add_dm(cmd.name, static_table_size(cmd.table, book));
        break;
      case CmdKind::DmRemove:
        if (!cmd.expect_failure) book.remove_dm(cmd.name);
        break;
      case CmdKind::PowerCut: {
        // dm devices are gone after a power cut; disks stay.
        DeviceBook kept;
        for (const auto& [p, sz] : book.sectors)
          if (p.rfind("/dev/mapper/", 0) != 0) kept.sectors[p] = sz;
        book = kept;
        after_cut = true;
        break;
      }
      case CmdKind::Dd:
      case CmdKind::Blkdiscard:
      case CmdKind::BlockdevGetsz:
      case CmdKind::Sync: {
        if (cmd.kind == CmdKind::Sync && cmd.device.empty()) break;
        auto it = book.sectors.find(cmd.device);
        if (it == book.sectors.end()) {
          dev_error("unknown device '" + cmd.device + "' (declared disks are /dev/NAME or /dev/VG/LV; dm devices " +
                    "are /dev/mapper/NAME once a step created them" + (after_cut ? ", again after the power cut" : "") +
                    ")");
          break;
        }
        const uint64_t size = it->second;
        if (!size) break;
        if (cmd.kind == CmdKind::Dd && (cmd.seek + cmd.count) * cmd.bs > size * 512)
          dev_error("dd writes up to byte " + std::to_string((cmd.seek + cmd.count) * cmd.bs) + " but " + cmd.device +
                    " has " + std::to_string(size * 512) + " bytes");
        if (cmd.kind == CmdKind::Blkdiscard && cmd.offset + cmd.length > size * 512)
          dev_error("blkdiscard range ends at byte " + std::to_string(cmd.offset + cmd.length) + " but " + cmd.device +
                    " has " + std::to_string(size * 512) + " bytes");
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& file) {
  Ctx c{file, {}};
  Scenario s;
  s.file = file;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    c.error(e.mark, e.msg);
    throw ScenarioError(c.errors);
  }
  if (!root.IsMap()) {
    c.error(root.Mark(), "a scenario is a map with name, disks and steps");
    throw ScenarioError(c.errors);
  }
  check_keys(c, root, {"name", "about", "source", "disks", "steps", "expect", "explore", "catalog"}, "the scenario");
  if (root["name"])
    s.name = as_string(c, root["name"], "name");
  else
    c.error(root.Mark(), "missing key 'name'");
  if (root["about"]) s.about = as_string(c, root["about"], "about");
  if (root["source"]) s.source = as_string(c, root["source"], "source");
  if (!root["disks"] || !root["disks"].IsMap() || root["disks"].size() == 0) {
    c.error(root["disks"] ? root["disks"].Mark() : root.Mark(), "'disks' must map disk names to {size: ...}");
  } else {
    for (const auto& kv : root["disks"]) s.disks.push_back(parse_disk(c, kv.first, kv.second));
  }
  std::vector<YAML::Mark> marks;
  if (!root["steps"] || !root["steps"].IsSequence() || root["steps"].size() == 0) {
    c.error(root["steps"] ? root["steps"].Mark() : root.Mark(), "'steps' must be a list of commands");
  } else {
    for (const auto& st : root["steps"]) {
      if (!st.IsScalar()) {
        c.error(st.Mark(), "a step is one command line (quote it if it contains ': ')");
        continue;
      }
      std::optional<CommandError> err;
      Step step;
      step.cmd = parse_command(st.Scalar(), &err);
      // "- ! cmd" reaches us as a YAML non-specific tag: the shell's "this must fail".
      if (st.Tag() == "!") step.cmd.expect_failure = true;
      step.line = st.Mark().line + 1;
      step.column = st.Mark().column + 1;
      if (err) {
        c.error(st.Mark(), err->message, static_cast<int>(err->at));
        continue;
      }
      s.steps.push_back(step);
      marks.push_back(st.Mark());
    }
  }
  if (root["expect"]) {
    s.expect_given = true;
    const YAML::Node& e = root["expect"];
    if (!e.IsSequence()) {
      c.error(e.Mark(), "expect must be a list of checks");
    } else {
      const auto builtin = builtin_check_names();
      for (const auto& item : e) {
        const std::string name = as_string(c, item, "check");
        if (std::find(builtin.begin(), builtin.end(), name) == builtin.end() && !engines::find_check(name)) {
          std::string list;
          for (const auto& b : builtin) list += (list.empty() ? "" : ", ") + b;
          for (const auto& b : engines::check_names()) list += ", " + b;
          c.error(item.Mark(), "unknown check '" + name + "' (expected one of: " + list + ")");
        }
        s.expect.push_back(name);
      }
    }
  }
  if (root["explore"]) parse_explore(c, root["explore"], s.explore);
  if (root["catalog"]) {
    const YAML::Node& cat = root["catalog"];
    if (!cat.IsMap() || !cat["knob"] || !cat["detects"]) {
      c.error(cat.Mark(), "catalog must be {knob: NAME, detects: KIND}");
    } else {
      check_keys(c, cat, {"knob", "detects"}, "catalog");
      Catalog k{as_string(c, cat["knob"], "knob"), as_string(c, cat["detects"], "detects")};
      if (!model::find_knob(k.knob)) c.error(cat["knob"].Mark(), "unknown knob '" + k.knob + "' (see dmsim catalog)");
      if (!known_detect_kind(k.detects)) c.error(cat["detects"].Mark(), "unknown finding kind '" + k.detects + "'");
      s.catalog = k;
    }
  }
  if (c.errors.empty()) {
    check_steps(c, s, marks);
    const bool has_cut = s.first_power_cut() < s.steps.size();
    if (s.explore.crash_points != CrashPoints::None && !has_cut)
      c.error(root["explore"]["crash-points"].Mark(),
              "crash-points needs a power-cut step: the steps after it are the recovery that runs after each crash");
  }
  if (!c.errors.empty()) throw ScenarioError(c.errors);
  if (!s.expect_given) {
    s.expect = {"no-deadlock", "no-hung-task", "no-lockdep", "no-errors", "no-leaks"};
    if (s.first_power_cut() < s.steps.size()) s.expect.push_back("block-device");
    // The engines' checks judge only their own devices, so every one applies.
    for (const auto& name : engines::check_names()) s.expect.push_back(name);
  }
  return s;
}

Scenario load_scenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ScenarioError({path + ":0:0: cannot read the file"});
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_scenario(ss.str(), path);
}

}  // namespace scenarios
