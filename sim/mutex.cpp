#include "sim/mutex.hpp"

#include <algorithm>

#include "sim/runtime.hpp"

namespace sim {

Mutex::Mutex(std::string name, std::string lock_class)
    : WaitObject("mutex", std::move(name)), class_name_(lock_class.empty() ? this->name() : std::move(lock_class)) {
  if (Runtime::active()) class_ = Runtime::get().intern(class_name_);
}

void Mutex::lock_nested(unsigned subclass) {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  might_sleep("mutex_lock");
  rt.preempt_point("mutex_lock");
  const uint32_t cls = subclass ? rt.intern(class_name_ + "/" + std::to_string(subclass)) : class_;
  rt.lockdep().acquire(t, cls, this, AcquireMode::Write, false);
  if (owner_ == &t) {
    // Relocking by the owner hangs, as in the kernel: the detector sees a self-cycle.
    for (;;) rt.park(TaskState::Uninterruptible, this, "mutex_lock");
  }
  if (owner_ == nullptr) {
    owner_ = &t;
  } else {
    waiters_.push_back(&t);
    while (owner_ != &t) rt.park(TaskState::Uninterruptible, this, "mutex_lock");
  }
  rt.lockdep().acquired(t, cls, this, AcquireMode::Write);
  rt.event("mutex_lock", this);
}

bool Mutex::trylock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  rt.preempt_point("mutex_trylock");
  if (owner_ != nullptr) return false;
  rt.lockdep().acquire(t, class_, this, AcquireMode::Write, true);
  owner_ = &t;
  rt.lockdep().acquired(t, class_, this, AcquireMode::Write);
  rt.event("mutex_lock", this, "trylock");
  return true;
}

void Mutex::unlock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  if (owner_ != &t) {
    rt.report(FindingKind::LockMisuse,
              "DEBUG_LOCKS_WARN_ON(__owner_task(owner) != current): mutex_unlock of " + name() + " by " + t.ident() +
                  (owner_ ? ", owner is " + owner_->ident() : ", not locked"),
              "Call Trace:\n" + t.call_trace());
    return;
  }
  rt.lockdep().release(t, this);
  if (waiters_.empty()) {
    owner_ = nullptr;
  } else {
    owner_ = waiters_.front();
    waiters_.pop_front();
    rt.unpark(*owner_);
  }
  rt.event("mutex_unlock", this);
  rt.preempt_point("mutex_unlock");
}

void Mutex::releasers(const Thread& waiter, std::vector<Releaser>& out) const {
  if (owner_) out.push_back({owner_, nullptr, "owner"});
  (void)waiter;
}

}  // namespace sim
