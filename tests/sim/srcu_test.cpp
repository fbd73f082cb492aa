#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("synchronize_srcu waits for a reader that entered before it") {
  SimResult r = run([] {
    auto* srcu = new Srcu("md->io_barrier");
    Thread& reader = kthread_run(
        [srcu] {
          int idx = srcu_read_lock(srcu);
          msleep(100);  // SRCU readers may sleep
          note_at("reader leaves");
          srcu_read_unlock(srcu, idx);
        },
        "reader");
    msleep(1);
    synchronize_srcu(srcu);
    note_at("grace period over");
    join(reader);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"reader leaves @104", "grace period over @104"});
}

TEST_CASE("synchronize_srcu does not wait for a reader that entered after it") {
  SimResult r = run([] {
    auto* srcu = new Srcu("md->io_barrier");
    auto* early_out = new bool(false);
    Thread& early = kthread_run(
        [srcu, early_out] {
          int idx = srcu_read_lock(srcu);
          msleep(20);
          *early_out = true;
          srcu_read_unlock(srcu, idx);
        },
        "early-reader");
    Thread& syncer = kthread_run(
        [srcu] {
          msleep(1);
          synchronize_srcu(srcu);
          note_at("synchronize done");
        },
        "syncer");
    msleep(10);
    // Enters while synchronize_srcu is waiting for the early reader, and stays long after.
    int idx = srcu_read_lock(srcu);
    msleep(100);
    note_at("late reader leaves");
    srcu_read_unlock(srcu, idx);
    join(early);
    join(syncer);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"synchronize done @24", "late reader leaves @120"});
}

TEST_CASE("srcu_read_lock hands out the current index, which a synchronize_srcu flips") {
  SimResult r = run([] {
    auto* srcu = new Srcu("s");
    int a = srcu_read_lock(srcu);
    srcu_read_unlock(srcu, a);
    synchronize_srcu(srcu);
    int b = srcu_read_lock(srcu);
    srcu_read_unlock(srcu, b);
    note(std::to_string(a) + " " + std::to_string(b));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0 1"});
}

TEST_CASE("synchronize_srcu inside its own read-side section deadlocks, and both detectors say so") {
  SimResult r = run([] {
    auto* srcu = new Srcu("md->io_barrier");
    KFRAME_NAMED("dm_swap_table");
    int idx = srcu_read_lock(srcu);
    synchronize_srcu(srcu);
    srcu_read_unlock(srcu, idx);
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::RecursiveLocking, "md->io_barrier"));
  REQUIRE(finding(r, FindingKind::Deadlock, "main:1 -> srcu md->io_barrier -> main:1"));
}

TEST_CASE("srcu_read_unlock with an index that was not handed out is reported") {
  SimResult r = run([] {
    auto* srcu = new Srcu("s");
    int idx = srcu_read_lock(srcu);
    srcu_read_unlock(srcu, idx ^ 1);
    srcu_read_unlock(srcu, idx);
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::LockMisuse, "srcu_read_unlock of s index 1"));
}
