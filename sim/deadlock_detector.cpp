#include "sim/deadlock_detector.hpp"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/strong_components.hpp>
#include <deque>
#include <map>
#include <set>

#include "sim/compiler_false_positives.hpp"
#include "sim/runtime.hpp"

namespace sim {

std::string WaitForGraph::label(size_t n) const {
  const Node& x = nodes[n];
  if (x.thread) return x.thread->ident();
  return x.object->describe();
}

std::string WaitForGraph::to_dot() const {
  std::string s = "digraph waitfor {\n  rankdir=LR;\n";
  for (size_t i = 0; i < nodes.size(); i++)
    s += "  n" + std::to_string(i) + " [label=\"" + label(i) + "\"" +
         (nodes[i].thread ? ", shape=box" : ", shape=ellipse") + "];\n";
  for (const Edge& e : edges)
    s += "  n" + std::to_string(e.from) + " -> n" + std::to_string(e.to) + " [label=\"" + e.why + "\"];\n";
  return s + "}\n";
}

WaitForGraph build_wait_for_graph(const Runtime& rt) {
  WaitForGraph g;
  std::map<int, size_t> thread_node;
  std::map<std::pair<uint64_t, int>, size_t> object_node;  // (object id, waiter pid)
  auto tnode = [&](const Thread* t) {
    auto [it, fresh] = thread_node.try_emplace(t->pid, g.nodes.size());
    if (fresh) g.nodes.push_back({t, nullptr, nullptr});
    return it->second;
  };
  std::vector<Releaser> rel;
  std::set<std::pair<size_t, size_t>> seen_edges;
  auto add_edge = [&](size_t a, size_t b, std::string why) {
    if (seen_edges.insert({a, b}).second) g.edges.push_back({a, b, std::move(why)});
  };
  for (const auto& tp : rt.threads()) {
    const Thread* t = tp.get();
    if (!t->blocked() || !t->waiting_on) continue;
    const size_t from = tnode(t);
    // Walk the objects this thread's wait depends on; an annotation may delegate to another
    // object (completion -> work item -> workqueue), evaluated with the same waiter.
    std::deque<std::pair<const WaitObject*, size_t>> todo;
    auto onode = [&](const WaitObject* o) {
      auto [it, fresh] =
          object_node.try_emplace({o->id() ? o->id() : reinterpret_cast<uintptr_t>(o), t->pid}, g.nodes.size());
      if (fresh) {
        g.nodes.push_back({nullptr, o, t});
        todo.push_back({o, it->second});
      }
      return it->second;
    };
    const size_t won = onode(t->waiting_on);
    add_edge(from, won, t->wait_how ? t->wait_how : "waits");
    // What the thread said it waits for (a bio, a queued request): wherever that is now.
    rel.clear();
    waiting_for_positions(*t, rel);
    for (const Releaser& r : rel) {
      if (r.thread) {
        if (r.thread->state != TaskState::Dead) add_edge(won, tnode(r.thread), r.why);
      } else {
        add_edge(won, onode(r.object), r.why);
      }
    }
    while (!todo.empty()) {
      auto [o, on] = todo.front();
      todo.pop_front();
      rel.clear();
      o->releasers(*t, rel);
      for (const Releaser& r : rel) {
        if (r.thread) {
          if (r.thread->state == TaskState::Dead) continue;
          add_edge(on, tnode(r.thread), r.why);
        } else if (r.object) {
          add_edge(on, onode(r.object), r.why);
        }
      }
    }
  }
  return g;
}

std::vector<WaitCycle> find_wait_cycles(const WaitForGraph& g) {
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
  Graph bg(g.nodes.size());
  std::vector<std::vector<size_t>> out_edges(g.nodes.size());
  for (const auto& e : g.edges) {
    boost::add_edge(e.from, e.to, bg);
    out_edges[e.from].push_back(e.to);
  }
  std::vector<int> comp(g.nodes.size());
  const int ncomp = g.nodes.empty() ? 0 : boost::strong_components(bg, comp.data());
  std::vector<std::vector<size_t>> members(ncomp);
  for (size_t i = 0; i < g.nodes.size(); i++) members[comp[i]].push_back(i);
  std::vector<WaitCycle> cycles;
  for (const auto& m : members) {
    if (m.size() < 2) continue;  // thread -> object -> thread has at least two nodes
    // Only blocked threads have out-edges, so every thread in the component is blocked. Report
    // one concrete cycle through the lowest-pid thread: shortest path back to it (BFS).
    size_t start = SIZE_MAX;
    for (size_t n : m)
      if (g.nodes[n].thread && (start == SIZE_MAX || g.nodes[n].thread->pid < g.nodes[start].thread->pid)) start = n;
    if (start == SIZE_MAX) continue;
    std::map<size_t, size_t> prev;
    std::deque<size_t> q{start};
    bool closed = false;
    size_t last = start;
    while (!q.empty() && !closed) {
      size_t n = q.front();
      q.pop_front();
      for (size_t v : out_edges[n]) {
        if (comp[v] != comp[start]) continue;
        if (v == start) {
          closed = true;
          last = n;
          break;
        }
        if (prev.count(v)) continue;
        prev[v] = n;
        q.push_back(v);
      }
    }
    if (!closed) continue;
    std::vector<size_t> cyc{last};
    while (cyc.back() != start) cyc.push_back(prev.at(cyc.back()));
    std::reverse(cyc.begin(), cyc.end());
    WaitCycle wc{std::move(cyc), {}};
    for (size_t n : m)
      if (g.nodes[n].thread) wc.threads.push_back(n);
    cycles.push_back(std::move(wc));
  }
  return cycles;
}

namespace {

std::string edge_why(const WaitForGraph& g, size_t a, size_t b) {
  for (const auto& e : g.edges)
    if (e.from == a && e.to == b) return e.why;
  return {};
}

std::string describe_thread_wait(const Thread& t) {
  std::string s = " " + t.ident() + " (" + task_state_letter(t.state) + ") blocked in " +
                  (t.wait_how ? t.wait_how : "?") + " on " + (t.waiting_on ? t.waiting_on->describe() : "?") + " for " +
                  std::to_string((Runtime::get().now_ns() - t.blocked_since_ns) / 1000000) + " ms\n";
  if (!t.workqueue.empty()) s += "   Workqueue: " + t.workqueue + "\n";
  s += "   Call Trace:\n" + t.blocked_call_trace("     ");
  return s;
}

// Between passes: the cycles seen so far, each with when it was first seen, and those reported.
// A cycle is the set of its threads, each with what it waits on: a thread woken and put back
// to sleep on the same object (a shared wait queue) keeps its cycle, one that moved on does not.
using CycleKey = std::vector<std::pair<int, uint64_t>>;
struct DetectorState {
  std::map<CycleKey, uint64_t> seen_since_ns;
  std::set<std::vector<int>> reported;
};
DetectorState& state() {
  static DetectorState s;
  return s;
}

// Nothing runs, sleeps with a deadline, waits for a timer or for I/O, and at least one thread
// is blocked: nothing can ever change again.
bool total_stall(const Runtime& rt) {
  bool any_blocked = false;
  for (const auto& tp : rt.threads()) {
    const Thread& t = *tp;
    if (t.state == TaskState::Dead) continue;
    if (t.blocked()) {
      any_blocked = true;
      continue;
    }
    if (t.parked && t.state == TaskState::Idle && !t.wait_timed) continue;  // idle worker
    return false;  // running, runnable, or in a wait that ends by itself
  }
  return any_blocked && rt.timers_armed() == 0 && rt.activities() == 0;
}

}  // namespace

namespace {

// The report of one persistent cycle: its path, then each member's wait and what ends it.
void report_cycle(Runtime& rt, const WaitForGraph& g, const WaitCycle& wc, size_t members, uint64_t since,
                  const char* why_now) {
  const auto& cyc = wc.path;
  std::string path;
  for (size_t n : cyc) path += g.label(n) + " -> ";
  path += g.label(cyc.front());
  std::string others;
  for (size_t n : wc.threads)
    if (std::find(cyc.begin(), cyc.end(), n) == cyc.end()) others += (others.empty() ? "" : ", ") + g.label(n);
  if (!others.empty()) path += " (also stuck in it: " + others + ")";
  std::string body = "circular wait among " + std::to_string(members) + " thread(s), unchanged since " +
                     format_time(since) + why_now + ":\n";
  for (size_t i = 0; i < cyc.size(); i++) {
    const size_t n = cyc[i], next = cyc[(i + 1) % cyc.size()];
    if (g.nodes[n].thread) {
      DMSIM_GCC_BUG_105651(body += "\n" + describe_thread_wait(*g.nodes[n].thread);)
    } else {
      body += "   which is ended by " + g.label(next) + " (" + edge_why(g, n, next) + ")\n";
    }
  }
  for (size_t n : wc.threads)
    if (std::find(cyc.begin(), cyc.end(), n) == cyc.end()) body += "\n" + describe_thread_wait(*g.nodes[n].thread);
  body += "\nwait-for graph (dot):\n" + g.to_dot();
  rt.report(FindingKind::Deadlock, "deadlock: " + path, body);
  rt.set_deadlock_reported(since);
}

// Every thread blocked with nothing pending: reported even without a cycle; a wait nobody is
// known to end counts.
void report_total_stall(Runtime& rt, const WaitForGraph& g) {
  std::string body = "every thread is blocked and no timer or I/O is pending: nothing can make progress.\n";
  std::string title = "deadlock: all threads blocked:";
  for (const auto& tp : rt.threads()) {
    if (!tp->blocked()) continue;
    DMSIM_GCC_BUG_105651(title += " " + tp->ident(); body += "\n" + describe_thread_wait(*tp);)
    std::vector<Releaser> rel;
    tp->waiting_on->releasers(*tp, rel);
    waiting_for_positions(*tp, rel);
    if (rel.empty()) body += "   nobody is known to end this wait\n";
    for (const Releaser& r : rel)
      body += "   ended by " + (r.thread ? r.thread->ident() : r.object->describe()) + " (" + r.why + ")\n";
  }
  body += "\nwait-for graph (dot):\n" + g.to_dot();
  rt.report(FindingKind::Deadlock, title, body);
  rt.set_deadlock_reported(rt.now_ns());
}

}  // namespace

void detect_deadlocks(Runtime& rt, bool final_pass) {
  DetectorState& st = state();
  const WaitForGraph g = build_wait_for_graph(rt);
  const std::vector<WaitCycle> cycles = find_wait_cycles(g);
  const bool stalled = total_stall(rt);
  const uint64_t now = rt.now_ns();
  // A cycle can dissolve (an over-approximated releaser, a wrong annotation): it is a deadlock
  // only if it persists for as long as the hung-task watchdog waits, lasts to the end of the
  // run, or nothing can change any more.
  const double persist_s = rt.config().hung_task_timeout_secs > 0 ? rt.config().hung_task_timeout_secs : 120;
  const uint64_t persist_ns = static_cast<uint64_t>(persist_s * 1e9);
  std::map<CycleKey, uint64_t> still;
  for (const auto& wc : cycles) {
    CycleKey ck;
    std::vector<int> key;
    for (size_t n : wc.threads) {
      const Thread* t = g.nodes[n].thread;
      ck.push_back({t->pid, t->waiting_on->id() ? t->waiting_on->id() : reinterpret_cast<uintptr_t>(t->waiting_on)});
      key.push_back(t->pid);
    }
    std::sort(ck.begin(), ck.end());
    std::sort(key.begin(), key.end());
    auto prev = st.seen_since_ns.find(ck);
    const uint64_t since = prev == st.seen_since_ns.end() ? now : prev->second;
    still[ck] = since;
    if (!final_pass && !stalled && now - since < persist_ns) continue;
    if (!st.reported.insert(key).second) continue;
    report_cycle(rt, g, wc, key.size(), since, stalled ? " (nothing else can run)" : final_pass ? " (end of run)" : "");
  }
  st.seen_since_ns.swap(still);
  if (!rt.deadlock_reported() && stalled) report_total_stall(rt, g);
}

}  // namespace sim
