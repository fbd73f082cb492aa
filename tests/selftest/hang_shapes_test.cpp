// The seed's three hang shapes, built from runtime primitives alone (selftest/detector_demos.cpp),
// and the detector verdicts they must produce: the exact cycle, or the misbehaviour.
#include "selftest/detector_demos.hpp"
#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;
using namespace selftest;

namespace {
SimResult run_demo(const DetectorDemo& d) {
  return sim::run_isolated(d.config, d.body, 120);
}
}  // namespace

TEST_CASE("a status blocked on a stopped worker under SRCU and a resume in synchronize_srcu form a cycle") {
  SimResult r = run_demo(demo_srcu_status_vs_swap(false));
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Deadlock,
                             "deadlock: dmsetup-status:3 -> completion rpc->complete -> work era->worker -> mutex "
                             "md->suspend_lock -> dmsetup-resume:4 -> srcu md->io_barrier -> dmsetup-status:3");
  REQUIRE(f);
  for (const char* frame : {"era_status\n", "table_status\n", "dm_swap_table\n", "do_resume\n"})
    REQUIRE(f->text.find(frame) != std::string::npos);
  REQUIRE(finding(r, FindingKind::HungTask, "INFO: task dmsetup-status:3 blocked for more than 120 seconds."));
  REQUIRE(finding(r, FindingKind::HungTask, "INFO: task dmsetup-resume:4 blocked for more than 120 seconds."));
  REQUIRE(r.status == RunStatus::Deadlocked);
}

TEST_CASE("serving status in the caller lets the table swap finish") {
  SimResult r = run_demo(demo_srcu_status_vs_swap(true));
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"status served in caller", "table swapped"});
}

TEST_CASE("rwsem readers behind a queued writer, throttled on a semaphore kcopyd must up, form a cycle") {
  SimResult r = run_demo(demo_rwsem_cow_throttle(false));
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::Deadlock,
                  "deadlock: origin-writer-2:4 -> semaphore s->cow_count -> work kc->kcopyd_work -> kworker/u2:0:7 -> "
                  "rw_semaphore _origins_lock -> lvcreate:6 -> rw_semaphore _origins_lock -> origin-writer-2:4"));
}

TEST_CASE("throttling without holding _origins_lock completes every write and the snapshot creation") {
  SimResult r = run_demo(demo_rwsem_cow_throttle(true));
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"snapshot_ctr registered", "all done"});
}

TEST_CASE("stop_worker with flush_workqueue leaves the self-requeueing work running after the stop") {
  SimResult r = run_demo(demo_stop_worker(false));
  INFO(all_text(r));
  auto stopped = std::find(r.notes.begin(), r.notes.end(), "worker stopped");
  REQUIRE(stopped != r.notes.end());
  REQUIRE(std::find(stopped, r.notes.end(), "do_work ran after stop_worker") != r.notes.end());
  REQUIRE(finding(r, FindingKind::Warning, "work_pending(&era->worker) || era->worker.running()"));
}

TEST_CASE("stop_worker with drain_workqueue stops the worker for good") {
  SimResult r = run_demo(demo_stop_worker(true));
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"do_work step", "do_work step", "do_work step", "do_work step", "worker stopped"});
}

TEST_CASE("every detector demonstration behaves as its selftest verdict claims") {
  for (const auto& d : all_detector_demos()) {
    SimResult r = run_demo(d);
    INFO(d.name << "\n" << all_text(r));
    CHECK(d.judge(r) == "");
  }
}
