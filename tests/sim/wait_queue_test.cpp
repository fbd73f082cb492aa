#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("wait_event sleeps until a wake_up finds the condition true") {
  SimResult r = run([] {
    auto* wq = new WaitQueueHead("in_progress_wait");
    auto* ready = new int(0);
    Thread& waker = kthread_run(
        [wq, ready] {
          msleep(10);
          wake_up(wq);  // condition still false: the waiter sleeps again
          note_at("spurious wake");
          msleep(10);
          *ready = 1;
          wake_up(wq);
        },
        "waker");
    wait_event(*wq, [ready] { return *ready == 1; });
    note_at("condition seen");
    join(waker);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"spurious wake @16", "condition seen @32"});
}

TEST_CASE("wait_event returns at once when the condition already holds") {
  SimResult r = run([] {
    auto* wq = new WaitQueueHead("wq");
    wait_event(*wq, [] { return true; });
    note(waitqueue_active(wq) ? "queued" : "not queued");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"not queued"});
}

TEST_CASE("wait_event_timeout returns 0 when the timeout passes with the condition false") {
  SimResult r = run([] {
    auto* wq = new WaitQueueHead("wq");
    auto* flag = new bool(false);
    note(std::to_string(wait_event_timeout(
        *wq, [flag] { return *flag; }, msecs_to_jiffies(40))));
    note_at("timed out");
    kthread_run(
        [wq, flag] {
          msleep(10);
          *flag = true;
          wake_up(wq);
        },
        "setter");
    const uint64_t left = wait_event_timeout(
        *wq, [flag] { return *flag; }, msecs_to_jiffies(1000));
    note(left > 0 ? "woken in time" : "timed out again");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0", "timed out @40", "woken in time"});
}

TEST_CASE("wait_event_lock_irq drops the lock while sleeping and holds it when the condition is seen") {
  SimResult r = run([] {
    auto* wq = new WaitQueueHead("wq");
    auto* flag = new bool(false);
    Thread& t = kthread_run(
        [wq, flag] {
          spin_lock(&wq->lock);  // must not spin forever: the waiter dropped it
          *flag = true;
          wake_up_locked(wq);
          spin_unlock(&wq->lock);
          note("setter done");
        },
        "setter");
    spin_lock(&wq->lock);
    wait_event_lock_irq(
        *wq, [flag] { return *flag; }, wq->lock);
    note(wq->lock.is_locked() ? "lock held after wait" : "lock not held");
    spin_unlock(&wq->lock);
    join(t);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"setter done", "lock held after wait"});
}

TEST_CASE("a signal ends wait_event_interruptible with -ERESTARTSYS but not an uninterruptible wait_event") {
  SimResult r = run([] {
    auto* wq = new WaitQueueHead("wq");
    auto* flag = new bool(false);
    Thread& s = kthread_run(
        [wq, flag] {
          note("interruptible: " + std::to_string(wait_event_interruptible(*wq, [flag] { return *flag; })));
        },
        "sleeper-s");
    Thread& d = kthread_run(
        [wq, flag] {
          wait_event(*wq, [flag] { return *flag; });
          note("uninterruptible: woken by the condition");
        },
        "sleeper-d");
    msleep(10);
    send_signal(s);
    send_signal(d);
    msleep(10);
    *flag = true;
    wq->wake_up();
    join(s);
    join(d);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"interruptible: -512", "uninterruptible: woken by the condition"});
}
