// spinlock_t and raw_spinlock_t. Holding a spinning lock is atomic context (sleeping under it
// is a BUG). With PREEMPT_RT a spinlock_t becomes a sleeping lock (rtmutex) and only a raw
// spinlock stays atomic. The irq variants are the same lock here: interrupts are not modelled.
#pragma once

#include <deque>
#include <string>

#include "sim/wait_object.hpp"

namespace sim {

class Spinlock : public WaitObject {
 public:
  explicit Spinlock(std::string name, bool raw = false, std::string lock_class = {});

  void lock();
  bool trylock();
  void unlock();
  bool is_locked() const { return owner_ != nullptr; }
  bool raw() const { return raw_; }
  // Whether holding it is atomic context under the current configuration.
  bool atomic() const;

  void releasers(const Thread& waiter, std::vector<Releaser>& out) const override;

 private:
  Thread* owner_ = nullptr;
  std::deque<Thread*> waiters_;
  bool raw_;
  uint32_t class_ = 0;
};

class RawSpinlock : public Spinlock {
 public:
  explicit RawSpinlock(std::string name, std::string lock_class = {})
      : Spinlock(std::move(name), true, std::move(lock_class)) {}
};

}  // namespace sim
