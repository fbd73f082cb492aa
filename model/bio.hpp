// struct bio: an I/O request with its op, flags, sector range and payload. The payload is a
// shared buffer of sectors, so clones and splits see (and fill) the same data, as bios that
// share pages do. Sectors are 512 bytes throughout, as in the block layer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/content.hpp"
#include "sim/wait_object.hpp"

namespace model {

class BlockDevice;

// An empty flush is a Write of no sectors with REQ_PREFLUSH, as in the kernel.
enum class ReqOp : uint8_t { Read, Write, Discard, WriteZeroes };
const char* req_op_name(ReqOp op);

enum : unsigned {
  REQ_PREFLUSH = 1u << 0,
  REQ_FUA = 1u << 1,
  REQ_SYNC = 1u << 2,
  REQ_META = 1u << 3,
  REQ_NOWAIT = 1u << 4,
  REQ_RAHEAD = 1u << 5,
};
std::string req_flags_string(unsigned flags);

enum BlkStatus : int {
  BLK_STS_OK = 0,
  BLK_STS_NOTSUPP = 1,
  BLK_STS_NOSPC = 3,
  BLK_STS_IOERR = 10,
  BLK_STS_DM_REQUEUE = 11,
  BLK_STS_AGAIN = 12,
  BLK_STS_TARGET = 13,
};
const char* blk_status_name(BlkStatus s);

using SectorBuffer = std::vector<Sector>;

struct Bio {
  uint64_t id = 0;
  // dmsim: the id of the bio at the top of the stack this one was cloned or split from (its
  // own id for a bio allocated afresh). Written tokens and the oracle's writes are named by it,
  // so a target can tell which write a clone carries whatever its payload (zeroes included).
  uint64_t top_id = 0;
  ReqOp op = ReqOp::Read;
  unsigned flags = 0;
  BlockDevice* bdev = nullptr;
  uint64_t sector = 0;  // bi_iter.bi_sector
  uint32_t size = 0;    // in sectors (bi_iter.bi_size >> 9)
  std::shared_ptr<SectorBuffer> buf;
  uint32_t buf_off = 0;  // where this bio's data starts in buf
  BlkStatus status = BLK_STS_OK;
  std::function<void(Bio*)> end_io;
  void* private_ = nullptr;
  Bio* parent = nullptr;               // bio_chain: parent completes after its children
  int remaining = 1;                   // __bi_remaining
  std::shared_ptr<void> per_bio_data;  // dm_per_bio_data storage
  int submitter_pid = 0;
  // dm_bio_get_target_bio_nr: which of the num_flush_bios / num_discard_bios clones this is.
  unsigned target_bio_nr = 0;
  // Where the bio is now, for whoever waits for its completion (sim::WaitingFor): a disk's
  // queue, a deferred list and the worker that serves it, or its clones (a dm bio).
  sim::Holder where;

  bool has_data() const { return size > 0 && (op == ReqOp::Read || op == ReqOp::Write); }
  uint64_t end_sector() const { return sector + size; }
  Sector* data() { return buf ? buf->data() + buf_off : nullptr; }
  const Sector* data() const { return buf ? buf->data() + buf_off : nullptr; }
  std::string describe() const;  // "WRITE|FUA 128+8"
};

inline bool op_is_write(ReqOp op) {
  return op != ReqOp::Read;
}
inline bool op_is_flush(unsigned flags) {
  return flags & (REQ_PREFLUSH | REQ_FUA);
}
inline bool op_is_discard_like(ReqOp op) {
  return op == ReqOp::Discard || op == ReqOp::WriteZeroes;
}

// bio_alloc with a payload of `sectors` zero sectors (for reads and writes).
Bio* bio_alloc(BlockDevice* bdev, ReqOp op, unsigned flags, uint64_t sector, uint32_t sectors);
// A clone sharing the payload of `src` (bio_alloc_clone).
Bio* bio_alloc_clone(BlockDevice* bdev, const Bio* src);
void bio_put(Bio* bio);
// Completes the bio: runs end_io, then completes a chained parent when its last child is done.
void bio_endio(Bio* bio);
void bio_io_error(Bio* bio);
// Splits off the first `sectors` of `bio` as a new bio chained to it; `bio` is advanced.
Bio* bio_split(Bio* bio, uint32_t sectors);
void bio_chain(Bio* child, Bio* parent);
void bio_advance(Bio* bio, uint32_t sectors);

// An empty REQ_PREFLUSH write (what blkdev_issue_flush sends).
Bio* bio_alloc_flush(BlockDevice* bdev);

// Bios allocated and not yet put: the leak check's view.
uint64_t bios_in_use();
uint64_t next_bio_id();

}  // namespace model
