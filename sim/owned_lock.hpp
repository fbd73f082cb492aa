// The common core of the exclusive locks (mutex, spinlocks): an owner, a FIFO of waiters, and
// hand-off of ownership to the oldest waiter on release.
#pragma once

#include <deque>
#include <string>

#include "sim/thread.hpp"
#include "sim/wait_object.hpp"

namespace sim {

class OwnedLock : public WaitObject {
 public:
  bool is_locked() const { return owner_ != nullptr; }
  const Thread* owner() const { return owner_; }
  void releasers(const Thread& waiter, std::vector<Releaser>& out) const override;

 protected:
  OwnedLock(const char* kind, std::string name, const std::string& lock_class);

  // Returns once `t` owns the lock, parking in state `st` meanwhile. Relocking by the owner
  // hangs for good, as in the kernel: the detector then sees a self-cycle.
  void take(Thread& t, TaskState st, const char* how);
  bool try_take(Thread& t);
  // False (and a LockMisuse finding titled `misuse`) when `t` is not the owner.
  bool check_owner(Thread& t, const std::string& misuse);
  void hand_off();  // to the oldest waiter, or free

  uint32_t class_ = 0;
  std::string class_name_;

 private:
  Thread* owner_ = nullptr;
  std::deque<Thread*> waiters_;
};

}  // namespace sim
