#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("an AB-BA order is reported with both chains even though the run did not hang") {
  SimResult r = run([] {
    auto* a = new Mutex("&md->suspend_lock");
    auto* b = new Mutex("&md->type_lock");
    Thread& t1 = kthread_run(
        [a, b] {
          KFRAME_NAMED("dm_resume");
          mutex_lock(a);
          mutex_lock(b);
          mutex_unlock(b);
          mutex_unlock(a);
        },
        "one");
    join(t1);
    Thread& t2 = kthread_run(
        [a, b] {
          KFRAME_NAMED("table_load");
          mutex_lock(b);
          mutex_lock(a);
          mutex_unlock(a);
          mutex_unlock(b);
        },
        "two");
    join(t2);
  });
  INFO(all_text(r));
  REQUIRE_FALSE(r.has(FindingKind::Deadlock));
  const Finding* f =
      finding(r, FindingKind::LockOrder, "two:3 takes (&md->suspend_lock) while holding (&md->type_lock)");
  REQUIRE(f);
  REQUIRE(f->text.find("one:2 took (&md->type_lock) holding (&md->suspend_lock), at:\n     dm_resume") !=
          std::string::npos);
  REQUIRE(f->text.find("two:3 takes it now, holding (&md->type_lock), at:\n     table_load") != std::string::npos);
}

TEST_CASE("taking locks in one consistent order is never reported") {
  SimResult r = run([] {
    auto* a = new Mutex("A");
    auto* b = new Mutex("B");
    auto* c = new Spinlock("C");
    for (int i = 0; i < 3; i++) {
      Thread& t = kthread_run(
          [a, b, c] {
            mutex_lock(a);
            mutex_lock(b);
            spin_lock(c);
            spin_unlock(c);
            mutex_unlock(b);
            spin_lock(c);
            spin_unlock(c);
            mutex_unlock(a);
          },
          "worker");
      join(t);
    }
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("SRCU read sections around a mutex in both orders are fine; synchronize_srcu under it is not") {
  auto readers_only = [] {
    auto* srcu = new Srcu("md->io_barrier");
    auto* m = new Mutex("md->suspend_lock");
    int idx = srcu_read_lock(srcu);
    mutex_lock(m);
    mutex_unlock(m);
    srcu_read_unlock(srcu, idx);
    mutex_lock(m);
    idx = srcu_read_lock(srcu);
    srcu_read_unlock(srcu, idx);
    mutex_unlock(m);
  };
  REQUIRE_CLEAN(run(readers_only));

  SimResult r = run([] {
    auto* srcu = new Srcu("md->io_barrier");
    auto* m = new Mutex("md->suspend_lock");
    int idx = srcu_read_lock(srcu);  // status: SRCU read lock, then the target takes the mutex
    mutex_lock(m);
    mutex_unlock(m);
    srcu_read_unlock(srcu, idx);
    mutex_lock(m);  // resume: the mutex, then dm_swap_table's synchronize_srcu
    synchronize_srcu(srcu);
    mutex_unlock(m);
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::LockOrder, "takes (md->io_barrier) while holding (md->suspend_lock)"));
}

TEST_CASE("a trylock adds no dependency towards the lock it tries") {
  SimResult r = run([] {
    auto* a = new Mutex("A");
    auto* b = new Mutex("B");
    mutex_lock(a);
    if (mutex_trylock(b)) mutex_unlock(b);
    mutex_unlock(a);
    mutex_lock(b);
    mutex_lock(a);
    mutex_unlock(a);
    mutex_unlock(b);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("mutex_lock_nested with a subclass is not recursive locking") {
  SimResult r = run([] {
    auto* parent = new Mutex("inode->lock");
    auto* child = new Mutex("inode->lock");
    mutex_lock(parent);
    mutex_lock_nested(child, 1);
    mutex_unlock(child);
    mutex_unlock(parent);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("lockdep keeps recording dependencies after a recursive-locking report, so a later inversion is found") {
  SimResult r = run([] {
    // Two instances of one class: taking the second while holding the first is reported as AA
    // (no nesting annotation), and the thread goes on.
    auto* c1 = new Mutex("c1->lock", "client->lock");
    auto* c2 = new Mutex("c2->lock", "client->lock");
    auto* x = new Mutex("X");
    auto* y = new Mutex("Y");
    {
      KFRAME_NAMED("path_aa");
      mutex_lock(c1);
      mutex_lock(x);
      mutex_lock(c2);  // AA on client->lock; also X -> client->lock
      mutex_unlock(c2);
      mutex_unlock(x);
      mutex_unlock(c1);
    }
    {
      KFRAME_NAMED("path_two");
      mutex_lock(c1);
      mutex_lock(y);  // client->lock -> Y
      mutex_unlock(y);
      mutex_unlock(c1);
    }
    {
      KFRAME_NAMED("path_three");
      mutex_lock(y);
      mutex_lock(x);  // Y -> X closes X -> client->lock -> Y
      mutex_unlock(x);
      mutex_unlock(y);
    }
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::RecursiveLocking, "main:1 takes c2->lock twice"));
  const Finding* f = finding(r, FindingKind::LockOrder, "main:1 takes (X) while holding (Y)");
  REQUIRE(f);
  REQUIRE(f->text.find("main:1 took (client->lock) holding (X), at:\n     path_aa") != std::string::npos);
}
