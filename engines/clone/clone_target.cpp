// The clone target (drivers/md/dm-clone-target.c). A read of a region not yet hydrated goes to the
// source; a write waits for its region to be hydrated: copied from the source by kcopyd, or, for
// a write of the whole region, the write itself. Completions set the region's bit in core and in
// the current dirty map; the single worker submits deferred bios, marks discarded ranges, commits
// (every second, and for flush/FUA bios while something changed) and starts background hydration
// of the next unhydrated regions while no user I/O is in flight. A commit flushes the destination
// between swapping the dirty maps and writing the committing one, so no committed region points
// at data still in the destination's volatile cache.
#include <algorithm>
#include <bit>
#include <deque>
#include <memory>
#include <unordered_map>

#include "engines/clone/clone.hpp"
#include "engines/clone/clone_metadata.hpp"
#include "engines/journal.hpp"
#include "engines/lib/kcopyd.hpp"
#include "engines/module_params.hpp"
#include "model/dm/dm_target.hpp"
#include "model/dm/mapped_device.hpp"
#include "model/errno.hpp"
#include "model/sync_io.hpp"
#include "sim/config.hpp"
#include "sim/kernel.hpp"

namespace engines::clone {

using model::Bio;
using model::BlkStatus;
using model::DmArgs;
using model::DmDev;
using model::DmTarget;

namespace {

void DMERR(const std::string& msg) {
  model::dm_log("clone", msg);
}
void DMWARN(const std::string& msg) {
  model::dm_log_warn("clone", msg);
}
void DMINFO(const std::string& msg) {
  model::dm_log_info("clone", msg);
}

constexpr uint64_t COMMIT_PERIOD_MS = 1000;  // HZ
constexpr unsigned DEFAULT_HYDRATION_THRESHOLD = 1;
constexpr unsigned DEFAULT_HYDRATION_BATCH_SIZE = 1;
constexpr uint64_t MIN_REGION_SIZE = 8, MAX_REGION_SIZE = 2097152;  // sectors: 4 KiB .. 1 GiB
constexpr unsigned HASH_BUCKET_LOCKS = 64;                          // dmsim: 2^15 buckets, their spinlocks folded to 64

enum clone_metadata_mode { CM_WRITE, CM_READ_ONLY, CM_FAIL };

// The module parameter clone_hydration_throttle, shared by every dm-clone device.
DmKcopydThrottle& clone_hydration_throttle() {
  static DmKcopydThrottle t;
  return t;
}

struct clone;

// struct dm_clone_region_hydration: one region being hydrated, and the bios waiting for it.
struct dm_clone_region_hydration {
  clone* c = nullptr;
  uint64_t region_nr = 0;
  Bio* overwrite_bio = nullptr;
  std::function<void(Bio*)> overwrite_bio_end_io;
  std::vector<Bio*> deferred_bios;
  BlkStatus status = model::BLK_STS_OK;
  std::vector<dm_clone_region_hydration*> list;  // the rest of a batch, when this is its head
};

struct batch_info {
  dm_clone_region_hydration* head = nullptr;
  unsigned nr_batched_regions = 0;
};

struct clone_bio_hook {
  dm_clone_region_hydration* hd = nullptr;  // an overwrite: the record its completion completes
};

struct clone {
  DmTarget* ti = nullptr;
  DmDev* metadata_dev = nullptr;
  DmDev* dest_dev = nullptr;
  DmDev* source_dev = nullptr;
  uint64_t nr_regions = 0;  // unsigned long
  uint64_t region_size = 0;
  unsigned region_shift = 0;
  unsigned bits_per_long = 64;
  clone_metadata_mode mode = CM_WRITE;

  // DM_CLONE_DISCARD_PASSDOWN, DM_CLONE_HYDRATION_ENABLED, DM_CLONE_HYDRATION_SUSPENDED
  sim::Atomic discard_passdown{1}, hydration_enabled{1}, hydration_suspended{1};
  bool discard_rw_src = false;  // the proposed feature: discard hydrated regions on the source

  sim::Mutex commit_lock{"clone->commit_lock"};
  std::vector<std::unique_ptr<sim::Spinlock>> bucket_locks;
  std::unordered_map<uint64_t, dm_clone_region_hydration*> ht;  // region -> record

  sim::Atomic ios_in_flight{0}, hydrations_in_flight{0};
  sim::WaitQueueHead hydration_stopped{"clone->hydration_stopped"};
  uint64_t last_commit_jiffies = 0;

  sim::Spinlock lock{"clone->lock"};
  std::deque<Bio*> deferred_bios, deferred_discard_bios, deferred_flush_bios, deferred_flush_completions;

  sim::Atomic hydration_threshold{DEFAULT_HYDRATION_THRESHOLD}, hydration_batch_size{DEFAULT_HYDRATION_BATCH_SIZE};
  uint64_t hydration_offset = 0;

  sim::Workqueue* wq = nullptr;
  sim::WorkStruct worker;
  sim::DelayedWork waker;
  std::unique_ptr<DmKcopydClient> kcopyd_client;
  std::unique_ptr<dm_clone_metadata> cmd;
  std::vector<std::string> ctr_args;  // argv[3..], for the table line

  clone_variant variant;
  // dmsim instrumentation: ranges [begin, end) of regions marked hydrated by discards, which a
  // commit record leaves out (their data was discarded: nothing to be durable).
  std::vector<std::pair<uint64_t, uint64_t>> discarded_ranges;
  std::string device_path, metadata_path, dest_path;

