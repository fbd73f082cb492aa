#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("mutex_lock excludes other threads until mutex_unlock, then hands over in FIFO order") {
  SimResult r = run([] {
    auto* m = new Mutex("m");
    mutex_lock(m);
    Thread& a = kthread_run(
        [m] {
          mutex_lock(m);
          note_at("a locked");
          msleep(10);
          mutex_unlock(m);
        },
        "a");
    msleep(1);
    Thread& b = kthread_run(
        [m] {
          mutex_lock(m);
          note_at("b locked");
          mutex_unlock(m);
        },
        "b");
    msleep(20);
    note_at("main unlocks");
    mutex_unlock(m);
    join(a);
    join(b);
  });
  REQUIRE_CLEAN(r);
  // msleep(20) at HZ=250 is 6 jiffies; msleep(10) is 4: a holds it from 32 to 48 ms.
  REQUIRE(r.notes == Notes{"main unlocks @32", "a locked @32", "b locked @48"});
}

TEST_CASE("mutex_trylock fails while the mutex is held and succeeds once it is free") {
  SimResult r = run([] {
    auto* m = new Mutex("m");
    mutex_lock(m);
    Thread& t = kthread_run(
        [m] {
          note(mutex_trylock(m) ? "got it" : "busy");
          msleep(10);
          note(mutex_trylock(m) ? "got it" : "busy");
          mutex_unlock(m);
        },
        "trier");
    msleep(5);
    mutex_unlock(m);
    join(t);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"busy", "got it"});
}

TEST_CASE("mutex_unlock by a thread that does not own the mutex is reported and ignored") {
  SimResult r = run([] {
    auto* m = new Mutex("md->type_lock");
    mutex_lock(m);
    Thread& t = kthread_run(
        [m] {
          KFRAME_NAMED("wrong_path");
          mutex_unlock(m);
        },
        "intruder");
    join(t);
    note(mutex_is_locked(m) ? "still locked" : "unlocked");
    mutex_unlock(m);
  });
  INFO(all_text(r));
  const Finding* f =
      finding(r, FindingKind::LockMisuse, "mutex_unlock of md->type_lock by intruder:2, owner is main:1");
  REQUIRE(f);
  REQUIRE(f->text.find("wrong_path") != std::string::npos);
  REQUIRE(r.notes == Notes{"still locked"});
  REQUIRE(r.status == RunStatus::Completed);
}

TEST_CASE("relocking a mutex by its owner is reported as recursive locking and deadlocks the thread") {
  SimResult r = run([] {
    auto* m = new Mutex("era->lock");
    KFRAME_NAMED("era_message");
    mutex_lock(m);
    mutex_lock(m);
    note("not reached");
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::RecursiveLocking, "main:1 takes era->lock twice"));
  REQUIRE(finding(r, FindingKind::Deadlock, "main:1 -> mutex era->lock -> main:1"));
  REQUIRE(r.status == RunStatus::Deadlocked);
  REQUIRE(r.notes.empty());
}
