#include "sim/wq_watchdog.hpp"

#include <algorithm>
#include <cstdio>

#include "sim/runtime.hpp"
#include "sim/workqueue.hpp"

namespace sim {

namespace {

// CPU 0's two per-CPU pools, as pr_cont_pool_info prints them; WQ_HIGHPRI work has its own.
struct PoolInfo {
  int id;
  bool highpri;
  const char* text;
};
constexpr PoolInfo kCpuPools[] = {{0, false, "cpus=0 node=0 flags=0x0 nice=0"},
                                  {1, true, "cpus=0 node=0 flags=0x0 nice=-20"}};

// A worker that has the CPU: running (computing included) or spinning; not blocked or asleep.
bool on_cpu(const Thread& t) {
  if (t.state == TaskState::Spinning) return true;
  return !t.parked && t.state == TaskState::Running;
}

bool in_pool(const Workqueue& wq, const PoolInfo& pool) {
  return !(wq.flags() & WQ_UNBOUND) && static_cast<bool>(wq.flags() & WQ_HIGHPRI) == pool.highpri;
}

}  // namespace

// A per-CPU pool is concurrency-managed: while one of its workers is runnable, no other worker
// is woken, so a work function that keeps the CPU (computing, or running callbacks in a loop
// without ever sleeping) holds back every item queued on that CPU's pool, its own re-queue
// included, until it returns. The simulation gives each workqueue workers of its own and has no
// CPU to share, so such items may even run here: the watchdog judges what the kernel's pool
// would have done. The pool has been stuck since its hogging worker last took the CPU (or began
// the item), or since the oldest pending item was queued, whichever is later: the kernel's
// pool->watchdog_ts, touched when an item starts and when the worklist stops being empty.
// Unbound pools are not concurrency-managed (another worker is always woken), so they are not
// judged, and neither is a worker that blocks or sleeps: it gives the pool back.
void check_workqueue_lockups(Runtime& rt) {
  const double thresh = rt.config().wq_watchdog_thresh_secs;
  if (thresh <= 0) return;
  const uint64_t limit_ns = static_cast<uint64_t>(thresh * 1e9);
  const uint64_t now = rt.now_ns();
  const std::vector<Workqueue*> wqs = live_workqueues();
  for (const PoolInfo& pool : kCpuPools) {
    Workqueue::Running* hog = nullptr;
    uint64_t hog_since = UINT64_MAX, oldest_pending = UINT64_MAX;
    for (Workqueue* wq : wqs) {
      if (!in_pool(*wq, pool)) continue;
      for (Workqueue::Running& r : wq->running_) {
        if (!on_cpu(*r.t)) continue;
        const uint64_t since = std::max(r.since_ns, r.t->oncpu_since_ns);
        if (since < hog_since) {
          hog = &r;
          hog_since = since;
        }
      }
      for (const Workqueue::Item& i : wq->worklist_) oldest_pending = std::min(oldest_pending, i.queued_ns);
    }
    if (!hog || hog->lockup_reported || oldest_pending == UINT64_MAX) continue;
    const uint64_t stuck_since = std::max(hog_since, oldest_pending);
    if (now < stuck_since || now - stuck_since < limit_ns) continue;
    hog->lockup_reported = true;
    // show_all_workqueues: the busy workqueues of the pool, then the hogging worker's stack.
    std::string body = "Showing busy workqueues and worker pools:\n";
    for (Workqueue* wq : wqs) {
      if (!in_pool(*wq, pool) || (wq->running_.empty() && wq->worklist_.empty())) continue;
      char flags[16];
      std::snprintf(flags, sizeof flags, "0x%x", wq->flags());
      body += "workqueue " + wq->name() + ": flags=" + flags + "\n  pwq " + std::to_string(pool.id) + ": " + pool.text +
              " active=" + std::to_string(wq->running_.size() + wq->worklist_.size()) + "/" +
              std::to_string(wq->max_active_) + "\n";
      std::string in_flight, pending;
      for (const Workqueue::Running& r : wq->running_)
        in_flight += (in_flight.empty() ? "" : ", ") + std::to_string(r.t->pid) + ":" + r.func_name;
      for (const Workqueue::Item& i : wq->worklist_)
        pending += (pending.empty() ? "" : ", ") + std::string(i.w->func_name);
      if (!in_flight.empty()) body += "    in-flight: " + in_flight + "\n";
      if (!pending.empty()) body += "    pending: " + pending + "\n";
    }
    const Thread& t = *hog->t;
    body += "Showing backtraces of running workers in stalled CPU-bound worker pools:\npool " +
            std::to_string(pool.id) + ":\ntask:" + t.name() +
            " state:R running task stack:0 pid:" + std::to_string(t.pid) + " ppid:2 flags:0x00004000\n";
    if (!t.workqueue.empty()) body += "Workqueue: " + t.workqueue + "\n";
    body += "Call Trace:\n" + t.call_trace(" ");
    rt.report(FindingKind::Bug,
              std::string("BUG: workqueue lockup - pool ") + pool.text + " stuck for " +
                  std::to_string((now - stuck_since) / 1'000'000'000ULL) + "s!",
              body);
  }
}

}  // namespace sim
