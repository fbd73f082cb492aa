// Helpers for runtime tests: each test body is the main thread of a fresh simulation, run in a
// process of its own; assertions are made afterwards on its findings and notes.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "sim/deadlock_detector.hpp"
#include "sim/kernel.hpp"
#include "sim/runtime.hpp"
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

// Called inside a simulation: the wait-for graph's edges reachable from the blocked thread
// named `name`, one "from -> to (why)" per line: what the deadlock detector believes can end
// that thread's wait, right now.
inline std::string wait_edges_from(const std::string& name) {
  const sim::WaitForGraph g = sim::build_wait_for_graph(sim::Runtime::get());
  std::vector<size_t> todo;
  for (size_t i = 0; i < g.nodes.size(); i++)
    if (g.nodes[i].thread && g.nodes[i].thread->name() == name) todo.push_back(i);
  std::vector<bool> seen(g.nodes.size());
  std::string s;
  while (!todo.empty()) {
    const size_t n = todo.front();
    todo.erase(todo.begin());
    if (seen[n]) continue;
    seen[n] = true;
    for (const auto& e : g.edges) {
      if (e.from != n) continue;
      s += g.label(e.from) + " -> " + g.label(e.to) + " (" + e.why + ")\n";
      todo.push_back(e.to);
    }
  }
  return s;
}

}  // namespace simtest

#define REQUIRE_CLEAN(r)                                \
  do {                                                  \
    INFO(::simtest::all_text(r));                       \
    REQUIRE((r).findings.empty());                      \
    REQUIRE((r).status == ::sim::RunStatus::Completed); \
  } while (0)
