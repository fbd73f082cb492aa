#include "selftest/detector_demos.hpp"

#include <algorithm>
#include <deque>

#include "sim/kernel.hpp"

namespace selftest {

using namespace sim;

namespace {

bool has_finding(const SimResult& r, FindingKind k, const std::vector<std::string>& words) {
  for (const auto& f : r.findings) {
    if (f.kind != k) continue;
    if (std::all_of(words.begin(), words.end(),
                    [&](const std::string& w) { return f.title.find(w) != std::string::npos; }))
      return true;
  }
  return false;
}

std::string expect_clean(const SimResult& r) {
  if (!r.findings.empty()) return "expected no findings, got:\n" + r.summary();
  if (r.status != RunStatus::Completed) return "expected the run to complete";
  return {};
}

// A stand-in for one mapped device and one era instance: just the objects the hang involves.
struct EraLikeDevice {
  Srcu io_barrier{"md->io_barrier"};
  Mutex suspend_lock{"md->suspend_lock"};
  Mutex metadata_lock{"era->md_lock"};
  Workqueue* wq = alloc_ordered_workqueue("dm-era");
  Atomic suspended{0};
  struct Rpc {
    Completion complete{"rpc->complete"};
    Holder where;
  };
  std::deque<Rpc*> rpc_calls;
  WorkStruct worker{"era->worker", [this](WorkStruct*) { do_work(); }, "do_work"};

  void do_work() {
    KFRAME();
    while (!rpc_calls.empty()) {
      Rpc* rpc = rpc_calls.front();
      rpc_calls.pop_front();
      complete(&rpc->complete);
    }
  }
  void wake_worker() {
    KFRAME();
    if (!atomic_read(&suspended)) queue_work(wq, &worker);
  }
  void perform_rpc(Rpc* rpc) {
    KFRAME();
    rpc->where.set(worker, "on rpc_calls, for do_work");
    rpc_calls.push_back(rpc);
    wake_worker();
    WaitingFor wf(rpc->where);
    wait_for_completion(&rpc->complete);
  }
  void stop_worker() {
    KFRAME();
    atomic_set(&suspended, 1);
    // Only resume restarts the worker, and resume runs under md->suspend_lock.
    worker.add_signaler(suspend_lock, "start_worker() runs in resume under md->suspend_lock");
    drain_workqueue(wq);
  }
  void start_worker() {
    KFRAME();
    worker.clear_signalers();
    atomic_set(&suspended, 0);
    wake_worker();
  }
};

}  // namespace

DetectorDemo demo_srcu_status_vs_swap(bool fixed) {
  DetectorDemo d;
  d.name = fixed ? "srcu-status-vs-swap-fixed" : "srcu-status-vs-swap";
  d.about = fixed ? "status served in the ioctl thread under a mutex: the table swap completes"
                  : "status blocked on a stopped worker holds the SRCU read lock; resume's synchronize_srcu waits "
                    "for it (dm-era table-swap deadlock)";
  d.body = [fixed] {
    auto* dev = new EraLikeDevice;
    Thread& suspender = kthread_run(
        [dev] {
          KFRAME_NAMED("do_suspend");
          mutex_lock(&dev->suspend_lock);
          {
            KFRAME_NAMED("era_postsuspend");
            dev->stop_worker();
          }
          mutex_unlock(&dev->suspend_lock);
        },
        "dmsetup-suspend");
    join(suspender);
    kthread_run(
        [dev, fixed] {
          KFRAME_NAMED("table_status");
          int idx = srcu_read_lock(&dev->io_barrier);  // dm_get_live_table
          {
            KFRAME_NAMED("era_status");
            if (fixed) {
              mutex_lock(&dev->metadata_lock);
              note("status served in caller");
              mutex_unlock(&dev->metadata_lock);
            } else {
              EraLikeDevice::Rpc rpc;
              dev->perform_rpc(&rpc);
              note("status served by worker");
            }
          }
          srcu_read_unlock(&dev->io_barrier, idx);  // dm_put_live_table
        },
        "dmsetup-status");
    msleep(1000);
    Thread& resumer = kthread_run(
        [dev] {
          KFRAME_NAMED("do_resume");
          mutex_lock(&dev->suspend_lock);
          {
            KFRAME_NAMED("dm_swap_table");
            synchronize_srcu(&dev->io_barrier);
          }
          note("table swapped");
          // The new table's resume would start its own worker; the old one stays stopped.
          mutex_unlock(&dev->suspend_lock);
        },
        "dmsetup-resume");
    join(resumer);
  };
  d.judge = [fixed](const SimResult& r) -> std::string {
    if (fixed) return expect_clean(r);
    if (!has_finding(r, FindingKind::Deadlock, {"dmsetup-resume", "dmsetup-status", "srcu md->io_barrier"}))
      return "no deadlock naming dmsetup-resume, dmsetup-status and md->io_barrier:\n" + r.summary();
    if (!has_finding(r, FindingKind::HungTask, {"dmsetup-status"}) ||
        !has_finding(r, FindingKind::HungTask, {"dmsetup-resume"}))
      return "hung-task reports missing:\n" + r.summary();
    return {};
  };
  return d;
}

namespace {

// dm-snapshot's COW throttling reduced to its locks: origin writers, snapshot_ctr and kcopyd.
struct CowThrottleSnapshot {
  RwSemaphore origins_lock{"_origins_lock"};
  Semaphore cow_count{"s->cow_count", 2};
  // The fix: a counter and a wait queue checked with no lock held.
  unsigned in_progress = 0;
  WaitQueueHead in_progress_wait{"s->in_progress_wait"};
  Workqueue* kcopyd = alloc_ordered_workqueue("kcopyd");
  unsigned completed_jobs = 0;
  WorkStruct kcopyd_work{"kc->kcopyd_work", [this](WorkStruct*) { do_work(); }, "do_work"};
  std::deque<TimerList*> jobs;
  bool fixed = false;

