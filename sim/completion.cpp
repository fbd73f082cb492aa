#include "sim/completion.hpp"

#include <algorithm>
#include <cmath>

#include "sim/runtime.hpp"

namespace sim {

Completion::Completion(std::string name) : WaitObject("completion", std::move(name)) {}

void Completion::wait() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  might_sleep("wait_for_completion");
  if (done_ > 0) {
    if (done_ != UINT_MAX) done_--;
  } else {
    Waiter w{&t};
    waiters_.push_back(&w);
    while (!w.granted) rt.park(TaskState::Uninterruptible, this, "wait_for_completion");
  }
  rt.event("completion_done", this);
}

uint64_t Completion::wait_timeout(uint64_t jiffies) {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  might_sleep("wait_for_completion_timeout");
  if (done_ > 0) {
    if (done_ != UINT_MAX) done_--;
    return std::max<uint64_t>(jiffies, 1);
  }
  Waiter w{&t};
  waiters_.push_back(&w);
  const double hz = rt.config().hz;
  const double deadline = rt.now() + static_cast<double>(jiffies) / hz;
  while (!w.granted) {
    const double left = deadline - rt.now();
    if (left <= 0 || !rt.park(TaskState::Uninterruptible, this, "wait_for_completion_timeout", 0, left)) {
      if (w.granted) break;
      waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &w));
      return 0;
    }
  }
  const double left = std::max(0.0, deadline - rt.now());
  return std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(left * hz)));
}

bool Completion::try_wait() {
  if (done_ == 0) return false;
  if (done_ != UINT_MAX) done_--;
  return true;
}

void Completion::complete() {
  Runtime& rt = Runtime::get();
  check_annotation("complete");
  if (waiters_.empty()) {
    if (done_ != UINT_MAX) done_++;
  } else {
    Waiter* w = waiters_.front();
    waiters_.pop_front();
    w->granted = true;
    rt.unpark(*w->t);
  }
  rt.event("complete", this);
  rt.preempt_point(PreemptionPoint::complete);
}

void Completion::complete_all() {
  Runtime& rt = Runtime::get();
  check_annotation("complete_all");
  done_ = UINT_MAX;
  while (!waiters_.empty()) {
    Waiter* w = waiters_.front();
    waiters_.pop_front();
    w->granted = true;
    rt.unpark(*w->t);
  }
  rt.event("complete_all", this);
  rt.preempt_point(PreemptionPoint::complete);
}

}  // namespace sim
