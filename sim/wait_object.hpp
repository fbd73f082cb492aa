// Anything a simulated thread can wait on. Every primitive derives from WaitObject so that the
// deadlock detector can ask, for a blocked thread, who could end its wait.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sim {

class Thread;

// One way a wait can end: a thread that holds or will signal the object, or another object
// whose releasers are the real answer (a completion signalled by a work item, say).
struct Releaser {
  const Thread* thread = nullptr;
  const class WaitObject* object = nullptr;
  std::string why;  // "owner", "held for read", "expected signaler", ...
};

class WaitObject {
 public:
  WaitObject(const char* kind, std::string name);
  virtual ~WaitObject();
  WaitObject(const WaitObject&) = delete;
  WaitObject& operator=(const WaitObject&) = delete;

  const char* kind() const { return kind_; }
  const std::string& name() const { return name_; }
  uint32_t name_id() const { return name_id_; }
  uint64_t id() const { return id_; }
  std::string describe() const { return std::string(kind_) + " " + name_; }

  // Who can end `waiter`'s wait on this object. The default is the annotated signalers; locks
  // add their owners, SRCU its older readers, workqueues their busy workers.
  virtual void releasers(const Thread& waiter, std::vector<Releaser>& out) const;

  // Annotations for waits whose waker the runtime cannot see (completions, semaphores, wait
  // queues, idle work items): "this is ended by that thread / by whoever releases that object".
  // They are what lets the detector close a cycle through a completion, as lockdep's
  // cross-release tried to; without one the wait is reported as having no known waker.
  void add_signaler(const Thread& t, std::string why = "expected signaler");
  void add_signaler(const WaitObject& o, std::string why = "expected signaler");
  void clear_signalers() { signalers_.clear(); }
  bool has_signalers() const { return !signalers_.empty(); }

 protected:
  void annotated_releasers(std::vector<Releaser>& out) const;

 private:
  struct Signaler {
    int pid = -1;         // a thread, or
    uint64_t object = 0;  // an object id, resolved through the runtime's registry
    std::string why;
  };
  const char* kind_;
  std::string name_;
  uint32_t name_id_ = 0;
  uint64_t id_ = 0;
  std::vector<Signaler> signalers_;
};

}  // namespace sim
