// test-kcopyd: a synthetic kcopyd user for the kcopyd.* knobs' scenarios, until an engine uses
// the paths they need (dm-snapshot will). Reads, flushes and writes go to <dev>, at the same
// sector; what a write does on the way depends on the mode:
//
// "test-kcopyd <dev> callback <cost_us>": a write completes the way dm-snapshot completes one
// that covers a whole chunk: map prepares a callback-only kcopyd job (dm_kcopyd_prepare_callback,
// in the submitter's context), the write's completion queues it (dm_kcopyd_do_callback, from the
// bio's end_io), and the callback, in kcopyd's worker, computes for <cost_us> microseconds
// before it ends the write. Writers that keep writes in flight keep callbacks arriving while
// kcopyd runs earlier ones: the load of "dm kcopyd: Fix bug causing workqueue stalls".
//
// "test-kcopyd <dev> copy <dest>": before a write goes to <dev>, kcopyd copies what the range
// held to the same sectors of <dest> (dm-snapshot's copy-on-write of an origin chunk), issuing
// the copy's writes in order (DM_KCOPYD_WRITE_SEQ, as dm-zoned's reclaim writes a sequential
// zone); the write goes on when the copy is done, or fails with it. With a destination that
// fails writes and a copy split into sub-jobs, sub-jobs still reading when the first write
// failed are failed by process_jobs: the path of "dm kcopyd: always complete failed jobs".
#include "engines/lib/kcopyd.hpp"
#include "model/dm/dm_target.hpp"
#include "model/errno.hpp"

