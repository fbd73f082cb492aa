// struct mutex: sleeping, owner-tracked, FIFO hand-off. Unlike SimGrid's mutex, relocking by
// the owner is caught (lockdep's AA report, then a real self-deadlock) and unlock by a
// non-owner is reported instead of aborting.
#pragma once

#include <string>

#include "sim/owned_lock.hpp"

namespace sim {

class Mutex : public OwnedLock {
 public:
  // `lock_class` groups instances for lockdep (the kernel keys a class by its init site);
  // by default the name is the class.
  explicit Mutex(std::string name, std::string lock_class = {});

  void lock() { lock_nested(0); }
  void lock_nested(unsigned subclass);
  bool trylock();
  void unlock();
};

}  // namespace sim
