#include "sim/workqueue.hpp"

#include <algorithm>
#include <memory>

#include "sim/assert.hpp"
#include "sim/runtime.hpp"

namespace sim {

WorkStruct::~WorkStruct() {
  if (running_on_ && wq_) wq_->forget_freed(this);
}

void Workqueue::forget_freed(const WorkStruct* w) {
  for (Running& r : running_)
    if (r.w == w) {
      r.w = nullptr;
      auto& stand_in = freed_stand_ins_[r.t];
      stand_in = std::make_unique<WaitObject>("work", w->name() + " (freed while running)");
      for (HeldLock& h : r.t->held)
        if (h.obj == w) h.obj = stand_in.get();
    }
}

WorkStruct::WorkStruct(std::string name, std::function<void(WorkStruct*)> fn, const char* fn_name)
    : WaitObject("work", std::move(name)), func(std::move(fn)), func_name(fn_name) {
  if (Runtime::active()) class_ = Runtime::get().intern("(work_completion)(" + this->name() + ")");
}

void WorkStruct::releasers(const Thread& waiter, std::vector<Releaser>& out) const {
  if (running_on_) out.push_back({running_on_, nullptr, std::string("running ") + func_name});
  if (pending_ && in_timer_) {
    for (const auto& t : Runtime::get().threads())
      if (t->kind == ThreadKind::Softirq) out.push_back({t.get(), nullptr, "delayed-work timer armed"});
  } else if (pending_ && wq_) {
    out.push_back({nullptr, wq_, "queued on workqueue"});
  }
  if (!running_on_ && !pending_) annotated_releasers(out);
  (void)waiter;
}

DelayedWork::DelayedWork(std::string name, std::function<void(WorkStruct*)> fn, const char* fn_name)
    : work(name, std::move(fn), fn_name),
      timer(
          name + ".timer",
          [this](TimerList*) {
            // delayed_work_timer_fn: queue the work where it was aimed, pending bit already set.
            work.in_timer_ = false;
            if (wq) wq->insert(&work);
          },
          "delayed_work_timer_fn") {}

Workqueue::Workqueue(std::string name, unsigned flags, int max_active)
    : WaitObject("workqueue", std::move(name)), flags_(flags), max_active_(max_active > 0 ? max_active : 256) {
  if (flags_ & WQ_ORDERED) max_active_ = 1;
  if (Runtime::active()) class_ = Runtime::get().intern("(wq_completion)" + this->name());
}

size_t Workqueue::busy_workers() const {
  return running_.size();
}

bool Workqueue::is_running(const Thread* t) const {
  return std::any_of(running_.begin(), running_.end(), [&](const Running& r) { return r.t == t; });
}

bool Workqueue::is_chained() const {
  const Thread* self = Runtime::get().current_or_null();
  return self && is_running(self);
}

bool Workqueue::busy() const {
  return !worklist_.empty() || !running_.empty();
}

bool Workqueue::queue(WorkStruct* w) {
  Runtime& rt = Runtime::get();
  if (destroyed_) {
    rt.report(FindingKind::Bug, "BUG: queue_work on destroyed workqueue " + name(),
              "Call Trace:\n" + rt.current().call_trace());
    return false;
  }
  if (w->pending_) {
    rt.event("queue_work", w, "already pending");
    rt.preempt_point(PreemptionPoint::queue_work);
    return false;
  }
  // An idle item annotated with who restarts it (a stopped worker) is restarted now; the
  // annotation says nothing about a running item (WorkStruct::releasers ignores it then).
  if (!w->running()) w->check_annotation("queue_work");
  w->pending_ = true;
  insert(w);
  rt.preempt_point(PreemptionPoint::queue_work);
  return true;
}

void Workqueue::insert(WorkStruct* w) {
  Runtime& rt = Runtime::get();
  // For a draining queue only chained work (queued by its own items) is accepted; anything
  // else is dropped with a warning and, as in the kernel, keeps its pending bit.
  if (draining_ && !is_chained()) {
    Thread* t = rt.current_or_null();
    rt.report(FindingKind::Warning,
              "WARNING: __queue_work: " + w->name() + " queued on draining workqueue " + name() + " (dropped)",
              t ? "Call Trace:\n" + t->call_trace() : std::string());
    return;
  }
  const uint64_t seq = ++last_seq_;
  w->seq_ = seq;
  w->wq_ = this;
  worklist_.push_back({w, seq, rt.now_ns()});
  DMSIM_ASSERT(unfinished_.insert(seq).second, "a work sequence number was handed out twice");
  rt.event("queue_work", w, "on " + name() + " seq " + std::to_string(seq));
  wake_worker();
}

void Workqueue::wake_worker() {
  Runtime& rt = Runtime::get();
  // Idle workers (parked, starting up, or between items) will each take one item.
  size_t idle = 0;
  for (Thread* t : workers_) {
    if (is_running(t)) continue;
    if (t->parked) {
      rt.unpark(*t);
      return;
    }
    idle++;
  }
  if (worklist_.size() > idle && static_cast<int>(workers_.size()) < max_active_) {
    static int kworker_ids = 0;
    Thread& t = rt.spawn(
        "kworker/u2:" + std::to_string(kworker_ids++), [this] { worker_main(&Runtime::get().current()); },
        ThreadKind::Kworker);
    workers_.push_back(&t);
  }
}

bool Workqueue::remove_pending(WorkStruct* w) {
  auto it = std::find_if(worklist_.begin(), worklist_.end(), [&](const Item& i) { return i.w == w; });
  if (it == worklist_.end()) return false;
  DMSIM_ASSERT(unfinished_.erase(it->seq) == 1, "a queued work item was not unfinished");
  worklist_.erase(it);
  return true;
}

void Workqueue::worker_main(Thread* self) {
  Runtime& rt = Runtime::get();
  KFRAME_NAMED("worker_thread");
  for (;;) {
    // The first queued item that is not already running elsewhere (non-reentrancy).
    auto it =
        std::find_if(worklist_.begin(), worklist_.end(), [](const Item& i) { return i.w->running_on_ == nullptr; });
    if (it == worklist_.end()) {
      if (dying_) return;
      rt.park(TaskState::Idle, this, "worker_thread");
      continue;
    }
    Item item = *it;
    // Every queued item is unfinished until it ran: flush_workqueue waits on exactly these.
    DMSIM_ASSERT(unfinished_.count(item.seq) == 1, "a queued work item was not unfinished");
    worklist_.erase(it);
    WorkStruct* w = item.w;
    w->pending_ = false;
    w->running_on_ = self;
    w->running_seq_ = item.seq;
    running_.push_back({self, w, item.seq, w->func_name, rt.now_ns(), false});
    self->workqueue = name() + " " + w->func_name;
    {
      KFRAME_NAMED("process_one_work");
      rt.lockdep().acquire(*self, class_, this, AcquireMode::Write, false);
      rt.lockdep().acquired(*self, class_, this, AcquireMode::Write);
      rt.lockdep().acquire(*self, w->class_, w, AcquireMode::Write, false);
      rt.lockdep().acquired(*self, w->class_, w, AcquireMode::Write);
      rt.event("work_start", w, "seq " + std::to_string(item.seq));
      w->func(w);  // the function names itself with KFRAME(); "Workqueue:" names it too
      // The function may have freed the item: from here on only the running entry knows.
      auto mine = std::find_if(running_.begin(), running_.end(), [&](const Running& r) { return r.t == self; });
      WorkStruct* alive = mine->w;
      rt.event("work_end", alive, "seq " + std::to_string(item.seq));
      auto stand_in = freed_stand_ins_.find(self);
      if (alive || stand_in == freed_stand_ins_.end()) {
        rt.lockdep().release(*self, w);  // by address only
      } else {
        rt.lockdep().release(*self, stand_in->second.get());
        freed_stand_ins_.erase(stand_in);
      }
      rt.lockdep().release(*self, this);
      if (alive && alive->running_on_ == self) alive->running_on_ = nullptr;
      running_.erase(mine);
    }
    DMSIM_ASSERT(unfinished_.erase(item.seq) == 1, "a work item finished twice");
    self->workqueue.clear();
    wake_waiters();
    rt.preempt_point(PreemptionPoint::process_one_work);
    // cond_resched() between items: on a real machine other CPUs run meanwhile; here the
    // threads that are ready get their turn, so a worker that re-queues itself cannot starve
    // them.
    rt.yield();
  }
}

void Workqueue::wake_waiters() {
  Runtime& rt = Runtime::get();
  std::vector<Thread*> ws;
  ws.swap(waiters_);
  for (Thread* t : ws) rt.unpark(*t);
}

bool Workqueue::flush_upto(uint64_t target, const WaitObject* on, const char* how) {
  Runtime& rt = Runtime::get();
  Thread& self = rt.current();
  bool waited = false;
  while (!unfinished_.empty() && *unfinished_.begin() <= target) {
    waited = true;
    waiters_.push_back(&self);
    rt.park(TaskState::Uninterruptible, on, how, target);
    auto it = std::find(waiters_.begin(), waiters_.end(), &self);
    if (it != waiters_.end()) waiters_.erase(it);
  }
  return waited;
}

void Workqueue::flush() {
  Runtime& rt = Runtime::get();
  Thread& self = rt.current();
  might_sleep("flush_workqueue");
  rt.lockdep().acquire(self, class_, this, AcquireMode::Write, false);
  const uint64_t target = last_seq_;
  rt.event("flush_workqueue", this, "up to seq " + std::to_string(target));
  flush_upto(target, this, "flush_workqueue");
  rt.event("flush_workqueue_done", this);
  rt.preempt_point(PreemptionPoint::flush_workqueue);
}

void Workqueue::drain() {
  Runtime& rt = Runtime::get();
  rt.event("drain_workqueue", this);
  draining_++;
  for (;;) {
    flush();
    if (!busy()) break;
  }
  draining_--;
  rt.event("drain_workqueue_done", this);
}

void Workqueue::destroy() {
  Runtime& rt = Runtime::get();
  drain();
  dying_ = true;
  destroyed_ = true;
  for (Thread* t : workers_) rt.unpark(*t);
  rt.event("destroy_workqueue", this);
}

bool Workqueue::flush_work(WorkStruct* w) {
  Runtime& rt = Runtime::get();
  Thread& self = rt.current();
  might_sleep("flush_work");
  rt.lockdep().acquire(self, w->class_, w, AcquireMode::Write, false);
  uint64_t target = 0;
  if (w->pending_ && !w->in_timer_ && w->wq_ == this)
    target = w->seq_;
  else if (w->running_on_)
    target = w->running_seq_;
  else
    return false;
  rt.event("flush_work", w, "seq " + std::to_string(target));
  // Wait for that one instance (and, for simplicity, everything queued before it). The item was
  // pending or running, so flush_work() reports that it waited, as the kernel's does.
  flush_upto(target, w, "flush_work");
  return true;
}

bool Workqueue::cancel_work(WorkStruct* w) {
  if (!w->pending_ || w->in_timer_) return false;
  remove_pending(w);
  w->pending_ = false;
  Runtime::get().event("cancel_work", w);
  return true;
}

bool Workqueue::cancel_work_sync(WorkStruct* w) {
  const bool was = cancel_work(w);
  if (w->running_on_) flush_work(w);
  return was;
}

bool Workqueue::queue_delayed(DelayedWork* dw, uint64_t delay) {
  Runtime& rt = Runtime::get();
  if (dw->work.pending_) return false;
  dw->wq = this;
  if (delay == 0) return queue(&dw->work);
  dw->work.pending_ = true;
  dw->work.in_timer_ = true;
  dw->work.wq_ = this;
  rt.timers().arm(&dw->timer, rt.jiffies() + delay);
  return true;
}

bool Workqueue::mod_delayed(DelayedWork* dw, uint64_t delay) {
  Runtime& rt = Runtime::get();
  bool was = false;
  if (dw->work.in_timer_) {
    rt.timers().disarm(&dw->timer);
    dw->work.in_timer_ = false;
    dw->work.pending_ = false;
    was = true;
  } else if (dw->work.pending_ && remove_pending(&dw->work)) {
    dw->work.pending_ = false;
    was = true;
  }
  queue_delayed(dw, delay);
  return was;
}

bool Workqueue::cancel_delayed(DelayedWork* dw) {
  Runtime& rt = Runtime::get();
  if (dw->work.in_timer_) {
    rt.timers().disarm(&dw->timer);
    dw->work.in_timer_ = false;
    dw->work.pending_ = false;
    return true;
  }
  return cancel_work(&dw->work);
}

bool Workqueue::cancel_delayed_sync(DelayedWork* dw) {
  const bool was = cancel_delayed(dw);
  if (dw->work.running_on_) flush_work(&dw->work);
  return was;
}

bool Workqueue::flush_delayed(DelayedWork* dw) {
  Runtime& rt = Runtime::get();
  if (dw->work.in_timer_) {
    rt.timers().disarm(&dw->timer);
    dw->work.in_timer_ = false;
    insert(&dw->work);
  }
  return flush_work(&dw->work);
}

void Workqueue::releasers(const Thread& waiter, std::vector<Releaser>& out) const {
  // A flusher waits for items up to its target sequence; anyone else for the whole queue.
  const uint64_t target = waiter.waiting_on == this ? waiter.wait_arg : UINT64_MAX;
  for (const Running& r : running_)
    if (r.seq <= target) out.push_back({r.t, nullptr, "worker running " + r.t->workqueue});
  bool queued_relevant = false;
  for (const Item& i : worklist_) queued_relevant |= i.seq <= target;
  if (queued_relevant)
    for (const Thread* t : workers_) out.push_back({t, nullptr, "worker of " + name()});
}

namespace {
std::vector<std::unique_ptr<Workqueue>>& all_workqueues() {
  static std::vector<std::unique_ptr<Workqueue>> wqs;
  return wqs;
}
}  // namespace

Workqueue* alloc_workqueue(const std::string& name, unsigned flags, int max_active) {
  all_workqueues().push_back(std::make_unique<Workqueue>(name, flags, max_active));
  return all_workqueues().back().get();
}

Workqueue* alloc_ordered_workqueue(const std::string& name, unsigned flags) {
  return alloc_workqueue(name, flags | WQ_UNBOUND | WQ_ORDERED, 1);
}

void destroy_workqueue(Workqueue* wq) {
  wq->destroy();
}

std::vector<Workqueue*> live_workqueues() {
  std::vector<Workqueue*> v;
  for (const auto& wq : all_workqueues())
    if (!wq->destroyed()) v.push_back(wq.get());
  return v;
}

}  // namespace sim
