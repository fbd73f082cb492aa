// dm-snap-persistent.c: the "P"/"PO" store, in the kernel's on-disk format (all little-endian):
//  - chunk 0: the header {magic "SnAp", valid, version 1, chunk_size in sectors};
//  - metadata area i at chunk 1 + i * (E + 1), E = chunk bytes / 16 entries {old_chunk,
//    new_chunk}, each area followed by the E data chunks it describes;
//  - the list ends at the first entry whose new_chunk is 0 (chunk 0 is the header).
// Commits are batched while other exceptions are in flight; the store relies on its caller
// never running two commit_exception() calls at once and takes no lock of its own, so a caller
// that breaks the rule races on its shared fields exactly as the kernel's code would.
#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <set>

#include "engines/lib/bufio.hpp"
#include "engines/lib/dm_io.hpp"
#include "engines/lib/persistent_data/codec.hpp"
#include "engines/snapshot/exception_store.hpp"
#include "model/dm/dm_target.hpp"
#include "model/errno.hpp"
#include "sim/kernel.hpp"

namespace engines::snapshot {

using model::ReqOp;

namespace {

constexpr const char* DM_MSG_PREFIX = "persistent snapshot";
constexpr chunk_t NUM_SNAPSHOT_HDR_CHUNKS = 1;
// Areas read ahead while loading (dm-snap-persistent.c's DM_PREFETCH_CHUNKS).
constexpr chunk_t DM_PREFETCH_CHUNKS = 12;
constexpr uint32_t kDiskExceptionBytes = 16;  // sizeof(struct disk_exception)
constexpr unsigned SECTOR_SHIFT = 9;

void DMWARN(const std::string& msg) {
  model::dm_log_warn(DM_MSG_PREFIX, msg);
}
void DMERR(const std::string& msg) {
  model::dm_log(DM_MSG_PREFIX, msg);
}

// What a bio carries for `bytes`: a copy, so later changes to the memory are not seen by the
// device (a real bio's pages are read at some point after submission; copying at submission is
// one of the outcomes that allows).
std::shared_ptr<model::SectorBuffer> sectors_of(const std::vector<uint8_t>& bytes) {
  auto buf = std::make_shared<model::SectorBuffer>(bytes.size() >> SECTOR_SHIFT);
  for (size_t i = 0; i < buf->size(); i++) (*buf)[i] = model::Sector::of_bytes(bytes.data() + (i << SECTOR_SHIFT));
  return buf;
}

void bytes_of(const model::Sector* sectors, size_t n, std::vector<uint8_t>* out) {
  out->resize(n << SECTOR_SHIFT);
  for (size_t i = 0; i < n; i++) sectors[i].to_bytes(out->data() + (i << SECTOR_SHIFT));
}

struct core_exception {
  chunk_t old_chunk = 0;
  chunk_t new_chunk = 0;
};

class PersistentStore final : public DmExceptionStore {
 public:
  PersistentStore(const StoreContext& c, bool overflow, const store_variant& v);
  ~PersistentStore() override;

  const char* type_name() const override { return userspace_supports_overflow ? "PO" : "P"; }
  bool supports_merge() const override { return true; }
  int read_metadata(const std::function<int(chunk_t, chunk_t)>& callback) override;
  int prepare_exception(dm_exception* e) override;
  void commit_exception(const dm_exception& e, bool valid, std::function<void(bool)> callback) override;
  int prepare_merge(chunk_t* last_old_chunk, chunk_t* last_new_chunk) override;
  int commit_merge(int nr_merged) override;
  void drop_snapshot() override;
  void usage(uint64_t* total_sectors, uint64_t* sectors_allocated, uint64_t* metadata_sectors) const override;

 private:
  size_t chunk_bytes() const { return size_t{chunk_size} << SECTOR_SHIFT; }
  void alloc_area();
  void free_area();
  int chunk_io(std::vector<uint8_t>* area, chunk_t chunk, ReqOp op, unsigned flags, bool metadata);
  chunk_t area_location(chunk_t area) const;
  void skip_metadata();
  int area_io(ReqOp op, unsigned flags);
  void zero_memory_area();
  int zero_disk_area(chunk_t area);
  int read_header(bool* new_snapshot);
  int write_header();
  uint8_t* get_exception(uint8_t* area, uint32_t index) const;
  void read_exception(uint8_t* area, uint32_t index, core_exception* result) const;
  void write_exception(uint32_t index, const core_exception& e);
  void clear_exception(uint32_t index);
  int insert_exceptions(uint8_t* area, const std::function<int(chunk_t, chunk_t)>& callback, bool* full);
  int read_exceptions(const std::function<int(chunk_t, chunk_t)>& callback);