namespace engines {

namespace {

using model::Bio;
using model::DmArgs;
using model::DmDev;
using model::DmTarget;

struct kcopyd_tc {
  bool copy_mode = false;
  DmDev* dev = nullptr;
  DmDev* dest = nullptr;  // copy mode
  uint64_t cost_us = 0;   // callback mode
  DmKcopydClient* kc = nullptr;
};

int kcopyd_tc_ctr(DmTarget* ti, const DmArgs& argv) {
  if (argv.size() != 3 || (argv[1] != "callback" && argv[1] != "copy")) {
    ti->error = "Invalid argument count";
    return -EINVAL;
  }
  auto* tc = new kcopyd_tc;
  tc->copy_mode = argv[1] == "copy";
  if (!tc->copy_mode && (!model::dm_parse_u64(argv[2], &tc->cost_us) || tc->cost_us > 1000000)) {
    ti->error = "Invalid callback cost";
    delete tc;
    return -EINVAL;
  }
  if (model::dm_get_device(ti, argv[0], &tc->dev) || (tc->copy_mode && model::dm_get_device(ti, argv[2], &tc->dest))) {
    if (tc->dev) model::dm_put_device(ti, tc->dev);
    ti->error = "Device lookup failed";
    delete tc;
    return -EINVAL;
  }
  tc->kc = new DmKcopydClient();
  ti->num_flush_bios = 1;
  ti->private_ = tc;
  return 0;
}

void kcopyd_tc_dtr(DmTarget* ti) {
  auto* tc = static_cast<kcopyd_tc*>(ti->private_);
  delete tc->kc;  // waits for every job
  model::dm_put_device(ti, tc->dev);
  if (tc->dest) model::dm_put_device(ti, tc->dest);
  delete tc;
}

// Callback mode: the write goes to <dev> as a bio of the target's own; its completion hands the
// prepared job to kcopyd, whose callback ends the dm clone.
void write_then_callback(kcopyd_tc* tc, Bio* clone) {
  const double cost_s = static_cast<double>(tc->cost_us) * 1e-6;
  DmKcopydClient::Job* job = tc->kc->prepare_callback([clone, cost_s](int read_err, unsigned long write_err) {
    KFRAME_NAMED("test_kcopyd_callback");
    sim::cpu_busy(cost_s);
    clone->status = read_err || write_err ? model::BLK_STS_IOERR : model::BLK_STS_OK;
    model::bio_endio(clone);
  });
  Bio* io = model::bio_alloc_clone(tc->dev->bdev, clone);
  io->end_io = [job](Bio* b) {
    const bool failed = b->status != model::BLK_STS_OK;
    model::bio_put(b);
    DmKcopydClient::do_callback(job, 0, failed ? 1 : 0);
  };
  clone->where.clear();
  clone->where.add_part(io->where);
  clone->where.add_part(tc->kc->jobs());
  model::submit_bio(io);
}

// Copy mode: copy the range's old content to <dest>, then let the write through (from the
// callback, in kcopyd's worker, as dm-snapshot resubmits a chunk's writes).
void copy_then_write(kcopyd_tc* tc, Bio* clone) {
  const DmIoRegion from{tc->dev->bdev, clone->sector, clone->size};
  const DmIoRegion to{tc->dest->bdev, clone->sector, clone->size};
  clone->where.clear();
  clone->where.add_part(tc->kc->jobs());
  model::BlockDevice* dev = tc->dev->bdev;
  tc->kc->copy(from, {to}, DM_KCOPYD_WRITE_SEQ, [clone, dev](int read_err, unsigned long write_err) {
    KFRAME_NAMED("test_kcopyd_copy_done");
    if (read_err || write_err) {
      clone->status = model::BLK_STS_IOERR;
      model::bio_endio(clone);
      return;
    }
    clone->bdev = dev;
    model::submit_bio(clone);
  });
}

int kcopyd_tc_map(DmTarget* ti, Bio* bio) {
  KFRAME_NAMED("test_kcopyd_map");
  auto* tc = static_cast<kcopyd_tc*>(ti->private_);
  if (bio->size) bio->sector = model::dm_target_offset(ti, bio->sector);
  bio->bdev = tc->dev->bdev;
  if (bio->op != model::ReqOp::Write || bio->size == 0) return model::DM_MAPIO_REMAPPED;
  if (tc->copy_mode)
    copy_then_write(tc, bio);
  else
    write_then_callback(tc, bio);
  return model::DM_MAPIO_SUBMITTED;
}

void kcopyd_tc_status(DmTarget* ti, model::StatusType type, unsigned, std::string& result) {
  auto* tc = static_cast<kcopyd_tc*>(ti->private_);
  if (type == model::STATUSTYPE_INFO) {
    result = std::to_string(tc->kc->passes()) + " passes";
    return;
  }
  result = tc->dev->bdev->devt() +
           (tc->copy_mode ? " copy " + tc->dest->bdev->devt() : " callback " + std::to_string(tc->cost_us));
}

int kcopyd_tc_iterate_devices(DmTarget* ti, const model::IterateFn& fn) {
  auto* tc = static_cast<kcopyd_tc*>(ti->private_);
  int r = fn(ti, tc->dev, 0, ti->len);
  if (!r && tc->dest) r = fn(ti, tc->dest, 0, ti->len);
  return r;
}

int kcopyd_tc_locate(DmTarget* ti, uint64_t sector, model::BlockDevice** bdev, uint64_t* out) {
  auto* tc = static_cast<kcopyd_tc*>(ti->private_);
  *bdev = tc->dev->bdev;
  *out = model::dm_target_offset(ti, sector);
  return 0;
}

const model::TargetType kcopyd_test_target = {
    .name = "test-kcopyd",
    .version = {1, 0, 0},
    .ctr = kcopyd_tc_ctr,
    .dtr = kcopyd_tc_dtr,
    .map = kcopyd_tc_map,
    .status = kcopyd_tc_status,
    .iterate_devices = kcopyd_tc_iterate_devices,
    .locate = kcopyd_tc_locate,
};

}  // namespace

void register_kcopyd_test_target() {
  model::dm_register_target(&kcopyd_test_target);
}

}  // namespace engines
