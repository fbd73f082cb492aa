#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("a cycle between two threads is found while a third keeps running on a timer") {
  SimResult r = run([] {
    auto* a = new Mutex("lock_A");
    auto* b = new Mutex("lock_B");
    kthread_run(
        [] {
          for (int i = 0; i < 400; i++) msleep(1000);  // a periodic housekeeping thread
        },
        "housekeeper");
    kthread_run(
        [a, b] {
          KFRAME_NAMED("one");
          mutex_lock(a);
          msleep(10);
          mutex_lock(b);
        },
        "t1");
    kthread_run(
        [a, b] {
          KFRAME_NAMED("two");
          mutex_lock(b);
          msleep(10);
          mutex_lock(a);
        },
        "t2");
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Deadlock, "t1:3 -> mutex lock_B -> t2:4 -> mutex lock_A -> t1:3");
  REQUIRE(f);
  // Reported within the first check slice after the hang, long before the housekeeper ends.
  REQUIRE(f->time_ns <= 1'100'000'000ULL);
  REQUIRE(f->text.find("t1:3 (D) blocked in mutex_lock on mutex lock_B") != std::string::npos);
  REQUIRE(f->text.find("     mutex_lock\n     one\n") != std::string::npos);
  REQUIRE(r.status == RunStatus::Deadlocked);
}

TEST_CASE("a total stall is reported even without a cycle, naming the wait nobody can end") {
  SimResult r = run([] {
    auto* c = new Completion("bio->done");
    KFRAME_NAMED("submit_bio_wait");
    wait_for_completion(c);
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Deadlock, "all threads blocked: main:1");
  REQUIRE(f);
  REQUIRE(f->text.find("nobody is known to end this wait") != std::string::npos);
}

TEST_CASE("a waiter whose signaler is only sleeping is not a deadlock") {
  SimResult r = run([] {
    auto* c = new Completion("c");
    kthread_run(
        [c] {
          msleep(30000);
          complete(c);
        },
        "slow");
    wait_for_completion(c);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a thread in a timed wait is never part of a deadlock") {
  SimResult r = run([] {
    auto* c = new Completion("c");
    note(std::to_string(wait_for_completion_timeout(c, msecs_to_jiffies(5000))));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0"});
}

TEST_CASE("an annotated signaler closes a cycle through a completion") {
  SimResult r = run([] {
    auto* m = new Mutex("pmd->root_lock");
    auto* c = new Completion("commit_done");
    Thread& committer = kthread_run(
        [m, c] {
          msleep(10);
          mutex_lock(m);  // blocks: main holds it
          complete(c);
          mutex_unlock(m);
        },
        "committer");
    c->add_signaler(committer, "completed by the committer");
    mutex_lock(m);
    wait_for_completion(c);
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::Deadlock,
                  "main:1 -> completion commit_done -> committer:2 -> mutex pmd->root_lock -> main:1"));
}

TEST_CASE("the wait-for graph of a report is valid Graphviz with every thread and object of the cycle") {
  SimResult r = run([] {
    auto* a = new Mutex("A");
    auto* b = new Mutex("B");
    kthread_run(
        [a, b] {
          mutex_lock(a);
          msleep(10);
          mutex_lock(b);
        },
        "t1");
    kthread_run(
        [a, b] {
          mutex_lock(b);
          msleep(10);
          mutex_lock(a);
        },
        "t2");
  });
  const Finding* f = finding(r, FindingKind::Deadlock);
  REQUIRE(f);
  const std::string& t = f->text;
  const size_t dot = t.find("digraph waitfor {");
  REQUIRE(dot != std::string::npos);
  REQUIRE(t.rfind("}\n") > dot);
  for (const char* label : {"\"t1:2\"", "\"t2:3\"", "\"mutex A\"", "\"mutex B\""})
    REQUIRE(t.find(label, dot) != std::string::npos);
}
