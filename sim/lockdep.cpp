#include "sim/lockdep.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>

#include "sim/compiler_false_positives.hpp"
#include "sim/runtime.hpp"

namespace sim {

namespace {
const char* mode_letter(AcquireMode m) {
  switch (m) {
    case AcquireMode::Write:
      return "W";
    case AcquireMode::Read:
      return "R";
    case AcquireMode::RecursiveRead:
      return "RR";
  }
  return "?";
}
std::string hex(int v) {
  char b[16];
  std::snprintf(b, sizeof b, "%x", static_cast<unsigned>(v));
  return b;
}
const char* top_frame(const Thread& t) {
  return t.frames.empty() ? "(no frame)" : t.frames.back();
}
}  // namespace

std::string Lockdep::class_name(uint32_t c) const {
  return "(" + rt_.name_of(c) + ")";
}

std::string Lockdep::held_locks_text(const Thread& t) const {
  if (t.held.empty()) return "no locks held by " + t.name() + "/" + std::to_string(t.pid) + ".\n";
  std::string s = std::to_string(t.held.size()) + (t.held.size() == 1 ? " lock" : " locks") + " held by " + t.name() +
                  "/" + std::to_string(t.pid) + ":\n";
  for (size_t i = 0; i < t.held.size(); i++)
    s += " #" + std::to_string(i) + ": " + class_name(t.held[i].lock_class) + "{" +
         mode_letter(t.held[i].read ? (t.held[i].recursive_read ? AcquireMode::RecursiveRead : AcquireMode::Read)
                                    : AcquireMode::Write) +
         "}, at: " + t.held[i].at + "\n";
  return s;
}

// Breadth-first search for a dependency path from -> ... -> to that is "strong": it never has an
// edge ending in a recursive-read acquisition followed by an edge leaving that lock held shared
// (lockdep's -(xR)-> -(Sy)-> rule), so read-side-only cycles such as SRCU readers are not
// reported while a synchronize_srcu (a write acquisition) in the cycle is.
bool Lockdep::find_path(uint32_t from, uint32_t to, AcquireMode arrive_mode, AcquireMode leave_mode,
                        std::vector<const Dep*>& path) const {
  struct State {
    uint32_t node;
    bool arrived_rr;
  };
  struct Prev {
    uint32_t node;
    bool arrived_rr;
    const Dep* dep;
  };
  std::map<std::pair<uint32_t, bool>, Prev> prev;
  std::deque<State> q;
  const bool start_rr = arrive_mode == AcquireMode::RecursiveRead;
  // The new edge arrives at `from` taken as arrive_mode and leaves `to` held as leave_mode.
  q.push_back({from, start_rr});
  prev[{from, start_rr}] = {from, start_rr, nullptr};
  while (!q.empty()) {
    State s = q.front();
    q.pop_front();
    auto it = edges_.find(s.node);
    if (it == edges_.end()) continue;
    for (const Dep& d : it->second) {
      if (s.arrived_rr && d.from_mode != AcquireMode::Write) continue;
      const bool rr = d.to_mode == AcquireMode::RecursiveRead;
      if (d.to == to) {
        // Closing the circle with the new edge, which leaves `to` held as last_to_mode.
        if (rr && leave_mode != AcquireMode::Write) continue;
        path.clear();
        path.push_back(&d);
        std::pair<uint32_t, bool> k{s.node, s.arrived_rr};
        while (prev.at(k).dep) {
          path.push_back(prev.at(k).dep);
          k = {prev.at(k).node, prev.at(k).arrived_rr};
        }
        std::reverse(path.begin(), path.end());
        return true;
      }
      std::pair<uint32_t, bool> k{d.to, rr};
      if (prev.count(k)) continue;
      prev[k] = {s.node, s.arrived_rr, &d};
      q.push_back({d.to, rr});
    }
  }
  return false;
}

void Lockdep::acquire(Thread& t, uint32_t cls, const WaitObject* obj, AcquireMode mode, bool trylock) {
  // The kernel's lockdep turns itself off after its first report (debug_locks_off); here it
  // goes on, so that an AA report does not hide the inversions recorded after it: the
  // acquisition's other dependencies are recorded below as usual.
  for (const HeldLock& h : t.held) {
    if (h.lock_class != cls) continue;
    if (mode == AcquireMode::RecursiveRead && h.recursive_read) continue;  // nested read sections
    const std::string site = "AA " + rt_.name_of(cls) + " " + top_frame(t);
    if (!reported_sites_.insert(site).second) break;
    std::string body = t.ident() + " is trying to acquire lock:\n " + class_name(cls) + ", at: " + top_frame(t) +
                       "\n\nbut task is already holding lock:\n " + class_name(cls) + ", at: " + h.at +
                       "\n\nother info that might help us debug this:\n Possible unsafe locking scenario:\n\n"
                       "       CPU0\n       ----\n  lock" +
                       class_name(cls) + ";\n  lock" + class_name(cls) +
                       ";\n\n *** DEADLOCK ***\n\n May be due to missing lock nesting notation\n\n" +
                       held_locks_text(t) + "\nCall Trace:\n" + t.call_trace();
    rt_.report(FindingKind::RecursiveLocking,
               "WARNING: possible recursive locking detected: " + t.ident() + " takes " + obj->name() + " twice", body);
    break;
  }
  if (trylock) return;  // a trylock cannot deadlock, so it adds no dependency towards itself
  for (const HeldLock& h : t.held) {
    const AcquireMode from_mode = h.recursive_read ? AcquireMode::RecursiveRead
                                  : h.read         ? AcquireMode::Read
                                                   : AcquireMode::Write;
    const uint32_t a = h.lock_class;
    if (a == cls) continue;
    if (known_.count({a, cls})) continue;
    std::vector<const Dep*> path;
    if (find_path(cls, a, mode, from_mode, path) && reported_.insert({a, cls}).second) {
      DMSIM_GCC_BUG_105651(std::string body = "\n" + t.ident() + " is trying to acquire lock:\n " + class_name(cls) +
                                              ", at: " + top_frame(t) + "\n\nbut task is already holding lock:\n " +
                                              class_name(a) + ", at: " + h.at +
                                              "\n\nwhich lock already depends on the new lock.\n\n"
                                              "the existing dependency chain (in reverse order) is:\n";)
      int n = static_cast<int>(path.size());
      for (auto it = path.rbegin(); it != path.rend(); ++it, --n)
        body += "\n-> #" + std::to_string(n) + " " + class_name((*it)->to) + ":\n" + (*it)->where;
      body += "\n-> #0 " + class_name(cls) + ":\n   " + t.ident() + " takes it now, holding " + class_name(a) +
              ", at:\n" + t.call_trace("     ");
      body +=
          "\nother info that might help us debug this:\n\n Possible unsafe locking scenario:\n\n"
          "       CPU0                    CPU1\n       ----                    ----\n  lock" +
          class_name(a) + ";\n                               lock" + class_name(cls) +
          ";\n                               lock" + class_name(a) + ";\n  lock" + class_name(cls) +
          ";\n\n *** DEADLOCK ***\n\n" + held_locks_text(t) + "\nCall Trace:\n" + t.call_trace();
      rt_.report(FindingKind::LockOrder,
                 "WARNING: possible circular locking dependency detected: " + t.ident() + " takes " + class_name(cls) +
                     " while holding " + class_name(a) + ", which already depends on it",
                 body);
    }
    known_.insert({a, cls});
    edges_[a].push_back(Dep{cls, from_mode, mode,
                            "   " + t.ident() + " took " + class_name(cls) + " holding " + class_name(a) + ", at:\n" +
                                t.call_trace("     ")});
    edges_.try_emplace(cls);
    dep_count_++;
  }
}

void Lockdep::acquired(Thread& t, uint32_t lock_class, const WaitObject* obj, AcquireMode mode) {
  edges_.try_emplace(lock_class);
  t.held.push_back(
      HeldLock{obj, lock_class, top_frame(t), mode != AcquireMode::Write, mode == AcquireMode::RecursiveRead});
}

bool Lockdep::release(Thread& t, const WaitObject* obj) {
  for (auto it = t.held.rbegin(); it != t.held.rend(); ++it) {
    if (it->obj == obj) {
      t.held.erase(std::next(it).base());
      return true;
    }
  }
  return false;
}

void Lockdep::check_might_sleep(Thread& t, const char* where) {
  if (t.preempt_count <= 0) return;
  const std::string site = std::string("sleep ") + where + " " + top_frame(t);
  if (!reported_sites_.insert(site).second) return;
  std::string body = "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: " + std::to_string(t.pid) +
                     ", name: " + t.name() + "\npreempt_count: " + hex(t.preempt_count) + ", expected: 0\n" +
                     held_locks_text(t) + "Call Trace:\n" + t.call_trace();
  rt_.report(FindingKind::AtomicSleep,
             std::string("BUG: sleeping function called from invalid context at ") + where + " (" + t.ident() + ")",
             body);
}

}  // namespace sim
