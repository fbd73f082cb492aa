#include "sim/semaphore.hpp"

#include <algorithm>

#include "sim/runtime.hpp"

namespace sim {

Semaphore::Semaphore(std::string name, unsigned count) : WaitObject("semaphore", std::move(name)), count_(count) {}

void Semaphore::down() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  might_sleep("down");
  rt.preempt_point(PreemptionPoint::down);
  if (count_ > 0) {
    count_--;
  } else {
    Waiter w{&t};
    waiters_.push_back(&w);
    while (!w.granted) rt.park(TaskState::Uninterruptible, this, "down");
  }
  rt.event("down", this, std::to_string(count_));
}

bool Semaphore::down_trylock() {
  Runtime& rt = Runtime::get();
  if (count_ == 0) return true;
  count_--;
  rt.event("down", this, "trylock");
  return false;
}

bool Semaphore::down_timeout(uint64_t jiffies) {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  might_sleep("down_timeout");
  if (count_ > 0) {
    count_--;
    return false;
  }
  Waiter w{&t};
  waiters_.push_back(&w);
  const double deadline = rt.now() + static_cast<double>(jiffies) / rt.config().hz;
  while (!w.granted) {
    const double left = deadline - rt.now();
    if (left <= 0 || !rt.park(TaskState::Uninterruptible, this, "down_timeout", 0, left)) {
      if (w.granted) break;
      waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &w));
      return true;
    }
  }
  return false;
}

void Semaphore::up() {
  Runtime& rt = Runtime::get();
  check_annotation("up");
  if (waiters_.empty()) {
    count_++;
  } else {
    Waiter* w = waiters_.front();
    waiters_.pop_front();
    w->granted = true;
    rt.unpark(*w->t);
  }
  rt.event("up", this, std::to_string(count_));
  rt.preempt_point(PreemptionPoint::up);
}

}  // namespace sim
