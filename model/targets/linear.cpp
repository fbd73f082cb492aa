// dm-linear: "linear <dev path> <offset>" (drivers/md/dm-linear.c).
#include "model/dm/dm_target.hpp"
#include "model/errno.hpp"
#include "model/targets/simple_targets.hpp"
#include "sim/thread.hpp"

namespace model {

namespace {

struct linear_c {
  DmDev* dev = nullptr;
  uint64_t start = 0;
};

int linear_ctr(DmTarget* ti, const DmArgs& argv) {
  KFRAME();
  if (argv.size() != 2) {
    ti->error = "Invalid argument count";
    return -EINVAL;
  }
  auto* lc = new linear_c;
  if (!dm_parse_u64(argv[1], &lc->start)) {
    ti->error = "Invalid device sector";
    delete lc;
    return -EINVAL;
  }
  if (dm_get_device(ti, argv[0], &lc->dev)) {
    ti->error = "Device lookup failed";
    delete lc;
    return -EINVAL;
  }
  ti->num_flush_bios = 1;
  ti->num_discard_bios = 1;
  ti->num_write_zeroes_bios = 1;
  ti->private_ = lc;
  return 0;
}

void linear_dtr(DmTarget* ti) {
  auto* lc = static_cast<linear_c*>(ti->private_);
  dm_put_device(ti, lc->dev);
  delete lc;
}

int linear_map(DmTarget* ti, Bio* bio) {
  auto* lc = static_cast<linear_c*>(ti->private_);
  bio->bdev = lc->dev->bdev;
  if (bio->size) bio->sector = lc->start + dm_target_offset(ti, bio->sector);
  return DM_MAPIO_REMAPPED;
}

void linear_status(DmTarget* ti, StatusType type, unsigned, std::string& result) {
  auto* lc = static_cast<linear_c*>(ti->private_);
  if (type == STATUSTYPE_TABLE) result = lc->dev->bdev->devt() + " " + std::to_string(lc->start);
}

int linear_iterate_devices(DmTarget* ti, const IterateFn& fn) {
  auto* lc = static_cast<linear_c*>(ti->private_);
  return fn(ti, lc->dev, lc->start, ti->len);
}

int linear_locate(DmTarget* ti, uint64_t sector, BlockDevice** bdev, uint64_t* out) {
  auto* c = static_cast<linear_c*>(ti->private_);
  *bdev = c->dev->bdev;
  *out = c->start + dm_target_offset(ti, sector);
  return 0;
}

const TargetType linear_target = {
    .name = "linear",
    .version = {1, 4, 0},
    .ctr = linear_ctr,
    .dtr = linear_dtr,
    .map = linear_map,
    .status = linear_status,
    .iterate_devices = linear_iterate_devices,
    .locate = linear_locate,
};

}  // namespace

void register_linear_target() {
  dm_register_target(&linear_target);
}

}  // namespace model
