#include "sim/srcu.hpp"

#include <algorithm>

#include "sim/runtime.hpp"

namespace sim {

Srcu::Srcu(std::string name) : WaitObject("srcu", std::move(name)) {
  if (Runtime::active()) class_ = Runtime::get().intern(this->name());
}

int Srcu::read_lock() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  rt.preempt_point(PreemptionPoint::srcu_read_lock);
  rt.lockdep().acquire(t, class_, this, AcquireMode::RecursiveRead, false);
  readers_.push_back({next_seq_++, &t, idx_});
  rt.lockdep().acquired(t, class_, this, AcquireMode::RecursiveRead);
  rt.event("srcu_read_lock", this, "idx " + std::to_string(idx_));
  return idx_;
}

void Srcu::read_unlock(int idx) {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  // The latest section of this thread with this index ends.
  auto it =
      std::find_if(readers_.rbegin(), readers_.rend(), [&](const Reader& r) { return r.t == &t && r.idx == idx; });
  if (it == readers_.rend()) {
    rt.report(FindingKind::LockMisuse,
              "srcu_read_unlock of " + name() + " index " + std::to_string(idx) + " by " + t.ident() +
                  " without a matching srcu_read_lock",
              "Call Trace:\n" + t.call_trace());
    return;
  }
  readers_.erase(std::next(it).base());
  rt.lockdep().release(t, this);
  rt.event("srcu_read_unlock", this, "idx " + std::to_string(idx));
  wake_syncers();
  rt.preempt_point(PreemptionPoint::srcu_read_unlock);
}

void Srcu::wake_syncers() {
  Runtime& rt = Runtime::get();
  uint64_t oldest = next_seq_;
  for (const Reader& r : readers_) oldest = std::min(oldest, r.seq);
  for (Syncer* s : syncers_)
    if (oldest >= s->before) rt.unpark(*s->t);
}

void Srcu::synchronize() {
  Runtime& rt = Runtime::get();
  Thread& t = rt.current();
  might_sleep("synchronize_srcu");
  // lockdep sees synchronize_srcu as a write acquisition and release of the domain.
  rt.lockdep().acquire(t, class_, this, AcquireMode::Write, false);
  rt.preempt_point(PreemptionPoint::synchronize_srcu);
  Syncer s{&t, next_seq_};
  idx_ ^= 1;  // new readers use the other index from now on
  rt.event("synchronize_srcu", this, "waits for readers before seq " + std::to_string(s.before));
  syncers_.push_back(&s);
  auto pending = [&] {
    return std::any_of(readers_.begin(), readers_.end(), [&](const Reader& r) { return r.seq < s.before; });
  };
  while (pending()) rt.park(TaskState::Uninterruptible, this, "synchronize_srcu", s.before);
  syncers_.erase(std::find(syncers_.begin(), syncers_.end(), &s));
  rt.event("synchronize_srcu_done", this);
}

void Srcu::releasers(const Thread& waiter, std::vector<Releaser>& out) const {
  for (const Syncer* s : syncers_) {
    if (s->t != &waiter) continue;
    for (const Reader& r : readers_)
      if (r.seq < s->before) out.push_back({r.t, nullptr, "in read-side section (srcu_read_lock)"});
  }
  annotated_releasers(out);
}

}  // namespace sim
