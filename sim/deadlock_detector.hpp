// Deadlock detection over a wait-for graph: threads point at what they wait on, objects point
// at who can end the wait (owners, readers, busy workers, where the work a thread waits for is
// now (WaitingFor), annotated signalers). A strongly
// connected component made of blocked threads is a deadlock, even while other threads (timers,
// workers) keep running; a system where nothing can ever run again is a total stall.
#pragma once

#include <string>
#include <vector>

namespace sim {

class Runtime;
class Thread;
class WaitObject;

struct WaitForGraph {
  struct Node {
    const Thread* thread = nullptr;      // a thread node, or
    const WaitObject* object = nullptr;  // an object as seen by one waiter
    const Thread* waiter = nullptr;
  };
  struct Edge {
    size_t from, to;
    std::string why;
  };
  std::vector<Node> nodes;
  std::vector<Edge> edges;

  std::string label(size_t n) const;
  std::string to_dot() const;
};

WaitForGraph build_wait_for_graph(const Runtime& rt);

// Cycles among blocked threads, each as the node sequence thread, object, thread, ..., in
// graph order; computed with Boost.Graph's strong_components.
struct WaitCycle {
  std::vector<size_t> path;     // one concrete cycle: thread, object, thread, ...
  std::vector<size_t> threads;  // every thread of the strongly connected component
};
std::vector<WaitCycle> find_wait_cycles(const WaitForGraph& g);

// Runs both checks and reports new findings; called between simulation slices. A cycle is
// reported once it has persisted for hung_task_timeout_secs (120 s when the watchdog is off),
// at once when nothing can run any more (a total stall), and on the `final_pass` at the end of
// the run; one that dissolves before then is not a deadlock.
void detect_deadlocks(Runtime& rt, bool final_pass);

}  // namespace sim
