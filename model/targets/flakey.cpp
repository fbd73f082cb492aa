// dm-flakey: "flakey <dev path> <offset> <up interval> <down interval> [<num_features>
// [<feature arguments>]]" (drivers/md/dm-flakey.c). Up for `up` seconds, then down for
// `down` seconds, repeating from table load. While down: with no feature every bio fails;
// drop_writes acknowledges writes without doing them; error_writes / error_reads fail them.
#include "model/dm/dm_target.hpp"
#include "model/errno.hpp"
#include "model/targets/simple_targets.hpp"
#include "sim/compiler_false_positives.hpp"
#include "sim/kernel.hpp"

namespace model {

namespace {

enum FlakeyFlags : unsigned { DROP_WRITES = 0, ERROR_WRITES = 1, ERROR_READS = 2 };

struct flakey_c {
  DmDev* dev = nullptr;
  uint64_t start_time = 0;  // jiffies
  uint64_t start = 0;
  unsigned up_interval = 0, down_interval = 0;
  unsigned long flags = 0;
  std::vector<std::string> features;
};

int flakey_ctr(DmTarget* ti, const DmArgs& argv) {
  KFRAME();
  if (argv.size() < 4) {
    ti->error = "Invalid argument count";
    return -EINVAL;
  }
  auto* fc = new flakey_c;
  auto fail = [&](const char* msg) {
    ti->error = msg;
    delete fc;
    return -EINVAL;
  };
  uint64_t up = 0, down = 0;
  if (!dm_parse_u64(argv[1], &fc->start)) return fail("Invalid device sector");
  if (!dm_parse_u64(argv[2], &up) || up > 0xffffffffULL) return fail("Invalid up interval");
  if (!dm_parse_u64(argv[3], &down) || down > 0xffffffffULL) return fail("Invalid down interval");
  fc->up_interval = static_cast<unsigned>(up);
  fc->down_interval = static_cast<unsigned>(down);
  if (!fc->up_interval && !fc->down_interval) return fail("Total (up + down) interval is zero");
  if (argv.size() > 4) {
    uint64_t n = 0;
    if (!dm_parse_u64(argv[4], &n) || n != argv.size() - 5) return fail("Invalid number of feature args");
    for (size_t i = 5; i < argv.size(); i++) {
      const std::string& f = argv[i];
      if (f == "drop_writes") {
        if (sim::test_bit(ERROR_WRITES, &fc->flags))
          return fail("Feature drop_writes duplicates or conflicts with error_writes");
        sim::set_bit(DROP_WRITES, &fc->flags);
      } else if (f == "error_writes") {
        if (sim::test_bit(DROP_WRITES, &fc->flags))
          return fail("Feature error_writes duplicates or conflicts with drop_writes");
        sim::set_bit(ERROR_WRITES, &fc->flags);
      } else if (f == "error_reads") {
        sim::set_bit(ERROR_READS, &fc->flags);
      } else {
        return fail("Unrecognised flakey feature requested");
      }
      fc->features.push_back(f);
    }
  }
  // Without a feature, both reads and writes fail while down.
  if (!fc->flags) {
    sim::set_bit(ERROR_WRITES, &fc->flags);
    sim::set_bit(ERROR_READS, &fc->flags);
  }
  if (dm_get_device(ti, argv[0], &fc->dev)) return fail("Device lookup failed");
  fc->start_time = sim::jiffies();
  ti->num_flush_bios = 1;
  ti->num_discard_bios = 1;
  ti->private_ = fc;
  return 0;
}

void flakey_dtr(DmTarget* ti) {
  auto* fc = static_cast<flakey_c*>(ti->private_);
  dm_put_device(ti, fc->dev);
  delete fc;
}

int flakey_map(DmTarget* ti, Bio* bio) {
  auto* fc = static_cast<flakey_c*>(ti->private_);
  bio->bdev = fc->dev->bdev;
  if (bio->size) bio->sector = fc->start + dm_target_offset(ti, bio->sector);
  const uint64_t elapsed = (sim::jiffies() - fc->start_time) / sim::hz();
  if (elapsed % (fc->up_interval + fc->down_interval) >= fc->up_interval) {
    if (bio->op == ReqOp::Read) {
      if (sim::test_bit(ERROR_READS, &fc->flags)) return DM_MAPIO_KILL;
      return DM_MAPIO_REMAPPED;
    }
    if (sim::test_bit(DROP_WRITES, &fc->flags)) {
      bio_endio(bio);
      return DM_MAPIO_SUBMITTED;
    }
    if (sim::test_bit(ERROR_WRITES, &fc->flags)) {
      bio_io_error(bio);
      return DM_MAPIO_SUBMITTED;
    }
  }
  return DM_MAPIO_REMAPPED;
}

void flakey_status(DmTarget* ti, StatusType type, unsigned, std::string& result) {
  auto* fc = static_cast<flakey_c*>(ti->private_);
  if (type != STATUSTYPE_TABLE) return;
  result = fc->dev->bdev->devt() + " " + std::to_string(fc->start) + " " + std::to_string(fc->up_interval) + " " +
           std::to_string(fc->down_interval);
  if (!fc->features.empty()) {
    DMSIM_GCC_BUG_105651(result += " " + std::to_string(fc->features.size());)
    for (const auto& f : fc->features) result += " " + f;
  }
}

int flakey_iterate_devices(DmTarget* ti, const IterateFn& fn) {
  auto* fc = static_cast<flakey_c*>(ti->private_);
  return fn(ti, fc->dev, fc->start, ti->len);
}

int flakey_locate(DmTarget* ti, uint64_t sector, BlockDevice** bdev, uint64_t* out) {
  auto* c = static_cast<flakey_c*>(ti->private_);
  *bdev = c->dev->bdev;
  *out = c->start + dm_target_offset(ti, sector);
  return 0;
}

const TargetType flakey_target = {
    .name = "flakey",
    .version = {1, 5, 0},
    .ctr = flakey_ctr,
    .dtr = flakey_dtr,
    .map = flakey_map,
    .status = flakey_status,
    .iterate_devices = flakey_iterate_devices,
    .locate = flakey_locate,
};

}  // namespace

void register_flakey_target() {
  dm_register_target(&flakey_target);
}

}  // namespace model
