#include <stdexcept>

#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("threads get pids in creation order and join waits until they exit") {
  SimResult r = run([] {
    Thread& a = kthread_run(
        [] {
          msleep(50);
          note_at("a exits");
        },
        "worker-a");
    note(a.ident());
    join(a);
    note_at("joined");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"worker-a:2", "a exits @56", "joined @56"});
}

TEST_CASE("an exception escaping a thread is an oops naming the frames it was thrown from") {
  SimResult r = run([] {
    Thread& t = kthread_run(
        [] {
          KFRAME_NAMED("era_ctr");
          KFRAME_NAMED("metadata_open");
          throw std::runtime_error("cannot read superblock");
        },
        "dmsetup");
    join(t);
    note("main goes on");
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Bug, "Oops: uncaught exception in dmsetup:2: cannot read superblock");
  REQUIRE(f);
  REQUIRE(f->text.find(" metadata_open\n era_ctr\n") != std::string::npos);
  REQUIRE(has_note(r, "main goes on"));
}

TEST_CASE("BUG_ON kills only the calling thread, which keeps its locks") {
  SimResult r = run([] {
    auto* m = new Mutex("pool->lock");
    Thread& t = kthread_run(
        [m] {
          KFRAME_NAMED("process_prepared");
          mutex_lock(m);
          BUG_ON(1 + 1 == 2);
          mutex_unlock(m);
        },
        "worker");
    join(t);
    note("worker is gone");
    mutex_lock(m);  // held by a dead thread: nobody can ever release it
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::Bug, "kernel BUG: BUG_ON(1 + 1 == 2)"));
  REQUIRE(has_note(r, "worker is gone"));
  REQUIRE(finding(r, FindingKind::Deadlock, "all threads blocked: main:1"));
}

TEST_CASE("a thread that exits holding a lock is reported") {
  SimResult r = run([] {
    auto* m = new Mutex("md->suspend_lock");
    Thread& t = kthread_run(
        [m] {
          KFRAME_NAMED("do_suspend");
          mutex_lock(m);
        },
        "dmsetup");
    join(t);
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::LockMisuse, "BUG: dmsetup/2 still has locks held!");
  REQUIRE(f);
  REQUIRE(f->text.find("mutex md->suspend_lock, at: do_suspend") != std::string::npos);
}

TEST_CASE("WARN_ON reports the condition and the call trace, and the thread continues") {
  SimResult r = run([] {
    KFRAME_NAMED("era_dtr");
    int leaked = 3;
    if (WARN_ON(leaked != 0)) note("warned");
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Warning, "WARNING: leaked != 0");
  REQUIRE(f);
  REQUIRE(f->text.find("era_dtr") != std::string::npos);
  REQUIRE(r.notes == Notes{"warned"});
}

TEST_CASE("a simulation that keeps running past its time budget ends with a budget finding") {
  SimConfig cfg;
  cfg.time_limit_secs = 30;
  SimResult r = run(
      [] {
        for (;;) msleep(1000);
      },
      cfg);
  INFO(all_text(r));
  REQUIRE(r.status == RunStatus::Budget);
  REQUIRE(finding(r, FindingKind::Budget, "time limit exceeded"));
}

TEST_CASE("a thread that never blocks nor advances time is stopped by the event budget") {
  SimConfig cfg;
  cfg.event_limit = 10000;
  SimResult r = run(
      [] {
        for (;;) schedule();
      },
      cfg);
  INFO(all_text(r));
  REQUIRE(r.status == RunStatus::Budget);
  REQUIRE(finding(r, FindingKind::Budget, "event budget exceeded"));
}

TEST_CASE("a thread that hits BUG stops where it is: nothing unwinds, its locks stay held and joiners go on") {
  SimResult r = run([] {
    auto* m = new Mutex("s->lock");
    Thread& t = kthread_run(
        [m] {
          struct Noisy {
            ~Noisy() { note("unwound"); }  // a destructor would free what others still use
          } guard;
          KFRAME_NAMED("pending_complete");
          mutex_lock(m);
          bug("kernel BUG at drivers/md/dm-snap.c");
        },
        "kworker");
    join(t);
    note(mutex_trylock(m) ? "lock free" : "lock still held");
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::Bug, "kernel BUG at drivers/md/dm-snap.c"));
  REQUIRE(finding(r, FindingKind::LockMisuse, "still has locks held!"));
  REQUIRE(r.notes == Notes{"lock still held"});
}
