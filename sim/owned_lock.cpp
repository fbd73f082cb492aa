#include "sim/owned_lock.hpp"

#include "sim/runtime.hpp"

namespace sim {

OwnedLock::OwnedLock(const char* kind, std::string name, const std::string& lock_class)
    : WaitObject(kind, std::move(name)), class_name_(lock_class.empty() ? this->name() : lock_class) {
  if (Runtime::active()) class_ = Runtime::get().intern(class_name_);
}

void OwnedLock::take(Thread& t, TaskState st, const char* how) {
  Runtime& rt = Runtime::get();
  if (owner_ == &t)
    for (;;) rt.park(st, this, how);
  if (owner_ == nullptr) {
    owner_ = &t;
    return;
  }
  waiters_.push_back(&t);
  while (owner_ != &t) rt.park(st, this, how);
}

bool OwnedLock::try_take(Thread& t) {
  if (owner_ != nullptr) return false;
  owner_ = &t;
  return true;
}

bool OwnedLock::check_owner(Thread& t, const std::string& misuse) {
  if (owner_ == &t) return true;
  Runtime::get().report(FindingKind::LockMisuse, misuse + (owner_ ? ", owner is " + owner_->ident() : ", not locked"),
                        "Call Trace:\n" + t.call_trace());
  return false;
}

void OwnedLock::hand_off() {
  if (waiters_.empty()) {
    owner_ = nullptr;
    return;
  }
  owner_ = waiters_.front();
  waiters_.pop_front();
  Runtime::get().unpark(*owner_);
}

void OwnedLock::releasers(const Thread&, std::vector<Releaser>& out) const {
  if (owner_) out.push_back({owner_, nullptr, "owner"});
}

}  // namespace sim
