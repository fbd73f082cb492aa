// struct mutex: sleeping, owner-tracked, FIFO hand-off. Unlike SimGrid's mutex, relocking by
// the owner is caught (lockdep's AA report, then a real self-deadlock) and unlock by a
// non-owner is reported instead of aborting.
#pragma once

#include <deque>
#include <string>

#include "sim/wait_object.hpp"

namespace sim {

class Mutex : public WaitObject {
 public:
  // `lock_class` groups instances for lockdep (the kernel keys a class by its init site);
  // by default the name is the class.
  explicit Mutex(std::string name, std::string lock_class = {});

  void lock() { lock_nested(0); }
  void lock_nested(unsigned subclass);
  bool trylock();
  void unlock();
  bool is_locked() const { return owner_ != nullptr; }
  const Thread* owner() const { return owner_; }

  void releasers(const Thread& waiter, std::vector<Releaser>& out) const override;

 private:
  Thread* owner_ = nullptr;
  std::deque<Thread*> waiters_;
  std::string class_name_;
  uint32_t class_ = 0;
};

}  // namespace sim
