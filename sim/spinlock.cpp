#include "sim/spinlock.hpp"

#include "sim/runtime.hpp"

namespace sim {

Spinlock::Spinlock(std::string name, bool raw, std::string lock_class)
    : OwnedLock(raw ? "raw_spinlock" : "spinlock", std::move(name), lock_class), raw_(raw) {}

bool Spinlock::atomic() const {
  return raw_ || !Runtime::get().config().preempt_rt;
}

void Spinlock::lock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  // On RT a spinlock_t is an rtmutex: taking it may sleep, so it must not be taken atomically.
  if (!atomic()) might_sleep("rt_spin_lock");
  rt.preempt_point(PreemptionPoint::spin_lock);
  rt.lockdep().acquire(t, class_, this, AcquireMode::Write, false);
  take(t, atomic() ? TaskState::Spinning : TaskState::Uninterruptible, "spin_lock");
  if (atomic()) t.preempt_count++;
  rt.lockdep().acquired(t, class_, this, AcquireMode::Write);
  rt.event("spin_lock", this);
}

bool Spinlock::trylock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  if (is_locked()) return false;
  rt.lockdep().acquire(t, class_, this, AcquireMode::Write, true);
  try_take(t);
  if (atomic()) t.preempt_count++;
  rt.lockdep().acquired(t, class_, this, AcquireMode::Write);
  rt.event("spin_lock", this, "trylock");
  return true;
}

void Spinlock::unlock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  if (!check_owner(t, "BUG: spinlock wrong owner on CPU#0, " + t.ident() + " unlocks " + name())) return;
  rt.lockdep().release(t, this);
  if (atomic()) t.preempt_count--;
  hand_off();
  rt.event("spin_unlock", this);
  rt.preempt_point(PreemptionPoint::spin_unlock);
}

}  // namespace sim