  // struct pstore.
  int version_ = SNAPSHOT_DISK_VERSION;
  int valid_ = 1;
  uint32_t exceptions_per_area_ = 0;
  std::vector<uint8_t> area_;         // the current metadata area
  std::vector<uint8_t> zero_area_;    // zeroes, to wipe the next area
  std::vector<uint8_t> header_area_;  // the header has its own buffer: drop_snapshot may write it
                                      // while an area write is in flight
  chunk_t current_area_ = 0;
  chunk_t next_free_ = NUM_SNAPSHOT_HDR_CHUNKS + 1;  // header and first area
  uint32_t current_committed_ = 0;                   // next free entry of the current area
  sim::Atomic pending_count_;                        // prepared, not yet committed
  uint32_t callback_count_ = 0;
  std::vector<std::function<void(bool)>> callbacks_;
  sim::Workqueue* metadata_wq_ = nullptr;
  store_variant variant_;  // copy_error_bypasses_store is the target's business
};

// Mirrors persistent_ctr().
PersistentStore::PersistentStore(const StoreContext& c, bool overflow, const store_variant& v) : variant_(v) {
  ctx = c;
  userspace_supports_overflow = overflow;
  metadata_wq_ = sim::alloc_workqueue("ksnaphd", sim::WQ_MEM_RECLAIM, 0);
}

// Mirrors persistent_dtr().
PersistentStore::~PersistentStore() {
  KFRAME_NAMED("persistent_dtr");
  // Draining the queue sleeps: only possible from a simulated thread (a store dropped with its
  // simulation has nothing queued anyway).
  if (sim::current_or_null()) sim::destroy_workqueue(metadata_wq_);
  free_area();
}

void PersistentStore::alloc_area() {
  area_.assign(chunk_bytes(), 0);
  zero_area_.assign(chunk_bytes(), 0);
  header_area_.assign(chunk_bytes(), 0);
}

void PersistentStore::free_area() {
  area_ = {};
  zero_area_ = {};
  header_area_ = {};
}

// Mirrors chunk_io(): one chunk read into or written from `area`, synchronously. Metadata I/O
// (the header) is issued from ksnaphd and waited for, to avoid recursing into the block layer
// from a caller that may itself be submitting bios.
int PersistentStore::chunk_io(std::vector<uint8_t>* area, chunk_t chunk, ReqOp op, unsigned flags, bool metadata) {
  const DmIoRegion where{ctx.cow, chunk_size * chunk, chunk_size};
  auto do_io = [&]() {
    DmIoRequest req;
    req.op = op;
    req.flags = flags;
    // The area is read from memory when the request is built, i.e. at submission.
    req.buf = op == ReqOp::Read ? std::make_shared<model::SectorBuffer>(chunk_size) : sectors_of(*area);
    const int r = dm_io(req, {where});
    if (!r && op == ReqOp::Read) bytes_of(req.buf->data(), chunk_size, area);
    return r;
  };
  if (!metadata) return do_io();

  int result = 0;
  sim::WorkStruct work(
      "req.work",
      [&](sim::WorkStruct*) {
        KFRAME_NAMED("do_metadata");
        result = do_io();
      },
      "do_metadata");
  sim::queue_work(metadata_wq_, &work);
  sim::flush_workqueue(metadata_wq_);
  return result;
}

// Mirrors area_location(): a metadata area index to its chunk.
chunk_t PersistentStore::area_location(chunk_t area) const {
  return NUM_SNAPSHOT_HDR_CHUNKS + (exceptions_per_area_ + 1) * area;
}

// Mirrors skip_metadata(): next_free never lands on a metadata area's chunk.
void PersistentStore::skip_metadata() {
  const uint32_t stride = exceptions_per_area_ + 1;
  if (next_free_ % stride == NUM_SNAPSHOT_HDR_CHUNKS) next_free_++;
}

// Mirrors area_io(): the current area, read or written in the caller's thread.
int PersistentStore::area_io(ReqOp op, unsigned flags) {
  return chunk_io(&area_, area_location(current_area_), op, flags, false);
}

void PersistentStore::zero_memory_area() {
  std::fill(area_.begin(), area_.end(), 0);
}

int PersistentStore::zero_disk_area(chunk_t area) {
  return chunk_io(&zero_area_, area_location(area), ReqOp::Write, 0, false);
}

// Mirrors read_header(). A table chunk size of 0 takes the default (or the COW device's logical
// block size if larger) until the header says otherwise; the header's always wins.
int PersistentStore::read_header(bool* new_snapshot) {
  KFRAME_NAMED("read_header");
  bool chunk_size_supplied = true;
  if (!chunk_size) {
    chunk_size = std::max<uint32_t>(DM_CHUNK_SIZE_DEFAULT_SECTORS, ctx.cow->limits.logical_block_size >> SECTOR_SHIFT);
    chunk_mask = chunk_size - 1;
    chunk_shift = static_cast<uint32_t>(std::countr_zero(chunk_size));
    chunk_size_supplied = false;
  }
  alloc_area();
  int r = chunk_io(&header_area_, 0, ReqOp::Read, 0, true);
  if (r) {
    free_area();
    return r;
  }
  const uint8_t* dh = header_area_.data();
  const uint32_t magic = pd::get_le32(dh);
  if (magic == 0) {
    *new_snapshot = true;
    return 0;
  }
  if (magic != SNAP_MAGIC) {
    DMWARN("Invalid or corrupt snapshot");
    free_area();
    return -ENXIO;
  }
  *new_snapshot = false;
  valid_ = static_cast<int>(pd::get_le32(dh + 4));
  version_ = static_cast<int>(pd::get_le32(dh + 8));
  const uint32_t disk_chunk_size = pd::get_le32(dh + 12);
  if (chunk_size == disk_chunk_size) return 0;

  if (chunk_size_supplied)
    DMWARN("chunk size " + std::to_string(disk_chunk_size) + " in device metadata overrides table chunk size of " +
           std::to_string(chunk_size) + ".");
  // The table's chunk size was wrong: everything sized by it is redone.
  free_area();
  std::string chunk_err;
  r = dm_exception_store_set_chunk_size(this, disk_chunk_size, &chunk_err);
  if (r) {
    DMERR("invalid on-disk chunk size " + std::to_string(disk_chunk_size) + ": " + chunk_err + ".");
    return r;
  }
  alloc_area();
  return 0;
}

// Mirrors write_header().
int PersistentStore::write_header() {
  KFRAME_NAMED("write_header");
  if (header_area_.empty()) sim::bug("BUG: unable to handle kernel NULL pointer dereference in write_header");
  std::fill(header_area_.begin(), header_area_.end(), 0);
  uint8_t* dh = header_area_.data();
  pd::put_le32(dh, SNAP_MAGIC);
  pd::put_le32(dh + 4, static_cast<uint32_t>(valid_));
  pd::put_le32(dh + 8, static_cast<uint32_t>(version_));
  pd::put_le32(dh + 12, chunk_size);
  return chunk_io(&header_area_, 0, ReqOp::Write, 0, true);
}

uint8_t* PersistentStore::get_exception(uint8_t* area, uint32_t index) const {
  if (index >= exceptions_per_area_)
    sim::bug("kernel BUG at drivers/md/dm-snap-persistent.c: BUG_ON(index >= ps->exceptions_per_area) (index " +
             std::to_string(index) + ")");
  return area + size_t{index} * kDiskExceptionBytes;
}

void PersistentStore::read_exception(uint8_t* area, uint32_t index, core_exception* result) const {
  const uint8_t* de = get_exception(area, index);
  result->old_chunk = pd::get_le64(de);
  result->new_chunk = pd::get_le64(de + 8);
}

void PersistentStore::write_exception(uint32_t index, const core_exception& e) {
  uint8_t* de = get_exception(area_.data(), index);
  pd::put_le64(de, e.old_chunk);
  pd::put_le64(de + 8, e.new_chunk);
}

void PersistentStore::clear_exception(uint32_t index) {
  uint8_t* de = get_exception(area_.data(), index);
  pd::put_le64(de, 0);
  pd::put_le64(de + 8, 0);
}

// Mirrors insert_exceptions(): feeds one area's entries to the target; an entry with new_chunk 0
// ends the list, and its index is where the next commit writes.
int PersistentStore::insert_exceptions(uint8_t* area, const std::function<int(chunk_t, chunk_t)>& callback,
                                       bool* full) {
  *full = true;
  for (uint32_t i = 0; i < exceptions_per_area_; i++) {
    core_exception e;
    read_exception(area, i, &e);
    if (e.new_chunk == 0) {
      current_committed_ = i;
      *full = false;
      break;
    }
    if (next_free_ <= e.new_chunk) next_free_ = e.new_chunk + 1;
    const int r = callback(e.old_chunk, e.new_chunk);
    if (r) return r;
  }
  return 0;
}

// Mirrors read_exceptions(): areas in order through a bufio client with readahead, until one
// that is not full; that one stays in memory as the current area.
int PersistentStore::read_exceptions(const std::function<int(chunk_t, chunk_t)>& callback) {
  KFRAME_NAMED("read_exceptions");
  DmBufioClient client(ctx.cow, static_cast<unsigned>(chunk_bytes()), "snapshot");
  std::vector<chunk_t> prefetched;
  std::set<chunk_t> consumed;
  chunk_t prefetch_area = 0;
  bool full = true;
  int r = 0;
  for (current_area_ = 0; full; current_area_++) {
    if (prefetch_area < current_area_) prefetch_area = current_area_;
    do {
      const chunk_t pf_chunk = area_location(prefetch_area);
      if (pf_chunk >= client.nr_blocks()) break;
      client.prefetch(pf_chunk);
      prefetched.push_back(pf_chunk);
      prefetch_area++;
    } while (prefetch_area <= current_area_ + DM_PREFETCH_CHUNKS);

    const chunk_t chunk = area_location(current_area_);
    DmBuffer* bp = nullptr;
    consumed.insert(chunk);
    r = client.read(chunk, &bp);
    if (r) break;
    r = insert_exceptions(bp->data.data(), callback, &full);
    if (!full) std::memcpy(area_.data(), bp->data.data(), chunk_bytes());
    client.release(bp);
    client.forget(chunk);
    if (r) break;
  }
  if (!r) {
    current_area_--;
    skip_metadata();
  }
  // Readahead past the last area read may still be in flight: let it land (reading a cached
  // buffer issues no I/O) before the client frees its buffers.
  for (chunk_t c : prefetched) {
    if (consumed.count(c)) continue;
    DmBuffer* bp = nullptr;
    if (!client.read(c, &bp)) client.release(bp);
  }
  return r;
}

// Mirrors persistent_read_metadata().
int PersistentStore::read_metadata(const std::function<int(chunk_t, chunk_t)>& callback) {
  KFRAME_NAMED("persistent_read_metadata");
  bool new_snapshot = false;
  int r = read_header(&new_snapshot);
  if (r) return r;

  // Now that the chunk size is known, so is the size of an area.
  exceptions_per_area_ = static_cast<uint32_t>(chunk_bytes() / kDiskExceptionBytes);
  callbacks_.assign(exceptions_per_area_, {});

  this->new_snapshot = new_snapshot;
  if (new_snapshot) {
    r = write_header();
    if (r) {
      DMWARN("write_header failed");
      return r;
    }
    current_area_ = 0;
    zero_memory_area();
    r = zero_disk_area(0);
    if (r) DMWARN("zero_disk_area(0) failed");
    return r;
  }
  if (version_ != static_cast<int>(SNAPSHOT_DISK_VERSION)) {
    DMWARN("unable to handle snapshot disk version " + std::to_string(version_));
    return -EINVAL;
  }
  // The metadata are readable, but the snapshot was invalidated.
  if (!valid_) return 1;
  return read_exceptions(callback);
}

// Mirrors persistent_prepare_exception().
int PersistentStore::prepare_exception(dm_exception* e) {
  KFRAME_NAMED("persistent_prepare_exception");
  const uint64_t size = ctx.cow->capacity();
  if (size < (next_free_ + 1) * chunk_size) return -ENOSPC;
  e->new_chunk = next_free_;
  next_free_++;
  skip_metadata();
  sim::atomic_inc(&pending_count_);
  return 0;
}

// Mirrors persistent_commit_exception(). Every field below is shared and unlocked: the kernel
// relies on its caller never running two of these at once. The synchronous writes are where
// another thread can run in the middle; the callbacks loop re-reads callback_count_ each time.
void PersistentStore::commit_exception(const dm_exception& e, bool valid, std::function<void(bool)> callback) {
  KFRAME_NAMED("persistent_commit_exception");
  if (!valid) valid_ = 0;

  write_exception(current_committed_++, core_exception{e.old_chunk, e.new_chunk});

  // The callback array is as long as an area; past its end the kernel would scribble on memory.
  if (callback_count_ >= callbacks_.size())
    sim::bug("BUG: KASAN: vmalloc-out-of-bounds in persistent_commit_exception (callback " +
             std::to_string(callback_count_) + " of " + std::to_string(callbacks_.size()) + ")");
  callbacks_[callback_count_++] = std::move(callback);

  // Exceptions still in flight and room left in the area: the callback waits for a later commit.
  if (!sim::atomic_dec_and_test(&pending_count_) && current_committed_ != exceptions_per_area_) return;

  // A full area: wipe the next one first, so that a crash after this commit never shows the
  // reader stale entries following the full area.
  if (current_committed_ == exceptions_per_area_ && zero_disk_area(current_area_ + 1)) valid_ = 0;

  // The flush makes the copied data durable before the entries that point at it.
  if (valid_ && area_io(ReqOp::Write, model::REQ_PREFLUSH | model::REQ_FUA | model::REQ_SYNC)) valid_ = 0;

  if (current_committed_ == exceptions_per_area_) {
    current_committed_ = 0;
    current_area_++;
    zero_memory_area();
  }

  for (uint32_t i = 0; i < callback_count_; i++) {
    // The slot is read when called: a callback may sleep and let someone else append.
    std::function<void(bool)> cb = callbacks_[i];
    cb(valid_ != 0);
  }
  callback_count_ = 0;
}

// Mirrors persistent_prepare_merge(): the run of consecutive exceptions ending with the last one
// committed, stepping back to the previous (full) area when the current one is empty.
int PersistentStore::prepare_merge(chunk_t* last_old_chunk, chunk_t* last_new_chunk) {
  KFRAME_NAMED("persistent_prepare_merge");
  if (!current_committed_) {
    if (!current_area_) return 0;  // everything merged
    current_area_--;
    const int r = area_io(ReqOp::Read, 0);
    if (r < 0) return r;
    current_committed_ = exceptions_per_area_;
  }
  core_exception ce;
  read_exception(area_.data(), current_committed_ - 1, &ce);
  *last_old_chunk = ce.old_chunk;
  *last_new_chunk = ce.new_chunk;

  uint32_t nr_consecutive;
  for (nr_consecutive = 1; nr_consecutive < current_committed_; nr_consecutive++) {
    read_exception(area_.data(), current_committed_ - 1 - nr_consecutive, &ce);
    if (ce.old_chunk != *last_old_chunk - nr_consecutive || ce.new_chunk != *last_new_chunk - nr_consecutive) break;
  }
  return static_cast<int>(nr_consecutive);
}

// Mirrors persistent_commit_merge(): the merged entries are cleared durably.
int PersistentStore::commit_merge(int nr_merged) {
  KFRAME_NAMED("persistent_commit_merge");
  if (nr_merged < 0 || static_cast<uint32_t>(nr_merged) > current_committed_)
    sim::bug("kernel BUG at drivers/md/dm-snap-persistent.c: BUG_ON(nr_merged > ps->current_committed)");
  for (int i = 0; i < nr_merged; i++) clear_exception(current_committed_ - 1 - static_cast<uint32_t>(i));

  const int r = area_io(ReqOp::Write, model::REQ_PREFLUSH | model::REQ_FUA);
  if (r < 0) return r;
  current_committed_ -= static_cast<uint32_t>(nr_merged);

  // Only usage() reads next_free from here on: the value it would have had, had every
  // exception been committed in order.
  next_free_ = area_location(current_area_) + current_committed_ + 1;
  return 0;
}

// Mirrors persistent_drop_snapshot().
void PersistentStore::drop_snapshot() {
  KFRAME_NAMED("persistent_drop_snapshot");
  valid_ = 0;
  if (write_header()) DMWARN("write header failed");
}

// Mirrors persistent_usage(): the header, then current_area + 1 metadata chunks.
void PersistentStore::usage(uint64_t* total_sectors, uint64_t* sectors_allocated, uint64_t* metadata_sectors) const {
  *sectors_allocated = next_free_ * chunk_size;
  *total_sectors = ctx.cow->capacity();
  *metadata_sectors = (current_area_ + 1 + NUM_SNAPSHOT_HDR_CHUNKS) * chunk_size;
}

// Reads `count` sectors at `sector` as bytes, for a userland reader: from a simulated thread it
// sleeps until the read completes; elsewhere the device must complete it within submission (the
// checks' content views do).
int read_bytes_sync(model::BlockDevice* bdev, uint64_t sector, uint32_t count, std::vector<uint8_t>* out) {
  if (sector + count > bdev->capacity()) return -EIO;
  model::Bio* bio = model::bio_alloc(bdev, ReqOp::Read, 0, sector, count);
  const std::shared_ptr<model::SectorBuffer> buf = bio->buf;  // splitting advances the bio itself
  if (sim::current_or_null()) {
    const model::BlkStatus st = model::submit_bio_wait(bio);
    model::bio_put(bio);
    if (st != model::BLK_STS_OK) return -EIO;
  } else {
    struct State {
      bool done = false;
      model::BlkStatus status = model::BLK_STS_OK;
    };
    auto state = std::make_shared<State>();
    bio->end_io = [state](model::Bio* b) {
      state->done = true;
      state->status = b->status;
      model::bio_put(b);
    };
    model::submit_bio(bio);
    if (!state->done || state->status != model::BLK_STS_OK) return -EIO;
  }
  bytes_of(buf->data(), count, out);
  return 0;
}

}  // namespace

std::unique_ptr<DmExceptionStore> make_persistent_store(const StoreContext& ctx, bool overflow_aware,
                                                        const store_variant& v) {
  return std::make_unique<PersistentStore>(ctx, overflow_aware, v);
}

uint64_t exceptions_per_area(uint32_t chunk_size) {
  return (uint64_t{chunk_size} << SECTOR_SHIFT) / kDiskExceptionBytes;
}

uint64_t area_location(uint32_t chunk_size, uint64_t area) {
  return NUM_SNAPSHOT_HDR_CHUNKS + (exceptions_per_area(chunk_size) + 1) * area;
}

// A userland reader of a COW device, as the kernel's load reads it: the header, then areas in
// order up to the end marker. It stops where the kernel's load would fail and says why.
PersistentCowContents read_persistent_cow(model::BlockDevice* bdev) {
  PersistentCowContents c;
  std::vector<uint8_t> header;
  // One logical block: a smaller read would be refused as misaligned.
  if (read_bytes_sync(bdev, 0, std::max(1u, bdev->limits.logical_block_size >> SECTOR_SHIFT), &header)) {
    c.error = "the header cannot be read";
    return c;
  }
  const uint32_t magic = pd::get_le32(header.data());
  if (magic == 0) return c;  // a new snapshot: nothing formatted yet
  if (magic != SNAP_MAGIC) {
    c.error = "Invalid or corrupt snapshot";
    return c;
  }
  c.formatted = true;
  c.valid = pd::get_le32(header.data() + 4) != 0;
  c.version = pd::get_le32(header.data() + 8);
  c.chunk_size = pd::get_le32(header.data() + 12);
  if (c.version != SNAPSHOT_DISK_VERSION) {
    c.error = "unable to handle snapshot disk version " + std::to_string(c.version);
    return c;
  }
  if (!std::has_single_bit(c.chunk_size) || c.chunk_size > (INT_MAX >> SECTOR_SHIFT)) {
    c.error = "invalid on-disk chunk size " + std::to_string(c.chunk_size);
    return c;
  }
  if (!c.valid) return c;  // the kernel reads nothing more of an invalidated snapshot

  const uint64_t per_area = exceptions_per_area(c.chunk_size);
  std::vector<uint8_t> area;
  for (uint64_t a = 0;; a++) {
    const uint64_t chunk = area_location(c.chunk_size, a);
    if (read_bytes_sync(bdev, chunk * c.chunk_size, c.chunk_size, &area)) {
      c.error = "metadata area " + std::to_string(a) + " at chunk " + std::to_string(chunk) + " cannot be read";
      return c;
    }
    c.areas_read++;
    for (uint64_t i = 0; i < per_area; i++) {
      const uint8_t* de = area.data() + i * kDiskExceptionBytes;
      const dm_exception e{pd::get_le64(de), pd::get_le64(de + 8)};
      if (e.new_chunk == 0) return c;
      c.exceptions.push_back(e);
    }
  }
}

}  // namespace engines::snapshot
