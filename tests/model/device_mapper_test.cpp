#include "model/errno.hpp"
#include "model/knobs.hpp"
#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace model;
using sim::Finding;
using sim::note;

namespace {
// dmsetup's view of a result: stdout, or stderr when the call failed.
std::string out(const DmResult& r) {
  return r.ok() ? r.output : r.error;
}
}  // namespace

TEST_CASE("dmsetup create with a linear table maps onto the device at its offset") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 4096);
    DmControl& dm = w.dm();
    note(out(dm.create("lin", "0 100 linear /dev/sda 1000")));
    BlockDevice* lin = w.lookup("/dev/mapper/lin");
    uint64_t id;
    blk_write(lin, 10, 1, 0, &id);
    note(d.read_sector(1010).token == written_token(id, 10) ? "landed at 1010" : "misplaced");
    note(read_token(lin, 10) == written_token(id, 10) ? "reads back" : "wrong read");
    note(out(dm.table("lin")) + out(dm.status("lin")));
    note(std::to_string(lin->capacity()));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"", "landed at 1010", "reads back", "0 100 linear 8:0 1000\n0 100 linear \n", "100"});
}

TEST_CASE("a dm device reports a volatile write cache if any leg has one") {
  SimResult r = run_world([](World& w) {
    disk(w, "wb", 1024, true);
    disk(w, "wt", 1024, false);
    DmControl& dm = w.dm();
    dm.create("on-wt", "0 100 linear /dev/wt 0");
    dm.create("on-wb", "0 100 linear /dev/wb 0");
    dm.create("mixed", "0 100 linear /dev/wt 0\n100 100 linear /dev/wb 0");
    dm.create("stacked", "0 100 linear /dev/mapper/on-wb 0");
    for (const char* n : {"on-wt", "on-wb", "mixed", "stacked"})
      note(std::string(n) +
           (w.lookup(std::string("/dev/mapper/") + n)->limits.write_cache ? " write back" : " write through"));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"on-wt write through", "on-wb write back", "mixed write back", "stacked write back"});
}

TEST_CASE("a PREFLUSH write through dm reaches the disk as an empty flush followed by the data") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    w.dm().create("lin", "0 1024 linear /dev/sda 0");
    blk_write(w.lookup("/dev/mapper/lin"), 8, 8, REQ_PREFLUSH | REQ_FUA);
    std::string s;
    for (const auto& rec : d.trace().records)
      s += std::string(req_op_name(rec.op)) + req_flags_string(rec.flags) + " " + std::to_string(rec.sectors) + "; ";
    note(s);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"WRITE|PREFLUSH|SYNC 0; WRITE|FUA 8; "});
}

TEST_CASE("a bad table line is rejected with the target's message and the device is left as it was") {
  SimResult r = run_world([](World& w) {
    disk(w, "sda", 1024);
    DmControl& dm = w.dm();
    dm.create("dev", "0 100 linear /dev/sda 0");
    note(out(dm.load("dev", "0 100 linear /dev/nonexistent 0")));
    note(out(dm.load("dev", "0 100 linear /dev/sda")));
    note(out(dm.load("dev", "0 100 frobnicate")));
    note(out(dm.load("dev", "0 100 linear /dev/sda 0\n200 100 linear /dev/sda 0")));
    note(out(dm.load("dev", "zero 100 linear /dev/sda 0")));
    note(out(dm.info("dev")).find("Tables present:    LIVE\n") != std::string::npos ? "live only" : "changed");
    note(out(dm.table("dev")));
  });
  INFO(all_text(r));
  REQUIRE(r.status == RunStatus::Completed);
  REQUIRE(r.notes == Notes{"device-mapper: reload ioctl on dev  failed: Invalid argument",
                           "device-mapper: reload ioctl on dev  failed: Invalid argument",
                           "device-mapper: reload ioctl on dev  failed: Invalid argument",
                           "device-mapper: reload ioctl on dev  failed: Invalid argument",
                           "Invalid format on line 1 of table on stdin", "live only", "0 100 linear 8:0 0\n"});
  REQUIRE(r.dmesg.size() == 4);
  REQUIRE(r.dmesg[0].find("device-mapper: table: 253:0: linear: Device lookup failed (-EINVAL)") != std::string::npos);
  REQUIRE(r.dmesg[1].find("device-mapper: table: 253:0: linear: Invalid argument count (-EINVAL)") !=
          std::string::npos);
  REQUIRE(r.dmesg[2].find("device-mapper: table: 253:0: frobnicate: unknown target type (-EINVAL)") !=
          std::string::npos);
  REQUIRE(r.dmesg[3].find("device-mapper: table: 253:0: linear: Gap in table (-EINVAL)") != std::string::npos);
}

