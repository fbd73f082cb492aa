// Helpers for runtime tests: each test body is the main thread of a fresh simulation, run in a
// process of its own; assertions are made afterwards on its findings and notes.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "sim/kernel.hpp"
#include "sim/simulation.hpp"

namespace simtest {

using sim::FindingKind;
using sim::RunStatus;
using sim::SimConfig;
using sim::SimResult;
using Notes = std::vector<std::string>;

inline SimResult run(std::function<void()> body, SimConfig cfg = {}) {
  return sim::run_isolated(cfg, std::move(body), 120);
}

// Simulated milliseconds since boot, for notes that record when something happened.
inline long now_ms() {
  return static_cast<long>(sim::ktime_get_ns() / 1000000);
}
inline void note_at(const std::string& what) {
  sim::note(what + " @" + std::to_string(now_ms()));
}

inline bool has_note(const SimResult& r, const std::string& n) {
  return std::find(r.notes.begin(), r.notes.end(), n) != r.notes.end();
}

inline std::string all_text(const SimResult& r) {
  std::string s = r.summary() + "\n";
  for (const auto& f : r.findings) s += "----\n" + f.text + "\n";
  return s;
}

// The first finding of `kind` whose title contains `words`, or nullptr.
inline const sim::Finding* finding(const SimResult& r, FindingKind kind, const std::string& words = "") {
  for (const auto& f : r.findings)
    if (f.kind == kind && f.title.find(words) != std::string::npos) return &f;
  return nullptr;
}

}  // namespace simtest

#define REQUIRE_CLEAN(r)                                \
  do {                                                  \
    INFO(::simtest::all_text(r));                       \
    REQUIRE((r).findings.empty());                      \
    REQUIRE((r).status == ::sim::RunStatus::Completed); \
  } while (0)
