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
  // The thread itself when this object is one (a position may name a thread).
  virtual const Thread* as_thread() const { return nullptr; }

  // Who can end `waiter`'s wait on this object. The default is the annotated signalers; locks
  // add their owners, SRCU its older readers, workqueues their busy workers.
  virtual void releasers(const Thread& waiter, std::vector<Releaser>& out) const;

  // Annotations, only for waits whose waker the runtime cannot see (who will resume a device,
  // who ups a semaphore): "this is ended by that thread / by whoever releases that object".
  // What the runtime can see goes through Holder and WaitingFor instead. An annotation is a
  // claim, and it is checked: see check_annotation().
  void add_signaler(const Thread& t, std::string why = "expected signaler");
  void add_signaler(const WaitObject& o, std::string why = "expected signaler");
  void clear_signalers() { signalers_.clear(); }
  bool has_signalers() const { return !signalers_.empty(); }

  // Called where the annotated event happens (complete, up, wake_up, queue_work): the current
  // thread must be one of the annotated signalers, or a releaser of an annotated object (the
  // owner of the named lock, the worker running the named work), else the annotation is wrong
  // and that is reported as an `annotation` finding.
  void check_annotation(const char* op) const {
    if (!signalers_.empty()) check_annotation_slow(op);
  }

 protected:
  void annotated_releasers(std::vector<Releaser>& out) const;

 private:
  void check_annotation_slow(const char* op) const;
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

// Where a piece of pending work is now: a bio in a disk queue or on a deferred list, a request
// on a list a worker serves, a kcopyd job, the holders of a block lock. The code that moves the
// work says where it went; a thread that sleeps until the work is done says so with WaitingFor,
// and the detector follows the holder to whoever can end that sleep, with no annotation. A
// holder can also consist of parts (a dm bio's clones, a dm-io request's bios): it is then
// wherever they are. Registered with the runtime only once somebody refers to it, so a holder
// per bio costs next to nothing.
class Holder {
 public:
  Holder() = default;
  ~Holder();
  Holder(const Holder&) = delete;
  Holder& operator=(const Holder&) = delete;

  // Now with `by` alone (a disk queue, the work item that serves a list, a lock, a thread).
  void set(const WaitObject& by, const char* why);
  // Also with `by`, until drop(by): several threads holding a block lock.
  void add(const WaitObject& by, const char* why);
  void drop(const WaitObject& by);
  // Also wherever `part` is, until drop_part(part) or the part's destruction.
  void add_part(const Holder& part);
  void drop_part(const Holder& part);
  // Nowhere the runtime knows of.
  void clear() {
    has_first_ = false;
    rest_.clear();
  }
  bool empty() const { return !has_first_; }

  uint64_t id() const;  // registers on first use
  // The threads and objects holding the work now, parts resolved; `seen` guards against loops.
  void positions(std::vector<Releaser>& out, std::vector<uint64_t>& seen) const;

 private:
  struct At {
    uint64_t id;  // an object's id, or a part's holder id
    const char* why;
    bool part;
  };
  void push(const At& a);
  template <class Pred>
  void erase_one(Pred pred);
  // The first place inline (a bio is in one place at a time, without an allocation), the rest
  // in rest_; `has_first_` is false only when there are none.
  At first_{};
  bool has_first_ = false;
  std::vector<At> rest_;
  mutable uint64_t id_ = 0;
};

// While in scope, the calling thread's sleeps end only when `work` is done: the bio it
// submitted, the request it queued for a worker (wherever the Holder says it is now), or a work
// item that completes what it waits on, as flush_work's barrier is completed by its work.
class WaitingFor {
 public:
  explicit WaitingFor(const Holder& work);
  WaitingFor(const WaitObject& work, const char* why);
  ~WaitingFor();
  WaitingFor(const WaitingFor&) = delete;
  WaitingFor& operator=(const WaitingFor&) = delete;

 private:
  Thread* t_;
};

// What a blocked thread's WaitingFor scopes say can end its wait.
void waiting_for_positions(const Thread& t, std::vector<Releaser>& out);

}  // namespace sim
