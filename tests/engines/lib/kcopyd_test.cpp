#include "engines/lib/kcopyd.hpp"

#include <algorithm>
#include <set>

#include "model/knobs.hpp"
#include "tests/engines/engine_test_helpers.hpp"
#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace model;
using namespace engines;
using sim::note;

namespace {

// Copies `sectors` from the start of sda to the start of sdb with one kcopyd client and says
// how it went; `check` verifies every copied sector.
void copy_and_report(World& w, uint32_t sub_job, uint64_t sectors, const std::string& profile = "nvme") {
  VolatileCacheDisk& src = disk(w, "sda", 1 << 16, true, profile);
  VolatileCacheDisk& dst = disk(w, "sdb", 1 << 16, true, profile);
  blk_write(&src, 0, static_cast<uint32_t>(std::min<uint64_t>(sectors, 2048)));
  auto* kc = new DmKcopydClient(nullptr, sub_job);
  sim::Completion done("copy done");
  std::string callback_thread;
  kc->copy({&src, 0, sectors}, {{&dst, 0, sectors}}, 0, [&](int read_err, unsigned long write_err) {
    callback_thread = sim::current().comm();
    note("callback read_err=" + std::to_string(read_err) + " write_err=" + std::to_string(write_err));
    sim::complete(&done);
  });
  sim::wait_for_completion(&done);
  uint64_t wrong = 0;
  for (uint64_t s = 0; s < sectors; s++) wrong += dst.read_sector(s).token != src.read_sector(s).token;
  note(std::to_string(kc->sub_jobs_dispatched()) + " sub-jobs, at most " + std::to_string(kc->max_in_flight_per_job()) +
       " in flight, " + std::to_string(wrong) + " wrong sectors, callback on " + callback_thread.substr(0, 8));
  delete kc;
}

}  // namespace

TEST_CASE("kcopyd splits a 4 MiB copy into 512 KiB sub-jobs, never more than eight in flight") {
  SimResult r = run_world([](World& w) { copy_and_report(w, kSubJobSizeDefault, 8192); });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"callback read_err=0 write_err=0",
                           "8 sub-jobs, at most 8 in flight, 0 wrong sectors, callback on kworker/"});
}

TEST_CASE("with 64 KiB sub-jobs the same copy takes 64 sub-jobs, still at most eight in flight") {
  SimResult r = run_world([](World& w) { copy_and_report(w, kSubJobSizeOld, 8192); });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"callback read_err=0 write_err=0",
                           "64 sub-jobs, at most 8 in flight, 0 wrong sectors, callback on kworker/"});
}

TEST_CASE("a copy no larger than one sub-job is dispatched whole") {
  SimResult r = run_world([](World& w) { copy_and_report(w, kSubJobSizeDefault, 512); });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"callback read_err=0 write_err=0",
                           "0 sub-jobs, at most 1 in flight, 0 wrong sectors, callback on kworker/"});
}

TEST_CASE("kcopyd copies to several destinations and zeroes regions") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& src = disk(w, "sda", 1 << 14);
    VolatileCacheDisk& d1 = disk(w, "sdb", 1 << 14);
    VolatileCacheDisk& d2 = disk(w, "sdc", 1 << 14);
    blk_write(&src, 0, 64);
    DmKcopydClient kc;
    sim::Completion done("done");
    kc.copy({&src, 0, 64}, {{&d1, 100, 64}, {&d2, 200, 64}}, 0, [&](int, unsigned long) { sim::complete(&done); });
    sim::wait_for_completion(&done);
    note(d1.read_sector(110).token == src.read_sector(10).token &&
                 d2.read_sector(210).token == src.read_sector(10).token
             ? "both copies"
             : "copy missing");
    kc.zero({{&d1, 100, 64}}, 0, [&](int, unsigned long) { sim::complete(&done); });
    sim::wait_for_completion(&done);
    note(describe_token(d1.read_sector(110).token));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"both copies", "zeroes"});
}

TEST_CASE("kcopyd reports a read error and a failed destination in its callback") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& src = disk(w, "sda", 1 << 14);
    VolatileCacheDisk& ok = disk(w, "sdb", 1 << 14);
    VolatileCacheDisk& bad = disk(w, "sdc", 1 << 14);
    FaultRule fail_writes;
    bad.faults().add(fail_writes);
    DmKcopydClient kc;
    sim::Completion done("done");
    kc.copy({&src, 0, 64}, {{&ok, 0, 64}, {&bad, 0, 64}}, 0, [&](int read_err, unsigned long write_err) {
      note("read_err=" + std::to_string(read_err) + " write_err=" + std::to_string(write_err));
      sim::complete(&done);
    });
    sim::wait_for_completion(&done);
    FaultRule fail_reads;
    fail_reads.reads = true;
    fail_reads.writes = false;
    src.faults().add(fail_reads);
    kc.copy({&src, 0, 4096}, {{&ok, 0, 4096}}, 0, [&](int read_err, unsigned long write_err) {
      note("read_err=" + std::to_string(read_err) + " write_err=" + std::to_string(write_err));
      sim::complete(&done);
    });
    sim::wait_for_completion(&done);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"read_err=0 write_err=2", "read_err=1 write_err=0"});
}

