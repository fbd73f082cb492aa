#include "sim/timer.hpp"

#include <algorithm>
#include <cmath>

#include "sim/runtime.hpp"

namespace sim {

TimerList::TimerList(std::string name, std::function<void(TimerList*)> fn, const char* fn_name)
    : WaitObject("timer", std::move(name)), function(std::move(fn)), function_name(fn_name) {}

TimerList::~TimerList() {
  if (pending_ && Runtime::active()) Runtime::get().timers().forget(this);
}

void TimerList::releasers(const Thread&, std::vector<Releaser>& out) const {
  Runtime& rt = Runtime::get();
  for (const auto& t : rt.threads())
    if (t->kind == ThreadKind::Softirq) out.push_back({t.get(), nullptr, "runs the timer callback"});
}

bool TimerBase::arm(TimerList* t, uint64_t expires) {
  const bool was = t->pending_;
  if (was) queue_.erase(t->key_);
  t->expires = expires;
  t->key_ = {expires, ++seq_};
  t->pending_ = true;
  queue_[t->key_] = t;
  rt_.event("mod_timer", t, "expires " + std::to_string(expires));
  if (!softirq_) {
    softirq_ = &rt_.spawn(
        "ksoftirqd/0", [this] { softirq_main(); }, ThreadKind::Softirq);
  } else if (queue_.begin()->second == t) {
    rt_.unpark(*softirq_);  // it sleeps until the old earliest expiry
  }
  return was;
}

bool TimerBase::disarm(TimerList* t) {
  if (!t->pending_) return false;
  queue_.erase(t->key_);
  t->pending_ = false;
  rt_.event("del_timer", t);
  return true;
}

void TimerBase::forget(TimerList* t) {
  if (t->pending_) queue_.erase(t->key_);
  t->pending_ = false;
}

bool TimerBase::disarm_sync(TimerList* t) {
  const bool was = disarm(t);
  Thread& self = rt_.current();
  while (t->running_ && &self != softirq_) {
    t->sync_waiters_.push_back(&self);
    rt_.park(TaskState::Uninterruptible, t, "del_timer_sync");
  }
  return was;
}

void TimerBase::softirq_main() {
  KFRAME_NAMED("run_timer_softirq");
  Thread& self = rt_.current();
  for (;;) {
    while (!queue_.empty() && queue_.begin()->first.first <= rt_.jiffies()) {
      TimerList* t = queue_.begin()->second;
      queue_.erase(queue_.begin());
      t->pending_ = false;
      t->running_ = true;
      const int softirq = softirq_offset(rt_.config());  // atomic, except on PREEMPT_RT
      self.preempt_count += softirq;
      {
        KFRAME_NAMED("call_timer_fn");
        rt_.event("timer_fire", t);
        t->function(t);
      }
      self.preempt_count -= softirq;
      t->running_ = false;
      for (Thread* w : t->sync_waiters_) rt_.unpark(*w);
      t->sync_waiters_.clear();
    }
    if (queue_.empty()) {
      rt_.park(TaskState::Idle, nullptr, "ksoftirqd");
    } else {
      const double at = static_cast<double>(queue_.begin()->first.first) / rt_.config().hz;
      rt_.park(TaskState::Idle, nullptr, "ksoftirqd", 0, std::max(0.0, at - rt_.now()));
    }
  }
}

uint64_t jiffies() {
  return Runtime::get().jiffies();
}
uint64_t ktime_get_ns() {
  return Runtime::get().now_ns();
}
unsigned hz() {
  return Runtime::get().config().hz;
}
uint64_t msecs_to_jiffies(unsigned ms) {
  return static_cast<uint64_t>(std::ceil(ms * static_cast<double>(hz()) / 1000.0));
}
unsigned jiffies_to_msecs(uint64_t j) {
  return static_cast<unsigned>(j * 1000 / hz());
}

bool mod_timer(TimerList* t, uint64_t expires) {
  return Runtime::get().timers().arm(t, expires);
}
void add_timer(TimerList* t) {
  Runtime::get().timers().arm(t, t->expires);
}
bool del_timer(TimerList* t) {
  return Runtime::get().timers().disarm(t);
}
bool del_timer_sync(TimerList* t) {
  return Runtime::get().timers().disarm_sync(t);
}

void schedule_timeout_uninterruptible(uint64_t j) {
  Runtime& rt = Runtime::get();
  might_sleep("schedule_timeout");
  if (rt.current().preempt_count > 0) rt.schedule_debug("schedule_timeout");
  rt.sleep_for(static_cast<double>(j) / rt.config().hz);
}

}  // namespace sim
