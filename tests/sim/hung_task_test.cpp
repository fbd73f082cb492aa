#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("a thread blocked in D state beyond hung_task_timeout_secs is reported once in the kernel's words") {
  SimResult r = run([] {
    auto* c = new Completion("c");
    kthread_run(
        [c] {
          msleep(300 * 1000);
          complete(c);
        },
        "slow");
    KFRAME_NAMED("era_status");
    wait_for_completion(c);
  });
  INFO(all_text(r));
  REQUIRE(r.count(FindingKind::HungTask) == 1);
  const Finding* f = finding(r, FindingKind::HungTask, "INFO: task main:1 blocked for more than 120 seconds.");
  REQUIRE(f);
  REQUIRE(f->time_ns >= 120'000'000'000ULL);
  REQUIRE(f->time_ns <= 122'000'000'000ULL);
  REQUIRE(f->text.find("task:main state:D stack:0 pid:1") != std::string::npos);
  REQUIRE(f->text.find("Call Trace:\n __schedule\n schedule\n wait_for_completion\n era_status\n") !=
          std::string::npos);
  REQUIRE_FALSE(r.has(FindingKind::Deadlock));
}

TEST_CASE("hung_task_timeout_secs is configurable and 0 disables the watchdog") {
  auto body = [] {
    auto* c = new Completion("c");
    kthread_run(
        [c] {
          msleep(60 * 1000);
          complete(c);
        },
        "slow");
    wait_for_completion(c);
  };
  SimConfig short_timeout;
  short_timeout.hung_task_timeout_secs = 30;
  SimResult r30 = run(body, short_timeout);
  INFO(all_text(r30));
  REQUIRE(finding(r30, FindingKind::HungTask, "INFO: task main:1 blocked for more than 30 seconds."));
  SimConfig off;
  off.hung_task_timeout_secs = 0;
  REQUIRE_CLEAN(run(body, off));
}

TEST_CASE("idle workers, sleeping threads and S-state waiters are not hung tasks") {
  SimResult r = run([] {
    alloc_ordered_workqueue("idle-wq")->queue(new WorkStruct(
        "w", [](WorkStruct*) {}, "fn"));
    auto* wq = new WaitQueueHead("wq");
    auto* flag = new bool(false);
    kthread_run([wq, flag] { wait_event_interruptible(*wq, [flag] { return *flag; }); }, "interruptible");
    msleep(200 * 1000);
    *flag = true;
    wake_up(wq);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a hung worker's report names its workqueue and function") {
  SimResult r = run([] {
    Workqueue* wq = alloc_ordered_workqueue("kcopyd");
    auto* c = new Completion("never");
    auto* w = new WorkStruct(
        "kc->kcopyd_work",
        [c](WorkStruct*) {
          KFRAME_NAMED("do_work");
          wait_for_completion(c);
        },
        "do_work");
    queue_work(wq, w);
    msleep(200 * 1000);
    complete(c);
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::HungTask, "INFO: task kworker/u2:0:2 blocked for more than 120 seconds.");
  REQUIRE(f);
  REQUIRE(f->text.find("Workqueue: kcopyd do_work") != std::string::npos);
  REQUIRE(f->text.find(" do_work\n process_one_work\n worker_thread\n") != std::string::npos);
}
