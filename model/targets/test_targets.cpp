// Test targets for the harness's own tests and scenarios: they stand in for engine behaviour
// until the engines exist, each with a variant knob that switches its bug on.
//
// "test-stall-status <dev> <offset>": passes I/O through like linear. With the knob
// test.status_waits_for_resume, its status, called while the device is suspended, waits until
// this instance is resumed again, as dm-era's worker-served status did (the table-swap
// deadlock).
//
// "test-writeback-cache <dev> <offset>": acknowledges writes into its own memory and writes
// them to the device later (a delayed work every 100 ms). A flush first writes everything out
// and flushes the device; FUA writes go straight through. With the knob
// test.cache_ignores_flush it acknowledges flushes and FUA without doing either: acknowledged,
// flushed data is lost on a power cut. With test.cache_stale_writeback a FUA write goes
// through but leaves the older cached copy of its blocks, which a later write-out puts back
// over it: lost only in crash states where that write-out reached the media.
#include <map>

#include "model/dm/dm_target.hpp"
#include "model/errno.hpp"
#include "model/knobs.hpp"
#include "model/targets/simple_targets.hpp"
#include "sim/kernel.hpp"

namespace model {

namespace {

// The test targets' bugs, one row each; an instance reads them when it is constructed.
struct test_variant {
  bool status_waits_for_resume = false;  // test-stall-status: status while suspended waits for resume
  bool cache_ignores_flush = false;      // test-writeback-cache: flush and FUA acknowledged, not done
  bool cache_stale_writeback = false;    // test-writeback-cache: FUA leaves the older cached copy
};

constexpr KnobRow<test_variant> kTestKnobs[] = {
    {.name = "test.status_waits_for_resume",
     .field = &test_variant::status_waits_for_resume,
     .fixed_in = "-",
     .detects = "deadlock",
     .source = "harness self-test (stands in for era.status_in_worker)",
     .description = "test-stall-status: status on a suspended device waits for this instance's resume, as dm-era's "
                    "worker-served status did",
     .affects = "none: a harness self-test knob"},
    {.name = "test.cache_ignores_flush",
     .field = &test_variant::cache_ignores_flush,
     .fixed_in = "-",
     .detects = "block-device",
     .source = "harness self-test (stands in for a flush-before-commit bug)",
     .description = "test-writeback-cache: flushes and FUA are acknowledged without writing the cached data out",
     .affects = "none: a harness self-test knob"},
    {.name = "test.cache_stale_writeback",
     .field = &test_variant::cache_stale_writeback,
     .fixed_in = "-",
     .detects = "block-device",
     .source = "harness self-test (a violation only some crash states expose)",
     .description = "test-writeback-cache: a FUA write leaves the older cached copy, which a later write-out puts back",
     .affects = "none: a harness self-test knob"},
};

// ---- test-stall-status ----

struct stall_c {
  DmDev* dev = nullptr;
  uint64_t start = 0;
  bool stopped = false;
  bool waits_for_resume = false;
  sim::Completion resumed{"stall->resumed"};
};

int stall_ctr(DmTarget* ti, const DmArgs& argv) {
  if (argv.size() != 2) {
    ti->error = "Invalid argument count";
    return -EINVAL;
  }
  auto* sc = new stall_c;
  if (!dm_parse_u64(argv[1], &sc->start) || dm_get_device(ti, argv[0], &sc->dev)) {
    ti->error = "Device lookup failed";
    delete sc;
    return -EINVAL;
  }
  sc->waits_for_resume = variant_from_knobs(kTestKnobs).status_waits_for_resume;
  ti->num_flush_bios = 1;
  ti->private_ = sc;
  return 0;
}

void stall_dtr(DmTarget* ti) {
  auto* sc = static_cast<stall_c*>(ti->private_);
  dm_put_device(ti, sc->dev);
  delete sc;
}

int stall_map(DmTarget* ti, Bio* bio) {
  auto* sc = static_cast<stall_c*>(ti->private_);
  bio->bdev = sc->dev->bdev;
  if (bio->size) bio->sector = sc->start + dm_target_offset(ti, bio->sector);
  return DM_MAPIO_REMAPPED;
}

void stall_postsuspend(DmTarget* ti) {
  auto* sc = static_cast<stall_c*>(ti->private_);
  sim::reinit_completion(&sc->resumed);
  sc->stopped = true;
}

void stall_resume(DmTarget* ti) {
  auto* sc = static_cast<stall_c*>(ti->private_);
  sc->stopped = false;
  sim::complete_all(&sc->resumed);
}

void stall_status(DmTarget* ti, StatusType type, unsigned, std::string& result) {
  KFRAME();
  auto* sc = static_cast<stall_c*>(ti->private_);
  if (type == STATUSTYPE_TABLE) {
    result = sc->dev->bdev->devt() + " " + std::to_string(sc->start);
    return;
  }
  if (sc->stopped && sc->waits_for_resume) {
    // Only a resume of this instance ends the wait, and resume runs under md->suspend_lock.
    sc->resumed.clear_signalers();
    sc->resumed.add_signaler(dm_suspend_lock(ti), "resume of this instance, under md->suspend_lock");
    sim::wait_for_completion(&sc->resumed);
  }
  result = "ok";
}

int passthrough_locate(DmDev* dev, uint64_t start, DmTarget* ti, uint64_t sector, BlockDevice** bdev, uint64_t* out) {
  *bdev = dev->bdev;
  *out = start + dm_target_offset(ti, sector);
  return 0;
}

int stall_iterate_devices(DmTarget* ti, const IterateFn& fn) {
  auto* sc = static_cast<stall_c*>(ti->private_);
  return fn(ti, sc->dev, sc->start, ti->len);
}

int stall_locate(DmTarget* ti, uint64_t sector, BlockDevice** bdev, uint64_t* out) {
  auto* sc = static_cast<stall_c*>(ti->private_);
  return passthrough_locate(sc->dev, sc->start, ti, sector, bdev, out);
}

const TargetType stall_target = {
    .name = "test-stall-status",
    .version = {1, 0, 0},
    .ctr = stall_ctr,
    .dtr = stall_dtr,
    .map = stall_map,
    .postsuspend = stall_postsuspend,
    .resume = stall_resume,
    .status = stall_status,
    .iterate_devices = stall_iterate_devices,
    .locate = stall_locate,
};

// ---- test-writeback-cache ----

struct wbc_c {
  DmDev* dev = nullptr;
  uint64_t start = 0;
  std::map<uint64_t, Sector> dirty;  // leg sector -> data acknowledged but not written out
  sim::Mutex lock{"wbc->lock"};
  sim::Workqueue* wq = sim::alloc_ordered_workqueue("wbc");
  sim::DelayedWork writeback;
  std::vector<Bio*> flushes;  // flush bios waiting for the write-out
  bool ignore_flush = false;
  bool stale_writeback = false;

