#include <set>

#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace model;
using sim::Finding;
using sim::note;

namespace {
std::string on(const CrashImage& img, uint64_t sector) {
  return describe_token(img.read(sector).token);
}
}  // namespace

TEST_CASE("a write acknowledged without a flush can be lost; one followed by a completed flush cannot") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    uint64_t a, b;
    blk_write(&d, 0, 1, 0, &a);
    blkdev_issue_flush(&d);
    blk_write(&d, 8, 1, 0, &b);
    CrashStateSpace cs = crash_space(d);
    note(std::to_string(cs.must_writes().size()) + " must, " + std::to_string(cs.variables()) + " may");
    cs.enumerate(16, [&](const std::vector<bool>& c) {
      CrashImage img = cs.image(c);
      note(on(img, 0) + " | " + on(img, 8));
    });
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"1 must, 1 may", "write#1@0 | initial(disk 1, sector 8)", "write#1@0 | write#3@8"});
}

TEST_CASE("n independent cached writes give 2^n distinct crash states") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    for (int i = 0; i < 5; i++) blk_write(&d, static_cast<uint64_t>(i) * 8, 1);
    CrashStateSpace cs = crash_space(d);
    std::set<std::string> digests;
    uint64_t n = 0;
    const bool all = cs.enumerate(1000, [&](const std::vector<bool>& c) {
      n++;
      digests.insert(cs.image(c).materialize().digest());
    });
    note(std::to_string(n) + " states, " + std::to_string(digests.size()) + " distinct, complete " +
         (all ? "yes" : "no"));
    uint64_t bounded = 0;
    note(cs.enumerate(10, [&](const std::vector<bool>&) { bounded++; }) ? "bound covered all" : "bound stopped early");
    note(std::to_string(bounded));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"32 states, 32 distinct, complete yes", "bound stopped early", "10"});
}

TEST_CASE("a multi-block write tears at logical block granularity") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 4096, true, "instant", 4096);
    blk_write(&d, 0, 32);  // four 4 KiB blocks
    CrashStateSpace cs = crash_space(d);
    note(std::to_string(cs.variables()) + " variables");
    CrashImage img = cs.image({true, false, true, false});
    std::string s;
    for (uint64_t sector : {0, 7, 8, 15, 16, 24}) s += on(img, sector).substr(0, 7) + " ";
    note(s);
    note(cs.describe({true, false, true, false}));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"4 variables", "write#1 write#1 initial initial write#1 initial ",
                           "io #1 (WRITE 0+32, acknowledged): torn, 2/4 blocks persisted\n"});
}

TEST_CASE("the last writer among the persisted wins, in completion order") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    blk_write(&d, 5, 1);
    blk_write(&d, 5, 1);
    CrashStateSpace cs = crash_space(d);
    cs.enumerate(4, [&](const std::vector<bool>& c) { note(on(cs.image(c), 5)); });
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"initial(disk 1, sector 5)", "write#1@5", "write#2@5", "write#2@5"});
}

TEST_CASE("FUA writes and writes to a write-through disk always persist") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& wb = disk(w, "sda", 1024);
    VolatileCacheDisk& wt = disk(w, "sdb", 1024, false);
    blk_write(&wb, 0, 1, REQ_FUA);
    blk_write(&wt, 0, 1);
    note(std::to_string(crash_space(wb).variables()) + " " + std::to_string(crash_space(wt).variables()));
    note(describe_token(crash_space(wb).durable().read(0).token));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0 0", "write#1@0"});
}

TEST_CASE("a write in flight at the crash may persist, torn or whole") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1 << 16, true, "hdd");
    sim::kthread_run([&d] { blk_write(&d, 0, 16); }, "writer");
    sim::msleep(1);  // the hdd needs 8 ms: the write is still in flight
    CrashStateSpace cs = crash_space(d);
    note(std::to_string(cs.variables()) + " variables, completed=" + (cs.may()[0].completed ? "yes" : "no"));
    note(cs.describe(std::vector<bool>(cs.variables(), true)));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"16 variables, completed=no", "io #1 (WRITE 0+16, in flight): persisted\n"});
}

TEST_CASE("a PREFLUSH write in flight persists only together with every write completed before it") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1 << 16, true, "hdd");
    blk_write(&d, 8, 1);  // cached, acknowledged
    sim::kthread_run([&d] { blk_write(&d, 0, 1, REQ_PREFLUSH | REQ_FUA); }, "committer");
    sim::msleep(1);  // the flush and the write take longer: both still in flight
    CrashStateSpace cs = crash_space(d);
    note(std::to_string(cs.variables()) + " variables");
    // Only the metadata write asked to persist: its flush must have completed first.
    std::vector<bool> only_commit(cs.variables(), false);
    for (size_t v = 0; v < cs.variables(); v++) only_commit[v] = !cs.may()[v].completed;
    CrashImage img = cs.image(only_commit);
    note(on(img, 0) + " | " + on(img, 8));
    // The cached write alone may still be lost or persist without the commit.
    std::vector<bool> none(cs.variables(), false);
    CrashImage lost = cs.image(none);
    note(on(lost, 0) + " | " + on(lost, 8));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes ==
          Notes{"2 variables", "write#2@0 | write#1@8", "initial(disk 1, sector 0) | initial(disk 1, sector 8)"});
}

TEST_CASE("prefix mode persists the first k writes in completion order") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    for (int i = 0; i < 3; i++) blk_write(&d, 0, 1);
    CrashStateSpace cs = crash_space(d);
    cs.prefixes([&](const std::vector<bool>& c) { note(on(cs.image(c), 0)); });
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"initial(disk 1, sector 0)", "write#1@0", "write#2@0", "write#3@0"});
}

TEST_CASE("seeded sampling of crash states is reproducible and varies with the seed") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 4096, true, "instant", 4096);
    for (int i = 0; i < 6; i++) blk_write(&d, static_cast<uint64_t>(i) * 64, 32);
    CrashStateSpace cs = crash_space(d);
    auto draw = [&](uint64_t seed) {
      std::string s;
      cs.sample(seed, 5, [&](const std::vector<bool>& c) {
        for (bool b : c) s += b ? '1' : '0';
        s += ' ';
      });
      return s;
    };
    note(draw(1) == draw(1) ? "same seed same states" : "not reproducible");
    note(draw(1) != draw(2) ? "seeds differ" : "seeds agree");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"same seed same states", "seeds differ"});
}