TEST_CASE("kcopyd callbacks of concurrent jobs run one at a time on the kcopyd worker") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& src = disk(w, "sda", 1 << 16, true, "sata-ssd");
    VolatileCacheDisk& dst = disk(w, "sdb", 1 << 16, true, "sata-ssd");
    DmKcopydClient kc;
    int inside = 0, overlaps = 0, done_count = 0;
    std::set<std::string> threads;
    sim::Completion all("all");
    for (int j = 0; j < 6; j++)
      kc.copy({&src, static_cast<uint64_t>(j) * 4096, 4096}, {{&dst, static_cast<uint64_t>(j) * 4096, 4096}}, 0,
              [&](int, unsigned long) {
                overlaps += inside++ > 0;
                threads.insert(sim::current().comm());
                sim::schedule();  // give anyone else the chance to run a callback now
                inside--;
                if (++done_count == 6) sim::complete(&all);
              });
    sim::wait_for_completion(&all);
    note(std::to_string(overlaps) + " overlapping callbacks on " + std::to_string(threads.size()) + " thread(s)");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0 overlapping callbacks on 1 thread(s)"});
}

TEST_CASE("a throttled kcopyd client spends at most its share of time doing I/O") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& src = disk(w, "sda", 1 << 20, true, "hdd");
    VolatileCacheDisk& dst = disk(w, "sdb", 1 << 20, true, "hdd");
    auto timed = [&](DmKcopydThrottle* t) {
      DmKcopydClient kc(t, kSubJobSizeDefault);
      sim::Completion done("done");
      const uint64_t t0 = sim::ktime_get_ns();
      for (int j = 0; j < 20; j++) {
        kc.copy({&src, static_cast<uint64_t>(j) * 8192, 8192}, {{&dst, static_cast<uint64_t>(j) * 8192, 8192}}, 0,
                [&](int, unsigned long) { sim::complete(&done); });
        sim::wait_for_completion(&done);
      }
      return (sim::ktime_get_ns() - t0) / 1000000;
    };
    DmKcopydThrottle half;
    half.throttle = 50;
    const uint64_t fast = timed(nullptr), slow = timed(&half);
    note(slow > fast * 3 / 2 ? "throttled copy is slower" : "throttle had no effect");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"throttled copy is slower"});
}

TEST_CASE("dm_io writes one buffer to several regions and reports the failed ones") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& a = disk(w, "sda", 1 << 12);
    VolatileCacheDisk& b = disk(w, "sdb", 1 << 12);
    FaultRule fail;
    b.faults().add(fail);
    auto buf = std::make_shared<SectorBuffer>(8, Sector::of_token(written_token(77, 0)));
    DmIoRequest req;
    req.op = ReqOp::Write;
    req.buf = buf;
    unsigned long bits = 0;
    const int rc = dm_io(req, {{&a, 16, 8}, {&b, 16, 8}}, &bits);
    note(std::to_string(rc) + " bits=" + std::to_string(bits) + " " + describe_token(a.read_sector(20).token));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"-5 bits=2 write#77@0"});
}

TEST_CASE("a caller waiting for its copy waits, in the wait-for graph, for wherever kcopyd's job is: its bios' disk") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& src = disk(w, "sda", 1 << 16, true, "hdd");
    VolatileCacheDisk& dst = disk(w, "sdb", 1 << 16, true, "hdd");
    auto* kc = new DmKcopydClient();
    sim::kthread_run(
        [&src, &dst, kc] {
          sim::Completion done("copy done");
          kc->copy({&src, 0, 8}, {{&dst, 0, 8}}, 0, [&](int, unsigned long) { sim::complete(&done); });
          sim::WaitingFor wf(kc->jobs());
          sim::wait_for_completion(&done);
        },
        "copier");
    sim::msleep(1);
    note(wait_edges_from("copier"));
    sim::msleep(1000);
    delete kc;
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes.size() == 1);
  INFO(r.notes[0]);
  REQUIRE(r.notes[0].find("completion copy done -> disk sda (in flight on the disk)\n") != std::string::npos);
}

