#include "sim/rw_semaphore.hpp"

#include <algorithm>

#include "sim/runtime.hpp"

namespace sim {

RwSemaphore::RwSemaphore(std::string name, std::string lock_class)
    : WaitObject("rw_semaphore", std::move(name)), class_name_(lock_class.empty() ? this->name() : lock_class) {
  if (Runtime::active()) class_ = Runtime::get().intern(class_name_);
}

void RwSemaphore::wait_in_queue(Thread& t, bool write) {
  Runtime& rt = Runtime::get();
  Waiter w{&t, write};
  queue_.push_back(&w);
  while (!w.granted) rt.park(TaskState::Uninterruptible, this, write ? "down_write" : "down_read");
}

void RwSemaphore::down_read() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  might_sleep("down_read");
  rt.preempt_point(PreemptionPoint::down_read);
  rt.lockdep().acquire(t, class_, this, AcquireMode::Read, false);
  if (!writer_ && queue_.empty())
    readers_.push_back(&t);
  else
    wait_in_queue(t, false);
  rt.lockdep().acquired(t, class_, this, AcquireMode::Read);
  rt.event("down_read", this);
}

bool RwSemaphore::down_read_trylock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  if (writer_ || !queue_.empty()) return false;
  rt.lockdep().acquire(t, class_, this, AcquireMode::Read, true);
  readers_.push_back(&t);
  rt.lockdep().acquired(t, class_, this, AcquireMode::Read);
  rt.event("down_read", this, "trylock");
  return true;
}

void RwSemaphore::up_read() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  auto it = std::find(readers_.begin(), readers_.end(), &t);
  if (it == readers_.end()) {
    rt.report(FindingKind::LockMisuse,
              "DEBUG_RWSEMS_WARN_ON: up_read of " + name() + " by " + t.ident() + " which does not hold it for read",
              "Call Trace:\n" + t.call_trace());
    return;
  }
  readers_.erase(it);
  rt.lockdep().release(t, this);
  if (readers_.empty()) grant();
  rt.event("up_read", this);
  rt.preempt_point(PreemptionPoint::up_read);
}

void RwSemaphore::down_write() {
  down_write_nested(0);
}

void RwSemaphore::down_write_nested(unsigned subclass) {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  might_sleep("down_write");
  rt.preempt_point(PreemptionPoint::down_write);
  const uint32_t cls = subclass ? rt.intern(class_name_ + "/" + std::to_string(subclass)) : class_;
  rt.lockdep().acquire(t, cls, this, AcquireMode::Write, false);
  if (!writer_ && readers_.empty() && queue_.empty())
    writer_ = &t;
  else
    wait_in_queue(t, true);
  rt.lockdep().acquired(t, cls, this, AcquireMode::Write);
  rt.event("down_write", this);
}

bool RwSemaphore::down_write_trylock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  if (writer_ || !readers_.empty() || !queue_.empty()) return false;
  rt.lockdep().acquire(t, class_, this, AcquireMode::Write, true);
  writer_ = &t;
  rt.lockdep().acquired(t, class_, this, AcquireMode::Write);
  rt.event("down_write", this, "trylock");
  return true;
}

void RwSemaphore::up_write() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  if (writer_ != &t) {
    rt.report(FindingKind::LockMisuse,
              "DEBUG_RWSEMS_WARN_ON: up_write of " + name() + " by " + t.ident() + " which does not hold it for write",
              "Call Trace:\n" + t.call_trace());
    return;
  }
  writer_ = nullptr;
  rt.lockdep().release(t, this);
  grant();
  rt.event("up_write", this);
  rt.preempt_point(PreemptionPoint::up_write);
}

void RwSemaphore::downgrade_write() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  if (writer_ != &t) {
    rt.report(FindingKind::LockMisuse, "downgrade_write of " + name() + " by non-owner " + t.ident());
    return;
  }
  writer_ = nullptr;
  readers_.push_back(&t);
  rt.lockdep().release(t, this);
  rt.lockdep().acquired(t, class_, this, AcquireMode::Read);
  grant();
  rt.event("downgrade_write", this);
}

// Hand the semaphore to the head of the queue: one writer, or every reader up to the first
// writer (rwsem_mark_wake).
void RwSemaphore::grant() {
  Runtime& rt = Runtime::get();
  while (!queue_.empty()) {
    Waiter* w = queue_.front();
    if (w->write) {
      if (writer_ || !readers_.empty()) return;
      writer_ = w->t;
    } else {
      if (writer_) return;
      readers_.push_back(w->t);
    }
    w->granted = true;
    queue_.pop_front();
    rt.unpark(*w->t);
    if (w->write) return;
  }
}

void RwSemaphore::releasers(const Thread& waiter, std::vector<Releaser>& out) const {
  bool queued_write = false;
  for (const Waiter* w : queue_)
    if (w->t == &waiter) queued_write = w->write;
  // A reader is held up only by a writer: the holder, or (writer preference) one queued ahead.
  if (writer_) out.push_back({writer_, nullptr, "held for write"});
  if (queued_write)
    for (const Thread* r : readers_) out.push_back({r, nullptr, "held for read"});
  for (const Waiter* w : queue_) {
    if (w->t == &waiter) break;
    if (w->write)
      out.push_back({w->t, nullptr, "queued writer ahead"});
    else if (queued_write)
      out.push_back({w->t, nullptr, "queued reader ahead"});
  }
}

}  // namespace sim
