// Workqueues with Linux semantics (kernel/workqueue.c):
//  - queue_work returns false when the item is already pending; a running item can be queued
//    again and runs once more after the current execution; an item never runs concurrently
//    with itself;
//  - flush_workqueue waits only for items queued before the call (not for re-queues after it);
//  - drain_workqueue flushes until the queue stays empty, re-queues from the queue's own work
//    included, and rejects (WARN, item lost) queueing from anywhere else meanwhile;
//  - ordered queues run one item at a time in queueing order.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/timer.hpp"
#include "sim/wait_object.hpp"

namespace sim {

class Workqueue;
class Thread;
class Runtime;

class WorkStruct : public WaitObject {
 public:
  // INIT_WORK: `fn_name` is the function's name as call traces show it.
  WorkStruct(std::string name, std::function<void(WorkStruct*)> fn, const char* fn_name);
  // A work function may free its own work item (process_one_work never touches it afterwards):
  // the queue running it is told, and drops its pointer.
  ~WorkStruct() override;

  std::function<void(WorkStruct*)> func;
  const char* func_name;

  bool pending() const { return pending_; }
  bool running() const { return running_on_ != nullptr; }
  void releasers(const Thread& waiter, std::vector<Releaser>& out) const override;

 private:
  friend class Workqueue;
  friend struct DelayedWork;
  bool pending_ = false;
  bool in_timer_ = false;  // pending because a delayed-work timer is armed
  Workqueue* wq_ = nullptr;
  uint64_t seq_ = 0;  // of the queued instance
  Thread* running_on_ = nullptr;
  uint64_t running_seq_ = 0;
  uint32_t class_ = 0;
};

struct DelayedWork {
  DelayedWork(std::string name, std::function<void(WorkStruct*)> fn, const char* fn_name);
  WorkStruct work;
  TimerList timer;
  Workqueue* wq = nullptr;
};

enum WorkqueueFlags : unsigned {
  WQ_UNBOUND = 1u << 1,
  WQ_FREEZABLE = 1u << 2,
  WQ_MEM_RECLAIM = 1u << 3,
  WQ_HIGHPRI = 1u << 4,
  WQ_CPU_INTENSIVE = 1u << 5,
  WQ_ORDERED = 1u << 17,  // __WQ_ORDERED
};

class Workqueue : public WaitObject {
 public:
  Workqueue(std::string name, unsigned flags, int max_active);

  bool queue(WorkStruct* w);
  void flush();
  void drain();
  void destroy();
  bool flush_work(WorkStruct* w);
  bool cancel_work(WorkStruct* w);
  bool cancel_work_sync(WorkStruct* w);

  bool queue_delayed(DelayedWork* dw, uint64_t delay);
  bool mod_delayed(DelayedWork* dw, uint64_t delay);
  bool cancel_delayed(DelayedWork* dw);
  bool cancel_delayed_sync(DelayedWork* dw);
  bool flush_delayed(DelayedWork* dw);

  bool ordered() const { return flags_ & WQ_ORDERED; }
  unsigned flags() const { return flags_; }
  bool destroyed() const { return destroyed_; }
  bool draining() const { return draining_ > 0; }
  size_t pending_items() const { return worklist_.size(); }
  size_t busy_workers() const;

  void releasers(const Thread& waiter, std::vector<Releaser>& out) const override;

 private:
  friend struct DelayedWork;
  friend void check_workqueue_lockups(Runtime& rt);
  struct Item {
    WorkStruct* w;
    uint64_t seq;
    uint64_t queued_ns;  // when it went on the list: the watchdog's view of a pending item
  };
  void insert(WorkStruct* w);  // __queue_work: the pending bit is already set
  bool is_chained() const;
  bool busy() const;
  bool remove_pending(WorkStruct* w);
  void worker_main(Thread* self);
  void wake_waiters();
  bool flush_upto(uint64_t target, const WaitObject* on, const char* how);
  void wake_worker();

  unsigned flags_;
  int max_active_;
  std::deque<Item> worklist_;
  std::set<uint64_t> unfinished_;  // seqs queued or running
  std::vector<Thread*> workers_;
  friend class WorkStruct;
  void forget_freed(const WorkStruct* w);
  struct Running {
    Thread* t;
    WorkStruct* w;  // null once the item freed itself
    uint64_t seq;
    const char* func_name;  // the item may free itself while it runs: its name is kept here
    uint64_t since_ns;      // when it started
    bool lockup_reported;   // the watchdog reported its pool stuck behind this execution
  };
  bool is_running(const Thread* t) const;
  std::vector<Running> running_;  // workers executing an item
  // Lockdep runs a work on a copy of its map (process_one_work): when the item frees itself, the
  // worker's held entry moves to a stand-in that lives as long as the execution (or the queue,
  // after an oops).
  std::map<const Thread*, std::unique_ptr<WaitObject>> freed_stand_ins_;
  std::vector<Thread*> waiters_;  // flushers, drainers, flush_work callers
  uint64_t last_seq_ = 0;
  unsigned draining_ = 0;
  bool dying_ = false;
  bool destroyed_ = false;
  uint32_t class_ = 0;
};

Workqueue* alloc_workqueue(const std::string& name, unsigned flags, int max_active);
Workqueue* alloc_ordered_workqueue(const std::string& name, unsigned flags = 0);
// Frees the queue after draining it; later use is reported.
void destroy_workqueue(Workqueue* wq);
// Every workqueue allocated and not destroyed, in allocation order (for the watchdog).
std::vector<Workqueue*> live_workqueues();

}  // namespace sim
