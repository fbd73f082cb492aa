// Entry points. SimGrid allows one engine per process, so every simulation runs in a process
// of its own: run_isolated() forks, which also turns an abort inside a simulation into a
// finding instead of a crash of the harness.
#pragma once

#include <functional>
#include <string>

#include "sim/config.hpp"
#include "sim/result.hpp"

namespace sim {

// Runs one simulation in this process; callable once per process. Simulated threads may still
// be parked when it returns, so the process must end with _exit() rather than exit().
SimResult simulate(const SimConfig& cfg, std::function<void()> main);

// Runs simulate() in a child process and returns its result. A child that dies by a signal
// yields a Crash finding (with its last stderr lines); one that outlives `wall_timeout_s` of
// real time is killed and yields a Budget finding.
SimResult run_isolated(const SimConfig& cfg, std::function<void()> main, double wall_timeout_s = 600);

// The process mechanics behind run_isolated: runs `fn` in a forked child and returns the bytes
// it produced. `ok` is false (and `error` says why) when the child died, timed out or failed.
struct ChildOutput {
  bool ok = false;
  bool timed_out = false;
  std::string bytes;
  std::string error;  // what went wrong
  std::string stderr_text;
};
ChildOutput run_in_child(const std::function<std::string()>& fn, double wall_timeout_s);

// `text` (a dying simulation's stderr) without what differs between runs and machines: absolute
// source paths become paths from the project's top folder, process ids and heap addresses
// placeholders; findings built from it are the same bytes for the same seed.
std::string reproducible_text(const std::string& text);

// Bare SimGrid cost of one yield between two actors, in ns: the yardstick for the runtime's
// own overhead. Creates an engine, so it must run in a child process (run_in_child).
double measure_bare_simgrid_yield_ns(int iterations);

}  // namespace sim
