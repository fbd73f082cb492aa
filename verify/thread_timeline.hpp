// A bounded per-thread summary of a phase's event trace, for the reports' timeline: each thread's
// lifetime and the intervals it ran a work item, was blocked on something, was idle, or held a
// lock, in simulated time, plus the steps' starts and the detectors' findings as marks. It is
// built after the phase from the trace lines the simulation already returns (so it cannot
// perturb a run) and only for kept failures; caps keep results files small and say what they cut.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace verify {

struct TimelineSpan {
  std::string kind;  // "run" (a work item, CPU time), "blocked", "idle" (waiting for work, sleeping), "held"
  std::string what;  // "wait_for_completion rpc->complete", "mutex md->suspend_lock", "work era->worker"
  uint64_t start_ns = 0, end_ns = 0;
  bool open = false;  // still blocked or held when the trace ended (end_ns is the end of the run)
  bool operator==(const TimelineSpan&) const = default;
};

struct TimelineThread {
  int pid = 0;
  std::string name;  // "dmsetup"
  std::string step;  // the scenario step the thread ran, if it ran one
  uint64_t start_ns = 0, end_ns = 0;
  bool exited = false;
  std::vector<TimelineSpan> spans;  // by start time
  bool operator==(const TimelineThread&) const = default;
};

struct TimelineMark {
  uint64_t t_ns = 0;
  std::string kind;  // "step" or "finding"
  std::string label;
  bool operator==(const TimelineMark&) const = default;
};

struct ThreadTimeline {
  std::string phase;  // "steps" or "recovery": which simulation the times are of
  uint64_t end_ns = 0;
  std::vector<TimelineThread> threads;  // by pid
  std::vector<TimelineMark> marks;      // by time
  uint64_t events = 0;                  // trace lines read
  uint64_t instant = 0;                 // zero-length spans left out (a lock taken and dropped at once)
  // Left out over the caps: threads (with their spans), further spans, marks.
  uint64_t dropped_threads = 0, dropped_spans = 0, dropped_marks = 0;
  bool empty() const { return threads.empty(); }
  bool operator==(const ThreadTimeline&) const = default;
};

// The failures of one run that get a timeline (each is a pass over a trace of up to tens of
// thousands of lines; catalog runs keep up to 64 failures to find the detecting one).
constexpr size_t kTimelineFailures = 8;

struct TimelineCaps {
  size_t spans = 400, threads = 48, marks = 40;
};

// Reads trace lines as sim::Runtime::format_event writes them
// ("[    0.081042980] 10 dmsetup perform_rpc: block rpc->complete wait_for_completion");
// lines it does not understand are skipped. `end_ns`: when the run ended (open spans end there).
ThreadTimeline thread_timeline(const std::vector<std::string>& trace, uint64_t end_ns, const std::string& phase,
                               const TimelineCaps& caps = {});

// The JSON value of a timeline in results files, and back (throws YAML exceptions on bad input).
std::string timeline_to_json(const ThreadTimeline& t);
ThreadTimeline timeline_from_json(const YAML::Node& n);

}  // namespace verify