TEST_CASE("dmsetup info shows LIVE & INACTIVE while a loaded table waits for resume") {
  SimResult r = run_world([](World& w) {
    disk(w, "sda", 1024);
    DmControl& dm = w.dm();
    dm.create("dev", "0 100 linear /dev/sda 0");
    dm.suspend("dev");
    dm.load("dev", "0 200 linear /dev/sda 0");
    note(out(dm.info("dev")));
    dm.resume("dev");
    note(out(dm.info("dev")));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"Name:              dev\nState:             SUSPENDED\nRead Ahead:        256\n"
                           "Tables present:    LIVE & INACTIVE\nOpen count:        0\nEvent number:      1\n"
                           "Major, minor:      253, 0\nNumber of targets: 1\n",
                           "Name:              dev\nState:             ACTIVE\nRead Ahead:        256\n"
                           "Tables present:    LIVE\nOpen count:        0\nEvent number:      2\n"
                           "Major, minor:      253, 0\nNumber of targets: 1\n"});
}

TEST_CASE("suspend waits for in-flight I/O, and I/O entering a suspended device waits for resume") {
  SimResult r = run_world([](World& w) {
    disk(w, "sda", 1 << 16, true, "hdd");
    DmControl& dm = w.dm();
    dm.create("dev", "0 65536 linear /dev/sda 0");
    BlockDevice* dev = w.lookup("/dev/mapper/dev");
    sim::kthread_run(
        [dev] {
          blk_write(dev, 0, 2048);
          note_at("first write done");
        },
        "writer");
    sim::msleep(1);
    dm.suspend("dev");
    note_at("suspended");
    sim::kthread_run(
        [dev] {
          blk_write(dev, 0, 8);
          note_at("second write done");
        },
        "late-writer");
    sim::msleep(100);
    note_at("resuming");
    dm.resume("dev");
    sim::msleep(100);
  });
  REQUIRE_CLEAN(r);
  // The suspend is released by the in-flight count dropping to zero, just before the bio's own
  // completion runs, as in dm_io_complete.
  REQUIRE(r.notes == Notes{"suspended @14", "first write done @14", "resuming @116", "second write done @124"});
}

TEST_CASE("a table swap waits for an SRCU reader of the live table that started before it") {
  SimResult r = run_world([](World& w) {
    disk(w, "sda", 1024);
    DmControl& dm = w.dm();
    dm.create("dev", "0 100 linear /dev/sda 0");
    MappedDevice* md = dm.device("dev");
    sim::kthread_run(
        [md] {
          int idx;
          md->get_live_table(&idx);
          sim::msleep(500);
          note_at("reader done");
          md->put_live_table(idx);
        },
        "reader");
    sim::msleep(1);
    dm.suspend("dev");
    dm.load("dev", "0 200 linear /dev/sda 0");
    dm.resume("dev");
    note_at("resumed with " + std::to_string(md->capacity()) + " sectors");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"reader done @504", "resumed with 200 sectors @504"});
}

