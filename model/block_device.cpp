#include "model/block_device.hpp"

#include <algorithm>
#include <numeric>

#include "sim/completion.hpp"
#include "sim/thread.hpp"

namespace model {

QueueLimits QueueLimits::stacking_defaults() {
  QueueLimits l;
  l.logical_block_size = 512;
  l.physical_block_size = 512;
  l.max_sectors = UINT32_MAX;
  l.max_discard_sectors = UINT32_MAX;
  l.discard_granularity = 0;
  l.max_write_zeroes_sectors = UINT32_MAX;
  l.write_cache = false;
  l.fua = false;
  return l;
}

void QueueLimits::stack(const QueueLimits& b) {
  logical_block_size = std::max(logical_block_size, b.logical_block_size);
  physical_block_size = std::max(physical_block_size, b.physical_block_size);
  max_sectors = std::min(max_sectors, b.max_sectors);
  max_discard_sectors = std::min(max_discard_sectors, b.max_discard_sectors);
  discard_granularity = std::max(discard_granularity, b.discard_granularity);
  max_write_zeroes_sectors = std::min(max_write_zeroes_sectors, b.max_write_zeroes_sectors);
  // A stacking device has a volatile cache if any leg has one.
  write_cache = write_cache || b.write_cache;
  fua = fua || b.fua;
  io_min = std::max(io_min, b.io_min);
  io_opt = io_opt && b.io_opt ? std::lcm(io_opt, b.io_opt) : std::max(io_opt, b.io_opt);  // lcm_not_zero
}

BlockDevice::BlockDevice(std::string name, uint32_t major, uint32_t minor)
    : name_(std::move(name)), major_(major), minor_(minor) {}

BlockDevice::~BlockDevice() = default;

namespace {

void fail(Bio* bio, BlkStatus st) {
  bio->status = st;
  bio_endio(bio);
}

// The largest prefix of `bio` that respects the limits of a request-based device.
uint32_t split_point(const Bio* bio, const QueueLimits& l) {
  if (bio->op == ReqOp::Discard) {
    uint32_t max = l.max_discard_sectors;
    const uint32_t gran = std::max<uint32_t>(l.discard_granularity, 512) / 512;
    if (bio->size > max) {
      // End the split on a granularity boundary when possible.
      uint64_t end = bio->sector + max;
      end -= end % gran;
      if (end > bio->sector) max = static_cast<uint32_t>(end - bio->sector);
      return max;
    }
    return bio->size;
  }
  if (bio->op == ReqOp::WriteZeroes) return std::min(bio->size, l.max_write_zeroes_sectors);
  if (!bio->has_data()) return bio->size;
  const uint32_t lbs = l.logical_block_size / 512;
  uint32_t max = std::max(l.max_sectors - l.max_sectors % lbs, lbs);
  return std::min(bio->size, max);
}

}  // namespace

void submit_bio(Bio* bio) {
  KFRAME_NAMED("submit_bio_noacct");
  BlockDevice* dev = bio->bdev;
  if (sim::Thread* t = sim::current_or_null()) bio->submitter_pid = t->pid;
  if (bio->end_sector() > dev->capacity()) {
    sim::printk("attempt to access beyond end of device\n" + dev->name() + ": rw=" + req_op_name(bio->op) +
                ", sector=" + std::to_string(bio->sector) + ", nr_sectors = " + std::to_string(bio->size) +
                " limit=" + std::to_string(dev->capacity()));
    fail(bio, BLK_STS_IOERR);
    return;
  }
  const QueueLimits& l = dev->limits;
  // Filter flushes early so drivers without a volatile cache never see them.
  if (op_is_flush(bio->flags) && !l.write_cache) {
    bio->flags &= ~(REQ_PREFLUSH | REQ_FUA);
    if (bio->size == 0 && bio->op != ReqOp::Read) {
      fail(bio, BLK_STS_OK);
      return;
    }
  }
  if ((bio->op == ReqOp::Discard && l.max_discard_sectors == 0) ||
      (bio->op == ReqOp::WriteZeroes && l.max_write_zeroes_sectors == 0)) {
    fail(bio, BLK_STS_NOTSUPP);
    return;
  }
  const uint32_t lbs = l.logical_block_size / 512;
  if (lbs > 1 && (bio->sector % lbs || bio->size % lbs)) {
    fail(bio, BLK_STS_IOERR);  // misaligned to the logical block size
    return;
  }
  if (dev->bio_based()) {
    dev->submit(bio);
    return;
  }
  while (bio->size > 0) {
    const uint32_t n = split_point(bio, l);
    if (n >= bio->size) break;
    Bio* part = bio_split(bio, n);
    dev->submit(part);
  }
  dev->submit(bio);
}

BlkStatus submit_bio_wait(Bio* bio) {
  KFRAME_NAMED("submit_bio_wait");
  sim::Completion done("submit_bio_wait");
  auto saved = bio->end_io;
  bio->end_io = [&done](Bio*) { done.complete(); };
  submit_bio(bio);
  sim::WaitingFor wf(bio->where);
  done.wait();
  bio->end_io = saved;
  return bio->status;
}

}  // namespace model