TEST_CASE("a client that names no sub-job size takes the module parameter kcopyd_subjob_size_kb") {
  const unsigned saved = engines::kcopyd_subjob_size_kb;
  SimResult r = run_world([](World&) {
    note(std::to_string(DmKcopydClient().sub_job_size()));
    engines::kcopyd_subjob_size_kb = 64;  // dm_mod.kcopyd_subjob_size_kb=64: the pre-5.3 size
    note(std::to_string(DmKcopydClient().sub_job_size()));
    note(std::to_string(DmKcopydClient(nullptr, 256).sub_job_size()));
  });
  engines::kcopyd_subjob_size_kb = saved;
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"1024", "128", "256"});
}

TEST_CASE(
    "a prepared callback runs once in the kcopyd worker, with do_callback's errors, even when queued from softirq") {
  SimResult r = run_world([](World&) {
    auto* kc = new DmKcopydClient();
    int runs = 0;
    DmKcopydClient::Job* job = kc->prepare_callback([&](int read_err, unsigned long write_err) {
      runs++;
      note("callback read_err=" + std::to_string(read_err) + " write_err=" + std::to_string(write_err) + " on " +
           sim::current().comm().substr(0, 8));
    });
    // dm_kcopyd_do_callback from a timer, as dm-snapshot calls it from a bio's completion.
    sim::TimerList timer(
        "t", [job](sim::TimerList*) { DmKcopydClient::do_callback(job, 1, 4); }, "timer_fn");
    sim::mod_timer(&timer, sim::jiffies() + 10);
    // The prepared job is outstanding: destroying the client waits for its callback.
    delete kc;
    note(std::to_string(runs) + " run(s) when the client was destroyed");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"callback read_err=1 write_err=4 on kworker/", "1 run(s) when the client was destroyed"});
}

namespace {

// Two producers (as two writers keeping a write in flight each) queue bare callbacks in a closed
// loop: each prepares a job, queues it, and waits for its callback, which computes for 10 ms,
// before queueing the next; 150 each. Notes how many callbacks ran and the most one do_work pass
// ran. `knob_on` selects kcopyd.callback_list_stall; the watchdog threshold is 2 s.
SimResult callback_producers(bool knob_on) {
  SimConfig cfg;
  cfg.wq_watchdog_thresh_secs = 2;
  return run_world(
      [knob_on](World&) {
        model::set_active_knobs(knob_on ? std::vector<std::string>{"kcopyd.callback_list_stall"}
                                        : std::vector<std::string>{});
        auto* kc = new DmKcopydClient();
        auto* ran = new int(0);
        std::vector<sim::Thread*> producers;
        for (int p = 0; p < 2; p++)
          producers.push_back(&sim::kthread_run(
              [kc, ran] {
                sim::Completion done("callback done");
                for (int i = 0; i < 150; i++) {
                  DmKcopydClient::Job* job = kc->prepare_callback([&done, ran](int, unsigned long) {
                    sim::cpu_busy(0.010);
                    ++*ran;
                    sim::complete(&done);
                  });
                  DmKcopydClient::do_callback(job, 0, 0);
                  sim::wait_for_completion(&done);
                }
              },
              "producer" + std::to_string(p)));
        for (sim::Thread* t : producers) sim::join(*t);
        note(std::to_string(*ran) + " callbacks, at most " + std::to_string(kc->max_callbacks_per_pass()) +
             " in one pass");
        delete kc;
        model::set_active_knobs({});
      },
      cfg);
}

// A copy of 1 MiB in two 512 KiB sub-jobs with sequential writes, to a destination whose first
// sub-job's write fails while the second sub-job's read (50 ms slower) is still in flight:
// process_jobs fails that sub-job without I/O. Notes the callback, or that none came within 10 s.
// `knob_on` selects kcopyd.no_wake_on_failed_job.
SimResult copy_with_failed_sequential_write(bool knob_on) {
  return run_world([knob_on](World& w) {
    model::set_active_knobs(knob_on ? std::vector<std::string>{"kcopyd.no_wake_on_failed_job"}
                                    : std::vector<std::string>{});
    VolatileCacheDisk& src = disk(w, "sda", 1 << 14, true, "nvme");
    VolatileCacheDisk& dst = disk(w, "sdb", 1 << 14, true, "nvme");
    FaultRule slow_second_half;
    slow_second_half.reads = true;
    slow_second_half.writes = false;
    slow_second_half.start = 1024;
    slow_second_half.action = FaultAction::Delay;
    slow_second_half.delay_s = 0.050;
    src.faults().add(slow_second_half);
    FaultRule fail_first_write;
    fail_first_write.end = 1024;
    dst.faults().add(fail_first_write);
    auto* kc = new DmKcopydClient(nullptr, kSubJobSizeDefault);
    auto* done = new sim::Completion("copy done");
    kc->copy({&src, 0, 2048}, {{&dst, 0, 2048}}, DM_KCOPYD_WRITE_SEQ, [done](int read_err, unsigned long write_err) {
      note("callback read_err=" + std::to_string(read_err) +
           " write_err=" + (write_err == ~0UL ? std::string("all") : std::to_string(write_err)));
      sim::complete(done);
    });
    if (!sim::wait_for_completion_timeout(done, sim::msecs_to_jiffies(10000))) {
      note("no callback after 10 s");
      model::set_active_knobs({});
      return;  // the client keeps its stuck job: destroying it would wait forever
    }
    uint64_t writes = 0;
    for (const auto& rec : dst.trace().records) writes += rec.is_write();
    note(std::to_string(kc->sub_jobs_dispatched()) + " sub-jobs, " + std::to_string(writes) +
         " write(s) reached the destination");
    delete kc;
    model::set_active_knobs({});
  });
}

}  // namespace

