#include "model/bio.hpp"

#include "sim/thread.hpp"

namespace model {

namespace {
uint64_t g_bios_in_use = 0;
uint64_t g_next_id = 1;
}  // namespace

uint64_t bios_in_use() {
  return g_bios_in_use;
}
uint64_t next_bio_id() {
  return g_next_id++;
}

const char* req_op_name(ReqOp op) {
  switch (op) {
    case ReqOp::Read:
      return "READ";
    case ReqOp::Write:
      return "WRITE";
    case ReqOp::Discard:
      return "DISCARD";
    case ReqOp::WriteZeroes:
      return "WRITE_ZEROES";
  }
  return "?";
}

std::string req_flags_string(unsigned flags) {
  std::string s;
  if (flags & REQ_PREFLUSH) s += "|PREFLUSH";
  if (flags & REQ_FUA) s += "|FUA";
  if (flags & REQ_SYNC) s += "|SYNC";
  if (flags & REQ_META) s += "|META";
  if (flags & REQ_NOWAIT) s += "|NOWAIT";
  if (flags & REQ_RAHEAD) s += "|RAHEAD";
  return s;
}

const char* blk_status_name(BlkStatus s) {
  switch (s) {
    case BLK_STS_OK:
      return "ok";
    case BLK_STS_NOTSUPP:
      return "EOPNOTSUPP";
    case BLK_STS_NOSPC:
      return "ENOSPC";
    case BLK_STS_IOERR:
      return "EIO";
    case BLK_STS_DM_REQUEUE:
      return "DM_REQUEUE";
    case BLK_STS_AGAIN:
      return "EAGAIN";
    case BLK_STS_TARGET:
      return "EREMOTEIO";
  }
  return "?";
}

std::string Bio::describe() const {
  return std::string(req_op_name(op)) + req_flags_string(flags) + " " + std::to_string(sector) + "+" +
         std::to_string(size);
}

Bio* bio_alloc(BlockDevice* bdev, ReqOp op, unsigned flags, uint64_t sector, uint32_t sectors) {
  auto* b = new Bio;
  g_bios_in_use++;
  b->id = next_bio_id();
  b->top_id = b->id;
  b->op = op;
  b->flags = flags;
  b->bdev = bdev;
  b->sector = sector;
  b->size = sectors;
  if (op == ReqOp::Read || op == ReqOp::Write) b->buf = std::make_shared<SectorBuffer>(sectors);
  return b;
}

Bio* bio_alloc_clone(BlockDevice* bdev, const Bio* src) {
  auto* b = new Bio;
  g_bios_in_use++;
  b->id = next_bio_id();
  b->top_id = src->top_id;
  b->op = src->op;
  b->flags = src->flags;
  b->bdev = bdev;
  b->sector = src->sector;
  b->size = src->size;
  b->buf = src->buf;
  b->buf_off = src->buf_off;
  return b;
}

Bio* bio_alloc_flush(BlockDevice* bdev) {
  return bio_alloc(bdev, ReqOp::Write, REQ_PREFLUSH | REQ_SYNC, 0, 0);
}

void bio_put(Bio* bio) {
  g_bios_in_use--;
  delete bio;
}

void bio_chain(Bio* child, Bio* parent) {
  child->parent = parent;
  parent->remaining++;
}

void bio_advance(Bio* bio, uint32_t sectors) {
  bio->sector += sectors;
  bio->size -= sectors;
  bio->buf_off += sectors;
}

Bio* bio_split(Bio* bio, uint32_t sectors) {
  Bio* split = bio_alloc_clone(bio->bdev, bio);
  split->size = sectors;
  split->end_io = [](Bio* b) { bio_put(b); };
  bio_chain(split, bio);
  bio_advance(bio, sectors);
  return split;
}

void bio_endio(Bio* bio) {
  // A chained bio ends when its own completion and all its children's have happened.
  if (--bio->remaining > 0) return;
  Bio* parent = bio->parent;
  const BlkStatus st = bio->status;
  if (bio->end_io) {
    // Taken out first: an end_io commonly frees its own bio, which would destroy the closure.
    auto fn = std::move(bio->end_io);
    bio->end_io = nullptr;
    fn(bio);
  }
  if (parent) {
    if (st != BLK_STS_OK && parent->status == BLK_STS_OK) parent->status = st;
    bio_endio(parent);
  }
}

void bio_io_error(Bio* bio) {
  bio->status = BLK_STS_IOERR;
  bio_endio(bio);
}

}  // namespace model
