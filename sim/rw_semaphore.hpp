// struct rw_semaphore, writer-preferring: once a writer waits, new readers queue behind it.
// That is the property behind the dm-snapshot COW-throttling deadlock (readers blocked behind
// a writer while the thread that would let the first readers go needs a read lock itself).
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "sim/wait_object.hpp"

namespace sim {

class RwSemaphore : public WaitObject {
 public:
  explicit RwSemaphore(std::string name, std::string lock_class = {});

  void down_read();
  bool down_read_trylock();
  void up_read();
  void down_write();
  // down_write_nested: a second lock of the same class, annotated as nesting level `subclass`
  // (SINGLE_DEPTH_NESTING = 1), so that lockdep does not take it for recursion.
  void down_write_nested(unsigned subclass);
  bool down_write_trylock();
  void up_write();
  void downgrade_write();

  size_t readers() const { return readers_.size(); }
  const Thread* writer() const { return writer_; }
  size_t waiting() const { return queue_.size(); }

  void releasers(const Thread& waiter, std::vector<Releaser>& out) const override;

 private:
  struct Waiter {
    Thread* t;
    bool write;
    bool granted = false;
  };
  void grant();
  void wait_in_queue(Thread& t, bool write);

  std::vector<Thread*> readers_;
  Thread* writer_ = nullptr;
  std::deque<Waiter*> queue_;
  uint32_t class_ = 0;
  std::string class_name_;
};

}  // namespace sim