TEST_CASE("a do_work pass runs only the callbacks queued before it began") {
  SimResult r = callback_producers(false);
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"300 callbacks, at most 2 in one pass"});
}

TEST_CASE("kcopyd.callback_list_stall: callbacks queued during a pass keep it running, a workqueue lockup") {
  SimResult r = callback_producers(true);
  INFO(all_text(r));
  REQUIRE(r.notes == Notes{"300 callbacks, at most 300 in one pass"});
  const sim::Finding* f = finding(r, FindingKind::Bug, "BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0");
  REQUIRE(f);
  REQUIRE(f->text.find("workqueue kcopyd: flags=0x8\n") != std::string::npos);
  REQUIRE(f->text.find("Workqueue: kcopyd do_work\n") != std::string::npos);
}

TEST_CASE("a failed job's callback runs without other kcopyd activity") {
  SimResult r = copy_with_failed_sequential_write(false);
  REQUIRE_CLEAN(r);
  // The first sub-job's write failed (bit 0); the second was failed without I/O (all bits).
  REQUIRE(r.notes == Notes{"callback read_err=0 write_err=all", "2 sub-jobs, 1 write(s) reached the destination"});
}

TEST_CASE("kcopyd.no_wake_on_failed_job: the failed sub-job waits on complete_jobs and the copy never completes") {
  SimResult r = copy_with_failed_sequential_write(true);
  INFO(all_text(r));
  REQUIRE(r.notes == Notes{"no callback after 10 s"});
}

TEST_CASE("sequential writes of a split copy are issued in order, whatever order their reads complete in") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& src = disk(w, "sda", 1 << 14, true, "nvme");
    VolatileCacheDisk& dst = disk(w, "sdb", 1 << 14, true, "nvme");
    FaultRule slow_first_chunk;
    slow_first_chunk.reads = true;
    slow_first_chunk.writes = false;
    slow_first_chunk.end = 1024;
    slow_first_chunk.action = FaultAction::Delay;
    slow_first_chunk.delay_s = 0.050;
    src.faults().add(slow_first_chunk);
    DmKcopydClient kc(nullptr, kSubJobSizeDefault);
    sim::Completion done("done");
    for (unsigned flags : {0u, unsigned{DM_KCOPYD_WRITE_SEQ}}) {
      const size_t before = dst.trace().records.size();
      kc.copy({&src, 0, 3072}, {{&dst, 0, 3072}}, flags, [&](int, unsigned long) { sim::complete(&done); });
      sim::wait_for_completion(&done);
      std::vector<uint64_t> order;
      for (size_t i = before; i < dst.trace().records.size(); i++)
        if (dst.trace().records[i].is_write()) order.push_back(dst.trace().records[i].sector);
      note(std::string(flags ? "WRITE_SEQ: " : "unordered: ") + std::to_string(order.size()) + " writes, " +
           (std::is_sorted(order.begin(), order.end()) ? "in order" : "out of order"));
    }
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"unordered: 3 writes, out of order", "WRITE_SEQ: 3 writes, in order"});
}

TEST_CASE("kcopyd.callback_list_stall: writers completing through kcopyd callbacks lock up the kcopyd pool",
          "[kcopyd][knobs]") {
  enginetest::knob_is_caught(enginetest::catalog_scenario("kcopyd", "callback-list-stall.yaml"),
                             "kcopyd.callback_list_stall", "bug");
}

TEST_CASE("kcopyd.no_wake_on_failed_job: a write waiting for a copy whose sequential write failed hangs",
          "[kcopyd][knobs]") {
  enginetest::knob_is_caught(enginetest::catalog_scenario("kcopyd", "failed-job-wake.yaml"),
                             "kcopyd.no_wake_on_failed_job", "hung-task");
}