  void pending_complete() {
    KFRAME();
    down_read(&origins_lock);  // resubmit deferred origin bios
    up_read(&origins_lock);
    if (fixed) {
      in_progress--;
      wake_up(&in_progress_wait);
    } else {
      up(&cow_count);  // account_end_copy
    }
  }
  void do_work() {
    KFRAME();
    while (completed_jobs > 0) {
      completed_jobs--;
      pending_complete();
    }
  }
  void origin_write(int n) {
    KFRAME_NAMED("do_origin");
    down_read(&origins_lock);
    if (fixed) {
      // wait_for_in_progress: drop the lock while throttled.
      while (in_progress >= 2) {
        up_read(&origins_lock);
        wait_event(in_progress_wait, [this] { return in_progress < 2; });
        down_read(&origins_lock);
      }
      in_progress++;
    } else {
      down(&cow_count);  // account_start_copy
    }
    // kcopyd copies the chunk; the copy "completes" 10 ms later.
    auto* t = new TimerList(
        "copy-job-" + std::to_string(n),
        [this](TimerList*) {
          completed_jobs++;
          queue_work(kcopyd, &kcopyd_work);
        },
        "complete_io");
    mod_timer(t, jiffies() + msecs_to_jiffies(10));
    up_read(&origins_lock);
  }
};

}  // namespace

DetectorDemo demo_rwsem_cow_throttle(bool fixed) {
  DetectorDemo d;
  d.name = fixed ? "rwsem-cow-throttle-fixed" : "rwsem-cow-throttle";
  d.about = fixed ? "COW throttling waits with no lock held: origin writes, snapshot_ctr and kcopyd all finish"
                  : "origin writers hold _origins_lock for read while throttled on cow_count; snapshot_ctr queues "
                    "for write; kcopyd's completion needs a read lock to up() cow_count (dm-snapshot deadlock)";
  d.body = [fixed] {
    auto* s = new CowThrottleSnapshot;
    s->fixed = fixed;
    s->cow_count.add_signaler(s->kcopyd_work, "up() in the copy completion, run by kcopyd");
    std::vector<Thread*> ts;
    for (int i = 0; i < 3; i++)
      ts.push_back(&kthread_run([s, i] { s->origin_write(i); }, "origin-writer-" + std::to_string(i)));
    msleep(2);
    ts.push_back(&kthread_run(
        [s] {
          KFRAME_NAMED("snapshot_ctr");
          down_write(&s->origins_lock);
          note("snapshot_ctr registered");
          up_write(&s->origins_lock);
        },
        "lvcreate"));
    for (Thread* t : ts) join(*t);
    note("all done");
  };
  d.judge = [fixed](const SimResult& r) -> std::string {
    if (fixed) return expect_clean(r);
    if (!has_finding(
            r, FindingKind::Deadlock,
            {"lvcreate", "origin-writer-2", "kworker", "rw_semaphore _origins_lock", "semaphore s->cow_count"}))
      return "no deadlock through _origins_lock, the throttled writer, lvcreate and kcopyd:\n" + r.summary();
    return {};
  };
  return d;
}

DetectorDemo demo_stop_worker(bool use_drain) {
  DetectorDemo d;
  d.name = use_drain ? "stop-worker-drain" : "stop-worker-flush";
  d.about = use_drain ? "drain_workqueue waits for the re-queued work: nothing runs after the stop"
                      : "flush_workqueue returns while the work has re-queued itself: the worker keeps running "
                        "after stop_worker (dm-era postsuspend bug)";
  d.body = [use_drain] {
    struct Era {
      Workqueue* wq = alloc_ordered_workqueue("dm-era");
      Atomic suspended{0};
      bool stopped = false;
      int digest_steps = 4;
      WorkStruct worker{"era->worker", [this](WorkStruct* w) { do_work(w); }, "do_work"};
      void do_work(WorkStruct* w) {
        KFRAME();
        msleep(5);  // one metadata digestion step
        note(stopped ? "do_work ran after stop_worker" : "do_work step");
        // Digestion continues by re-queueing itself, whether or not suspended is set.
        if (--digest_steps > 0) queue_work(wq, w);
      }
    };
    auto* era = new Era;
    queue_work(era->wq, &era->worker);
    msleep(1);
    {
      KFRAME_NAMED("era_postsuspend");
      {
        KFRAME_NAMED("stop_worker");
        atomic_set(&era->suspended, 1);
        if (use_drain)
          drain_workqueue(era->wq);
        else
          flush_workqueue(era->wq);
      }
      era->stopped = true;
      note("worker stopped");
      // metadata_commit would run here: the worker must be quiescent.
      WARN_ON(work_pending(&era->worker) || era->worker.running());
    }
    msleep(100);
  };
  d.judge = [use_drain](const SimResult& r) -> std::string {
    const bool ran_after = std::find(r.notes.begin(), r.notes.end(), "do_work ran after stop_worker") != r.notes.end();
    if (use_drain) {
      if (ran_after) return "work ran after a draining stop_worker";
      return expect_clean(r);
    }
    if (!ran_after) return "expected do_work to run after the flushing stop_worker";
    if (!has_finding(r, FindingKind::Warning, {"work_pending"}))
      return "expected the quiescence WARN_ON to fire:\n" + r.summary();
    return {};
  };
  return d;
}

DetectorDemo demo_abba_no_hang() {
  DetectorDemo d;
  d.name = "abba-lock-order";
  d.about =
      "thread 1 takes A then B, thread 2 later takes B then A; the timing avoids the hang, lockdep "
      "reports the inversion";
  d.body = [] {
    auto* a = new Mutex("lock_A");
    auto* b = new Mutex("lock_B");
    Thread& t1 = kthread_run(
        [a, b] {
          KFRAME_NAMED("path_one");
          mutex_lock(a);
          mutex_lock(b);
          mutex_unlock(b);
          mutex_unlock(a);
        },
        "thread-one");
    msleep(50);
    Thread& t2 = kthread_run(
        [a, b] {
          KFRAME_NAMED("path_two");
          mutex_lock(b);
          mutex_lock(a);
          mutex_unlock(a);
          mutex_unlock(b);
        },
        "thread-two");
    join(t1);
    join(t2);
    note("both finished");
  };
  d.judge = [](const SimResult& r) -> std::string {
    if (r.has(FindingKind::Deadlock)) return "the run deadlocked, but the timing should avoid it";
    if (!has_finding(r, FindingKind::LockOrder, {"thread-two", "(lock_A)", "(lock_B)"}))
      return "lockdep did not report the A/B inversion:\n" + r.summary();
    return {};
  };
  return d;
}

DetectorDemo demo_rt_sleeping_lock(bool preempt_rt) {
  DetectorDemo d;
  d.name = preempt_rt ? "rt-spinlock-under-raw" : "nonrt-spinlock-under-raw";
  d.about = preempt_rt ? "PREEMPT_RT: spinlock_t is a sleeping lock, taking it under a raw spinlock is a BUG"
                       : "!PREEMPT_RT: spinlock_t spins, nesting it under a raw spinlock is fine";
  d.config.preempt_rt = preempt_rt;
  d.body = [] {
    auto* raw = new RawSpinlock("pool->lock");
    auto* sl = new Spinlock("wq->lock");
    KFRAME_NAMED("queue_io");
    unsigned long flags;
    raw_spin_lock_irqsave(raw, flags);
    spin_lock(sl);
    spin_unlock(sl);
    raw_spin_unlock_irqrestore(raw, flags);
  };
  d.judge = [preempt_rt](const SimResult& r) -> std::string {
    if (!preempt_rt) return expect_clean(r);
    if (!has_finding(r, FindingKind::AtomicSleep, {"sleeping function called from invalid context", "rt_spin_lock"}))
      return "no atomic-context BUG on RT:\n" + r.summary();
    return {};
  };
  return d;
}

DetectorDemo demo_hung_not_deadlocked() {
  DetectorDemo d;
  d.name = "hung-task-then-progress";
  d.about = "a waiter blocked 130 s while a timer-driven thread works: hung-task report, no deadlock";
  d.body = [] {
    auto* done = new Completion("slow_io->done");
    kthread_run(
        [done] {
          KFRAME_NAMED("slow_device");
          for (int i = 0; i < 13; i++) msleep(10000);
          complete(done);
        },
        "slow-device");
    KFRAME_NAMED("submit_and_wait");
    wait_for_completion(done);
    note("finally done");
  };
  d.judge = [](const SimResult& r) -> std::string {
    if (r.has(FindingKind::Deadlock)) return "reported a deadlock for a wait that ended:\n" + r.summary();
    if (!has_finding(r, FindingKind::HungTask, {"INFO: task main:1 blocked for more than 120 seconds."}))
      return "no hung-task report for main:\n" + r.summary();
    if (std::find(r.notes.begin(), r.notes.end(), "finally done") == r.notes.end()) return "the wait never ended";
    return {};
  };
  return d;
}

std::vector<DetectorDemo> all_detector_demos() {
  return {demo_srcu_status_vs_swap(false),
          demo_srcu_status_vs_swap(true),
          demo_rwsem_cow_throttle(false),
          demo_rwsem_cow_throttle(true),
          demo_stop_worker(false),
          demo_stop_worker(true),
          demo_abba_no_hang(),
          demo_rt_sleeping_lock(true),
          demo_rt_sleeping_lock(false),
          demo_hung_not_deadlocked()};
}

}  // namespace selftest
