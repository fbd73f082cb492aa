// What a simulation hands back to its caller: findings of the detectors, the event trace and
// the observations a scenario recorded. It crosses a process boundary (run_isolated's child
// writes it, the parent reads it): each type lists its fields once for sim/wire.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sim {

enum class FindingKind {
  Deadlock,          // a cycle in the wait-for graph, or every thread stuck
  HungTask,          // "INFO: task NAME:PID blocked for more than N seconds."
  LockOrder,         // lockdep: possible circular locking dependency
  RecursiveLocking,  // lockdep: possible recursive locking (AA)
  AtomicSleep,       // BUG: sleeping function called from invalid context
  LockMisuse,        // unlock by non-owner, unlock of an unlocked lock, exit with locks held
  Warning,           // WARN_ON-style message from the runtime or an engine
  Bug,               // BUG()/oops: the thread is killed
  Leak,              // memory an instance allocated and did not free (kmemleak)
  Budget,            // time or event budget exceeded
  Crash,             // the simulation process died (signal, abort)
  HarnessTimeout,    // killed after the wall-clock budget: no verdict about what it simulated
  Annotation,        // a waker annotation (add_signaler) that the run contradicted
};

const char* finding_kind_name(FindingKind k);

struct Finding {
  FindingKind kind;
  uint64_t time_ns = 0;
  std::string title;  // first line, as the kernel would print it
  std::string text;   // the whole report, title included

  template <class Ar>
  void serialize(Ar& ar) {
    ar(kind, time_ns, title, text);
  }
  bool operator==(const Finding&) const = default;
};

enum class RunStatus { Completed, Deadlocked, Budget, Crashed };
const char* run_status_name(RunStatus s);

// printk log levels, as the kernel numbers them.
enum : uint8_t { KERN_ERR = 3, KERN_WARNING = 4, KERN_INFO = 6 };

struct SimResult {
  RunStatus status = RunStatus::Completed;
  uint64_t end_time_ns = 0;
  std::vector<Finding> findings;
  std::vector<std::string> trace;     // formatted event lines
  std::vector<std::string> notes;     // observations recorded with sim::note()
  std::vector<std::string> dmesg;     // the kernel log (printk)
  std::vector<uint8_t> dmesg_levels;  // each line's printk level (KERN_ERR 3, KERN_WARNING 4, KERN_INFO 6)
  std::map<std::string, double> stats;
  std::string payload;  // structured output of whoever ran the simulation (set_payload)

  bool has(FindingKind k) const;
  size_t count(FindingKind k) const;
  const Finding* first(FindingKind k) const;
  std::string summary() const;  // one line per finding, for messages and selftest

  // Simulated times and stats are doubles: the wire keeps their bit patterns exact.
  template <class Ar>
  void serialize(Ar& ar) {
    ar(status, end_time_ns, findings, trace, notes, dmesg, dmesg_levels, stats, payload);
  }
  bool operator==(const SimResult&) const = default;
};

}  // namespace sim
