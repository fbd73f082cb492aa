#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

namespace {
SimConfig rt_config(bool rt) {
  SimConfig c;
  c.preempt_rt = rt;
  return c;
}
}  // namespace

TEST_CASE("sleeping while holding a spinlock_t is a BUG on a non-RT kernel") {
  SimResult r = run(
      [] {
        auto* l = new Spinlock("s->lock");
        KFRAME_NAMED("snapshot_map");
        spin_lock(l);
        msleep(1);
        spin_unlock(l);
      },
      rt_config(false));
  INFO(all_text(r));
  const Finding* f =
      finding(r, FindingKind::AtomicSleep, "BUG: sleeping function called from invalid context at msleep");
  REQUIRE(f);
  REQUIRE(f->text.find("1 lock held by main/1:") != std::string::npos);
  REQUIRE(f->text.find("snapshot_map") != std::string::npos);
}

TEST_CASE("on PREEMPT_RT a spinlock_t is a sleeping lock: sleeping under it is allowed") {
  SimResult r = run(
      [] {
        auto* l = new Spinlock("s->lock");
        spin_lock(l);
        msleep(1);
        spin_unlock(l);
      },
      rt_config(true));
  REQUIRE_CLEAN(r);
}

TEST_CASE("a raw spinlock is atomic context with and without PREEMPT_RT") {
  for (bool rt : {false, true}) {
    SimResult r = run(
        [] {
          auto* raw = new RawSpinlock("rq->lock");
          auto* m = new Mutex("m");
          raw_spin_lock(raw);
          mutex_lock(m);
          mutex_unlock(m);
          raw_spin_unlock(raw);
        },
        rt_config(rt));
    INFO("preempt_rt=" << rt << "\n" << all_text(r));
    REQUIRE(finding(r, FindingKind::AtomicSleep, "at mutex_lock"));
  }
}

TEST_CASE("a spinlock_t taken under a raw spinlock is flagged on PREEMPT_RT only") {
  auto body = [] {
    auto* raw = new RawSpinlock("pool->lock");
    auto* l = new Spinlock("wq->lock");
    raw_spin_lock(raw);
    spin_lock(l);
    spin_unlock(l);
    raw_spin_unlock(raw);
  };
  SimResult on_rt = run(body, rt_config(true));
  SimResult on_non_rt = run(body, rt_config(false));
  INFO(all_text(on_rt));
  REQUIRE(finding(on_rt, FindingKind::AtomicSleep, "at rt_spin_lock"));
  REQUIRE_CLEAN(on_non_rt);
}

TEST_CASE("a spinlock serialises its holders") {
  SimResult r = run([] {
    auto* l = new Spinlock("lock");
    auto* counter = new int(0);
    std::vector<Thread*> ts;
    for (int i = 0; i < 3; i++)
      ts.push_back(&kthread_run(
          [l, counter] {
            for (int k = 0; k < 100; k++) {
              spin_lock(l);
              int v = *counter;
              udelay_sim(1e-6);  // other CPUs run meanwhile (a busy-wait), but cannot enter
              *counter = v + 1;
              spin_unlock(l);
            }
          },
          "adder"));
    for (Thread* t : ts) join(*t);
    note(std::to_string(*counter));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"300"});
}

TEST_CASE("schedule() while holding a spinlock is a BUG: scheduling while atomic, as __schedule_bug prints it") {
  SimResult r = run(
      [] {
        auto* l = new Spinlock("s->lock");
        KFRAME_NAMED("snapshot_map");
        spin_lock(l);
        schedule();
        spin_unlock(l);
      },
      rt_config(false));
  INFO(all_text(r));
  // One spinlock (1) plus schedule()'s own preempt_disable (1).
  const Finding* f = finding(r, FindingKind::Bug, "BUG: scheduling while atomic: main/1/0x00000002");
  REQUIRE(f);
  REQUIRE(f->text.find("1 lock held by main/1:") != std::string::npos);
  REQUIRE(f->text.find("schedule\n snapshot_map\n") != std::string::npos);
  REQUIRE(r.status == RunStatus::Completed);  // the kernel prints it and goes on
}

TEST_CASE("blocking on a contended mutex under a spinlock is reported by might_sleep and again when it schedules") {
  SimResult r = run(
      [] {
        auto* l = new Spinlock("s->lock");
        auto* m = new Mutex("m");
        kthread_run(
            [m] {
              mutex_lock(m);
              msleep(10);
              mutex_unlock(m);
            },
            "holder");
        msleep(1);
        spin_lock(l);
        mutex_lock(m);
        mutex_unlock(m);
        spin_unlock(l);
      },
      rt_config(false));
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::AtomicSleep, "BUG: sleeping function called from invalid context at mutex_lock"));
  REQUIRE(finding(r, FindingKind::Bug, "BUG: scheduling while atomic: main/1/0x00000002"));
}
