// wait_queue_head_t with the wait_event family. An entry is queued before the condition is
// tested (prepare_to_wait), so a wake_up between the test and the sleep is never lost.
#pragma once

#include <string>
#include <vector>

#include "sim/spinlock.hpp"
#include "sim/thread.hpp"
#include "sim/wait_object.hpp"

namespace sim {

class WaitQueueHead : public WaitObject {
 public:
  explicit WaitQueueHead(std::string name);

  struct Entry {
    Thread* t = nullptr;
    bool queued = false;
    bool woken = false;
  };
  void prepare_to_wait(Entry& e);
  // Sleeps unless already woken; false when the timeout passed first.
  bool wait(Entry& e, TaskState st, const char* how, double timeout_s = -1);
  void finish_wait(Entry& e);

  void wake_up();  // wakes every waiter (no exclusive waits are modelled)
  void wake_up_all() { wake_up(); }
  void wake_up_locked() { wake_up(); }
  bool active() const { return !entries_.empty(); }

  Spinlock lock;  // wq_head->lock, for wake_up_locked and wait_event_lock_irq callers

 private:
  std::vector<Entry*> entries_;
};

template <class Cond>
void wait_event_state(WaitQueueHead& wq, Cond cond, TaskState st, const char* how) {
  might_sleep(how);
  for (;;) {
    WaitQueueHead::Entry e;
    wq.prepare_to_wait(e);
    if (cond()) {
      wq.finish_wait(e);
      return;
    }
    wq.wait(e, st, how);
    wq.finish_wait(e);
  }
}

template <class Cond>
void wait_event(WaitQueueHead& wq, Cond cond) {
  wait_event_state(wq, cond, TaskState::Uninterruptible, "wait_event");
}

constexpr int ERESTARTSYS = 512;

// 0 once `cond` holds, or -ERESTARTSYS as soon as a signal is pending.
template <class Cond>
int wait_event_interruptible(WaitQueueHead& wq, Cond cond) {
  might_sleep("wait_event_interruptible");
  for (;;) {
    WaitQueueHead::Entry e;
    wq.prepare_to_wait(e);
    if (cond()) {
      wq.finish_wait(e);
      return 0;
    }
    if (current().sigpending) {
      wq.finish_wait(e);
      return -ERESTARTSYS;
    }
    wq.wait(e, TaskState::Interruptible, "wait_event_interruptible");
    wq.finish_wait(e);
  }
}

double wait_queue_now();
double jiffies_to_seconds(uint64_t j);
uint64_t seconds_to_jiffies_ceil(double s);

// Returns 0 if the timeout elapsed with the condition false, else the jiffies left (at least 1).
template <class Cond>
uint64_t wait_event_timeout(WaitQueueHead& wq, Cond cond, uint64_t timeout_jiffies) {
  might_sleep("wait_event_timeout");
  const double deadline = wait_queue_now() + jiffies_to_seconds(timeout_jiffies);
  for (;;) {
    WaitQueueHead::Entry e;
    wq.prepare_to_wait(e);
    if (cond()) {
      wq.finish_wait(e);
      const double left = deadline - wait_queue_now();
      return left > 0 ? std::max<uint64_t>(1, seconds_to_jiffies_ceil(left)) : 1;
    }
    const double left = deadline - wait_queue_now();
    if (left <= 0) {
      wq.finish_wait(e);
      return 0;
    }
    wq.wait(e, TaskState::Uninterruptible, "wait_event_timeout", left);
    wq.finish_wait(e);
  }
}

// Sleeps with `lock` dropped, re-taking it before each test of the condition.
template <class Cond>
void wait_event_lock_irq(WaitQueueHead& wq, Cond cond, Spinlock& lock) {
  for (;;) {
    if (cond()) return;
    WaitQueueHead::Entry e;
    wq.prepare_to_wait(e);
    lock.unlock();
    wq.wait(e, TaskState::Uninterruptible, "wait_event_lock_irq");
    wq.finish_wait(e);
    lock.lock();
  }
}

}  // namespace sim
