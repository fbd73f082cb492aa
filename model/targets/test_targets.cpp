// Test targets for the harness's own tests and scenarios; they stand in for engine behaviour
// that is not a real target's.
//
// "test-stall-status <dev> <offset>": passes I/O through like linear, but its status waits
// until this instance is resumed again when called while the device is suspended, as dm-era's
// worker-served status did (the table-swap deadlock).
#include "model/dm/dm_target.hpp"
#include "model/targets/simple_targets.hpp"
#include "sim/kernel.hpp"

namespace model {

namespace {

struct stall_c {
  DmDev* dev = nullptr;
  uint64_t start = 0;
  bool stopped = false;
  sim::Completion resumed{"stall->resumed"};
};

int stall_ctr(DmTarget* ti, const DmArgs& argv) {
  if (argv.size() != 2) {
    ti->error = "Invalid argument count";
    return -22;
  }
  auto* sc = new stall_c;
  if (!dm_parse_u64(argv[1], &sc->start) || dm_get_device(ti, argv[0], &sc->dev)) {
    ti->error = "Device lookup failed";
    delete sc;
    return -22;
  }
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
  if (sc->stopped) {
    // Only a resume of this instance ends the wait, and resume runs under md->suspend_lock.
    sc->resumed.clear_signalers();
    sc->resumed.add_signaler(dm_suspend_lock(ti), "resume of this instance, under md->suspend_lock");
    sim::wait_for_completion(&sc->resumed);
  }
  result = "ok";
}

int stall_iterate_devices(DmTarget* ti, const IterateFn& fn) {
  auto* sc = static_cast<stall_c*>(ti->private_);
  return fn(ti, sc->dev, sc->start, ti->len);
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
};

}  // namespace

void register_test_targets() {
  dm_register_target(&stall_target);
}

}  // namespace model
