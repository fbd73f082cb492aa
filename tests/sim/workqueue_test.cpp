#include "sim/compiler_false_positives.hpp"
#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

namespace {
// A work item that counts its runs and, while `requeues` is positive, queues itself again.
struct SelfRequeuer {
  Workqueue* wq;
  int requeues;
  int runs = 0;
  WorkStruct work{"requeuer", [this](WorkStruct* w) { run(w); }, "requeuer_fn"};
  SelfRequeuer(Workqueue* q, int n) : wq(q), requeues(n) {}
  void run(WorkStruct* w) {
    runs++;
    note_at("run " + std::to_string(runs));
    msleep(10);
    if (requeues-- > 0) queue_work(wq, w);
  }
};
}  // namespace

TEST_CASE("queue_work returns false while the item is already pending") {
  SimResult r = run([] {
    Workqueue* wq = alloc_ordered_workqueue("wq");
    auto* w = new WorkStruct(
        "w", [](WorkStruct*) { note("ran"); }, "fn");
    note(queue_work(wq, w) ? "queued" : "not queued");
    note(queue_work(wq, w) ? "queued" : "not queued");
    flush_workqueue(wq);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"queued", "not queued", "ran"});
}

TEST_CASE("an item queued while it runs runs once more afterwards, never concurrently with itself") {
  SimResult r = run([] {
    Workqueue* wq = alloc_workqueue("unbound", WQ_UNBOUND, 4);
    auto* w = new WorkStruct(
        "w",
        [](WorkStruct*) {
          note_at("start");
          msleep(10);
          note_at("end");
        },
        "fn");
    queue_work(wq, w);
    msleep(1);
    note(queue_work(wq, w) ? "requeued while running" : "refused");
    note(queue_work(wq, w) ? "queued again" : "already pending");
    msleep(100);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"start @0", "requeued while running", "already pending", "end @16", "start @16", "end @32"});
}

TEST_CASE("flush_workqueue does not wait for work re-queued after the call") {
  SimResult r = run([] {
    Workqueue* wq = alloc_ordered_workqueue("dm-era");
    auto* s = new SelfRequeuer(wq, 2);
    queue_work(wq, &s->work);
    msleep(1);
    flush_workqueue(wq);
    note_at("flush returned");
    msleep(100);
  });
  REQUIRE_CLEAN(r);
  // Run 2 was queued after the call: flush returns without waiting for it.
  REQUIRE(r.notes == Notes{"run 1 @0", "flush returned @16", "run 2 @16", "run 3 @32"});
}

TEST_CASE("drain_workqueue waits until the queue stays empty, re-queues included") {
  SimResult r = run([] {
    Workqueue* wq = alloc_ordered_workqueue("dm-era");
    auto* s = new SelfRequeuer(wq, 2);
    queue_work(wq, &s->work);
    msleep(1);
    drain_workqueue(wq);
    note_at("drain returned");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"run 1 @0", "run 2 @16", "run 3 @32", "drain returned @48"});
}

TEST_CASE("queueing onto a draining workqueue from outside it is refused with a warning") {
  SimResult r = run([] {
    Workqueue* wq = alloc_ordered_workqueue("dm-era");
    auto* s = new SelfRequeuer(wq, 1);
    auto* other = new WorkStruct(
        "other", [](WorkStruct*) { note("other ran"); }, "other_fn");
    queue_work(wq, &s->work);
    Thread& t = kthread_run(
        [wq, other] {
          msleep(1);
          note(queue_work(wq, other) ? "queue_work returned true" : "queue_work returned false");
        },
        "outsider");
    drain_workqueue(wq);
    join(t);
    note(work_pending(other) ? "other still pending" : "other not pending");
    msleep(100);
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::Warning, "other queued on draining workqueue dm-era (dropped)"));
  // As in the kernel, the dropped item keeps its pending bit and never runs.
  REQUIRE(r.notes == Notes{"run 1 @0", "queue_work returned true", "run 2 @16", "other still pending"});
}

TEST_CASE("an ordered workqueue runs items one at a time in queueing order") {
  SimResult r = run([] {
    Workqueue* wq = alloc_ordered_workqueue("ordered");
    std::vector<WorkStruct*> ws;
    for (int i = 0; i < 3; i++) {
      DMSIM_GCC_BUG_105651(std::string name = "w" + std::to_string(i);)
      ws.push_back(new WorkStruct(
          name,
          [i](WorkStruct*) {
            note_at("start " + std::to_string(i));
            msleep(10);
          },
          "fn"));
    }
    for (auto* w : ws) queue_work(wq, w);
    flush_workqueue(wq);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"start 0 @0", "start 1 @16", "start 2 @32"});
}

TEST_CASE("an unbound workqueue runs different items concurrently up to max_active") {
  SimResult r = run([] {
    Workqueue* wq = alloc_workqueue("kcopyd", WQ_UNBOUND | WQ_MEM_RECLAIM, 2);
    for (int i = 0; i < 3; i++) {
      DMSIM_GCC_BUG_105651(std::string name = "w" + std::to_string(i);)
      queue_work(wq, new WorkStruct(
                         name,
                         [i](WorkStruct*) {
                           note_at("start " + std::to_string(i));
                           msleep(10);
                         },
                         "fn"));
    }
    flush_workqueue(wq);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"start 0 @0", "start 1 @0", "start 2 @16"});
}

