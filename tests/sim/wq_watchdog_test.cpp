#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

namespace {

// How a work function spends its time between one-second steps of work.
enum class Between { KeepsCpu, Sleeps };

// A work function that queues itself again at once (as kcopyd's do_work is re-queued by every
// job pushed while it runs) and then works for `seconds`, one second at a time.
WorkStruct* self_requeuing_hog(Workqueue* wq, int seconds, Between between) {
  return new WorkStruct(
      "hog",
      [wq, seconds, between](WorkStruct* w) {
        KFRAME_NAMED("hog_fn");
        queue_work(wq, w);
        for (int i = 0; i < seconds; i++) {
          if (between == Between::KeepsCpu)
            cpu_busy(1.0);
          else
            msleep(1000);
        }
      },
      "hog_fn");
}

// One hogging run on `wq`, then the main thread waits long enough for the watchdog to judge it.
SimResult hog_run(unsigned wq_flags, int seconds, Between between, SimConfig cfg = {}) {
  return run(
      [wq_flags, seconds, between] {
        Workqueue* wq = alloc_workqueue("kcopyd", wq_flags, 0);
        WorkStruct* w = self_requeuing_hog(wq, seconds, between);
        queue_work(wq, w);
        msleep(static_cast<unsigned>(seconds) * 1000 + 500);
        cancel_work_sync(w, wq);
      },
      cfg);
}

}  // namespace

TEST_CASE("a worker that keeps the CPU while work waits on its pool is a workqueue lockup after watchdog_thresh") {
  SimResult r = hog_run(WQ_MEM_RECLAIM, 40, Between::KeepsCpu);
  INFO(all_text(r));
  REQUIRE(r.count(FindingKind::Bug) == 1);
  const Finding* f =
      finding(r, FindingKind::Bug, "BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 30s!");
  REQUIRE(f);
  REQUIRE(f->time_ns >= 30'000'000'000ULL);
  REQUIRE(f->time_ns <= 31'000'000'000ULL);
  // show_all_workqueues: the busy queue with its running and pending item; then the hog's stack.
  REQUIRE(f->text.find("workqueue kcopyd: flags=0x8\n  pwq 0: cpus=0 node=0 flags=0x0 nice=0 active=2/256\n"
                       "    in-flight: ") != std::string::npos);
  REQUIRE(f->text.find(":hog_fn\n    pending: hog_fn\n") != std::string::npos);
  REQUIRE(f->text.find("Workqueue: kcopyd hog_fn\nCall Trace:\n hog_fn\n process_one_work\n worker_thread\n") !=
          std::string::npos);
}

TEST_CASE("a worker that sleeps between its steps gives its pool back: no workqueue lockup") {
  REQUIRE_CLEAN(hog_run(WQ_MEM_RECLAIM, 40, Between::Sleeps));
}

TEST_CASE("a hog on an unbound workqueue is no workqueue lockup: unbound pools wake another worker") {
  REQUIRE_CLEAN(hog_run(WQ_UNBOUND, 40, Between::KeepsCpu));
}

TEST_CASE("a worker that keeps the CPU with nothing pending on its pool is no workqueue lockup") {
  SimResult r = run([] {
    Workqueue* wq = alloc_workqueue("busy", 0, 0);
    queue_work(wq, new WorkStruct(
                       "w", [](WorkStruct*) { cpu_busy(40.0); }, "fn"));
    msleep(41 * 1000);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("work that keeps starting on its pool is no workqueue lockup, however long it goes on") {
  SimResult r = run([] {
    Workqueue* wq = alloc_workqueue("busy", 0, 0);
    auto* left = new int(80);
    auto* w = new WorkStruct(
        "w",
        [wq, left](WorkStruct* self) {
          if (--*left > 0) queue_work(wq, self);
          cpu_busy(0.5);  // one pass of half a second, then the pool starts the next item
        },
        "fn");
    queue_work(wq, w);
    msleep(41 * 1000);
    flush_workqueue(wq);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("workqueue.watchdog_thresh is configurable and 0 disables the watchdog") {
  SimConfig five;
  five.wq_watchdog_thresh_secs = 5;
  SimResult r = hog_run(0, 10, Between::KeepsCpu, five);
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::Bug, "BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 5s!"));
  SimConfig off;
  off.wq_watchdog_thresh_secs = 0;
  REQUIRE_CLEAN(hog_run(0, 40, Between::KeepsCpu, off));
}

TEST_CASE("WQ_HIGHPRI work has a pool of its own, reported as the nice=-20 pool") {
  SimResult r = hog_run(WQ_HIGHPRI, 40, Between::KeepsCpu);
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::Bug, "BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=-20 stuck for 30s!"));
}
