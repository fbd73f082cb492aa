#include "sim/mutex.hpp"

#include "sim/runtime.hpp"

namespace sim {

Mutex::Mutex(std::string name, std::string lock_class) : OwnedLock("mutex", std::move(name), lock_class) {}

void Mutex::lock_nested(unsigned subclass) {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  might_sleep("mutex_lock");
  rt.preempt_point(PreemptionPoint::mutex_lock);
  const uint32_t cls = subclass ? rt.intern(class_name_ + "/" + std::to_string(subclass)) : class_;
  rt.lockdep().acquire(t, cls, this, AcquireMode::Write, false);
  take(t, TaskState::Uninterruptible, "mutex_lock");
  rt.lockdep().acquired(t, cls, this, AcquireMode::Write);
  rt.event("mutex_lock", this);
}

bool Mutex::trylock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  rt.preempt_point(PreemptionPoint::mutex_trylock);
  if (is_locked()) return false;
  rt.lockdep().acquire(t, class_, this, AcquireMode::Write, true);
  try_take(t);
  rt.lockdep().acquired(t, class_, this, AcquireMode::Write);
  rt.event("mutex_lock", this, "trylock");
  return true;
}

void Mutex::unlock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  if (!check_owner(
          t, "DEBUG_LOCKS_WARN_ON(__owner_task(owner) != current): mutex_unlock of " + name() + " by " + t.ident()))
    return;
  rt.lockdep().release(t, this);
  hand_off();
  rt.event("mutex_unlock", this);
  rt.preempt_point(PreemptionPoint::mutex_unlock);
}

}  // namespace sim
