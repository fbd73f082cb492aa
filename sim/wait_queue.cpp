#include "sim/wait_queue.hpp"

#include <algorithm>
#include <cmath>

#include "sim/runtime.hpp"

namespace sim {

WaitQueueHead::WaitQueueHead(std::string name)
    : WaitObject("wait_queue", name), lock(name + ".lock", false, "&wq_head->lock") {}

void WaitQueueHead::prepare_to_wait(Entry& e) {
  e.t = &Runtime::get().current();
  e.woken = false;
  if (!e.queued) {
    entries_.push_back(&e);
    e.queued = true;
  }
}

bool WaitQueueHead::wait(Entry& e, TaskState st, const char* how, double timeout_s) {
  if (e.woken) return true;
  return Runtime::get().park(st, this, how, 0, timeout_s);
}

void WaitQueueHead::finish_wait(Entry& e) {
  if (!e.queued) return;
  entries_.erase(std::find(entries_.begin(), entries_.end(), &e));
  e.queued = false;
}

void WaitQueueHead::wake_up() {
  Runtime& rt = Runtime::get();
  check_annotation("wake_up");
  std::vector<Entry*> woken;
  woken.swap(entries_);
  for (Entry* e : woken) {
    e->queued = false;
    e->woken = true;
    rt.unpark(*e->t);
  }
  rt.event("wake_up", this, std::to_string(woken.size()));
  rt.preempt_point(PreemptionPoint::wake_up);
}

double wait_queue_now() {
  return Runtime::get().now();
}
double jiffies_to_seconds(uint64_t j) {
  return static_cast<double>(j) / Runtime::get().config().hz;
}
uint64_t seconds_to_jiffies_ceil(double s) {
  return static_cast<uint64_t>(std::ceil(s * Runtime::get().config().hz - 1e-9));
}

}  // namespace sim
