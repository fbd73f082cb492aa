#include "engines/lib/kcopyd.hpp"

#include <set>

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