TEST_CASE("a status blocked in a suspended target makes a resume with a new table deadlock") {
  SimResult r = run_world([](World& w) {
    set_active_knobs({"test.status_waits_for_resume"});
    disk(w, "sda", 1 << 16);
    DmControl& dm = w.dm();
    dm.create("dev", "0 1000 test-stall-status /dev/sda 0");
    dm.suspend("dev");
    dm.load("dev", "0 2000 test-stall-status /dev/sda 0");
    sim::kthread_run([&dm] { note(out(dm.status("dev"))); }, "dmsetup-status");
    sim::msleep(1000);
    sim::Thread& resume = sim::kthread_run([&dm] { note(out(dm.resume("dev"))); }, "dmsetup-resume");
    sim::join(resume);
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Deadlock, "deadlock: dmsetup-status:");
  REQUIRE(f);
  REQUIRE(f->title.find("-> completion stall->resumed -> mutex md->suspend_lock -> dmsetup-resume:") !=
          std::string::npos);
  REQUIRE(f->title.find("-> srcu md->io_barrier -> dmsetup-status:") != std::string::npos);
  for (const char* frame :
       {"stall_status\n", "retrieve_status\n", "table_status\n", "dm_sync_table\n", "dm_swap_table\n", "do_resume\n"})
    REQUIRE(f->text.find(frame) != std::string::npos);
  REQUIRE(finding(r, FindingKind::HungTask, "dmsetup-status"));
  REQUIRE(finding(r, FindingKind::HungTask, "dmsetup-resume"));
  REQUIRE(r.notes.empty());
}

TEST_CASE("the same status while the device is not suspended returns at once") {
  SimResult r = run_world([](World& w) {
    set_active_knobs({"test.status_waits_for_resume"});
    disk(w, "sda", 1 << 16);
    DmControl& dm = w.dm();
    dm.create("dev", "0 1000 test-stall-status /dev/sda 0");
    note(out(dm.status("dev")));
    dm.suspend("dev");
    dm.load("dev", "0 2000 test-stall-status /dev/sda 0");
    dm.resume("dev");
    note(out(dm.status("dev")));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0 1000 test-stall-status ok\n", "0 2000 test-stall-status ok\n"});
}

TEST_CASE("the delay target holds reads and writes for their configured delays") {
  SimResult r = run_world([](World& w) {
    disk(w, "sda", 1 << 16);
    DmControl& dm = w.dm();
    note(out(dm.create("slow", "0 65536 delay /dev/sda 0 50 /dev/sda 0 500")));
    BlockDevice* dev = w.lookup("/dev/mapper/slow");
    const uint64_t t0 = sim::ktime_get_ns();
    read_token(dev, 0);
    const uint64_t t1 = sim::ktime_get_ns();
    blk_write(dev, 0, 8);
    const uint64_t t2 = sim::ktime_get_ns();
    note("read " + std::to_string((t1 - t0) / 1000000) + " ms, write " + std::to_string((t2 - t1) / 1000000) + " ms");
    note(out(dm.table("slow")) + out(dm.status("slow")));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"", "read 52 ms, write 500 ms", "0 65536 delay 8:0 0 50 8:0 0 500\n0 65536 delay 0 0 0\n"});
}

TEST_CASE("suspending a delay device submits the bios it holds at once") {
  SimResult r = run_world([](World& w) {
    disk(w, "sda", 1 << 16);
    DmControl& dm = w.dm();
    dm.create("slow", "0 65536 delay /dev/sda 0 10000");
    BlockDevice* dev = w.lookup("/dev/mapper/slow");
    sim::kthread_run(
        [dev] {
          blk_write(dev, 0, 8);
          note_at("write done");
        },
        "writer");
    sim::msleep(100);
    dm.suspend("slow");
    note_at("suspended");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"suspended @104", "write done @104"});
}

TEST_CASE("error fails every bio, zero reads zeroes and swallows writes") {
  SimResult r = run_world([](World& w) {
    DmControl& dm = w.dm();
    dm.create("err", "0 100 error");
    dm.create("zero", "0 100 zero");
    note(blk_status_name(blk_write(w.lookup("/dev/mapper/err"), 0, 1)));
    BlockDevice* z = w.lookup("/dev/mapper/zero");
    note(blk_status_name(blk_write(z, 0, 1)));
    note(describe_token(read_token(z, 0)));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"EIO", "ok", "zeroes"});
}

TEST_CASE("flakey passes I/O while up and fails or drops it while down") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    DmControl& dm = w.dm();
    dm.create("fail", "0 1024 flakey /dev/sda 0 1 1");
    dm.create("drop", "0 1024 flakey /dev/sda 0 1 1 1 drop_writes");
    BlockDevice* f = w.lookup("/dev/mapper/fail");
    BlockDevice* dr = w.lookup("/dev/mapper/drop");
    note(std::string("up: ") + blk_status_name(blk_write(f, 0, 1)));
    sim::msleep(1200);
    note(std::string("down: ") + blk_status_name(blk_write(f, 0, 1)) + " " +
         blk_status_name(blk_read(f, 0, 1, nullptr)));
    uint64_t id;
    note(std::string("drop: ") + blk_status_name(blk_write(dr, 8, 1, 0, &id)) + ", " +
         (d.read_sector(8).token == written_token(id, 8) ? "stored" : "not stored"));
    note(out(dm.table("drop")));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes ==
          Notes{"up: ok", "down: EIO EIO", "drop: ok, not stored", "0 1024 flakey 8:0 0 1 1 1 drop_writes\n"});
}

TEST_CASE("remove refuses a device another table uses, and messages go to the target at a sector") {
  SimResult r = run_world([](World& w) {
    disk(w, "sda", 1024);
    DmControl& dm = w.dm();
    dm.create("base", "0 1024 linear /dev/sda 0");
    dm.create("top", "0 1024 linear /dev/mapper/base 0");
    note(out(dm.remove("base")));
    note(out(dm.message("top", 0, "hello")));
    note(std::to_string(w.open_count(w.lookup("/dev/mapper/base"))));
    note(out(dm.remove("top")));
    note(std::to_string(w.open_count(w.lookup("/dev/mapper/base"))));
    note(out(dm.remove("base")));
    note(w.lookup("/dev/mapper/base") ? "still there" : "gone");
  });
  INFO(all_text(r));
  REQUIRE(r.notes == Notes{"device-mapper: remove ioctl on base  failed: Device or resource busy",
                           "device-mapper: message ioctl on top  failed: Invalid argument", "1", "", "0", "", "gone"});
  REQUIRE(r.dmesg.back().find("device-mapper: ioctl: Target type does not support messages") != std::string::npos);
}

namespace {

// "test-hooks <dev>": passes I/O to <dev> (or holds writes while `hold` is set) and notes each
// suspend/resume hook it sees; what its ctr, preresume and status do is set per test.
struct Hooks {
  bool hold = false;
  std::vector<Bio*> held;
  int ctr_error = 0;
  std::string ctr_message;
  int preresume_error = 0;
  bool slow_status = false;
};
Hooks& hooks() {
  static Hooks h;
  return h;
}

int hooks_ctr(DmTarget* ti, const DmArgs& argv) {
  DmDev* dev = nullptr;
  if (hooks().ctr_error || argv.size() != 1 || dm_get_device(ti, argv[0], &dev)) {
    ti->error = hooks().ctr_error ? hooks().ctr_message : "Device lookup failed";
    return hooks().ctr_error ? hooks().ctr_error : -EINVAL;
  }
  ti->private_ = dev;
  ti->num_flush_bios = 1;
  return 0;
}
void hooks_dtr(DmTarget* ti) {
  note("dtr");
  dm_put_device(ti, static_cast<DmDev*>(ti->private_));
}
int hooks_map(DmTarget* ti, Bio* bio) {
  bio->bdev = static_cast<DmDev*>(ti->private_)->bdev;
  if (hooks().hold && bio->size) {
    hooks().held.push_back(bio);
    return DM_MAPIO_SUBMITTED;
  }
  return DM_MAPIO_REMAPPED;
}
void hooks_presuspend(DmTarget* ti) {
  note(dm_noflush_suspending(ti) ? "presuspend noflush" : "presuspend");
}
void hooks_presuspend_undo(DmTarget*) {
  note("presuspend_undo");
}
void hooks_postsuspend(DmTarget*) {
  note("postsuspend");
}
int hooks_preresume(DmTarget*) {
  return hooks().preresume_error;
}
void hooks_status(DmTarget*, StatusType, unsigned, std::string& result) {
  if (hooks().slow_status) sim::msleep(10);
  note("status");
  result = "ok";
}

const TargetType hooks_target = {
    .name = "test-hooks",
    .version = {1, 0, 0},
    .ctr = hooks_ctr,
    .dtr = hooks_dtr,
    .map = hooks_map,
    .presuspend = hooks_presuspend,
    .presuspend_undo = hooks_presuspend_undo,
    .postsuspend = hooks_postsuspend,
    .preresume = hooks_preresume,
    .status = hooks_status,
};

SimResult run_with_hooks(std::function<void(World&, DmControl&)> body, SimConfig cfg = {}) {
  return run_world(
      [body](World& w) {
        dm_register_target(&hooks_target);
        disk(w, "sda", 1 << 16);
        body(w, w.dm());
      },
      cfg);
}

}  // namespace

TEST_CASE("dmsetup create whose resume fails removes the device again, as libdm reverts it") {
  SimResult r = run_with_hooks([](World& w, DmControl& dm) {
    dm.create("lower", "0 1000 linear /dev/sda 0");
    hooks().preresume_error = -EINVAL;
    note(out(dm.create("dev", "0 1000 test-hooks /dev/mapper/lower")));
    note(dm.device("dev") ? "dev still there" : "dev removed");
    // Cleanup after a refused table: nothing holds the device below any more.
    note(out(dm.remove("lower")));
    note(w.lookup("/dev/mapper/lower") ? "lower still there" : "lower removed");
  });
  INFO(all_text(r));
  REQUIRE(r.status == RunStatus::Completed);
  REQUIRE(r.notes == Notes{"dtr", "device-mapper: resume ioctl on dev  failed: Invalid argument", "dev removed", "",
                           "lower removed"});
}

TEST_CASE("a status of the inactive table keeps a racing clear from destroying it until the status is done") {
  // Whatever the interleaving around _hash_lock, the staged table is destroyed only after a
  // status that found it has returned (dm_get_inactive_table holds the SRCU read lock first).
  for (uint64_t seed = 1; seed <= 16; seed++) {
    SimConfig cfg;
    cfg.seed = seed;
    cfg.preempt_rate = 1.0;
    cfg.preempt_only = {"up_read", "down_read"};
    SimResult r = run_with_hooks(
        [](World&, DmControl& dm) {
          dm.create("dev", "0 1000 linear /dev/sda 0");
          dm.load("dev", "0 1000 test-hooks /dev/sda");
          hooks().slow_status = true;
          sim::Thread& st = sim::kthread_run([&dm] { dm.status("dev", false, true); }, "dmsetup-status");
          sim::Thread& cl = sim::kthread_run([&dm] { dm.clear("dev"); }, "dmsetup-clear");
          sim::join(st);
          sim::join(cl);
        },
        cfg);
    INFO("seed " << seed << "\n" << all_text(r));
    REQUIRE_CLEAN(r);
    REQUIRE(!r.notes.empty());
    REQUIRE(r.notes.back() == "dtr");  // after the status, if it saw the table at all
  }
}

TEST_CASE("dmsetup resume --noflush that has to suspend first suspends without flushing") {
  SimResult r = run_with_hooks([](World&, DmControl& dm) {
    dm.create("dev", "0 1000 test-hooks /dev/sda");
    dm.load("dev", "0 1000 linear /dev/sda 0");
    note(out(dm.resume("dev", true)));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"presuspend noflush", "postsuspend", "dtr", ""});
}

TEST_CASE("a signal during suspend's wait for in-flight I/O undoes presuspend and leaves the device running") {
  SimResult r = run_with_hooks([](World& w, DmControl& dm) {
    dm.create("dev", "0 1000 test-hooks /dev/sda");
    BlockDevice* dev = w.lookup("/dev/mapper/dev");
    hooks().hold = true;
    sim::kthread_run([dev] { note(std::string("held write: ") + blk_status_name(blk_write(dev, 0, 8))); }, "writer");
    sim::msleep(1);
    sim::Thread& suspend = sim::kthread_run([&dm] { note(out(dm.suspend("dev"))); }, "dmsetup-suspend");
    sim::msleep(100);
    sim::send_signal(suspend);  // ^C on a dmsetup suspend waiting for the held write
    sim::join(suspend);
    note(dm.device("dev")->suspended() ? "suspended" : "running");
    hooks().hold = false;
    note(std::string("new write: ") + blk_status_name(blk_write(dev, 8, 8)));
    for (Bio* b : hooks().held) submit_bio(b);
    sim::msleep(10);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"presuspend", "presuspend_undo",
                           "device-mapper: suspend ioctl on dev  failed: Interrupted system call", "running",
                           "new write: ok", "held write: ok"});
}

TEST_CASE("a table error names its errno and dmsetup prints the C library's text for it") {
  SimResult r = run_with_hooks([](World&, DmControl& dm) {
    hooks().ctr_error = -ENOTBLK;
    hooks().ctr_message = "not a block device";
    note(out(dm.create("dev", "0 1000 test-hooks /dev/sda")));
  });
  INFO(all_text(r));
  REQUIRE(r.notes == Notes{"device-mapper: reload ioctl on dev  failed: Block device required"});
  REQUIRE(r.dmesg.size() == 1);
  REQUIRE(r.dmesg[0].find("device-mapper: table: 253:0: test-hooks: not a block device (-ENOTBLK)") !=
          std::string::npos);
}

TEST_CASE("a thread in submit_bio_wait on a dm device waits for the disk its clone is queued on") {
  SimResult r = run_world([](World& w) {
    disk(w, "sda", 1 << 16, true, "hdd");
    w.dm().create("dev", "0 65536 linear /dev/sda 0");
    BlockDevice* dev = w.lookup("/dev/mapper/dev");
    sim::kthread_run([dev] { blk_write(dev, 0, 8); }, "writer");
    sim::msleep(1);
    note(wait_edges_from("writer"));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes.size() == 1);
  INFO(r.notes[0]);
  REQUIRE(r.notes[0].find("writer:") == 0);
  REQUIRE(r.notes[0].find(" -> completion submit_bio_wait (wait_for_completion)\n"
                          "completion submit_bio_wait -> disk sda (in flight on the disk)\n"
                          "disk sda -> irq/sda:") != std::string::npos);
}

TEST_CASE(
    "a write parked on a suspended device waits for dm_resume: a resumer stuck on the writer's lock is a "
    "deadlock") {
  SimResult r = run_world([](World& w) {
    disk(w, "sda", 1 << 16);
    DmControl& dm = w.dm();
    dm.create("dev", "0 65536 linear /dev/sda 0");
    MappedDevice* md = dm.device("dev");
    BlockDevice* dev = w.lookup("/dev/mapper/dev");
    auto* l = new sim::Mutex("fs->lock");
    dm.suspend("dev");
    sim::kthread_run(
        [dev, l] {
          KFRAME_NAMED("fs_writeback");
          sim::mutex_lock(l);
          blk_write(dev, 0, 8);  // parked until the device is resumed
          sim::mutex_unlock(l);
        },
        "writer");
    sim::msleep(10);
    // What a resume whose preresume needs the writer's lock looks like from the locks' side.
    sim::kthread_run(
        [md, l] {
          KFRAME_NAMED("do_resume");
          sim::mutex_lock(&md->suspend_lock);
          sim::mutex_lock(l);
        },
        "resumer");
    sim::msleep(200000);  // keeps the system running: never a total stall
  });
  INFO(all_text(r));
  const Finding* f =
      finding(r, FindingKind::Deadlock, " -> completion submit_bio_wait -> mutex md->suspend_lock -> resumer:");
  REQUIRE(f);
  REQUIRE(f->title.find("-> mutex fs->lock -> writer:") != std::string::npos);
  REQUIRE(f->text.find("parked on md->deferred until dm_resume, which takes md->suspend_lock") != std::string::npos);
}