  explicit wbc_c()
      : writeback(
            "wbc->writeback", [this](sim::WorkStruct*) { do_writeback(); }, "wbc_writeback") {}

  // Writes every dirty sector to the device (one bio per run of sectors) and waits.
  void write_out() {
    KFRAME_NAMED("wbc_write_out");
    sim::mutex_lock(&lock);
    std::map<uint64_t, Sector> batch;
    batch.swap(dirty);
    sim::mutex_unlock(&lock);
    auto it = batch.begin();
    while (it != batch.end()) {
      auto run_end = it;
      uint64_t n = 0;
      while (run_end != batch.end() && run_end->first == it->first + n && n < 256) {
        ++run_end;
        n++;
      }
      Bio* bio = bio_alloc(dev->bdev, ReqOp::Write, 0, it->first, static_cast<uint32_t>(n));
      uint32_t i = 0;
      for (auto k = it; k != run_end; ++k) bio->data()[i++] = k->second;
      submit_bio_wait(bio);
      bio_put(bio);
      it = run_end;
    }
  }

  void do_writeback() {
    write_out();
    std::vector<Bio*> done;
    sim::mutex_lock(&lock);
    done.swap(flushes);
    sim::mutex_unlock(&lock);
    if (!done.empty()) {
      // The flushes waiting for this write-out: now flush the device, then complete them.
      Bio* f = bio_alloc_flush(dev->bdev);
      const BlkStatus st = submit_bio_wait(f);
      bio_put(f);
      for (Bio* b : done) {
        b->status = st;
        bio_endio(b);
      }
    }
  }
};

int wbc_ctr(DmTarget* ti, const DmArgs& argv) {
  if (argv.size() != 2) {
    ti->error = "Invalid argument count";
    return -EINVAL;
  }
  auto* c = new wbc_c;
  if (!dm_parse_u64(argv[1], &c->start) || dm_get_device(ti, argv[0], &c->dev)) {
    ti->error = "Device lookup failed";
    delete c;
    return -EINVAL;
  }
  const test_variant v = variant_from_knobs(kTestKnobs);
  c->ignore_flush = v.cache_ignores_flush;
  c->stale_writeback = v.cache_stale_writeback;
  ti->num_flush_bios = 1;
  ti->flush_supported = true;  // it has a volatile cache of its own
  ti->private_ = c;
  return 0;
}

void wbc_dtr(DmTarget* ti) {
  auto* c = static_cast<wbc_c*>(ti->private_);
  sim::cancel_delayed_work_sync(&c->writeback);
  c->write_out();
  sim::destroy_workqueue(c->wq);
  dm_put_device(ti, c->dev);
  delete c;
}

int wbc_map(DmTarget* ti, Bio* bio) {
  auto* c = static_cast<wbc_c*>(ti->private_);
  const uint64_t leg = c->start + dm_target_offset(ti, bio->sector);
  if (bio->flags & REQ_PREFLUSH) {
    if (c->ignore_flush) {
      bio_endio(bio);
      return DM_MAPIO_SUBMITTED;
    }
    sim::mutex_lock(&c->lock);
    c->flushes.push_back(bio);
    sim::mutex_unlock(&c->lock);
    sim::mod_delayed_work(c->wq, &c->writeback, 0);
    return DM_MAPIO_SUBMITTED;
  }
  bio->bdev = c->dev->bdev;
  if (bio->op == ReqOp::Read) {
    // Serve reads from the device after writing out what they would miss.
    bool overlap = false;
    sim::mutex_lock(&c->lock);
    for (uint64_t s = leg; s < leg + bio->size && !overlap; s++) overlap = c->dirty.count(s);
    sim::mutex_unlock(&c->lock);
    if (overlap) c->write_out();
    bio->sector = leg;
    return DM_MAPIO_REMAPPED;
  }
  if (bio->op == ReqOp::Write && (!(bio->flags & REQ_FUA) || c->ignore_flush)) {
    sim::mutex_lock(&c->lock);
    for (uint32_t i = 0; i < bio->size; i++) c->dirty[leg + i] = bio->data()[i];
    sim::mutex_unlock(&c->lock);
    sim::queue_delayed_work(c->wq, &c->writeback, sim::msecs_to_jiffies(100));
    bio_endio(bio);
    return DM_MAPIO_SUBMITTED;
  }
  // FUA writes and discards go through, after whatever is dirty for the same sectors.
  if (!c->stale_writeback) {
    sim::mutex_lock(&c->lock);
    for (uint64_t s = leg; s < leg + bio->size; s++) c->dirty.erase(s);
    sim::mutex_unlock(&c->lock);
  }
  bio->sector = leg;
  return DM_MAPIO_REMAPPED;
}

void wbc_presuspend(DmTarget* ti) {
  auto* c = static_cast<wbc_c*>(ti->private_);
  if (!c->ignore_flush) c->write_out();
}

void wbc_status(DmTarget* ti, StatusType type, unsigned, std::string& result) {
  auto* c = static_cast<wbc_c*>(ti->private_);
  if (type == STATUSTYPE_TABLE)
    result = c->dev->bdev->devt() + " " + std::to_string(c->start);
  else
    result = std::to_string(c->dirty.size()) + " dirty";
}

int wbc_iterate_devices(DmTarget* ti, const IterateFn& fn) {
  auto* c = static_cast<wbc_c*>(ti->private_);
  return fn(ti, c->dev, c->start, ti->len);
}

int wbc_locate(DmTarget* ti, uint64_t sector, BlockDevice** bdev, uint64_t* out) {
  auto* c = static_cast<wbc_c*>(ti->private_);
  return passthrough_locate(c->dev, c->start, ti, sector, bdev, out);
}

const TargetType wbc_target = {
    .name = "test-writeback-cache",
    .version = {1, 0, 0},
    .ctr = wbc_ctr,
    .dtr = wbc_dtr,
    .map = wbc_map,
    .presuspend = wbc_presuspend,
    .status = wbc_status,
    .iterate_devices = wbc_iterate_devices,
    .locate = wbc_locate,
};

}  // namespace

void register_test_targets() {
  dm_register_target(&stall_target);
  dm_register_target(&wbc_target);
  register_knobs(kTestKnobs);
}

}  // namespace model
