// struct semaphore: a counting semaphore with FIFO waiters. down() sleeps in D state. Who will
// up() it is not knowable from the code at the wait, so deadlock cycles through a semaphore
// need an add_signaler() annotation (checked at each up()).
#pragma once

#include <deque>
#include <string>

#include "sim/wait_object.hpp"

namespace sim {

class Semaphore : public WaitObject {
 public:
  Semaphore(std::string name, unsigned count);

  void down();
  bool down_trylock();                  // kernel convention: returns true when it could NOT take it
  bool down_timeout(uint64_t jiffies);  // true when it timed out
  void up();
  unsigned count() const { return count_; }

 private:
  struct Waiter {
    Thread* t;
    bool granted = false;
  };
  unsigned count_;
  std::deque<Waiter*> waiters_;
};

}  // namespace sim