TEST_CASE("delayed work runs after its delay, and cancel_delayed_work before expiry prevents it") {
  SimResult r = run([] {
    Workqueue* wq = alloc_ordered_workqueue("wq");
    auto* dw = new DelayedWork(
        "commit", [](WorkStruct*) { note_at("commit ran"); }, "do_commit");
    auto* cancelled = new DelayedWork(
        "waker", [](WorkStruct*) { note("must not run"); }, "do_waker");
    queue_delayed_work(wq, dw, msecs_to_jiffies(1000));
    queue_delayed_work(wq, cancelled, msecs_to_jiffies(500));
    note(delayed_work_pending(dw) ? "pending" : "idle");
    msleep(100);
    note(cancel_delayed_work(cancelled) ? "cancelled" : "too late");
    msleep(2000);
    note(delayed_work_pending(dw) ? "pending" : "idle");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"pending", "cancelled", "commit ran @1000", "idle"});
}

TEST_CASE("flush_work waits for the running instance only") {
  SimResult r = run([] {
    Workqueue* wq = alloc_workqueue("wq", WQ_UNBOUND, 4);
    auto* slow = new WorkStruct(
        "slow",
        [](WorkStruct*) {
          msleep(100);
          note_at("slow done");
        },
        "slow_fn");
    auto* quick = new WorkStruct(
        "quick",
        [](WorkStruct*) {
          msleep(10);
          note_at("quick done");
        },
        "quick_fn");
    queue_work(wq, quick);
    queue_work(wq, slow);
    msleep(1);
    flush_work(quick, wq);
    note_at("flush_work returned");
    flush_workqueue(wq);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"quick done @16", "flush_work returned @16", "slow done @104"});
}

TEST_CASE("destroy_workqueue drains it, and queueing afterwards is a BUG") {
  SimResult r = run([] {
    Workqueue* wq = alloc_ordered_workqueue("dm-era");
    auto* s = new SelfRequeuer(wq, 1);
    queue_work(wq, &s->work);
    destroy_workqueue(wq);
    note_at("destroyed");
    queue_work(wq, new WorkStruct(
                       "late", [](WorkStruct*) {}, "late_fn"));
  });
  INFO(all_text(r));
  REQUIRE(r.notes == Notes{"run 1 @0", "run 2 @16", "destroyed @32"});
  REQUIRE(finding(r, FindingKind::Bug, "queue_work on destroyed workqueue dm-era"));
}

TEST_CASE("flushing an ordered workqueue from its own work item deadlocks and is detected") {
  SimResult r = run([] {
    Workqueue* wq = alloc_ordered_workqueue("dm-era");
    auto* w = new WorkStruct(
        "era->worker", [wq](WorkStruct*) { flush_workqueue(wq); }, "do_work");
    queue_work(wq, w);
    msleep(10);
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::RecursiveLocking, "kworker/u2:0:2 takes dm-era twice"));
  REQUIRE(finding(r, FindingKind::Deadlock, "kworker/u2:0:2 -> workqueue dm-era -> kworker/u2:0:2"));
}

TEST_CASE("flush_workqueue under a lock that the work takes is a circular dependency for lockdep") {
  SimResult r = run([] {
    Workqueue* wq = alloc_ordered_workqueue("dm-era");
    auto* m = new Mutex("era->lock");
    auto* w = new WorkStruct(
        "era->worker",
        [m](WorkStruct*) {
          mutex_lock(m);
          mutex_unlock(m);
        },
        "do_work");
    queue_work(wq, w);
    msleep(10);  // the work has run: this time nothing hangs
    mutex_lock(m);
    flush_workqueue(wq);
    mutex_unlock(m);
  });
  INFO(all_text(r));
  REQUIRE_FALSE(r.has(FindingKind::Deadlock));
  REQUIRE(finding(r, FindingKind::LockOrder, "takes ((wq_completion)dm-era) while holding (era->lock)"));
}

TEST_CASE("a work function may free its own work item: the worker touches it no more") {
  SimResult r = run([] {
    Workqueue* wq = alloc_workqueue("unbound", WQ_UNBOUND, 4);
    for (int i = 0; i < 3; i++) {
      auto* w = new WorkStruct(
          "self-freeing",
          [i](WorkStruct* self) {
            const int n = i;  // the capture goes with the item
            msleep(1);
            delete self;  // as a kernel work function freeing the object that embeds it
            note("freed " + std::to_string(n));
          },
          "free_fn");
      queue_work(wq, w);
    }
    flush_workqueue(wq);
    note("flushed");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"freed 2", "freed 1", "freed 0", "flushed"});  // three workers, one item each
}

TEST_CASE("a work item freed while it runs is named but not touched when its worker then hits BUG") {
  SimResult r = run([] {
    Workqueue* wq = alloc_workqueue("kcopyd-callbacks", WQ_UNBOUND, 0);
    auto* w = new WorkStruct(
        "pe->callback_work",
        [](WorkStruct* self) {
          delete self;  // another completion freed the pending exception that embeds it
          bug("kernel BUG at drivers/md/dm-snap-persistent.c");
        },
        "copy_callback");
    queue_work(wq, w);
    msleep(1);
    note("main goes on");
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::Bug, "kernel BUG at drivers/md/dm-snap-persistent.c"));
  const Finding* held = finding(r, FindingKind::LockMisuse, "still has locks held!");
  REQUIRE(held);
  REQUIRE(held->text.find("pe->callback_work (freed while running)") != std::string::npos);
  REQUIRE(r.notes == Notes{"main goes on"});
}
