// spinlock_t and raw_spinlock_t. Holding a spinning lock is atomic context (sleeping under it
// is a BUG). With PREEMPT_RT a spinlock_t becomes a sleeping lock (rtmutex) and only a raw
// spinlock stays atomic. The irq variants are the same lock here: interrupts are not modelled.
#pragma once

#include <string>

#include "sim/owned_lock.hpp"

namespace sim {

class Spinlock : public OwnedLock {
 public:
  explicit Spinlock(std::string name, bool raw = false, std::string lock_class = {});

  void lock();
  bool trylock();
  void unlock();
  bool raw() const { return raw_; }
  // Whether holding it is atomic context under the current configuration.
  bool atomic() const;

 private:
  bool raw_;
};

class RawSpinlock : public Spinlock {
 public:
  explicit RawSpinlock(std::string name, std::string lock_class = {})
      : Spinlock(std::move(name), true, std::move(lock_class)) {}
};

}  // namespace sim
