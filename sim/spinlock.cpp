#include "sim/spinlock.hpp"

#include "sim/runtime.hpp"

namespace sim {

Spinlock::Spinlock(std::string name, bool raw, std::string lock_class)
    : WaitObject(raw ? "raw_spinlock" : "spinlock", std::move(name)), raw_(raw) {
  if (Runtime::active()) class_ = Runtime::get().intern(lock_class.empty() ? this->name() : lock_class);
}

bool Spinlock::atomic() const {
  return raw_ || !Runtime::get().config().preempt_rt;
}

void Spinlock::lock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  // On RT a spinlock_t is an rtmutex: taking it may sleep, so it must not be taken atomically.
  if (!atomic()) might_sleep("rt_spin_lock");
  rt.preempt_point("spin_lock");
  rt.lockdep().acquire(t, class_, this, AcquireMode::Write, false);
  if (owner_ == nullptr) {
    owner_ = &t;
  } else {
    waiters_.push_back(&t);
    const TaskState st = atomic() ? TaskState::Spinning : TaskState::Uninterruptible;
    while (owner_ != &t) rt.park(st, this, "spin_lock");
  }
  if (atomic()) t.preempt_count++;
  rt.lockdep().acquired(t, class_, this, AcquireMode::Write);
  rt.event("spin_lock", this);
}

bool Spinlock::trylock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  if (owner_ != nullptr) return false;
  rt.lockdep().acquire(t, class_, this, AcquireMode::Write, true);
  owner_ = &t;
  if (atomic()) t.preempt_count++;
  rt.lockdep().acquired(t, class_, this, AcquireMode::Write);
  rt.event("spin_lock", this, "trylock");
  return true;
}

void Spinlock::unlock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  if (owner_ != &t) {
    rt.report(FindingKind::LockMisuse,
              "BUG: spinlock wrong owner on CPU#0, " + t.ident() + " unlocks " + name() +
                  (owner_ ? " owned by " + owner_->ident() : " which is not locked"),
              "Call Trace:\n" + t.call_trace());
    return;
  }
  rt.lockdep().release(t, this);
  if (atomic()) t.preempt_count--;
  if (waiters_.empty()) {
    owner_ = nullptr;
  } else {
    owner_ = waiters_.front();
    waiters_.pop_front();
    rt.unpark(*owner_);
  }
  rt.event("spin_unlock", this);
  rt.preempt_point("spin_unlock");
}

void Spinlock::releasers(const Thread&, std::vector<Releaser>& out) const {
  if (owner_) out.push_back({owner_, nullptr, "owner"});
}

}  // namespace sim
