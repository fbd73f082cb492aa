// struct completion. wait_for_completion is an uninterruptible sleep. Who completes it is known
// from what the waiter says it waits for (WaitingFor: a bio, a queued request) or, for facts the
// runtime cannot see, from a checked annotation (add_signaler).
#pragma once

#include <climits>
#include <deque>
#include <string>

#include "sim/wait_object.hpp"

namespace sim {

class Completion : public WaitObject {
 public:
  explicit Completion(std::string name);

  void wait();
  // Returns the jiffies left, 0 on timeout (wait_for_completion_timeout).
  uint64_t wait_timeout(uint64_t jiffies);
  bool try_wait();
  void complete();
  void complete_all();
  void reinit() { done_ = 0; }
  bool done() const { return done_ > 0; }

 private:
  struct Waiter {
    Thread* t;
    bool granted = false;
  };
  unsigned done_ = 0;  // UINT_MAX after complete_all
  std::deque<Waiter*> waiters_;
};

}  // namespace sim
