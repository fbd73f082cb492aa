#include "verify/results.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdio>

#include "sim/compiler_false_positives.hpp"
#include "verify/thread_timeline.hpp"

namespace verify {

std::string json_escape(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
      case '\r':
        o += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o;
}

namespace {
std::string q(const std::string& s) {
  DMSIM_GCC_BUG_105651(return "\"" + json_escape(s) + "\"";)
}
std::string list(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); i++) s += (i ? ", " : "") + q(v[i]);
  return s + "]";
}
}  // namespace

std::string unit_to_json(const UnitResult& u) {
  std::string s =
      "{\"file\": " + q(u.file) + ", \"scenario\": " + q(u.scenario) + ", \"seed\": " + std::to_string(u.seed) +
      ", \"knobs\": " + list(u.knobs) + ", \"passed\": " + (u.passed ? "true" : "false") +
      ", \"verdict\": " + q(u.verdict) + ", \"catalog\": " + q(u.catalog) +
      ", \"explorations\": " + std::to_string(u.explorations) + ", \"recoveries\": " + std::to_string(u.recoveries) +
      ", \"crash_points\": " + std::to_string(u.crash_points) +
      ", \"harness_timeout\": " + (u.harness_timeout ? "true" : "false") +
      ", \"z3\": {\"models\": " + std::to_string(u.z3.models) +
      ", \"unconfirmed\": " + std::to_string(u.z3.unconfirmed) + ", \"ruled_out\": " + std::to_string(u.z3.ruled_out) +
      ", \"truncated\": " + std::to_string(u.z3.truncated) + ", \"unlocated\": " + std::to_string(u.z3.unlocated) +
      "}, \"notes\": " + list(u.notes) + ", \"real_tools\": [";
  for (size_t i = 0; i < u.real_tools.size(); i++)
    s += std::string(i ? ", " : "") + "{\"tool\": " + q(u.real_tools[i].tool) +
         ", \"passed\": " + std::to_string(u.real_tools[i].passed) +
         ", \"failed\": " + std::to_string(u.real_tools[i].failed) + "}";
  s += "], \"missing_tools\": " + list(u.missing_tools) + ", \"images\": " + q(u.images) +
       ", \"states\": " + list(u.states) + ", \"failures\": [";
  for (size_t i = 0; i < u.failures.size(); i++) {
    const Exploration& e = u.failures[i];
    s += std::string(i ? ", " : "") + "{\"seed\": " + std::to_string(e.seed) + ", \"knobs\": " + list(e.knobs) +
         ", \"crash_point\": " + std::to_string(e.crash_point) + ", \"crash_ns\": " + std::to_string(e.crash_ns) +
         ", \"crash_label\": " + q(e.crash_label) + ", \"crash_state\": " + q(e.crash_state) +
         ", \"choice\": " + q(e.choice_hex) + ", \"lost_writes\": " + q(e.lost_writes) +
         ", \"replay\": " + q(replay_command(u, e)) + ", \"images\": " + q(e.images) +
         ", \"transcript\": " + q(e.transcript) + ", \"violations\": [";
    for (size_t k = 0; k < e.violations.size(); k++)
      s += std::string(k ? ", " : "") + "{\"kind\": " + q(e.violations[k].kind) +
           ", \"title\": " + q(e.violations[k].title) + ", \"detail\": " + q(e.violations[k].detail) + "}";
    s += "], \"timeline\": " + timeline_to_json(e.timeline) + "}";
  }
  return s + "]}";
}

std::string results_to_json(const std::vector<UnitResult>& units) {
  size_t failed = 0;
  for (const auto& u : units) failed += !u.passed;
  std::string s = "{\"dmsim_results\": 1, \"units\": " + std::to_string(units.size()) +
                  ", \"failed\": " + std::to_string(failed) + ", \"results\": [\n";
  for (size_t i = 0; i < units.size(); i++) s += "  " + unit_to_json(units[i]) + (i + 1 < units.size() ? ",\n" : "\n");
  return s + "]}\n";
}

std::vector<UnitResult> results_from_json(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(file + ":" + std::to_string(e.mark.line + 1) + ": not valid JSON: " + e.msg);
  }
  if (!root.IsMap() || !root["dmsim_results"] || !root["results"])
    throw std::runtime_error(file + ": not a dmsim results file (no dmsim_results)");
  std::vector<UnitResult> out;
  for (const auto& n : root["results"]) {
    UnitResult u;
    u.file = n["file"].as<std::string>();
    u.scenario = n["scenario"].as<std::string>();
    u.seed = n["seed"].as<uint64_t>();
    for (const auto& k : n["knobs"]) u.knobs.push_back(k.as<std::string>());
    u.passed = n["passed"].as<bool>();
    u.verdict = n["verdict"].as<std::string>();
    u.catalog = n["catalog"].as<std::string>();
    if (n["notes"])
      for (const auto& k : n["notes"]) u.notes.push_back(k.as<std::string>());
    u.explorations = n["explorations"].as<uint64_t>();
    u.recoveries = n["recoveries"].as<uint64_t>();
    u.crash_points = n["crash_points"].as<uint64_t>();
    u.harness_timeout = n["harness_timeout"].as<bool>();
    const YAML::Node z3 = n["z3"];
    u.z3.models = z3["models"].as<uint64_t>();
    u.z3.unconfirmed = z3["unconfirmed"].as<uint64_t>();
    u.z3.ruled_out = z3["ruled_out"].as<uint64_t>();
    u.z3.truncated = z3["truncated"].as<uint64_t>();
    u.z3.unlocated = z3["unlocated"].as<uint64_t>();
    for (const auto& t : n["real_tools"])
      u.real_tools.push_back({t["tool"].as<std::string>(), t["passed"].as<uint64_t>(), t["failed"].as<uint64_t>()});
    for (const auto& m : n["missing_tools"]) u.missing_tools.push_back(m.as<std::string>());
    for (const auto& m : n["states"]) u.states.push_back(m.as<std::string>());
    if (n["images"]) u.images = n["images"].as<std::string>();
    for (const auto& f : n["failures"]) {
      Exploration e;
      e.seed = f["seed"].as<uint64_t>();
      for (const auto& k : f["knobs"]) e.knobs.push_back(k.as<std::string>());
      e.crash_point = f["crash_point"].as<int64_t>();
      e.crash_ns = f["crash_ns"].as<uint64_t>();
      e.crash_label = f["crash_label"].as<std::string>();
      e.crash_state = f["crash_state"].as<std::string>();
      e.choice_hex = f["choice"].as<std::string>();
      e.lost_writes = f["lost_writes"].as<std::string>();
      e.transcript = f["transcript"].as<std::string>();
      if (f["images"]) e.images = f["images"].as<std::string>();
      for (const auto& v : f["violations"])
        e.violations.push_back(
            {v["kind"].as<std::string>(), v["title"].as<std::string>(), v["detail"].as<std::string>()});
      if (f["timeline"]) e.timeline = timeline_from_json(f["timeline"]);
      u.failures.push_back(std::move(e));
    }
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace verify