  clone();
};

const char* clone_device_name(const clone* c) {
  return dm_device_name(dm_table_get_md(c->ti->table)).c_str();
}

clone_metadata_mode get_clone_mode(const clone* c) {
  return c->mode;
}

void wake_worker(clone* c) {
  sim::queue_work(c->wq, &c->worker);
}

// ---- address arithmetic (unsigned long where the kernel has it) ----

uint64_t as_ulong(const clone* c, uint64_t v) {
  return c->bits_per_long == 32 ? static_cast<uint32_t>(v) : v;
}

uint64_t bio_to_region(const clone* c, const Bio* bio) {
  return as_ulong(c, bio->sector >> c->region_shift);
}

// region_to_sector: widened to 64 bits before the shift since "dm clone: Add missing casts to
// prevent overflows and data corruption"; before, the shift wrapped in unsigned long.
uint64_t region_to_sector(const clone* c, uint64_t region_nr) {
  if (c->variant.region_to_sector_no_cast_32) return as_ulong(c, region_nr << c->region_shift);
  return region_nr << c->region_shift;
}

// bio_region_range: the whole regions inside the bio. The pre-fix helper returned [rs, re) and
// its callers used re - rs, which wraps when the bio lies strictly inside one region.
void bio_region_range(const clone* c, const Bio* bio, uint64_t* rs, uint64_t* nr_regions) {
  *rs = as_ulong(c, (bio->sector + c->region_size - 1) / c->region_size);
  const uint64_t end = as_ulong(c, bio->end_sector() >> c->region_shift);
  if (c->variant.partial_discard_range)
    *nr_regions = as_ulong(c, end - *rs);
  else
    *nr_regions = *rs >= end ? 0 : end - *rs;
}

bool is_overwrite_bio(const clone* c, const Bio* bio) {
  return bio->op == model::ReqOp::Write && bio->size == c->region_size;
}

void remap_to_source(clone* c, Bio* bio) {
  bio->bdev = c->source_dev->bdev;
}

void remap_to_dest(clone* c, Bio* bio) {
  bio->bdev = c->dest_dev->bdev;
}

bool bio_triggers_commit(clone* c, const Bio* bio) {
  return model::op_is_flush(bio->flags) && dm_clone_changed_this_transaction(c->cmd.get());
}

// ---- modes ----

void set_clone_mode(clone* c, clone_metadata_mode new_mode) {
  static const char* const descs[] = {"read-write", "read-only", "fail"};
  const clone_metadata_mode old_mode = get_clone_mode(c);
  if (old_mode == CM_FAIL) new_mode = CM_FAIL;  // never leave fail mode
  if (new_mode == CM_WRITE)
    dm_clone_metadata_set_read_write(c->cmd.get());
  else
    dm_clone_metadata_set_read_only(c->cmd.get());
  c->mode = new_mode;
  if (new_mode != old_mode) DMINFO(std::string(clone_device_name(c)) + ": Switching to " + descs[new_mode] + " mode");
}

void metadata_operation_failed(clone* c, const char* op, int r) {
  DMERR(std::string(clone_device_name(c)) + ": Metadata operation `" + op + "' failed: error = " + std::to_string(r));
  dm_clone_metadata_abort(c->cmd.get());
  set_clone_mode(c, CM_READ_ONLY);
  // The in-core bitset may be ahead of the metadata: reload it.
  if (dm_clone_reload_in_core_bitset(c->cmd.get())) {
    DMERR(std::string(clone_device_name(c)) + ": Failed to reload in-core bitset");
    set_clone_mode(c, CM_FAIL);
  }
}

// ---- source discards (the proposed discard_rw_src feature) ----

// Discards `regions` on the source without waiting; failures are ignored.
void discard_source_regions_async(clone* c, const std::vector<uint64_t>& regions) {
  for (size_t i = 0; i < regions.size();) {
    size_t j = i + 1;
    while (j < regions.size() && regions[j] == regions[j - 1] + 1) j++;  // coalesce contiguous regions
    const uint64_t begin = region_to_sector(c, regions[i]);
    const uint64_t end = std::min(region_to_sector(c, regions[j - 1] + 1), c->ti->len);
    Bio* bio = model::bio_alloc(c->source_dev->bdev, model::ReqOp::Discard, 0, begin, 0);
    bio->size = static_cast<uint32_t>(end - begin);
    bio->end_io = [](Bio* b) { model::bio_put(b); };
    model::submit_bio(bio);
    i = j;
  }
}

void discard_source_regions_sync(clone* c, uint64_t region, unsigned n) {
  const uint64_t begin = region_to_sector(c, region);
  const uint64_t end = std::min(region_to_sector(c, region + n), c->ti->len);
  model::blkdev_issue_discard(c->source_dev->bdev, begin, static_cast<uint32_t>(end - begin));
}

// ---- commit ----

// commit_metadata: pre-commit (swap the dirty maps), flush the destination, commit the swapped
// map. *dest_dev_flushed says whether this call flushed the destination.
int commit_metadata(clone* c, bool* dest_dev_flushed) {
  KFRAME();
  if (dest_dev_flushed) *dest_dev_flushed = false;
  sim::mutex_lock(&c->commit_lock);
  int r = 0;
  std::vector<uint64_t> committed;
  do {
    if (!dm_clone_changed_this_transaction(c->cmd.get())) break;
    if (get_clone_mode(c) >= CM_READ_ONLY) {
      r = -EPERM;
      break;
    }
    r = dm_clone_metadata_pre_commit(c->cmd.get());
    if (r) {
      metadata_operation_failed(c, "dm_clone_metadata_pre_commit", r);
      break;
    }
    if (!c->variant.no_flush_before_commit) {
      Bio* flush = model::bio_alloc_flush(c->dest_dev->bdev);
      const BlkStatus st = model::submit_bio_wait(flush);
      model::bio_put(flush);
      if (st != model::BLK_STS_OK) {
        r = -EIO;
        metadata_operation_failed(c, "flush destination device", r);
        break;
      }
      if (dest_dev_flushed) *dest_dev_flushed = true;
    }
    // What this transaction records, captured before the commit clears it (discard_rw_src).
    if (c->discard_rw_src) committed = dm_clone_committing_regions(c->cmd.get());
    r = dm_clone_metadata_commit(c->cmd.get());
    if (r) {
      metadata_operation_failed(c, "dm_clone_metadata_commit", r);
      break;
    }
    if (dm_clone_is_hydration_done(c->cmd.get())) DMINFO(std::string(clone_device_name(c)) + ": hydration finished");
    // discard_rw_src, done safely: the source is discarded only for regions whose hydrated bit
    // is now durable, asynchronously.
    if (c->discard_rw_src && !c->variant.discard_source_before_commit && !c->variant.discard_source_sync_before_commit)
      discard_source_regions_async(c, committed);
  } while (false);
  sim::mutex_unlock(&c->commit_lock);
  return r;
}

// ---- hydration ----

sim::Spinlock* bucket_lock(clone* c, uint64_t region_nr) {
  return c->bucket_locks[region_nr % HASH_BUCKET_LOCKS].get();
}

dm_clone_region_hydration* find_hydration(clone* c, uint64_t region_nr) {
  auto it = c->ht.find(region_nr);
  return it == c->ht.end() ? nullptr : it->second;
}

// insert_or_get_region_hydration: ours, unless another record for the region got there first.
dm_clone_region_hydration* insert_or_get_region_hydration(clone* c, dm_clone_region_hydration* hd) {
  if (auto* h2 = find_hydration(c, hd->region_nr)) return h2;
  c->ht[hd->region_nr] = hd;
  return hd;
}

dm_clone_region_hydration* alloc_hydration(clone* c, uint64_t region_nr) {
  auto* hd = new dm_clone_region_hydration;  // mempool_alloc: may sleep, never fails
  hd->c = c;
  hd->region_nr = region_nr;
  return hd;
}

void free_hydration(dm_clone_region_hydration* hd) {
  delete hd;
}

void issue_bio(clone* c, Bio* bio);

// issue_deferred_bios: bios that trigger a commit wait for the worker's commit; the others are
// submitted by the worker too (never inline).
void issue_deferred_bios(clone* c, std::vector<Bio*>& bios) {
  if (bios.empty()) return;
  std::vector<Bio*> flush_bios, normal_bios;
  for (Bio* b : bios) (bio_triggers_commit(c, b) ? flush_bios : normal_bios).push_back(b);
  unsigned long flags = 0;
  sim::spin_lock_irqsave(&c->lock, flags);
  for (Bio* b : normal_bios) {
    b->where.set(c->worker, "on clone->deferred_bios, for do_worker");
    c->deferred_bios.push_back(b);
  }
  for (Bio* b : flush_bios) {
    b->where.set(c->worker, "on clone->deferred_flush_bios, for the next commit");
    c->deferred_flush_bios.push_back(b);
  }
  sim::spin_unlock_irqrestore(&c->lock, flags);
  wake_worker(c);
}

void complete_overwrite_bio(clone* c, Bio* bio) {
  // A FUA overwrite is acknowledged only once the commit made its region's bit durable.
  if (!(bio->flags & model::REQ_FUA)) {
    model::bio_endio(bio);
    return;
  }
  if (get_clone_mode(c) >= CM_READ_ONLY) {
    model::bio_io_error(bio);
    return;
  }
  unsigned long flags = 0;
  sim::spin_lock_irqsave(&c->lock, flags);
  bio->where.set(c->worker, "on clone->deferred_flush_completions, for the next commit");
  c->deferred_flush_completions.push_back(bio);
  sim::spin_unlock_irqrestore(&c->lock, flags);
  wake_worker(c);
}

void fail_bios(std::vector<Bio*>& bios, BlkStatus status) {
  for (Bio* b : bios) {
    b->status = status;
    model::bio_endio(b);
  }
}

// hydration_complete: the in-core bit is set before the record leaves the hash table, so a
// mapper never sees "no record and not hydrated" for a region that just completed.
void hydration_complete(dm_clone_region_hydration* hd) {
  clone* c = hd->c;
  int r = 0;
  std::vector<Bio*> bios;
  if (get_clone_mode(c) >= CM_READ_ONLY)
    r = -EPERM;
  else if (hd->status == model::BLK_STS_OK)
    r = dm_clone_set_region_hydrated(c->cmd.get(), hd->region_nr);
  unsigned long flags = 0;
  sim::Spinlock* bl = bucket_lock(c, hd->region_nr);
  sim::spin_lock_irqsave(bl, flags);
  c->ht.erase(hd->region_nr);
  sim::spin_unlock_irqrestore(bl, flags);
  bios.swap(hd->deferred_bios);
  if (hd->status == model::BLK_STS_OK && r == 0) {
    if (hd->overwrite_bio) complete_overwrite_bio(c, hd->overwrite_bio);
    issue_deferred_bios(c, bios);
  } else {
    const BlkStatus status = r ? model::BLK_STS_IOERR : hd->status;
    if (hd->overwrite_bio) bios.push_back(hd->overwrite_bio);
    fail_bios(bios, status);
  }
  free_hydration(hd);
  if (c->hydrations_in_flight.add_return(-1) == 0) sim::wake_up_all(&c->hydration_stopped);
}

void hydration_kcopyd_callback(dm_clone_region_hydration* head, int read_err, unsigned long write_err) {
  clone* c = head->c;
  BlkStatus status = model::BLK_STS_OK;
  if (read_err || write_err) {
    DMERR(std::string(clone_device_name(c)) + ": hydration failed");
    status = model::BLK_STS_IOERR;
  }
  std::vector<dm_clone_region_hydration*> batch;
  batch.swap(head->list);
  const uint64_t first = head->region_nr;
  const unsigned n = static_cast<unsigned>(batch.size()) + 1;
  // discard_rw_src's naive option (a): the region's source is discarded, and the discard
  // waited for, before the hydration completes; its bit is durable only at the next commit.
  if (status == model::BLK_STS_OK && c->discard_rw_src && c->variant.discard_source_sync_before_commit)
    discard_source_regions_sync(c, first, n);
  head->status = status;
  hydration_complete(head);
  for (dm_clone_region_hydration* hd : batch) {
    hd->status = status;
    hydration_complete(hd);
  }
  // discard_rw_src's naive option (b): discarded right after the copy, without waiting.
  if (status == model::BLK_STS_OK && c->discard_rw_src && c->variant.discard_source_before_commit) {
    std::vector<uint64_t> regions;
    for (unsigned i = 0; i < n; i++) regions.push_back(first + i);
    discard_source_regions_async(c, regions);
  }
  // Continue background hydration once user I/O has drained.
  if (sim::atomic_read(&c->hydration_enabled) && !sim::atomic_read(&c->ios_in_flight)) wake_worker(c);
}

// hydration_copy: one kcopyd job for `nr_regions` consecutive regions from hd's.
void hydration_copy(dm_clone_region_hydration* hd, unsigned nr_regions) {
  clone* c = hd->c;
  if (sim::warn_on(!nr_regions, "hydration_copy: nr_regions == 0")) return;
  const uint64_t region_start = hd->region_nr;
  const uint64_t region_end = region_start + nr_regions - 1;
  uint64_t tail_size;
  if (region_end == c->nr_regions - 1) {
    tail_size = c->ti->len & (c->region_size - 1);
    if (!tail_size) tail_size = c->region_size;
  } else {
    tail_size = c->region_size;
  }
  const uint64_t total_size = region_to_sector(c, nr_regions - 1) + tail_size;
  const uint64_t at = region_to_sector(c, region_start);
  DmIoRegion from{c->source_dev->bdev, at, total_size};
  DmIoRegion to{c->dest_dev->bdev, at, total_size};
  c->hydrations_in_flight.add_return(nr_regions);
  c->kcopyd_client->copy(from, {to}, 0, [hd](int re, unsigned long we) { hydration_kcopyd_callback(hd, re, we); });
}

void overwrite_endio(Bio* bio) {
  auto* h = model::dm_per_bio_data<clone_bio_hook>(bio);
  dm_clone_region_hydration* hd = h->hd;
  h->hd = nullptr;
  bio->end_io = std::move(hd->overwrite_bio_end_io);
  bio->remaining = 1;  // it is ended again when the hydration completes
  hd->status = bio->status;
  hydration_complete(hd);
}

void hydration_overwrite(dm_clone_region_hydration* hd, Bio* bio) {
  clone* c = hd->c;
  hd->overwrite_bio = bio;
  hd->overwrite_bio_end_io = std::move(bio->end_io);
  model::dm_per_bio_data<clone_bio_hook>(bio)->hd = hd;
  bio->end_io = overwrite_endio;
  c->hydrations_in_flight.add_return(1);
  model::submit_bio(bio);
}

// hydrate_bio_region: in the submitter's context. The bio waits on the region's record; the
// first writer creates it (re-checking under the bucket lock after the allocation slept).
void hydrate_bio_region(clone* c, Bio* bio) {
  KFRAME();
  const uint64_t region_nr = bio_to_region(c, bio);
  sim::Spinlock* bl = bucket_lock(c, region_nr);
  sim::spin_lock_irq(bl);
  if (dm_clone_region_hydration* hd = find_hydration(c, region_nr)) {
    bio->where.add_part(c->kcopyd_client->jobs());
    hd->deferred_bios.push_back(bio);
    sim::spin_unlock_irq(bl);
    return;
  }
  if (dm_clone_is_region_hydrated(c->cmd.get(), region_nr)) {
    sim::spin_unlock_irq(bl);
    issue_bio(c, bio);
    return;
  }
  sim::spin_unlock_irq(bl);
  dm_clone_region_hydration* hd = alloc_hydration(c, region_nr);
  sim::spin_lock_irq(bl);
  if (dm_clone_is_region_hydrated(c->cmd.get(), region_nr)) {
    sim::spin_unlock_irq(bl);
    free_hydration(hd);
    issue_bio(c, bio);
    return;
  }
  dm_clone_region_hydration* hd2 = insert_or_get_region_hydration(c, hd);
  if (hd2 != hd) {
    bio->where.add_part(c->kcopyd_client->jobs());
    hd2->deferred_bios.push_back(bio);
    sim::spin_unlock_irq(bl);
    free_hydration(hd);
    return;
  }
  if (get_clone_mode(c) >= CM_READ_ONLY) {
    c->ht.erase(region_nr);
    sim::spin_unlock_irq(bl);
    free_hydration(hd);
    model::bio_io_error(bio);
    return;
  }
  if (is_overwrite_bio(c, bio)) {
    sim::spin_unlock_irq(bl);
    hydration_overwrite(hd, bio);
    return;
  }
  bio->where.add_part(c->kcopyd_client->jobs());
  hd->deferred_bios.push_back(bio);
  sim::spin_unlock_irq(bl);
  hydration_copy(hd, 1);
}

// ---- background hydration ----

void batch_hydration(batch_info* batch, dm_clone_region_hydration* hd) {
  clone* c = hd->c;
  const unsigned max_batch_size = static_cast<unsigned>(sim::atomic_read(&c->hydration_batch_size));
  if (batch->head) {
    // Try to extend the batch with a contiguous region.
    if (batch->nr_batched_regions < max_batch_size &&
        batch->head->region_nr + batch->nr_batched_regions == hd->region_nr) {
      batch->head->list.push_back(hd);
      batch->nr_batched_regions++;
      hd = nullptr;
    }
    if (batch->nr_batched_regions >= max_batch_size || hd) {
      hydration_copy(batch->head, batch->nr_batched_regions);
      batch->head = nullptr;
      batch->nr_batched_regions = 0;
    }
  }
  if (!hd) return;
  if (max_batch_size <= 1) {
    hydration_copy(hd, 1);
    return;
  }
  batch->head = hd;
  batch->nr_batched_regions = 1;
}

// __start_next_hydration: the next unhydrated region without a record, from `offset`.
uint64_t start_next_hydration(clone* c, uint64_t offset, batch_info* batch) {
  dm_clone_region_hydration* hd = alloc_hydration(c, 0);
  while ((offset = dm_clone_find_next_unhydrated_region(c->cmd.get(), offset)) < c->nr_regions) {
    sim::Spinlock* bl = bucket_lock(c, offset);
    sim::spin_lock_irq(bl);
    if (!dm_clone_is_region_hydrated(c->cmd.get(), offset) && !find_hydration(c, offset)) {
      hd->region_nr = offset;
      c->ht[offset] = hd;
      sim::spin_unlock_irq(bl);
      batch_hydration(batch, hd);
      return offset + 1;
    }
    sim::spin_unlock_irq(bl);
    offset++;
  }
  free_hydration(hd);
  return offset;
}

// do_hydration: start copies while no user I/O is in flight and fewer than the threshold run.
void do_hydration(clone* c) {
  KFRAME();
  batch_info batch;
  if (get_clone_mode(c) >= CM_READ_ONLY) return;
  if (dm_clone_is_hydration_done(c->cmd.get())) return;
  // The +1 guard: a concurrent postsuspend never sees zero between the checks and the first copy.
  c->hydrations_in_flight.add_return(1);
  uint64_t offset = c->hydration_offset;
  while (!sim::atomic_read(&c->hydration_suspended) && !sim::atomic_read(&c->ios_in_flight) &&
         sim::atomic_read(&c->hydration_enabled) && offset < c->nr_regions) {
    const uint64_t volume =
        static_cast<uint64_t>(sim::atomic_read(&c->hydrations_in_flight)) + batch.nr_batched_regions;
    if (volume > static_cast<uint64_t>(sim::atomic_read(&c->hydration_threshold))) break;
    offset = start_next_hydration(c, offset, &batch);
  }
  if (batch.head) hydration_copy(batch.head, batch.nr_batched_regions);
  if (offset >= c->nr_regions) offset = 0;
  c->hydration_offset = offset;
  if (c->hydrations_in_flight.add_return(-1) == 0) sim::wake_up_all(&c->hydration_stopped);
}

// ---- the worker ----

bool need_commit_due_to_time(const clone* c) {
  return !sim::time_before(sim::jiffies(), c->last_commit_jiffies + sim::msecs_to_jiffies(COMMIT_PERIOD_MS) + 1);
}

void complete_discard_bio(clone* c, Bio* bio, bool success);

void process_deferred_bios(clone* c) {
  std::deque<Bio*> bios;
  sim::spin_lock_irq(&c->lock);
  bios.swap(c->deferred_bios);
  sim::spin_unlock_irq(&c->lock);
  for (Bio* b : bios) model::submit_bio(b);
}

void process_deferred_discards(clone* c) {
  KFRAME();
  std::deque<Bio*> discards;
  sim::spin_lock_irq(&c->lock);
  discards.swap(c->deferred_discard_bios);
  sim::spin_unlock_irq(&c->lock);
  if (discards.empty()) return;
  int r = 0;
  if (get_clone_mode(c) >= CM_READ_ONLY) {
    r = -EPERM;
  } else {
    for (Bio* b : discards) {
      uint64_t rs, nr;
      bio_region_range(c, b, &rs, &nr);
      // The ranges must be whole-region, inside the device: cond_set_range checks.
      r = dm_clone_cond_set_range(c->cmd.get(), rs, nr);
      if (r) break;
      c->discarded_ranges.emplace_back(rs, rs + nr);
    }
  }
  for (Bio* b : discards) complete_discard_bio(c, b, r == 0);
}

void process_deferred_flush_bios(clone* c) {
  KFRAME();
  std::deque<Bio*> bios, bio_completions;
  sim::spin_lock_irq(&c->lock);
  bios.swap(c->deferred_flush_bios);
  bio_completions.swap(c->deferred_flush_completions);
  sim::spin_unlock_irq(&c->lock);
  if (bios.empty() && bio_completions.empty() &&
      !(dm_clone_changed_this_transaction(c->cmd.get()) && need_commit_due_to_time(c)))
    return;
  bool dest_dev_flushed = false;
  if (commit_metadata(c, &dest_dev_flushed)) {
    for (Bio* b : bio_completions) model::bio_io_error(b);
    for (Bio* b : bios) model::bio_io_error(b);
    return;
  }
  c->last_commit_jiffies = sim::jiffies();
  for (Bio* b : bio_completions) model::bio_endio(b);
  for (Bio* b : bios) {
    // The commit flushed the destination: an empty flush has nothing left to do.
    if ((b->flags & model::REQ_PREFLUSH) && dest_dev_flushed && !c->variant.redundant_preflush)
      model::bio_endio(b);
    else
      model::submit_bio(b);
  }
}

void do_worker(clone* c) {
  KFRAME_NAMED("do_worker");
  process_deferred_bios(c);
  process_deferred_discards(c);
  process_deferred_flush_bios(c);
  do_hydration(c);
}

// do_waker: the periodic commit, and a restart of background hydration.
void do_waker(clone* c) {
  wake_worker(c);
  sim::queue_delayed_work(c->wq, &c->waker, sim::msecs_to_jiffies(COMMIT_PERIOD_MS));
}

clone::clone()
    : worker(
          "clone->worker", [this](sim::WorkStruct*) { do_worker(this); }, "do_worker"),
      waker(
          "clone->waker", [this](sim::WorkStruct*) { do_waker(this); }, "do_waker") {
  for (unsigned i = 0; i < HASH_BUCKET_LOCKS; i++)
    bucket_locks.push_back(std::make_unique<sim::Spinlock>("bucket->lock", false, "clone bucket->lock"));
}

// ---- the map path ----

// issue_bio: a flush/FUA bio while something changed waits for the worker's commit.
void issue_bio(clone* c, Bio* bio) {
  if (!bio_triggers_commit(c, bio)) {
    model::submit_bio(bio);
    return;
  }
  if (get_clone_mode(c) >= CM_READ_ONLY) {
    model::bio_io_error(bio);
    return;
  }
  sim::spin_lock_irq(&c->lock);
  bio->where.set(c->worker, "on clone->deferred_flush_bios, for the next commit");
  c->deferred_flush_bios.push_back(bio);
  sim::spin_unlock_irq(&c->lock);
  wake_worker(c);
}

// complete_discard_bio: with passdown, the discard goes to the destination trimmed to the whole
// regions it covers; never to the source.
void complete_discard_bio(clone* c, Bio* bio, bool success) {
  if (sim::atomic_read(&c->discard_passdown) && success) {
    remap_to_dest(c, bio);
    uint64_t rs, nr;
    bio_region_range(c, bio, &rs, &nr);
    // trim_bio: a 32-bit sector count, converted to a 32-bit byte size.
    const auto len = static_cast<uint32_t>(nr << c->region_shift);
    const auto bytes = static_cast<uint32_t>(uint64_t{len} << 9);
    bio->sector = region_to_sector(c, rs);
    bio->size = bytes >> 9;
    model::submit_bio(bio);
  } else {
    model::bio_endio(bio);
  }
}

void process_discard_bio(clone* c, Bio* bio) {
  uint64_t rs, nr_regions;
  bio_region_range(c, bio, &rs, &nr_regions);
  if (!nr_regions) {  // a discard inside one region changes nothing
    model::bio_endio(bio);
    return;
  }
  if (c->variant.partial_discard_range) {
    // Pre-fix: only BUG_ON(re > nr_regions), which a wrapped range does not reach.
    if (rs + nr_regions > c->nr_regions && rs + nr_regions >= rs)
      sim::bug("kernel BUG at drivers/md/dm-clone-target.c: process_discard_bio: re > nr_regions");
  } else if (rs >= c->nr_regions || rs + nr_regions < rs || rs + nr_regions > c->nr_regions) {
    sim::warn_on(true, "process_discard_bio: invalid range");
    DMERR(std::string(clone_device_name(c)) + ": Invalid range (" + std::to_string(rs) + " + " +
          std::to_string(nr_regions) + ", total regions " + std::to_string(c->nr_regions) + ") for discard (" +
          std::to_string(bio->sector) + " + " + std::to_string(bio->size) + ")");
    model::bio_endio(bio);
    return;
  }
  if (dm_clone_is_range_hydrated(c->cmd.get(), rs, nr_regions)) {
    complete_discard_bio(c, bio, true);
    return;
  }
  if (get_clone_mode(c) >= CM_READ_ONLY) {
    model::bio_endio(bio);  // ignored, without error
    return;
  }
  sim::spin_lock_irq(&c->lock);
  bio->where.set(c->worker, "on clone->deferred_discard_bios, for do_worker");
  c->deferred_discard_bios.push_back(bio);
  sim::spin_unlock_irq(&c->lock);
  wake_worker(c);
}

int clone_map(DmTarget* ti, Bio* bio) {
  auto* c = static_cast<clone*>(ti->private_);
  c->ios_in_flight.add_return(1);
  if (get_clone_mode(c) == CM_FAIL) return model::DM_MAPIO_KILL;
  // dm core sends empty flushes only: the data of a PREFLUSH write comes as a bio of its own.
  if (bio->flags & model::REQ_PREFLUSH) {
    remap_to_dest(c, bio);
    issue_bio(c, bio);
    return model::DM_MAPIO_SUBMITTED;
  }
  bio->sector = model::dm_target_offset(ti, bio->sector);
  if (bio->op == model::ReqOp::Discard) {
    process_discard_bio(c, bio);
    return model::DM_MAPIO_SUBMITTED;
  }
  const uint64_t region_nr = bio_to_region(c, bio);
  if (dm_clone_is_region_hydrated(c->cmd.get(), region_nr)) {
    remap_to_dest(c, bio);
    issue_bio(c, bio);
    return model::DM_MAPIO_SUBMITTED;
  }
  if (bio->op == model::ReqOp::Read) {
    remap_to_source(c, bio);
    return model::DM_MAPIO_REMAPPED;
  }
  remap_to_dest(c, bio);
  hydrate_bio_region(c, bio);
  return model::DM_MAPIO_SUBMITTED;
}

int clone_endio(DmTarget* ti, Bio*, BlkStatus*) {
  auto* c = static_cast<clone*>(ti->private_);
  c->ios_in_flight.add_return(-1);
  return model::DM_ENDIO_DONE;
}

// ---- status and messages ----

void emit_flags(clone* c, std::string& out) {
  const bool hydration = sim::atomic_read(&c->hydration_enabled);
  const bool passdown = sim::atomic_read(&c->discard_passdown);
  out += std::to_string(int{!hydration} + int{!passdown}) + " ";
  if (!hydration) out += "no_hydration ";
  if (!passdown) out += "no_discard_passdown ";
}

void emit_core_args(clone* c, std::string& out) {
  out += "4 hydration_threshold " + std::to_string(sim::atomic_read(&c->hydration_threshold)) +
         " hydration_batch_size " + std::to_string(sim::atomic_read(&c->hydration_batch_size)) + " ";
}

void clone_status(DmTarget* ti, model::StatusType type, unsigned status_flags, std::string& result) {
  auto* c = static_cast<clone*>(ti->private_);
  result.clear();
  if (type == model::STATUSTYPE_TABLE) {
    result = c->metadata_dev->bdev->devt() + " " + c->dest_dev->bdev->devt() + " " + c->source_dev->bdev->devt();
    for (const std::string& a : c->ctr_args) result += " " + a;
    return;
  }
  if (get_clone_mode(c) == CM_FAIL) {
    result = "Fail";
    return;
  }
  // Commit so that the statistics are not out of date.
  if (!(status_flags & model::DM_STATUS_NOFLUSH_FLAG) && !model::dm_suspended(ti)) (void)commit_metadata(c, nullptr);
  uint64_t nr_free = 0, nr_blocks = 0;
  int r = dm_clone_get_free_metadata_block_count(c->cmd.get(), &nr_free);
  if (r) {
    DMERR(std::string(clone_device_name(c)) + ": dm_clone_get_free_metadata_block_count returned " + std::to_string(r));
    result = "Error";
    return;
  }
  r = dm_clone_get_metadata_dev_size(c->cmd.get(), &nr_blocks);
  if (r) {
    DMERR(std::string(clone_device_name(c)) + ": dm_clone_get_metadata_dev_size returned " + std::to_string(r));
    result = "Error";
    return;
  }
  result = std::to_string(DM_CLONE_METADATA_BLOCK_SIZE) + " " + std::to_string(nr_blocks - nr_free) + "/" +
           std::to_string(nr_blocks) + " " + std::to_string(c->region_size) + " " +
           std::to_string(dm_clone_nr_of_hydrated_regions(c->cmd.get())) + "/" + std::to_string(c->nr_regions) + " " +
           std::to_string(sim::atomic_read(&c->hydrations_in_flight)) + " ";
  emit_flags(c, result);
  emit_core_args(c, result);
  result += get_clone_mode(c) == CM_WRITE ? "rw" : "ro";
}

bool iequals(const std::string& a, const char* b) {
  const std::string bs(b);
  return a.size() == bs.size() &&
         std::equal(a.begin(), a.end(), bs.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

bool parse_u32(const std::string& s, unsigned* out) {
  uint64_t v;
  if (!model::dm_parse_u64(s, &v) || v > UINT32_MAX) return false;
  *out = static_cast<unsigned>(v);
  return true;
}

int clone_message(DmTarget* ti, const DmArgs& argv, std::string&) {
  auto* c = static_cast<clone*>(ti->private_);
  if (argv.empty()) return -EINVAL;
  if (iequals(argv[0], "enable_hydration")) {
    if (!sim::atomic_xchg(&c->hydration_enabled, 1)) wake_worker(c);
    return 0;
  }
  if (iequals(argv[0], "disable_hydration")) {
    sim::atomic_set(&c->hydration_enabled, 0);
    return 0;
  }
  if (argv.size() != 2) return -EINVAL;
  unsigned value;
  if (iequals(argv[0], "hydration_threshold")) {
    if (!parse_u32(argv[1], &value)) return -EINVAL;
    sim::atomic_set(&c->hydration_threshold, value);
    wake_worker(c);
    return 0;
  }
  if (iequals(argv[0], "hydration_batch_size")) {
    if (!parse_u32(argv[1], &value)) return -EINVAL;
    sim::atomic_set(&c->hydration_batch_size, value);
    return 0;
  }
  DMERR(std::string(clone_device_name(c)) + ": Unsupported message `" + argv[0] + "'");
  return -EINVAL;
}

// ---- suspend and resume ----

void clone_postsuspend(DmTarget* ti) {
  KFRAME();
  auto* c = static_cast<clone*>(ti->private_);
  sim::cancel_delayed_work_sync(&c->waker);
  sim::atomic_set(&c->hydration_suspended, 1);
  // Wait for every hydration, then for the worker, then commit.
  sim::wait_event(c->hydration_stopped, [c] { return !sim::atomic_read(&c->hydrations_in_flight); });
  sim::flush_workqueue(c->wq);
  (void)commit_metadata(c, nullptr);
}

void clone_resume(DmTarget* ti) {
  auto* c = static_cast<clone*>(ti->private_);
  sim::atomic_set(&c->hydration_suspended, 0);
  do_waker(c);
}

int clone_iterate_devices(DmTarget* ti, const model::IterateFn& fn) {
  auto* c = static_cast<clone*>(ti->private_);
  int r = fn(ti, c->source_dev, 0, ti->len);
  if (!r) r = fn(ti, c->dest_dev, 0, ti->len);
  return r;
}

// disable_passdown_if_not_supported and set_discard_limits.
void clone_io_hints(DmTarget* ti, model::QueueLimits* limits) {
  auto* c = static_cast<clone*>(ti->private_);
  const uint64_t io_opt_sectors = limits->io_opt >> 9;
  if (io_opt_sectors < c->region_size || io_opt_sectors % c->region_size) {
    limits->io_min = static_cast<uint32_t>(c->region_size << 9);
    limits->io_opt = static_cast<uint32_t>(c->region_size << 9);
  }
  const model::QueueLimits& dest = c->dest_dev->bdev->limits;
  if (sim::atomic_read(&c->discard_passdown)) {
    const char* reason = nullptr;
    if (!dest.max_discard_sectors)
      reason = "discard unsupported";
    else if (dest.max_discard_sectors < c->region_size)
      reason = "max discard sectors smaller than a region";
    if (reason) {
      DMWARN("Destination device (" + c->dest_dev->bdev->name() + ") " + reason + ": Disabling discard passdown.");
      sim::atomic_set(&c->discard_passdown, 0);
    }
  }
  if (!sim::atomic_read(&c->discard_passdown)) {
    limits->discard_granularity = static_cast<uint32_t>(c->region_size << 9);
    limits->max_discard_sectors = static_cast<uint32_t>((UINT32_MAX >> 9) / c->region_size * c->region_size);
  } else {
    limits->max_discard_sectors = dest.max_discard_sectors;
    limits->discard_granularity = dest.discard_granularity;
  }
}

// ---- constructor and destructor ----

void release_devices(DmTarget* ti, clone* c) {
  if (c->source_dev) model::dm_put_device(ti, c->source_dev);
  if (c->dest_dev) model::dm_put_device(ti, c->dest_dev);
  if (c->metadata_dev) model::dm_put_device(ti, c->metadata_dev);
}

int parse_feature_args(const DmArgs& argv, size_t* pos, clone* c, std::string* error) {
  if (*pos >= argv.size()) return 0;
  uint64_t argc;
  if (!model::dm_parse_u64(argv[*pos], &argc) || argc > 3) {
    *error = "Invalid number of feature arguments";
    return -EINVAL;
  }
  (*pos)++;
  if (argc > argv.size() - *pos) {
    *error = "Invalid number of feature arguments";
    return -EINVAL;
  }
  for (uint64_t i = 0; i < argc; i++, (*pos)++) {
    const std::string& a = argv[*pos];
    if (iequals(a, "no_hydration")) {
      c->hydration_enabled.set(0);
    } else if (iequals(a, "no_discard_passdown")) {
      c->discard_passdown.set(0);
    } else if (iequals(a, "discard_rw_src")) {
      c->discard_rw_src = true;  // dmsim: the proposed feature (never merged)
    } else {
      *error = "Invalid feature argument";
      return -EINVAL;
    }
  }
  return 0;
}

int parse_core_args(const DmArgs& argv, size_t* pos, clone* c, std::string* error) {
  if (*pos >= argv.size()) return 0;
  uint64_t argc;
  if (!model::dm_parse_u64(argv[*pos], &argc) || argc > 4) {
    *error = "Invalid number of core arguments";
    return -EINVAL;
  }
  (*pos)++;
  if (argc > argv.size() - *pos) {
    *error = "Invalid number of core arguments";
    return -EINVAL;
  }
  if (argc % 2) {
    *error = "Number of core arguments must be even";
    return -EINVAL;
  }
  for (uint64_t i = 0; i < argc; i += 2, *pos += 2) {
    const std::string& key = argv[*pos];
    unsigned value;
    if (iequals(key, "hydration_threshold")) {
      if (!parse_u32(argv[*pos + 1], &value)) {
        *error = "Invalid value for argument `hydration_threshold'";
        return -EINVAL;
      }
      c->hydration_threshold.set(value);
    } else if (iequals(key, "hydration_batch_size")) {
      if (!parse_u32(argv[*pos + 1], &value)) {
        *error = "Invalid value for argument `hydration_batch_size'";
        return -EINVAL;
      }
      c->hydration_batch_size.set(value);
    } else {
      *error = "Invalid core argument";
      return -EINVAL;
    }
  }
  return 0;
}

int parse_region_size(clone* c, const std::string& arg, std::string* error) {
  uint64_t region_size;
  if (!model::dm_parse_u64(arg, &region_size) || region_size > UINT32_MAX) {
    *error = "Invalid region size";
    return -EINVAL;
  }
  if (region_size < MIN_REGION_SIZE || region_size > MAX_REGION_SIZE) {
    *error = "Invalid region size";
    return -EINVAL;
  }
  if (region_size & (region_size - 1)) {
    *error = "Region size is not a power of 2";
    return -EINVAL;
  }
  const uint64_t lbs =
      std::max(c->source_dev->bdev->limits.logical_block_size, c->dest_dev->bdev->limits.logical_block_size) >> 9;
  if (region_size % lbs) {
    *error = "Region size is not a multiple of device logical block size";
    return -EINVAL;
  }
  c->region_size = region_size;
  return 0;
}

// dmsim: each commit's superblock sector and the regions it newly records hydrated (discarded
// ones left out), for the Z3 crash search's question "can the surviving superblock record a
// region whose data never reached the destination's media?" and for clone-committed-durable.
void record_commits(clone* c) {
  c->cmd->on_commit = [c](const uint8_t* block, const std::vector<uint64_t>& regions) {
    std::vector<uint8_t> copy(block, block + (DM_CLONE_METADATA_BLOCK_SIZE << 9));
    pd::validator_prepare(sb_validator, SUPERBLOCK_LOCATION, copy.data(), copy.size());
    CommitRecord rec;
    rec.metadata_device = c->metadata_path;
    rec.token = model::Sector::of_bytes(copy.data()).token;
    rec.top_device = c->device_path;
    rec.data_device = c->dest_path;
    rec.data_block_sectors = c->region_size;
    for (uint64_t r : regions) {
      const bool discarded = std::any_of(c->discarded_ranges.begin(), c->discarded_ranges.end(),
                                         [r](const auto& d) { return r >= d.first && r < d.second; });
      if (!discarded) rec.data_blocks.push_back(r);
    }
    rec.at_ns = sim::ktime_get_ns();
    journal_commit(std::move(rec));
  };
}

void clone_dtr(DmTarget* ti);

int clone_ctr(DmTarget* ti, const DmArgs& argv) {
  KFRAME();
  if (argv.size() < 4) {
    ti->error = "Invalid number of arguments";
    return -EINVAL;
  }
  auto c = std::make_unique<clone>();
  c->ti = ti;
  c->variant = clone_variant::from_knobs();
  c->bits_per_long = sim::sim_config().bits_per_long;
  auto fail = [&](const char* why, int r) {
    ti->error = why;
    release_devices(ti, c.get());
    return r;
  };
  if (model::dm_get_device(ti, argv[0], &c->metadata_dev)) return fail("Error opening metadata device", -EINVAL);
  if (c->metadata_dev->bdev->capacity() > DM_CLONE_METADATA_MAX_SECTORS_WARNING)
    DMWARN("Metadata device " + c->metadata_dev->bdev->name() + " is larger than " +
           std::to_string(DM_CLONE_METADATA_MAX_SECTORS / 2048) + " MB: excess space will not be used.");
  if (model::dm_get_device(ti, argv[1], &c->dest_dev)) return fail("Error opening destination device", -EINVAL);
  if (c->dest_dev->bdev->capacity() < ti->len) return fail("Device size larger than destination device", -EINVAL);
  if (model::dm_get_device(ti, argv[2], &c->source_dev)) return fail("Error opening source device", -EINVAL);
  if (c->source_dev->bdev->capacity() < ti->len) return fail("Device size larger than source device", -EINVAL);
  std::string error;
  if (int r = parse_region_size(c.get(), argv[3], &error)) {
    ti->error = error;
    release_devices(ti, c.get());
    return r;
  }
  c->region_shift = static_cast<unsigned>(std::countr_zero(c->region_size));
  const uint64_t nr_regions = (ti->len + c->region_size - 1) / c->region_size;
  // The count must fit in an unsigned long; the pre-fix code truncated it silently.
  if (c->bits_per_long == 32 && nr_regions > UINT32_MAX && !c->variant.nr_regions_overflow_32)
    return fail("Too many regions. Consider increasing the region size", -EOVERFLOW);
  c->nr_regions = as_ulong(c.get(), nr_regions);
  // dm-bitset allows 2^32 bits, the kernel's bit helpers 2^31.
  if (c->nr_regions > (uint64_t{1} << 31))
    return fail("Too many regions. Consider increasing the region size", -EINVAL);
  ti->max_io_len = static_cast<uint32_t>(c->region_size);
  size_t pos = 4;
  if (int r = parse_feature_args(argv, &pos, c.get(), &error)) {
    ti->error = error;
    release_devices(ti, c.get());
    return r;
  }
  if (int r = parse_core_args(argv, &pos, c.get(), &error)) {
    ti->error = error;
    release_devices(ti, c.get());
    return r;
  }
  if (pos < argv.size()) return fail("Invalid number of arguments", -EINVAL);
  clone_metadata_variant mv;
  mv.single_phase_commit = c->variant.single_phase_commit;
  mv.inexact_dirty_tracking = c->variant.inexact_dirty_tracking;
  mv.no_range_checks = c->variant.partial_discard_range;
  mv.hydrated_count_sign_extension = c->variant.hydrated_count_sign_extension;
  int r = 0;
  c->cmd = dm_clone_metadata_open(c->metadata_dev->bdev, ti->len, c->region_size, c->bits_per_long, mv, &r);
  if (!c->cmd) return fail("Failed to load metadata", r);
  c->device_path = "/dev/mapper/" + model::dm_device_name(model::dm_table_get_md(ti->table));
  c->metadata_path = c->metadata_dev->name;
  c->dest_path = c->dest_dev->name;
  record_commits(c.get());
  c->mode = CM_WRITE;  // __set_clone_mode(clone, CM_WRITE)
  dm_clone_metadata_set_read_write(c->cmd.get());
  c->last_commit_jiffies = sim::jiffies();
  c->wq = sim::alloc_workqueue("dm-clone", sim::WQ_MEM_RECLAIM, 0);
  c->kcopyd_client = std::make_unique<DmKcopydClient>(&clone_hydration_throttle());
  for (size_t i = 3; i < argv.size(); i++) c->ctr_args.push_back(argv[i]);
  ti->num_flush_bios = 1;
  ti->flush_supported = true;
  ti->num_discard_bios = 1;
  ti->discards_supported = true;
  ti->unwritten_reads_elsewhere = true;
  clone* raw = c.release();
  ti->private_ = raw;
  journal_event({.kind = JournalEvent::CloneDevice,
                 .device = raw->device_path,
                 .metadata_device = raw->metadata_path,
                 .block_sectors = raw->region_size,
                 .external_origin = true,
                 .origin_device = raw->source_dev->name,
                 .at_ns = sim::ktime_get_ns(),
                 .data_device = raw->dest_path});
  return 0;
}

void clone_dtr(DmTarget* ti) {
  auto* c = static_cast<clone*>(ti->private_);
  c->kcopyd_client.reset();
  sim::cancel_delayed_work_sync(&c->waker);
  sim::destroy_workqueue(c->wq);
  dm_clone_metadata_close(std::move(c->cmd));
  release_devices(ti, c);
  delete c;
}

// Coverage for dmsim explore: the metadata mode, how far hydration got (none, some, all),
// whether it runs, and what waits; bounded so that states repeat.
std::string clone_state_signature(DmTarget* ti) {
  const clone* c = static_cast<const clone*>(ti->private_);
  if (!c || !c->cmd) return "no-metadata";
  static const char* const modes[] = {"rw", "ro", "fail"};
  std::string sig = std::string("mode=") + modes[c->mode];
  // The bitmap is only counted when small: a signature is read after every step.
  if (c->cmd->hydration_done)
    sig += " hydrated=all";
  else if (c->nr_regions <= (1u << 20))
    sig += c->cmd->region_map.weight() == 0 ? " hydrated=none" : " hydrated=some";
  if (!c->hydration_enabled.read()) sig += " no-hydration";
  if (c->hydrations_in_flight.read()) sig += " hydrating";
  if (!c->ht.empty()) sig += " records";
  if (!c->deferred_bios.empty() || !c->deferred_discard_bios.empty()) sig += " deferred";
  if (!c->deferred_flush_bios.empty()) sig += " flushes-deferred";
  if (c->discard_rw_src) sig += " discard-rw-src";
  return sig;
}

const model::TargetType clone_target = {
    .name = "clone",
    .version = {1, 0, 0},
    .ctr = clone_ctr,
    .dtr = clone_dtr,
    .map = clone_map,
    .end_io = clone_endio,
    .postsuspend = clone_postsuspend,
    .resume = clone_resume,
    .status = clone_status,
    .message = clone_message,
    .iterate_devices = clone_iterate_devices,
    .io_hints = clone_io_hints,
    .state_signature = clone_state_signature,
};

}  // namespace

void register_clone_target() {
  model::dm_register_target(&clone_target);
  // DECLARE_DM_KCOPYD_THROTTLE_WITH_MODULE_PARM: the throttle's percentage is the parameter.
  register_module_param({.module = "dm_clone",
                         .name = "clone_hydration_throttle",
                         .description = "A percentage of time allocated for hydrating regions",
                         .value = &clone_hydration_throttle().throttle});
}

}  // namespace engines::clone
