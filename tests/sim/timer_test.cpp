#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("jiffies advance at HZ and msleep rounds up as the kernel does") {
  SimResult r = run([] {
    note(std::to_string(hz()) + " Hz, jiffies " + std::to_string(jiffies()));
    msleep(1);  // msecs_to_jiffies(1) + 1 jiffies
    note_at("jiffies " + std::to_string(jiffies()));
    msleep(1000);
    note_at("jiffies " + std::to_string(jiffies()));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"250 Hz, jiffies 0", "jiffies 2 @8", "jiffies 253 @1012"});
}

TEST_CASE("mod_timer fires the callback at the expiry jiffy, in softirq context") {
  SimResult r = run([] {
    auto* t = new TimerList(
        "era->waker", [](TimerList*) { note_at("fired on " + current().comm()); }, "waker_fn");
    mod_timer(t, jiffies() + msecs_to_jiffies(100));
    note(timer_pending(t) ? "pending" : "idle");
    msleep(200);
    note(timer_pending(t) ? "pending" : "idle");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"pending", "fired on ksoftirqd/0 @100", "idle"});
}

TEST_CASE("mod_timer on a pending timer moves its expiry, del_timer cancels it") {
  SimResult r = run([] {
    auto* moved = new TimerList(
        "moved", [](TimerList*) { note_at("moved fired"); }, "fn");
    auto* deleted = new TimerList(
        "deleted", [](TimerList*) { note("deleted fired"); }, "fn");
    mod_timer(moved, jiffies() + msecs_to_jiffies(100));
    mod_timer(deleted, jiffies() + msecs_to_jiffies(50));
    note(mod_timer(moved, jiffies() + msecs_to_jiffies(300)) ? "was pending" : "was idle");
    note(del_timer(deleted) ? "deleted" : "not pending");
    msleep(500);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"was pending", "deleted", "moved fired @300"});
}

TEST_CASE("sleeping in a timer callback is a BUG: softirq context is atomic") {
  SimResult r = run([] {
    auto* t = new TimerList(
        "t",
        [](TimerList*) {
          KFRAME_NAMED("bad_timer_fn");
          msleep(1);
        },
        "bad_timer_fn");
    mod_timer(t, jiffies() + 1);
    msleep(100);
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::AtomicSleep, "at msleep (ksoftirqd/0");
  REQUIRE(f);
  REQUIRE(f->text.find("bad_timer_fn") != std::string::npos);
  REQUIRE(f->text.find("preempt_count: 100, expected: 0") != std::string::npos);
  // And the sleep itself schedules in softirq context (SOFTIRQ_OFFSET plus schedule's own).
  REQUIRE(finding(r, FindingKind::Bug, "BUG: scheduling while atomic: ksoftirqd/0/2/0x00000101"));
}

TEST_CASE("del_timer_sync on a pending timer cancels it and says it was pending") {
  SimResult r = run([] {
    auto* t = new TimerList(
        "t", [](TimerList*) { note("callback runs"); }, "fn");
    mod_timer(t, jiffies() + msecs_to_jiffies(100));
    msleep(10);
    note(del_timer_sync(t) ? "was pending" : "not pending");
    note(del_timer_sync(t) ? "was pending" : "not pending");
    msleep(200);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"was pending", "not pending"});
}
