// The thin-pool and thin targets (drivers/md/dm-thin.c). One `pool` per metadata device is shared
// by every pool table loaded on it; thin devices send their I/O to the pool device. The map path
// remaps blocks that are provisioned and not shared; everything else goes to the pool's single
// worker, which provisions (zeroing or copying by kcopyd), breaks sharing, and commits. A mapping
// is inserted only after the write that fills its block has completed, and flush/FUA bios of a
// thin device changed in the transaction wait for the commit, which first flushes the data device.
#include <algorithm>
#include <cstring>
#include <deque>
#include <list>
#include <map>

#include "engines/journal.hpp"
#include "engines/lib/kcopyd.hpp"
#include "engines/thin/bio_prison.hpp"
#include "engines/thin/thin.hpp"
#include "engines/thin/thin_metadata.hpp"
#include "model/content.hpp"
#include "model/dm/dm_target.hpp"
#include "model/dm/mapped_device.hpp"
#include "model/errno.hpp"
#include "model/sync_io.hpp"
#include "sim/kernel.hpp"

namespace engines::thin {

using model::Bio;
using model::BlkStatus;
using model::DmArgs;
using model::DmDev;
using model::DmTarget;

namespace {

void DMERR(const std::string& msg) {
  model::dm_log("thin", msg);
}
void DMWARN(const std::string& msg) {
  model::dm_log_warn("thin", msg);
}
void DMINFO(const std::string& msg) {
  model::dm_log_info("thin", msg);
}

constexpr uint64_t COMMIT_PERIOD_MS = 1000;  // HZ
constexpr unsigned NO_SPACE_TIMEOUT_SECS = 60;
constexpr uint64_t DATA_DEV_BLOCK_SIZE_MIN_SECTORS = 128;
constexpr uint64_t DATA_DEV_BLOCK_SIZE_MAX_SECTORS = 2097152;

enum pool_mode { PM_WRITE, PM_OUT_OF_DATA_SPACE, PM_OUT_OF_METADATA_SPACE, PM_READ_ONLY, PM_FAIL };

struct pool_features {
  pool_mode mode = PM_WRITE;
  bool zero_new_blocks = true;
  bool discard_enabled = true;
  bool discard_passdown = true;
  bool error_if_no_space = false;
};

struct thin_c;
struct pool;

// struct dm_thin_new_mapping: a block being provisioned (or a range being discarded), ready for
// the worker once every preparation action (quiesce, copy, zero, overwrite) has completed.
struct dm_thin_new_mapping {
  bool pass_discard = false, maybe_shared = false;
  int prepare_actions = 0;
  BlkStatus status = model::BLK_STS_OK;
  thin_c* tc = nullptr;
  uint64_t virt_begin = 0, virt_end = 0, data_block = 0;
  dm_bio_prison_cell* cell = nullptr;
  Bio* bio = nullptr;  // a whole-block overwrite or the discard being processed
  std::function<void(Bio*)> saved_end_io;
};

struct dm_thin_endio_hook {
  thin_c* tc = nullptr;
  int shared_read_entry = -1;
  int all_io_entry = -1;
  dm_thin_new_mapping* overwrite_mapping = nullptr;
  dm_bio_prison_cell* cell = nullptr;  // the virtual cell a passdown discard holds until it ends
};

struct pool_c;

struct pool {
  model::MappedDevice* pool_md = nullptr;
  model::BlockDevice* md_dev = nullptr;
  model::BlockDevice* data_dev = nullptr;  // the fixed kernel keeps it here, for the pre-commit flush
  std::string metadata_dev_name;           // dmsim: as the first table named it, for the journal
  DmTarget* ti = nullptr;                  // the live table's pool target (bind_control_target)
  std::unique_ptr<dm_pool_metadata> pmd;

  uint32_t sectors_per_block = 0;
  int sectors_per_block_shift = -1;
  pool_features pf;
  bool low_water_triggered = false;
  bool suspended = true;
  bool out_of_data_space = false;
  uint64_t low_water_blocks = 0;

  DmBioPrison prison;
  std::unique_ptr<DmKcopydClient> copier;
  sim::Workqueue* wq = nullptr;
  sim::WorkStruct worker;
  sim::DelayedWork waker;
  sim::DelayedWork no_space_timeout;

  sim::Spinlock lock{"pool->lock"};
  std::vector<Bio*> deferred_flush_bios, deferred_flush_completions;
  std::deque<dm_thin_new_mapping*> prepared_mappings, prepared_discards, prepared_discards_pt2;
  std::list<thin_c*> active_thins;
  DmDeferredSet shared_read_ds, all_io_ds;
  uint64_t last_commit_jiffies = 0;
  unsigned ref_count = 1;

  thin_variant variant;
  KmemOwner kmem{"dm-thin pool"};
  std::vector<std::unique_ptr<pool_c>> freed_pool_cs;  // dmsim: kept to detect their use after free

  pool();
};

struct pool_c {
  DmTarget* ti = nullptr;
  pool* p = nullptr;
  DmDev* data_dev = nullptr;
  DmDev* metadata_dev = nullptr;
  model::BlockDevice* data_bdev = nullptr;  // dmsim: outlives data_dev, for the use-after-free variant
  uint64_t low_water_blocks = 0;
  pool_features requested_pf, adjusted_pf;
  bool freed = false;  // dmsim: the kernel would have kfree'd it
};

struct thin_c {
  DmTarget* ti = nullptr;
  DmDev* pool_dev = nullptr;
  DmDev* origin_dev = nullptr;
  uint64_t origin_size = 0;
  uint64_t dev_id = 0;
  pool* p = nullptr;
  dm_thin_device* td = nullptr;
  bool requeue_mode = false;
  sim::Spinlock lock{"tc->lock"};
  std::vector<dm_bio_prison_cell*> deferred_cells;
  std::vector<Bio*> deferred_bio_list;
  std::vector<Bio*> retry_on_resume_list;
  // thin_get/thin_put: the worker holds a reference while it works on the thin; thin_dtr drops
  // the table's and waits for can_destroy before freeing it.
  int refcount = 1;
  sim::Completion can_destroy{"tc->can_destroy"};
};

void thin_get(thin_c* tc) {
  tc->refcount++;
}

void thin_put(thin_c* tc) {
  if (--tc->refcount == 0) tc->can_destroy.complete();
}

// The thins on the pool's active list (get_first_thin/get_next_thin): each is referenced for the
// walk, so that one whose table is destroyed meanwhile stays valid, and is skipped once it has
// left the list.
template <class Fn>
void for_each_active_thin(pool* p, Fn fn);

// ---- the pool table (dm_thin_pool_table) ----

std::list<pool*>& pool_table() {
  static std::list<pool*> t;
  return t;
}

pool* __pool_table_lookup(model::MappedDevice* md) {
  for (pool* p : pool_table())
    if (p->pool_md == md) return p;
  return nullptr;
}

pool* __pool_table_lookup_metadata_dev(model::BlockDevice* md_dev) {
  for (pool* p : pool_table())
    if (p->md_dev == md_dev) return p;
  return nullptr;
}

std::vector<std::string>& metadata_device_history() {
  static std::vector<std::string> h;
  return h;
}

// ---- helpers ----

pool_mode get_pool_mode(const pool* p) {
  return p->pf.mode;
}

bool is_read_only_pool_mode(pool_mode m) {
  return m == PM_OUT_OF_METADATA_SPACE || m == PM_READ_ONLY;
}

bool block_size_is_power_of_two(const pool* p) {
  return p->sectors_per_block_shift >= 0;
}

uint64_t get_bio_block(const thin_c* tc, const Bio* bio) {
  const pool* p = tc->p;
  const uint64_t s = bio->sector;
  return block_size_is_power_of_two(p) ? s >> p->sectors_per_block_shift : s / p->sectors_per_block;
}

void remap(thin_c* tc, Bio* bio, uint64_t block) {
  const pool* p = tc->p;
  const uint64_t off =
      block_size_is_power_of_two(p) ? (bio->sector & (p->sectors_per_block - 1)) : bio->sector % p->sectors_per_block;
  bio->bdev = tc->pool_dev->bdev;
  bio->sector = block * p->sectors_per_block + off;
}

void remap_to_origin(thin_c* tc, Bio* bio) {
  bio->bdev = tc->origin_dev->bdev;
}

bool bio_triggers_commit(thin_c* tc, const Bio* bio) {
  return model::op_is_flush(bio->flags) && dm_thin_changed_this_transaction(tc->td);
}

void inc_all_io_entry(pool* p, Bio* bio) {
  if (bio->op == model::ReqOp::Discard) return;
  auto* h = model::dm_per_bio_data<dm_thin_endio_hook>(bio);
  h->all_io_entry = static_cast<int>(p->all_io_ds.entry_inc());
}

void zero_fill_bio(Bio* bio) {
  for (uint32_t i = 0; i < bio->size; i++) bio->data()[i] = model::Sector{};
}

void wake_worker(pool* p) {
  sim::queue_work(p->wq, &p->worker);
}

// issue: a flush/FUA bio of a thin device changed in this transaction waits for the commit.
void issue(thin_c* tc, Bio* bio) {
  pool* p = tc->p;
  if (!bio_triggers_commit(tc, bio)) {
    model::submit_bio(bio);
    return;
  }
  if (dm_thin_aborted_changes(tc->td)) {
    model::bio_io_error(bio);
    return;
  }
  bio->where.set(p->worker, "on pool->deferred_flush_bios, for the next commit");
  sim::spin_lock(&p->lock);
  p->deferred_flush_bios.push_back(bio);
  sim::spin_unlock(&p->lock);
}

void remap_and_issue(thin_c* tc, Bio* bio, uint64_t block) {
  remap(tc, bio, block);
  issue(tc, bio);
}

void remap_to_origin_and_issue(thin_c* tc, Bio* bio) {
  remap_to_origin(tc, bio);
  issue(tc, bio);
}

void thin_defer_bio(thin_c* tc, Bio* bio) {
  bio->where.set(tc->p->worker, "on tc->deferred_bio_list, for do_worker");
  sim::spin_lock(&tc->lock);
  tc->deferred_bio_list.push_back(bio);
  sim::spin_unlock(&tc->lock);
  wake_worker(tc->p);
}

void thin_defer_cell(thin_c* tc, dm_bio_prison_cell* cell) {
  if (cell->holder) cell->holder->where.set(tc->p->worker, "held in a bio prison cell, for do_worker");
  sim::spin_lock(&tc->lock);
  tc->deferred_cells.push_back(cell);
  sim::spin_unlock(&tc->lock);
  wake_worker(tc->p);
}

// cell_defer_no_holder: the inmates go back to the worker.
void cell_defer_no_holder(thin_c* tc, dm_bio_prison_cell* cell) {
  std::vector<Bio*> bios;
  tc->p->prison.release_no_holder(cell, &bios);
  for (Bio* b : bios) thin_defer_bio(tc, b);
}

BlkStatus error_status(const pool* p) {
  return p->out_of_data_space ? model::BLK_STS_NOSPC : model::BLK_STS_IOERR;
}

void cell_error_with_code(pool* p, dm_bio_prison_cell* cell, BlkStatus st) {
  std::vector<Bio*> bios;
  p->prison.release(cell, &bios);
  for (Bio* b : bios) {
    b->status = st;
    model::bio_endio(b);
  }
}

void cell_error(pool* p, dm_bio_prison_cell* cell) {
  cell_error_with_code(p, cell, error_status(p));
}

void cell_success(pool* p, dm_bio_prison_cell* cell) {
  cell_error_with_code(p, cell, model::BLK_STS_OK);
}

void cell_requeue(pool* p, dm_bio_prison_cell* cell) {
  cell_error_with_code(p, cell, model::BLK_STS_DM_REQUEUE);
}

// __inc_remap_and_issue_cell: inmates that need the worker (flush/FUA, discard) are deferred,
// the others are sent to `block` at once.
void inc_remap_and_issue_cell(thin_c* tc, dm_bio_prison_cell* cell, uint64_t block) {
  std::vector<Bio*> defer, issue_now;
  tc->p->prison.visit_release(cell, [&](dm_bio_prison_cell* c) {
    for (Bio* b : c->bios) {
      if (model::op_is_flush(b->flags) || b->op == model::ReqOp::Discard) {
        defer.push_back(b);
      } else {
        inc_all_io_entry(tc->p, b);
        issue_now.push_back(b);
      }
    }
  });
  for (Bio* b : defer) thin_defer_bio(tc, b);
  for (Bio* b : issue_now) remap_and_issue(tc, b, block);
}

// remap_and_issue_shared_cell: reads go to the shared block; writes wait for the worker.
void remap_and_issue_shared_cell(thin_c* tc, dm_bio_prison_cell* cell, uint64_t block) {
  std::vector<Bio*> defer, issue_now;
  pool* p = tc->p;
  p->prison.visit_release(cell, [&](dm_bio_prison_cell* c) {
    for (Bio* b : c->bios) {
      if (b->op != model::ReqOp::Read || model::op_is_flush(b->flags)) {
        defer.push_back(b);
      } else {
        auto* h = model::dm_per_bio_data<dm_thin_endio_hook>(b);
        h->shared_read_entry = static_cast<int>(p->shared_read_ds.entry_inc());
        inc_all_io_entry(p, b);
        issue_now.push_back(b);
      }
    }
  });
  for (Bio* b : defer) thin_defer_bio(tc, b);
  for (Bio* b : issue_now) remap_and_issue(tc, b, block);
}

// ---- pool modes ----

void set_pool_mode(pool* p, pool_mode new_mode);

void notify_of_pool_mode_change(pool* p) {
  static const char* const names[] = {"write", "out-of-data-space", "read-only", "read-only", "fail"};
  std::string extra;
  if (get_pool_mode(p) == PM_OUT_OF_DATA_SPACE) extra = p->pf.error_if_no_space ? " (error IO)" : " (queue IO)";
  DMINFO(std::string(dm_device_name(p->pool_md)) + ": switching pool to " + names[get_pool_mode(p)] + extra + " mode");
}

void error_retry_list_with_code(pool* p, BlkStatus st) {
  for_each_active_thin(p, [st](thin_c* tc) {
    std::vector<Bio*> bios;
    sim::spin_lock(&tc->lock);
    bios.swap(tc->retry_on_resume_list);
    sim::spin_unlock(&tc->lock);
    for (Bio* b : bios) {
      b->status = st;
      model::bio_endio(b);
    }
  });
}

void error_retry_list(pool* p) {
  error_retry_list_with_code(p, error_status(p));
}

// requeue_bios: the retry lists go back to the deferred lists.
void requeue_bios(pool* p) {
  for_each_active_thin(p, [](thin_c* tc) {
    sim::spin_lock(&tc->lock);
    for (Bio* b : tc->retry_on_resume_list) tc->deferred_bio_list.push_back(b);
    tc->retry_on_resume_list.clear();
    sim::spin_unlock(&tc->lock);
  });
}

void abort_transaction(pool* p) {
  DMERR(std::string(dm_device_name(p->pool_md)) + ": aborting current metadata transaction");
  if (dm_pool_abort_metadata(p->pmd.get())) {
    DMERR(std::string(dm_device_name(p->pool_md)) + ": failed to abort metadata transaction");
    set_pool_mode(p, PM_FAIL);
  }
  if (dm_pool_metadata_set_needs_check(p->pmd.get())) {
    DMERR(std::string(dm_device_name(p->pool_md)) + ": failed to set 'needs_check' flag in metadata");
    set_pool_mode(p, PM_FAIL);
  }
}

void metadata_operation_failed(pool* p, const char* op, int r) {
  DMERR(std::string(dm_device_name(p->pool_md)) + ": metadata operation '" + op +
        "' failed: error = " + std::to_string(r));
  abort_transaction(p);
  set_pool_mode(p, PM_READ_ONLY);
}

void set_pool_mode(pool* p, pool_mode new_mode) {
  const pool_mode old_mode = get_pool_mode(p);
  // Never leave fail mode; never go back to write while the metadata needs checking.
  if (new_mode == PM_WRITE && dm_pool_metadata_needs_check(p->pmd.get())) {
    DMERR(std::string(dm_device_name(p->pool_md)) + ": unable to switch pool to write mode until repaired.");
    new_mode = old_mode != new_mode ? old_mode : PM_READ_ONLY;
  }
  if (old_mode == PM_FAIL) new_mode = old_mode;

  switch (new_mode) {
    case PM_FAIL:
      dm_pool_metadata_read_only(p->pmd.get());
      error_retry_list(p);
      break;
    case PM_OUT_OF_METADATA_SPACE:
    case PM_READ_ONLY:
      dm_pool_metadata_read_only(p->pmd.get());
      error_retry_list(p);
      break;
    case PM_OUT_OF_DATA_SPACE:
      p->out_of_data_space = true;
      if (!p->pf.error_if_no_space && NO_SPACE_TIMEOUT_SECS)
        sim::queue_delayed_work(p->wq, &p->no_space_timeout, sim::msecs_to_jiffies(NO_SPACE_TIMEOUT_SECS * 1000));
      break;
    case PM_WRITE:
      if (old_mode == PM_OUT_OF_DATA_SPACE) sim::cancel_delayed_work_sync(&p->no_space_timeout);
      p->out_of_data_space = false;
      if (p->ti) p->pf.error_if_no_space = static_cast<pool_c*>(p->ti->private_)->requested_pf.error_if_no_space;
      dm_pool_metadata_read_write(p->pmd.get());
      break;
  }
  p->pf.mode = new_mode;
  // The control target's adjusted features follow, so a later preresume does not flip it back.
  if (p->ti) static_cast<pool_c*>(p->ti->private_)->adjusted_pf.mode = new_mode;
  if (new_mode != old_mode) notify_of_pool_mode_change(p);
}

// ---- commit and space ----

// commit: no I/O once the metadata is read-only; a successful commit re-checks both spaces.
int commit(pool* p) {
  KFRAME();
  if (get_pool_mode(p) >= PM_OUT_OF_METADATA_SPACE) return -EINVAL;
  int r = dm_pool_commit_metadata(p->pmd.get());
  if (r) {
    metadata_operation_failed(p, "dm_pool_commit_metadata", r);
    return r;
  }
  uint64_t nr_free = 0;
  if (dm_pool_get_free_metadata_block_count(p->pmd.get(), &nr_free) || !nr_free) {
    if (!is_read_only_pool_mode(get_pool_mode(p))) {
      DMERR("No free metadata blocks");
      set_pool_mode(p, PM_OUT_OF_METADATA_SPACE);
    }
  }
  if (get_pool_mode(p) == PM_OUT_OF_DATA_SPACE && !dm_pool_get_free_block_count(p->pmd.get(), &nr_free) && nr_free) {
    set_pool_mode(p, PM_WRITE);
    requeue_bios(p);
  }
  return 0;
}

void check_low_water_mark(pool* p, uint64_t free_blocks) {
  if (free_blocks <= p->low_water_blocks && !p->low_water_triggered) {
    DMWARN(std::string(dm_device_name(p->pool_md)) + ": reached low water mark for data device: sending event.");
    p->low_water_triggered = true;
  }
}

int alloc_data_block(thin_c* tc, uint64_t* result) {
  KFRAME();
  pool* p = tc->p;
  if (sim::warn_on(get_pool_mode(p) != PM_WRITE, "alloc_data_block outside write mode")) return -EINVAL;
  uint64_t free_blocks = 0;
  int r = dm_pool_get_free_block_count(p->pmd.get(), &free_blocks);
  if (r) {
    metadata_operation_failed(p, "dm_pool_get_free_block_count", r);
    return r;
  }
  check_low_water_mark(p, free_blocks);
  if (!free_blocks) {
    // A commit makes the blocks freed in this transaction allocatable.
    r = commit(p);
    if (r) return r;
    r = dm_pool_get_free_block_count(p->pmd.get(), &free_blocks);
    if (r) {
      metadata_operation_failed(p, "dm_pool_get_free_block_count", r);
      return r;
    }
    if (!free_blocks) {
      set_pool_mode(p, PM_OUT_OF_DATA_SPACE);
      return -ENOSPC;
    }
  }
  r = dm_pool_alloc_data_block(p->pmd.get(), result);
  if (r) {
    if (r == -ENOSPC)
      set_pool_mode(p, PM_OUT_OF_DATA_SPACE);
    else
      metadata_operation_failed(p, "dm_pool_alloc_data_block", r);
    return r;
  }
  r = dm_pool_get_free_metadata_block_count(p->pmd.get(), &free_blocks);
  if (r) {
    metadata_operation_failed(p, "dm_pool_get_free_metadata_block_count", r);
    return r;
  }
  if (!free_blocks) return commit(p);  // commit before the metadata reserve is used up
  return 0;
}

// should_error_unserviceable_bio: 0 means "queue it for the resume".
BlkStatus should_error_unserviceable_bio(pool* p) {
  switch (get_pool_mode(p)) {
    case PM_WRITE:
      DMERR("bio unserviceable, yet pool is in PM_WRITE mode");
      return model::BLK_STS_IOERR;
    case PM_OUT_OF_DATA_SPACE:
      return p->pf.error_if_no_space ? model::BLK_STS_NOSPC : model::BLK_STS_OK;
    default:
      return model::BLK_STS_IOERR;
  }
}

void retry_on_resume(thin_c* tc, Bio* bio) {
  bio->where.set(tc->p->worker, "on tc->retry_on_resume_list, until the pool has space or resumes");
  sim::spin_lock(&tc->lock);
  tc->retry_on_resume_list.push_back(bio);
  sim::spin_unlock(&tc->lock);
}

void handle_unserviceable_bio(thin_c* tc, Bio* bio) {
  const BlkStatus st = should_error_unserviceable_bio(tc->p);
  if (st) {
    bio->status = st;
    model::bio_endio(bio);
  } else {
    retry_on_resume(tc, bio);
  }
}

void retry_bios_on_resume(thin_c* tc, dm_bio_prison_cell* cell) {
  const BlkStatus st = should_error_unserviceable_bio(tc->p);
  if (st) {
    cell_error_with_code(tc->p, cell, st);
    return;
  }
  std::vector<Bio*> bios;
  tc->p->prison.release(cell, &bios);
  for (Bio* b : bios) retry_on_resume(tc, b);
}

// ---- provisioning ----

void complete_mapping_preparation(dm_thin_new_mapping* m) {
  pool* p = m->tc->p;
  if (--m->prepare_actions == 0) {
    sim::spin_lock(&p->lock);
    p->prepared_mappings.push_back(m);
    sim::spin_unlock(&p->lock);
    wake_worker(p);
  }
}

void copy_complete(dm_thin_new_mapping* m, int read_err, unsigned long write_err) {
  m->status = (read_err || write_err) ? model::BLK_STS_IOERR : model::BLK_STS_OK;
  complete_mapping_preparation(m);
}

void overwrite_endio(Bio* bio) {
  auto* h = model::dm_per_bio_data<dm_thin_endio_hook>(bio);
  dm_thin_new_mapping* m = h->overwrite_mapping;
  bio->end_io = std::move(m->saved_end_io);
  bio->remaining = 1;  // it is ended again when the mapping is in place
  m->status = bio->status;
  complete_mapping_preparation(m);
}

bool io_overwrites_block(const pool* p, const Bio* bio) {
  return bio->op == model::ReqOp::Write && bio->size == p->sectors_per_block;
}

// A whole-block write fills the new block itself: no zeroing or copy, the bio is the data.
void remap_and_issue_overwrite(thin_c* tc, Bio* bio, uint64_t data_begin, dm_thin_new_mapping* m) {
  auto* h = model::dm_per_bio_data<dm_thin_endio_hook>(bio);
  h->overwrite_mapping = m;
  m->bio = bio;
  m->saved_end_io = std::move(bio->end_io);
  bio->end_io = overwrite_endio;
  inc_all_io_entry(tc->p, bio);
  remap_and_issue(tc, bio, data_begin);
}

void ll_zero(thin_c* tc, dm_thin_new_mapping* m, uint64_t begin, uint64_t end) {
  DmIoRegion to{tc->pool_dev->bdev, begin, end - begin};
  tc->p->copier->zero({to}, 0, [m](int re, unsigned long we) { copy_complete(m, re, we); });
}

void process_prepared_mapping(dm_thin_new_mapping* m);

dm_thin_new_mapping* get_next_mapping(thin_c* tc) {
  auto* m = new dm_thin_new_mapping;
  m->tc = tc;
  return m;
}

void schedule_copy(thin_c* tc, uint64_t virt_block, model::BlockDevice* origin, uint64_t data_origin,
                   uint64_t data_dest, dm_bio_prison_cell* cell, Bio* bio, uint64_t len) {
  pool* p = tc->p;
  dm_thin_new_mapping* m = get_next_mapping(tc);
  m->virt_begin = virt_block;
  m->virt_end = virt_block + 1;
  m->data_block = data_dest;
  m->cell = cell;
  // Quiesce + copy + our own reference, which keeps m alive until everything is issued.
  m->prepare_actions = 3;
  if (!p->shared_read_ds.add_work([m] { complete_mapping_preparation(m); })) complete_mapping_preparation(m);

  if (io_overwrites_block(p, bio)) {
    remap_and_issue_overwrite(tc, bio, data_dest, m);
  } else {
    DmIoRegion from{origin, data_origin * p->sectors_per_block, len};
    DmIoRegion to{tc->pool_dev->bdev, data_dest * p->sectors_per_block, len};
    p->copier->copy(from, {to}, 0, [m](int re, unsigned long we) { copy_complete(m, re, we); });
    // A partial copy (external origin ending inside the block) zeroes the rest.
    if (len < p->sectors_per_block && p->pf.zero_new_blocks) {
      m->prepare_actions++;
      ll_zero(tc, m, data_dest * p->sectors_per_block + len, (data_dest + 1) * p->sectors_per_block);
    }
  }
  complete_mapping_preparation(m);
}

void schedule_internal_copy(thin_c* tc, uint64_t virt_block, uint64_t data_origin, uint64_t data_dest,
                            dm_bio_prison_cell* cell, Bio* bio) {
  schedule_copy(tc, virt_block, tc->pool_dev->bdev, data_origin, data_dest, cell, bio, tc->p->sectors_per_block);
}

void schedule_zero(thin_c* tc, uint64_t virt_block, uint64_t data_block, dm_bio_prison_cell* cell, Bio* bio) {
  pool* p = tc->p;
  dm_thin_new_mapping* m = get_next_mapping(tc);
  m->virt_begin = virt_block;
  m->virt_end = virt_block + 1;
  m->data_block = data_block;
  m->cell = cell;
  m->prepare_actions = 1;  // no quiescing needed for a fresh block
  if (p->pf.zero_new_blocks) {
    if (io_overwrites_block(p, bio))
      remap_and_issue_overwrite(tc, bio, data_block, m);
    else
      ll_zero(tc, m, data_block * p->sectors_per_block, (data_block + 1) * p->sectors_per_block);
  } else {
    // skip_block_zeroing: the mapping is inserted before any data is written.
    m->prepare_actions = 0;
    process_prepared_mapping(m);
  }
}

void schedule_external_copy(thin_c* tc, uint64_t virt_block, uint64_t data_dest, dm_bio_prison_cell* cell, Bio* bio) {
  pool* p = tc->p;
  const uint64_t virt_block_begin = virt_block * p->sectors_per_block;
  const uint64_t virt_block_end = (virt_block + 1) * p->sectors_per_block;
  if (virt_block_end <= tc->origin_size)
    schedule_copy(tc, virt_block, tc->origin_dev->bdev, virt_block, data_dest, cell, bio, p->sectors_per_block);
  else if (virt_block_begin < tc->origin_size)
    schedule_copy(tc, virt_block, tc->origin_dev->bdev, virt_block, data_dest, cell, bio,
                  tc->origin_size - virt_block_begin);
  else
    schedule_zero(tc, virt_block, data_dest, cell, bio);
}

// complete_overwrite_bio: a flush/FUA overwrite is acknowledged only after the commit that makes
// its mapping durable (4ae280b4ee34); before that fix it completed here.
void complete_overwrite_bio(thin_c* tc, Bio* bio) {
  pool* p = tc->p;
  if (p->variant.fua_overwrite_early_completion || !bio_triggers_commit(tc, bio)) {
    model::bio_endio(bio);
    return;
  }
  if (dm_thin_aborted_changes(tc->td)) {
    model::bio_io_error(bio);
    return;
  }
  bio->where.set(p->worker, "on pool->deferred_flush_completions, for the next commit");
  sim::spin_lock(&p->lock);
  p->deferred_flush_completions.push_back(bio);
  sim::spin_unlock(&p->lock);
}

// process_prepared_mapping: the data is written (in the data device's cache); now the mapping.
void process_prepared_mapping(dm_thin_new_mapping* m) {
  KFRAME();
  thin_c* tc = m->tc;
  pool* p = tc->p;
  if (get_pool_mode(p) >= PM_OUT_OF_METADATA_SPACE || m->status) {
    cell_error(p, m->cell);
    delete m;
    return;
  }
  int r = dm_thin_insert_block(tc->td, m->virt_begin, m->data_block);
  if (r) {
    metadata_operation_failed(p, "dm_thin_insert_block", r);
    cell_error(p, m->cell);
    delete m;
    return;
  }
  if (Bio* bio = m->bio) {
    inc_remap_and_issue_cell(tc, m->cell, m->data_block);
    complete_overwrite_bio(tc, bio);
  } else {
    Bio* holder = m->cell->holder;
    inc_all_io_entry(p, holder);
    remap_and_issue(tc, holder, m->data_block);
    inc_remap_and_issue_cell(tc, m->cell, m->data_block);
  }
  delete m;
}

void break_sharing(thin_c* tc, Bio* bio, uint64_t block, const dm_thin_lookup_result& lookup,
                   dm_bio_prison_cell* data_cell) {
  uint64_t data_block = 0;
  const int r = alloc_data_block(tc, &data_block);
  if (r == 0)
    schedule_internal_copy(tc, block, lookup.block, data_block, data_cell, bio);
  else if (r == -ENOSPC)
    retry_bios_on_resume(tc, data_cell);
  else
    cell_error(tc->p, data_cell);
}

dm_cell_key virtual_key(const thin_c* tc, uint64_t b, uint64_t e) {
  return dm_cell_key{true, dm_thin_dev_id(tc->td), b, e};
}

dm_cell_key data_key(const thin_c* tc, uint64_t b, uint64_t e) {
  return dm_cell_key{false, dm_thin_dev_id(tc->td), b, e};
}

void process_shared_bio(thin_c* tc, Bio* bio, uint64_t block, const dm_thin_lookup_result& lookup,
                        dm_bio_prison_cell* virt_cell) {
  pool* p = tc->p;
  dm_bio_prison_cell* data_cell;
  // One breaking of sharing per data block at a time.
  if (p->prison.detain(data_key(tc, lookup.block, lookup.block + 1), bio, &data_cell)) {
    cell_defer_no_holder(tc, virt_cell);
    return;
  }
  if (bio->op == model::ReqOp::Write && bio->size) {
    break_sharing(tc, bio, block, lookup, data_cell);
    cell_defer_no_holder(tc, virt_cell);
  } else {
    auto* h = model::dm_per_bio_data<dm_thin_endio_hook>(bio);
    h->shared_read_entry = static_cast<int>(p->shared_read_ds.entry_inc());
    inc_all_io_entry(p, bio);
    remap_and_issue(tc, bio, lookup.block);
    remap_and_issue_shared_cell(tc, data_cell, lookup.block);
    remap_and_issue_shared_cell(tc, virt_cell, lookup.block);
  }
}

void provision_block(thin_c* tc, Bio* bio, uint64_t block, dm_bio_prison_cell* cell) {
  pool* p = tc->p;
  if (!bio->size) {  // an empty flush: nothing to provision, it goes down as it is
    inc_all_io_entry(p, bio);
    cell_defer_no_holder(tc, cell);
    remap_and_issue(tc, bio, 0);
    return;
  }
  if (bio->op == model::ReqOp::Read) {
    zero_fill_bio(bio);
    cell_defer_no_holder(tc, cell);
    model::bio_endio(bio);
    return;
  }
  uint64_t data_block = 0;
  const int r = alloc_data_block(tc, &data_block);
  if (r == 0) {
    if (tc->origin_dev)
      schedule_external_copy(tc, block, data_block, cell, bio);
    else
      schedule_zero(tc, block, data_block, cell, bio);
  } else if (r == -ENOSPC) {
    retry_bios_on_resume(tc, cell);
  } else {
    cell_error(p, cell);
  }
}

// An unprovisioned read: the external origin, clipped and zero-filled past its end, or zeroes.
void read_unprovisioned_from_origin(thin_c* tc, Bio* bio, dm_bio_prison_cell* cell) {
  inc_all_io_entry(tc->p, bio);
  cell_defer_no_holder(tc, cell);
  if (bio->end_sector() <= tc->origin_size) {
    remap_to_origin_and_issue(tc, bio);
  } else if (bio->sector < tc->origin_size) {
    zero_fill_bio(bio);
    bio->size = static_cast<uint32_t>(tc->origin_size - bio->sector);
    remap_to_origin_and_issue(tc, bio);
  } else {
    zero_fill_bio(bio);
    model::bio_endio(bio);
  }
}

void process_cell(thin_c* tc, dm_bio_prison_cell* cell) {
  KFRAME();
  pool* p = tc->p;
  Bio* bio = cell->holder;
  const uint64_t block = get_bio_block(tc, bio);
  if (tc->requeue_mode) {
    cell_requeue(p, cell);
    return;
  }
  dm_thin_lookup_result lookup;
  const int r = dm_thin_find_block(tc->td, block, true, &lookup);
  if (r == 0) {
    if (lookup.shared) {
      process_shared_bio(tc, bio, block, lookup, cell);
    } else {
      inc_all_io_entry(p, bio);
      remap_and_issue(tc, bio, lookup.block);
      inc_remap_and_issue_cell(tc, cell, lookup.block);
    }
  } else if (r == -ENODATA) {
    if (bio->op == model::ReqOp::Read && tc->origin_dev)
      read_unprovisioned_from_origin(tc, bio, cell);
    else
      provision_block(tc, bio, block, cell);
  } else {
    DMERR("dm_thin_find_block() failed: error = " + std::to_string(r));
    cell_defer_no_holder(tc, cell);
    model::bio_io_error(bio);
  }
}

// __process_bio_read_only: what can be served without allocating; the rest is unserviceable.
void process_cell_read_only(thin_c* tc, dm_bio_prison_cell* cell) {
  pool* p = tc->p;
  Bio* bio = cell->holder;
  const uint64_t block = get_bio_block(tc, bio);
  dm_thin_lookup_result lookup;
  const int r = dm_thin_find_block(tc->td, block, true, &lookup);
  const bool write = bio->op == model::ReqOp::Write && bio->size;
  if (r == 0) {
    if (lookup.shared && write) {
      cell_defer_no_holder(tc, cell);
      handle_unserviceable_bio(tc, bio);
    } else {
      inc_all_io_entry(p, bio);
      remap_and_issue(tc, bio, lookup.block);
      inc_remap_and_issue_cell(tc, cell, lookup.block);
    }
  } else if (r == -ENODATA) {
    if (write) {
      cell_defer_no_holder(tc, cell);
      handle_unserviceable_bio(tc, bio);
    } else if (tc->origin_dev) {
      read_unprovisioned_from_origin(tc, bio, cell);
    } else {
      cell_defer_no_holder(tc, cell);
      zero_fill_bio(bio);
      model::bio_endio(bio);
    }
  } else {
    DMERR("process_cell_read_only: dm_thin_find_block() failed: error = " + std::to_string(r));
    cell_defer_no_holder(tc, cell);
    model::bio_io_error(bio);
  }
}

// ---- discards ----

void process_prepared_discard_no_passdown(dm_thin_new_mapping* m) {
  thin_c* tc = m->tc;
  const int r = dm_thin_remove_range(tc->td, m->cell->key.block_begin, m->cell->key.block_end);
  if (r) {
    metadata_operation_failed(tc->p, "dm_thin_remove_range", r);
    model::bio_io_error(m->bio);
  } else {
    model::bio_endio(m->bio);
  }
  cell_defer_no_holder(tc, m->cell);
  delete m;
}

void passdown_endio_queue(dm_thin_new_mapping* m) {
  pool* p = m->tc->p;
  sim::spin_lock(&p->lock);
  p->prepared_discards_pt2.push_back(m);
  sim::spin_unlock(&p->lock);
  wake_worker(p);
}

// pt1: unmap, hold the blocks with an extra reference, and discard them below.
void process_prepared_discard_passdown_pt1(dm_thin_new_mapping* m) {
  thin_c* tc = m->tc;
  pool* p = tc->p;
  const uint64_t data_end = m->data_block + (m->virt_end - m->virt_begin);
  int r = dm_thin_remove_range(tc->td, m->virt_begin, m->virt_end);
  if (r) {
    metadata_operation_failed(p, "dm_thin_remove_range", r);
    model::bio_io_error(m->bio);
    cell_defer_no_holder(tc, m->cell);
    delete m;
    return;
  }
  r = dm_pool_inc_data_range(p->pmd.get(), m->data_block, data_end);
  if (r) {
    metadata_operation_failed(p, "dm_pool_inc_data_range", r);
    model::bio_io_error(m->bio);
    cell_defer_no_holder(tc, m->cell);
    delete m;
    return;
  }
  // Only the blocks no other device still maps are discarded below.
  Bio* parent = model::bio_alloc(nullptr, model::ReqOp::Discard, 0, 0, 0);
  parent->end_io = [m](Bio* b) {
    model::bio_put(b);
    passdown_endio_queue(m);
  };
  for (uint64_t b = m->data_block; b < data_end;) {
    bool shared = false;
    if (m->maybe_shared && !dm_pool_block_is_shared(p->pmd.get(), b, &shared) && shared) {
      b++;
      continue;
    }
    uint64_t e = b + 1;
    while (e < data_end && !(m->maybe_shared && !dm_pool_block_is_shared(p->pmd.get(), e, &shared) && shared)) e++;
    Bio* d = model::bio_alloc(tc->pool_dev->bdev, model::ReqOp::Discard, 0, b * p->sectors_per_block,
                              static_cast<uint32_t>((e - b) * p->sectors_per_block));
    d->end_io = [](Bio* x) { model::bio_put(x); };
    model::bio_chain(d, parent);
    model::submit_bio(d);
    b = e;
  }
  model::bio_endio(parent);
}

void process_prepared_discard_passdown_pt2(dm_thin_new_mapping* m) {
  thin_c* tc = m->tc;
  pool* p = tc->p;
  const int r = dm_pool_dec_data_range(p->pmd.get(), m->data_block, m->data_block + (m->virt_end - m->virt_begin));
  if (r) {
    metadata_operation_failed(p, "dm_pool_dec_data_range", r);
    model::bio_io_error(m->bio);
  } else {
    model::bio_endio(m->bio);
  }
  cell_defer_no_holder(tc, m->cell);
  delete m;
}

void queue_prepared_discard(pool* p, dm_thin_new_mapping* m) {
  sim::spin_lock(&p->lock);
  p->prepared_discards.push_back(m);
  sim::spin_unlock(&p->lock);
  wake_worker(p);
}

void bio_inc_remaining(Bio* bio) {
  bio->remaining++;
}

// break_up_discard_bio: one mapping per run of contiguous data blocks, each under a data cell.
void break_up_discard_bio(thin_c* tc, uint64_t begin, uint64_t end, Bio* bio) {
  pool* p = tc->p;
  while (begin != end) {
    uint64_t virt_begin, virt_end, data_begin;
    bool maybe_shared;
    int r = dm_thin_find_mapped_range(tc->td, begin, end, &virt_begin, &virt_end, &data_begin, &maybe_shared);
    if (r) break;  // silently fail, as the kernel does: nothing more is mapped
    uint64_t data_end = data_begin + (virt_end - virt_begin);
    while (data_begin < data_end) {
      // Runs are split at the prison's range boundaries, in the data address space.
      const uint64_t limit = (data_begin / BIO_PRISON_MAX_RANGE + 1) * BIO_PRISON_MAX_RANGE;
      const uint64_t len = std::min(data_end, limit) - data_begin;
      dm_bio_prison_cell* data_cell;
      if (p->prison.detain(data_key(tc, data_begin, data_begin + len), nullptr, &data_cell)) {
        // Contention: this run is left mapped and not discarded.
        data_begin += len;
        virt_begin += len;
        continue;
      }
      dm_thin_new_mapping* m = get_next_mapping(tc);
      m->maybe_shared = maybe_shared;
      m->virt_begin = virt_begin;
      m->virt_end = virt_begin + len;
      m->data_block = data_begin;
      m->cell = data_cell;
      m->bio = bio;
      bio_inc_remaining(bio);
      if (!p->all_io_ds.add_work([p, m] { queue_prepared_discard(p, m); })) queue_prepared_discard(p, m);
      virt_begin += len;
      data_begin += len;
    }
    begin = virt_end;
  }
}

void process_discard_cell_passdown(thin_c* tc, dm_bio_prison_cell* virt_cell) {
  Bio* bio = virt_cell->holder;
  auto* h = model::dm_per_bio_data<dm_thin_endio_hook>(bio);
  // The virtual cell stays held until the discard ends (thin_endio releases it).
  h->cell = virt_cell;
  break_up_discard_bio(tc, virt_cell->key.block_begin, virt_cell->key.block_end, bio);
  model::bio_endio(bio);  // drops the submitter's count: it ends when every piece has
}

void process_discard_cell_no_passdown(thin_c* tc, dm_bio_prison_cell* virt_cell) {
  pool* p = tc->p;
  dm_thin_new_mapping* m = get_next_mapping(tc);
  m->tc = tc;
  m->virt_begin = virt_cell->key.block_begin;
  m->virt_end = virt_cell->key.block_end;
  m->cell = virt_cell;
  m->bio = virt_cell->holder;
  if (!p->all_io_ds.add_work([p, m] { queue_prepared_discard(p, m); })) queue_prepared_discard(p, m);
}

void process_discard_cell(thin_c* tc, dm_bio_prison_cell* cell) {
  pool* p = tc->p;
  switch (get_pool_mode(p)) {
    case PM_WRITE:
    case PM_OUT_OF_DATA_SPACE:
      if (static_cast<pool_c*>(p->ti->private_)->adjusted_pf.discard_passdown)
        process_discard_cell_passdown(tc, cell);
      else
        process_discard_cell_no_passdown(tc, cell);
      break;
    case PM_FAIL:
      cell_error(p, cell);
      break;
    default:
      cell_success(p, cell);  // read-only: a discard is a no-op that succeeds
  }
}

void process_discard_bio(thin_c* tc, Bio* bio) {
  pool* p = tc->p;
  uint64_t begin = get_bio_block(tc, bio);
  uint64_t end = bio->end_sector() / p->sectors_per_block;
  if (bio->sector % p->sectors_per_block) begin++;  // only complete blocks are unmapped
  if (begin >= end) {
    model::bio_endio(bio);
    return;
  }
  const dm_cell_key key = virtual_key(tc, begin, end);
  if (!dm_cell_key_has_valid_range(key)) {
    DMERR("Discard doesn't respect bio prison limits");
    model::bio_endio(bio);
    return;
  }
  dm_bio_prison_cell* cell;
  if (p->prison.detain(key, bio, &cell)) return;
  process_discard_cell(tc, cell);
}

// ---- the worker ----

void process_bio(thin_c* tc, Bio* bio) {
  pool* p = tc->p;
  const uint64_t block = get_bio_block(tc, bio);
  dm_bio_prison_cell* cell;
  if (p->prison.detain(virtual_key(tc, block, block + 1), bio, &cell)) return;
  switch (get_pool_mode(p)) {
    case PM_WRITE:
      process_cell(tc, cell);
      break;
    case PM_FAIL: {
      std::vector<Bio*> bios;
      p->prison.release(cell, &bios);
      for (Bio* b : bios) model::bio_io_error(b);
      break;
    }
    default:
      process_cell_read_only(tc, cell);
  }
}

void dispatch_cell(thin_c* tc, dm_bio_prison_cell* cell) {
  pool* p = tc->p;
  if (cell->holder->op == model::ReqOp::Discard) {
    process_discard_cell(tc, cell);
    return;
  }
  switch (get_pool_mode(p)) {
    case PM_WRITE:
      process_cell(tc, cell);
      break;
    case PM_FAIL:
      cell_error(p, cell);
      break;
    default:
      process_cell_read_only(tc, cell);
  }
}

void process_thin_deferred_cells(thin_c* tc) {
  std::vector<dm_bio_prison_cell*> cells;
  sim::spin_lock(&tc->lock);
  cells.swap(tc->deferred_cells);
  sim::spin_unlock(&tc->lock);
  // Sorted by the holder's sector, as the kernel's cell_sort_array does.
  std::stable_sort(cells.begin(), cells.end(), [](const dm_bio_prison_cell* a, const dm_bio_prison_cell* b) {
    return a->holder->sector < b->holder->sector;
  });
  for (dm_bio_prison_cell* c : cells) {
    if (tc->requeue_mode) {
      cell_requeue(tc->p, c);
      continue;
    }
    dispatch_cell(tc, c);
  }
}

void process_thin_deferred_bios(thin_c* tc) {
  std::vector<Bio*> bios;
  sim::spin_lock(&tc->lock);
  bios.swap(tc->deferred_bio_list);
  sim::spin_unlock(&tc->lock);
  if (tc->requeue_mode) {
    for (Bio* b : bios) {
      b->status = model::BLK_STS_DM_REQUEUE;
      model::bio_endio(b);
    }
    return;
  }
  std::stable_sort(bios.begin(), bios.end(), [](const Bio* a, const Bio* b) { return a->sector < b->sector; });
  for (Bio* b : bios) {
    if (b->op == model::ReqOp::Discard) {
      switch (get_pool_mode(tc->p)) {
        case PM_WRITE:
        case PM_OUT_OF_DATA_SPACE:
          process_discard_bio(tc, b);
          break;
        case PM_FAIL:
          model::bio_io_error(b);
          break;
        default:
          model::bio_endio(b);
      }
    } else {
      process_bio(tc, b);
    }
  }
}

template <class Fn>
void for_each_active_thin(pool* p, Fn fn) {
  const std::list<thin_c*> walk(p->active_thins);
  for (thin_c* tc : walk) thin_get(tc);
  for (thin_c* tc : walk) {
    if (std::find(p->active_thins.begin(), p->active_thins.end(), tc) != p->active_thins.end()) fn(tc);
    thin_put(tc);
  }
}

bool need_commit_due_to_time(const pool* p) {
  return sim::time_after(sim::jiffies(), p->last_commit_jiffies + sim::msecs_to_jiffies(COMMIT_PERIOD_MS));
}

void process_deferred_bios(pool* p) {
  KFRAME();
  for_each_active_thin(p, [](thin_c* tc) {
    process_thin_deferred_cells(tc);
    process_thin_deferred_bios(tc);
  });
  std::vector<Bio*> bios, completions;
  sim::spin_lock(&p->lock);
  bios.swap(p->deferred_flush_bios);
  completions.swap(p->deferred_flush_completions);
  sim::spin_unlock(&p->lock);
  if (bios.empty() && completions.empty() &&
      !(dm_pool_changed_this_transaction(p->pmd.get()) && need_commit_due_to_time(p)))
    return;
  if (commit(p)) {
    for (Bio* b : bios) model::bio_io_error(b);
    for (Bio* b : completions) model::bio_io_error(b);
    return;
  }
  p->last_commit_jiffies = sim::jiffies();
  for (Bio* b : completions) model::bio_endio(b);
  for (Bio* b : bios) {
    // The commit flushed the data device, so a flush is done; only FUA data goes down (the fix
    // "dm thin: Avoid flushing the data device twice").
    const bool pass_down = p->variant.no_data_flush_before_commit || p->variant.double_flush;
    if ((b->flags & model::REQ_PREFLUSH) && !pass_down)
      model::bio_endio(b);
    else
      model::submit_bio(b);
  }
}

template <class Fn>
void process_prepared(pool* p, std::deque<dm_thin_new_mapping*>& list, Fn fn) {
  std::deque<dm_thin_new_mapping*> maps;
  sim::spin_lock(&p->lock);
  maps.swap(list);
  sim::spin_unlock(&p->lock);
  for (dm_thin_new_mapping* m : maps) fn(m);
}

// do_worker
void do_worker(pool* p) {
  KFRAME_NAMED("do_worker");
  process_prepared(p, p->prepared_mappings, process_prepared_mapping);
  const bool passdown = p->ti && static_cast<pool_c*>(p->ti->private_)->adjusted_pf.discard_passdown;
  const pool_mode mode = get_pool_mode(p);
  process_prepared(p, p->prepared_discards, [&](dm_thin_new_mapping* m) {
    if (mode == PM_WRITE || mode == PM_OUT_OF_DATA_SPACE) {
      if (passdown)
        process_prepared_discard_passdown_pt1(m);
      else
        process_prepared_discard_no_passdown(m);
    } else {
      if (mode == PM_FAIL)
        model::bio_io_error(m->bio);
      else
        model::bio_endio(m->bio);
      cell_defer_no_holder(m->tc, m->cell);
      delete m;
    }
  });
  process_prepared(p, p->prepared_discards_pt2, process_prepared_discard_passdown_pt2);
  process_deferred_bios(p);
}

// do_waker: the periodic commit.
void do_waker(pool* p) {
  wake_worker(p);
  sim::queue_delayed_work(p->wq, &p->waker, sim::msecs_to_jiffies(COMMIT_PERIOD_MS));
}

// do_no_space_timeout: queued I/O is failed after the timeout.
void do_no_space_timeout(pool* p) {
  if (get_pool_mode(p) == PM_OUT_OF_DATA_SPACE && !p->pf.error_if_no_space) {
    p->pf.error_if_no_space = true;
    notify_of_pool_mode_change(p);
    error_retry_list_with_code(p, model::BLK_STS_NOSPC);
  }
}

pool::pool()
    : worker(
          "pool->worker", [this](sim::WorkStruct*) { do_worker(this); }, "do_worker"),
      waker(
          "pool->waker", [this](sim::WorkStruct*) { do_waker(this); }, "do_waker"),
      no_space_timeout(
          "pool->no_space_timeout", [this](sim::WorkStruct*) { do_no_space_timeout(this); }, "do_no_space_timeout") {}

// ---- pool lifecycle ----

void __pool_destroy(pool* p) {
  pool_table().remove(p);
  sim::cancel_delayed_work_sync(&p->waker);
  sim::cancel_delayed_work_sync(&p->no_space_timeout);
  if (p->wq) sim::drain_workqueue(p->wq);
  if (p->pmd && dm_pool_metadata_close(p->pmd) < 0) DMWARN("__pool_destroy: dm_pool_metadata_close() failed.");
  p->copier.reset();
  if (p->wq) sim::destroy_workqueue(p->wq);
  p->kmem.check_leaks();
  delete p;
}

// metadata_pre_commit_callback: the data device is flushed before the metadata that points at
// its blocks is written (694cfe7f31db3).
int metadata_pre_commit_callback(pool* p) {
  KFRAME();
  return model::blkdev_issue_flush(p->data_dev) == model::BLK_STS_OK ? 0 : -EIO;
}

// The transient 2019 version: the context is the pool_c of the table being constructed, which
// a later table load may free while the pool lives on (a4a8d286586d).
int metadata_pre_commit_callback_pool_c(pool_c* pt) {
  KFRAME_NAMED("metadata_pre_commit_callback");
  if (pt->freed) sim::warn_on(true, "dmsim: metadata_pre_commit_callback used a freed pool_c (use-after-free)");
  return model::blkdev_issue_flush(pt->data_bdev) == model::BLK_STS_OK ? 0 : -EIO;
}

// dmsim: each commit's superblock sector and the data blocks it newly maps, for the Z3 crash
// search's question "can the surviving superblock map data that never reached the media?", and
// what it allocated and freed, for thin-mappings-durable's reuse rule.
void record_commits(pool* p, const std::string& data_device) {
  p->pmd->on_commit = [p, data_device](const uint8_t* block, std::vector<uint64_t> newly_mapped,
                                       std::vector<DataSmOp> data_ops) {
    std::vector<uint8_t> copy(block, block + THIN_METADATA_BLOCK_SIZE);
    pd::validator_prepare(sb_validator, THIN_SUPERBLOCK_LOCATION, copy.data(), copy.size());
    CommitRecord rec;
    rec.metadata_device = p->metadata_dev_name;
    rec.token = model::Sector::of_bytes(copy.data()).token;
    rec.data_device = data_device;
    rec.data_block_sectors = p->sectors_per_block;
    rec.data_blocks = std::move(newly_mapped);
    rec.data_ops = std::move(data_ops);
    rec.at_ns = sim::ktime_get_ns();
    journal_commit(std::move(rec));
  };
}

pool* pool_create(model::MappedDevice* pool_md, model::BlockDevice* metadata_dev, model::BlockDevice* data_dev,
                  uint32_t block_size, bool read_only, std::string* error, int* r) {
  auto* p = new pool;
  p->variant = thin_variant::from_knobs();
  thin_metadata_variant mv;
  mv.no_in_service_gate = p->variant.no_in_service_gate;
  *r = dm_pool_metadata_open(metadata_dev, block_size, !read_only, mv, &p->kmem, &p->pmd);
  if (*r) {
    *error = "Error creating metadata object";
    delete p;
    return nullptr;
  }
  p->pool_md = pool_md;
  p->md_dev = metadata_dev;
  p->data_dev = data_dev;
  p->sectors_per_block = block_size;
  p->sectors_per_block_shift = (block_size & (block_size - 1)) ? -1 : __builtin_ctz(block_size);
  p->copier = std::make_unique<DmKcopydClient>();
  p->wq = sim::alloc_ordered_workqueue("dm-thin", sim::WQ_MEM_RECLAIM);
  p->last_commit_jiffies = sim::jiffies();
  pool_table().push_back(p);
  return p;
}

// __pool_find: the pool of this metadata device, shared by every table loaded on it.
pool* __pool_find(model::MappedDevice* pool_md, model::BlockDevice* metadata_dev, model::BlockDevice* data_dev,
                  uint32_t block_size, bool read_only, std::string* error, int* created, int* r) {
  *r = 0;
  pool* p = __pool_table_lookup_metadata_dev(metadata_dev);
  if (p) {
    if (p->pool_md != pool_md) {
      *error = "metadata device already in use by a pool";
      *r = -EBUSY;
      return nullptr;
    }
    if (p->data_dev != data_dev) {
      *error = "data device already in use by a pool";
      *r = -EBUSY;
      return nullptr;
    }
    p->ref_count++;
    return p;
  }
  p = __pool_table_lookup(pool_md);
  if (p) {
    if (p->md_dev != metadata_dev || p->data_dev != data_dev) {
      *error = "different pool cannot replace a pool";
      *r = -EINVAL;
      return nullptr;
    }
    p->ref_count++;
    return p;
  }
  p = pool_create(pool_md, metadata_dev, data_dev, block_size, read_only, error, r);
  *created = 1;
  return p;
}

void __pool_dec(pool* p) {
  if (--p->ref_count == 0) __pool_destroy(p);
}

bool iequals(const std::string& a, const char* b) {
  return a.size() == std::strlen(b) &&
         std::equal(a.begin(), a.end(), b, [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

int parse_pool_features(const DmArgs& argv, size_t* pos, pool_features* pf, std::string* error) {
  if (*pos >= argv.size()) return 0;
  uint64_t argc = 0;
  if (!model::dm_parse_u64(argv[*pos], &argc) || argc > 4) {
    *error = "Invalid number of pool feature arguments";
    return -EINVAL;
  }
  (*pos)++;
  if (*pos + argc > argv.size()) {
    *error = "Not enough arguments for pool features";
    return -EINVAL;
  }
  for (uint64_t i = 0; i < argc; i++, (*pos)++) {
    const std::string& a = argv[*pos];
    if (iequals(a, "skip_block_zeroing"))
      pf->zero_new_blocks = false;
    else if (iequals(a, "ignore_discard"))
      pf->discard_enabled = false;
    else if (iequals(a, "no_discard_passdown"))
      pf->discard_passdown = false;
    else if (iequals(a, "read_only"))
      pf->mode = PM_READ_ONLY;
    else if (iequals(a, "error_if_no_space"))
      pf->error_if_no_space = true;
    else {
      *error = "Unrecognised pool feature requested";
      return -EINVAL;
    }
  }
  return 0;
}

uint64_t get_metadata_dev_size_in_blocks(model::BlockDevice* bdev) {
  const uint64_t max_sectors = THIN_METADATA_MAX_SECTORS;
  return std::min(bdev->capacity(), max_sectors) / (THIN_METADATA_BLOCK_SIZE >> 9);
}

uint64_t calc_metadata_threshold(pool_c* pt) {
  // min(1024 blocks, a quarter of the metadata device)
  return std::min<uint64_t>(1024, get_metadata_dev_size_in_blocks(pt->metadata_dev->bdev) / 4);
}

void pool_dtr(DmTarget* ti) {
  KFRAME();
  auto* pt = static_cast<pool_c*>(ti->private_);
  pool* p = pt->p;
  if (p->ti == ti) p->ti = nullptr;  // unbind_control_target
  model::dm_put_device(ti, pt->metadata_dev);
  model::dm_put_device(ti, pt->data_dev);
  pt->freed = true;
  if (p->variant.precommit_ctx_is_pool_c && p->ref_count > 1) {
    // The registered callback may still point here: keep the object to catch its use.
    p->freed_pool_cs.emplace_back(pt);
  } else {
    delete pt;
  }
  __pool_dec(p);
}

// pool_ctr: <metadata dev> <data dev> <data block size> <low water mark> [<#features> <feature>*]
int pool_ctr(DmTarget* ti, const DmArgs& argv) {
  KFRAME();
  if (argv.size() < 4) {
    ti->error = "Invalid argument count";
    return -EINVAL;
  }
  pool_features pf;
  size_t pos = 4;
  if (int r = parse_pool_features(argv, &pos, &pf, &ti->error)) return r;
  if (pos != argv.size()) {
    ti->error = "Invalid argument count";
    return -EINVAL;
  }
  auto pt = std::make_unique<pool_c>();
  pt->ti = ti;
  if (argv[0] == argv[1]) {
    ti->error = "Error setting metadata or data device";
    return -EINVAL;
  }
  if (model::dm_get_device(ti, argv[0], &pt->metadata_dev)) {
    ti->error = "Error opening metadata block device";
    return -EINVAL;
  }
  if (pt->metadata_dev->bdev->capacity() > THIN_METADATA_MAX_SECTORS)
    DMWARN("Metadata device " + argv[0] + " is larger than 16 GiB: the excess is unused.");
  if (model::dm_get_device(ti, argv[1], &pt->data_dev)) {
    ti->error = "Error getting data device";
    model::dm_put_device(ti, pt->metadata_dev);
    return -EINVAL;
  }
  uint64_t block_size = 0, low_water = 0;
  auto fail = [&](const char* err, int r) {
    if (err) ti->error = err;
    model::dm_put_device(ti, pt->data_dev);
    model::dm_put_device(ti, pt->metadata_dev);
    return r;
  };
  if (!model::dm_parse_u64(argv[2], &block_size) || block_size < DATA_DEV_BLOCK_SIZE_MIN_SECTORS ||
      block_size > DATA_DEV_BLOCK_SIZE_MAX_SECTORS || block_size & (DATA_DEV_BLOCK_SIZE_MIN_SECTORS - 1))
    return fail("Invalid block size", -EINVAL);
  if (!model::dm_parse_u64(argv[3], &low_water)) return fail("Invalid low water mark", -EINVAL);

  int created = 0, r = 0;
  std::string error;
  pool* p = __pool_find(model::dm_table_get_md(ti->table), pt->metadata_dev->bdev, pt->data_dev->bdev,
                        static_cast<uint32_t>(block_size), pf.mode == PM_READ_ONLY, &error, &created, &r);
  if (!p) {
    ti->error = error;
    return fail(nullptr, r);
  }
  // Discard support cannot be turned off on a reload: bios already passed down rely on it.
  if (!created && p->pf.discard_enabled != pf.discard_enabled) {
    __pool_dec(p);
    return fail("Discard support cannot be disabled once enabled", -EINVAL);
  }
  pt->p = p;
  if (created) {
    p->metadata_dev_name = argv[0];
    record_commits(p, argv[1]);
  }
  pt->data_bdev = pt->data_dev->bdev;
  if (std::find(metadata_device_history().begin(), metadata_device_history().end(), argv[0]) ==
      metadata_device_history().end())
    metadata_device_history().push_back(argv[0]);
  pt->low_water_blocks = low_water;
  pt->requested_pf = pt->adjusted_pf = pf;
  ti->num_flush_bios = 1;
  ti->flush_supported = true;
  if (pf.discard_enabled && pf.discard_passdown) {
    ti->num_discard_bios = 1;
    ti->discards_supported = true;
  }
  pool_c* raw = pt.release();
  ti->private_ = raw;
  if (p->variant.no_data_flush_before_commit) {
    // Before the fix there was no pre-commit hook at all.
  } else if (p->variant.precommit_ctx_is_pool_c) {
    dm_pool_register_pre_commit_callback(p->pmd.get(), [raw] { return metadata_pre_commit_callback_pool_c(raw); });
  } else {
    dm_pool_register_pre_commit_callback(p->pmd.get(), [p] { return metadata_pre_commit_callback(p); });
  }
  const std::string name = model::dm_device_name(p->pool_md);
  dm_pool_register_metadata_threshold(p->pmd.get(), calc_metadata_threshold(raw), [name] {
    model::dm_log_warn("thin", name + ": reached low water mark for metadata device: sending event.");
  });
  return 0;
}

int pool_map(DmTarget* ti, Bio* bio) {
  auto* pt = static_cast<pool_c*>(ti->private_);
  bio->bdev = pt->data_dev->bdev;  // every bio to the pool device goes to the data device unchanged
  return model::DM_MAPIO_REMAPPED;
}

// pool_suspend_active_thins: every thin stops issuing I/O to the pool (noflush: its deferred
// bios go back to its own device) before the pool suspends.
void pool_suspend_active_thins(pool* p) {
  for_each_active_thin(p,
                       [](thin_c* tc) { model::dm_internal_suspend_noflush(model::dm_table_get_md(tc->ti->table)); });
}

void pool_resume_active_thins(pool* p) {
  for_each_active_thin(p, [](thin_c* tc) { model::dm_internal_resume(model::dm_table_get_md(tc->ti->table)); });
}

void pool_presuspend(DmTarget* ti) {
  auto* pt = static_cast<pool_c*>(ti->private_);
  pt->p->suspended = true;
  pool_suspend_active_thins(pt->p);
}

void pool_presuspend_undo(DmTarget* ti) {
  auto* pt = static_cast<pool_c*>(ti->private_);
  pt->p->suspended = false;
  pool_resume_active_thins(pt->p);
}

void pool_postsuspend(DmTarget* ti) {
  KFRAME();
  auto* pt = static_cast<pool_c*>(ti->private_);
  pool* p = pt->p;
  sim::cancel_delayed_work_sync(&p->waker);
  sim::cancel_delayed_work_sync(&p->no_space_timeout);
  sim::flush_workqueue(p->wq);
  (void)commit(p);
}

// bind_control_target: the live table's features become the pool's.
int bind_control_target(pool* p, DmTarget* ti) {
  auto* pt = static_cast<pool_c*>(ti->private_);
  const pool_mode old_mode = get_pool_mode(p);
  pool_mode new_mode = pt->adjusted_pf.mode;
  // Don't change the pool's mode until set_pool_mode() below.
  pt->adjusted_pf.mode = old_mode;
  p->ti = ti;
  p->pf = pt->adjusted_pf;
  p->low_water_blocks = pt->low_water_blocks;
  set_pool_mode(p, new_mode);
  return 0;
}

int maybe_resize_data_dev(DmTarget* ti, bool* need_commit) {
  auto* pt = static_cast<pool_c*>(ti->private_);
  pool* p = pt->p;
  const uint64_t data_size = ti->len / p->sectors_per_block;
  *need_commit = false;
  uint64_t sb_data_size = 0;
  int r = dm_pool_get_data_dev_size(p->pmd.get(), &sb_data_size);
  if (r) {
    DMERR(std::string(dm_device_name(p->pool_md)) + ": failed to retrieve data device size");
    return r;
  }
  if (data_size < sb_data_size) {
    DMERR(std::string(dm_device_name(p->pool_md)) + ": pool target (" + std::to_string(data_size) +
          " blocks) too small: expected " + std::to_string(sb_data_size));
    return -EINVAL;
  }
  if (data_size > sb_data_size) {
    if (dm_pool_metadata_needs_check(p->pmd.get())) {
      DMERR(std::string(dm_device_name(p->pool_md)) + ": unable to grow the data device until repaired.");
      return 0;
    }
    r = dm_pool_resize_data_dev(p->pmd.get(), data_size);
    if (r) {
      metadata_operation_failed(p, "dm_pool_resize_data_dev", r);
      return r;
    }
    *need_commit = true;
  }
  return 0;
}

int maybe_resize_metadata_dev(DmTarget* ti, bool* need_commit) {
  auto* pt = static_cast<pool_c*>(ti->private_);
  pool* p = pt->p;
  *need_commit = false;
  const uint64_t metadata_dev_size = get_metadata_dev_size_in_blocks(pt->metadata_dev->bdev);
  uint64_t sb_metadata_dev_size = 0;
  int r = dm_pool_get_metadata_dev_size(p->pmd.get(), &sb_metadata_dev_size);
  if (r) {
    DMERR(std::string(dm_device_name(p->pool_md)) + ": failed to retrieve metadata device size");
    return r;
  }
  if (metadata_dev_size < sb_metadata_dev_size) {
    DMERR(std::string(dm_device_name(p->pool_md)) + ": metadata device (" + std::to_string(metadata_dev_size) +
          " blocks) too small: expected " + std::to_string(sb_metadata_dev_size));
    return -EINVAL;
  }
  if (metadata_dev_size > sb_metadata_dev_size) {
    if (dm_pool_metadata_needs_check(p->pmd.get())) {
      DMERR(std::string(dm_device_name(p->pool_md)) + ": unable to grow the metadata device until repaired.");
      return 0;
    }
    if (get_pool_mode(p) == PM_OUT_OF_METADATA_SPACE) set_pool_mode(p, PM_WRITE);
    r = dm_pool_resize_metadata_dev(p->pmd.get(), metadata_dev_size);
    if (r) {
      metadata_operation_failed(p, "dm_pool_resize_metadata_dev", r);
      return r;
    }
    *need_commit = true;
  }
  return 0;
}

int pool_preresume(DmTarget* ti) {
  KFRAME();
  auto* pt = static_cast<pool_c*>(ti->private_);
  pool* p = pt->p;
  // Take control of the pool object.
  int r = bind_control_target(p, ti);
  if (r) goto out;
  bool need_commit1, need_commit2;
  r = maybe_resize_data_dev(ti, &need_commit1);
  if (r) goto out;
  r = maybe_resize_metadata_dev(ti, &need_commit2);
  if (r) goto out;
  if (need_commit1 || need_commit2) (void)commit(p);
out:
  // A failed pool must still resume, so its queued I/O can be errored.
  if (r && get_pool_mode(p) == PM_FAIL) r = 0;
  return r;
}

void pool_resume(DmTarget* ti) {
  KFRAME();
  auto* pt = static_cast<pool_c*>(ti->private_);
  pool* p = pt->p;
  // The thins' bios are requeued and the thins resumed before `suspended` is cleared.
  requeue_bios(p);
  pool_resume_active_thins(p);
  p->low_water_triggered = false;
  p->suspended = false;
  do_waker(p);
}

void emit_flags(const pool_features& pf, std::string& out) {
  const unsigned count = !pf.zero_new_blocks + !pf.discard_enabled + !pf.discard_passdown + (pf.mode == PM_READ_ONLY) +
                         pf.error_if_no_space;
  out += std::to_string(count) + " ";
  if (!pf.zero_new_blocks) out += "skip_block_zeroing ";
  if (!pf.discard_enabled) out += "ignore_discard ";
  if (!pf.discard_passdown) out += "no_discard_passdown ";
  if (pf.mode == PM_READ_ONLY) out += "read_only ";
  if (pf.error_if_no_space) out += "error_if_no_space ";
}

// pool_status: INFO commits first (unless noflush or suspended) so the counts are current.
void pool_status(DmTarget* ti, model::StatusType type, unsigned status_flags, std::string& result) {
  KFRAME();
  auto* pt = static_cast<pool_c*>(ti->private_);
  pool* p = pt->p;
  result.clear();
  if (type == model::STATUSTYPE_TABLE) {
    result = pt->metadata_dev->bdev->devt() + " " + pt->data_dev->bdev->devt() + " " +
             std::to_string(p->sectors_per_block) + " " + std::to_string(pt->low_water_blocks) + " ";
    emit_flags(pt->requested_pf, result);
    return;
  }
  if (get_pool_mode(p) == PM_FAIL) {
    result = "Fail";
    return;
  }
  if (!(status_flags & model::DM_STATUS_NOFLUSH_FLAG) && !model::dm_suspended(ti)) (void)commit(p);
  dm_pool_metadata* pmd = p->pmd.get();
  uint64_t trans_id, free_md, nr_md, free_data, nr_data, held_root;
  if (dm_pool_get_metadata_transaction_id(pmd, &trans_id) || dm_pool_get_free_metadata_block_count(pmd, &free_md) ||
      dm_pool_get_metadata_dev_size(pmd, &nr_md) || dm_pool_get_free_block_count(pmd, &free_data) ||
      dm_pool_get_data_dev_size(pmd, &nr_data) || dm_pool_get_metadata_snap(pmd, &held_root)) {
    result = "Error";
    return;
  }
  result = std::to_string(trans_id) + " " + std::to_string(nr_md - free_md) + "/" + std::to_string(nr_md) + " " +
           std::to_string(nr_data - free_data) + "/" + std::to_string(nr_data) + " ";
  result += held_root ? std::to_string(held_root) + " " : std::string("- ");
  if (p->pf.mode == PM_OUT_OF_DATA_SPACE)
    result += "out_of_data_space ";
  else if (is_read_only_pool_mode(p->pf.mode))
    result += "ro ";
  else
    result += "rw ";
  if (!p->pf.discard_enabled)
    result += "ignore_discard ";
  else if (p->pf.discard_passdown)
    result += "discard_passdown ";
  else
    result += "no_discard_passdown ";
  result += p->pf.error_if_no_space ? "error_if_no_space " : "queue_if_no_space ";
  result += dm_pool_metadata_needs_check(pmd) ? "needs_check " : "- ";
  result += std::to_string(calc_metadata_threshold(pt)) + " ";
}

bool read_dev_id(const std::string& arg, uint64_t* dev_id, bool warning) {
  if (model::dm_parse_u64(arg, dev_id) && *dev_id <= MAX_DEV_ID) return true;
  if (warning) DMWARN("Message received with invalid device id: " + arg);
  return false;
}

int check_arg_count(size_t argc, size_t wanted) {
  if (argc != wanted) {
    DMWARN("Wrong number of arguments: expected " + std::to_string(wanted));
    return -EINVAL;
  }
  return 0;
}

int process_message(pool* p, const DmArgs& argv) {
  dm_pool_metadata* pmd = p->pmd.get();
  uint64_t dev_id, origin_id, old_id, new_id;
  int r;
  if (iequals(argv[0], "create_thin")) {
    if ((r = check_arg_count(argv.size(), 2))) return r;
    if (!read_dev_id(argv[1], &dev_id, true)) return -EINVAL;
    r = dm_pool_create_thin(pmd, dev_id);
    if (r) DMWARN("Creation of new thinly-provisioned device with id " + argv[1] + " failed.");
    return r;
  }
  if (iequals(argv[0], "create_snap")) {
    if ((r = check_arg_count(argv.size(), 3))) return r;
    if (!read_dev_id(argv[1], &dev_id, true) || !read_dev_id(argv[2], &origin_id, true)) return -EINVAL;
    r = dm_pool_create_snap(pmd, dev_id, origin_id);
    if (r)
      DMWARN("Creation of new snapshot " + argv[1] + " of device " + argv[2] + " failed.");
    else
      journal_event({.kind = JournalEvent::ThinSnapshot,
                     .metadata_device = p->metadata_dev_name,
                     .dev_id = dev_id,
                     .origin_id = origin_id});
    return r;
  }
  if (iequals(argv[0], "delete")) {
    if ((r = check_arg_count(argv.size(), 2))) return r;
    if (!read_dev_id(argv[1], &dev_id, true)) return -EINVAL;
    r = dm_pool_delete_thin_device(pmd, dev_id);
    if (r)
      DMWARN("Deletion of thin device " + argv[1] + " failed.");
    else
      journal_event({.kind = JournalEvent::ThinDelete, .metadata_device = p->metadata_dev_name, .dev_id = dev_id});
    return r;
  }
  if (iequals(argv[0], "set_transaction_id")) {
    if ((r = check_arg_count(argv.size(), 3))) return r;
    if (!model::dm_parse_u64(argv[1], &old_id)) {
      DMWARN("set_transaction_id message: Unrecognised id " + argv[1] + ".");
      return -EINVAL;
    }
    if (!model::dm_parse_u64(argv[2], &new_id)) {
      DMWARN("set_transaction_id message: Unrecognised new id " + argv[2] + ".");
      return -EINVAL;
    }
    r = dm_pool_set_metadata_transaction_id(pmd, old_id, new_id);
    if (r) DMWARN("Failed to change transaction id from " + argv[1] + " to " + argv[2] + ".");
    return r;
  }
  if (iequals(argv[0], "reserve_metadata_snap")) {
    if ((r = check_arg_count(argv.size(), 1))) return r;
    (void)commit(p);  // userland must see a consistent, committed snapshot
    r = dm_pool_reserve_metadata_snap(pmd);
    if (r) DMWARN("reserve_metadata_snap message failed.");
    return r;
  }
  if (iequals(argv[0], "release_metadata_snap")) {
    if ((r = check_arg_count(argv.size(), 1))) return r;
    r = dm_pool_release_metadata_snap(pmd);
    if (r) DMWARN("release_metadata_snap message failed.");
    return r;
  }
  DMWARN("Unrecognised thin pool target message received: " + argv[0]);
  return -EINVAL;
}

int pool_message(DmTarget* ti, const DmArgs& argv, std::string&) {
  KFRAME();
  auto* pt = static_cast<pool_c*>(ti->private_);
  pool* p = pt->p;
  if (get_pool_mode(p) >= PM_OUT_OF_METADATA_SPACE) {
    DMERR(std::string(dm_device_name(p->pool_md)) +
          ": unable to service pool target messages in READ_ONLY or FAIL mode");
    return -EOPNOTSUPP;
  }
  if (argv.empty()) return -EINVAL;
  int r = process_message(p, argv);
  if (!r) r = commit(p);
  return r;
}

int pool_iterate_devices(DmTarget* ti, const model::IterateFn& fn) {
  auto* pt = static_cast<pool_c*>(ti->private_);
  return fn(ti, pt->data_dev, 0, ti->len);
}

void pool_io_hints(DmTarget* ti, model::QueueLimits* limits) {
  auto* pt = static_cast<pool_c*>(ti->private_);
  pool* p = pt->p;
  const uint64_t io_opt_sectors = limits->io_opt >> 9;
  if (limits->max_sectors < p->sectors_per_block) {
    uint32_t m = limits->max_sectors;
    while (p->sectors_per_block % m) m /= 2;  // a power-of-two factor of the block size
    limits->max_sectors = m;
  }
  if (io_opt_sectors < p->sectors_per_block || io_opt_sectors % p->sectors_per_block) {
    limits->io_min = p->sectors_per_block << 9;
    limits->io_opt = p->sectors_per_block << 9;
  }
  if (pt->adjusted_pf.discard_enabled) {
    const model::QueueLimits& data = pt->data_dev->bdev->limits;
    if (!data.max_discard_sectors || data.max_discard_sectors < p->sectors_per_block) {
      pt->adjusted_pf.discard_passdown = false;
    }
    if (!pt->adjusted_pf.discard_passdown) limits->max_discard_sectors = 0;
  } else {
    limits->discard_granularity = 0;
  }
}

// Coverage for dmsim explore: the pool's mode and features, how many thins are active, and
// what waits in its queues; bounded so that states repeat.
std::string pool_state_signature(DmTarget* ti) {
  const pool_c* pt = static_cast<const pool_c*>(ti->private_);
  if (!pt || !pt->p) return "no-pool";
  const pool* p = pt->p;
  static const char* const modes[] = {"write", "out-of-data-space", "out-of-metadata-space", "read-only", "fail"};
  std::string sig = std::string("mode=") + modes[p->pf.mode];
  const size_t thins = p->active_thins.size();
  sig += " thins=" + (thins < 3 ? std::to_string(thins) : std::string("3+"));
  if (p->ti != ti) sig += " unbound";
  if (!p->pf.zero_new_blocks) sig += " no-zero";
  if (!p->pf.discard_enabled)
    sig += " no-discard";
  else if (!p->pf.discard_passdown)
    sig += " no-passdown";
  if (p->low_water_triggered) sig += " low-water";
  if (!p->prepared_mappings.empty()) sig += " prepared";
  if (!p->prepared_discards.empty() || !p->prepared_discards_pt2.empty()) sig += " discarding";
  if (!p->deferred_flush_bios.empty()) sig += " flushes-deferred";
  return sig;
}

const model::TargetType pool_target = {
    .name = "thin-pool",
    .version = {1, 23, 0},
    .ctr = pool_ctr,
    .dtr = pool_dtr,
    .map = pool_map,
    .presuspend = pool_presuspend,
    .presuspend_undo = pool_presuspend_undo,
    .postsuspend = pool_postsuspend,
    .preresume = pool_preresume,
    .resume = pool_resume,
    .status = pool_status,
    .message = pool_message,
    .iterate_devices = pool_iterate_devices,
    .io_hints = pool_io_hints,
    .state_signature = pool_state_signature,
};

// ---- thin target ----

void thin_dtr(DmTarget* ti) {
  KFRAME();
  auto* tc = static_cast<thin_c*>(ti->private_);
  pool* p = tc->p;
  p->active_thins.remove(tc);
  thin_put(tc);
  tc->can_destroy.wait();  // the worker may still be processing it
  dm_pool_close_thin_device(tc->td);
  if (tc->origin_dev) model::dm_put_device(ti, tc->origin_dev);
  model::dm_put_device(ti, tc->pool_dev);
  __pool_dec(p);
  delete tc;
}

// thin_ctr: <pool dev> <dev id> [<external origin dev>]
int thin_ctr(DmTarget* ti, const DmArgs& argv) {
  KFRAME();
  if (argv.size() != 2 && argv.size() != 3) {
    ti->error = "Invalid argument count";
    return -EINVAL;
  }
  auto tc = std::make_unique<thin_c>();
  tc->ti = ti;
  if (argv.size() == 3) {
    if (argv[2] == argv[0]) {
      ti->error = "Error setting origin device";
      return -EINVAL;
    }
    if (model::dm_get_device(ti, argv[2], &tc->origin_dev)) {
      ti->error = "Error opening origin device";
      return -EINVAL;
    }
  }
  auto put_all = [&] {
    if (tc->origin_dev) model::dm_put_device(ti, tc->origin_dev);
    if (tc->pool_dev) model::dm_put_device(ti, tc->pool_dev);
  };
  if (model::dm_get_device(ti, argv[0], &tc->pool_dev)) {
    ti->error = "Error opening pool device";
    put_all();
    return -EINVAL;
  }
  if (!read_dev_id(argv[1], &tc->dev_id, false)) {
    ti->error = "Invalid device id";
    put_all();
    return -EINVAL;
  }
  auto* pool_md = dynamic_cast<model::MappedDevice*>(tc->pool_dev->bdev);
  pool* p = pool_md ? __pool_table_lookup(pool_md) : nullptr;
  if (!p) {
    ti->error = "Couldn't find pool object";
    put_all();
    return -EINVAL;
  }
  if (get_pool_mode(p) == PM_FAIL) {
    ti->error = "Couldn't open thin device, Pool is in fail mode";
    put_all();
    return -EINVAL;
  }
  if (p->suspended) {
    ti->error = "Unable to activate thin device while pool is suspended";
    put_all();
    return -EINVAL;
  }
  int r = dm_pool_open_thin_device(p->pmd.get(), tc->dev_id, &tc->td);
  if (r) {
    ti->error = "Couldn't open thin internal device";
    put_all();
    return r;
  }
  p->ref_count++;
  tc->p = p;
  ti->max_io_len = p->sectors_per_block;  // dm core splits at block boundaries
  ti->num_flush_bios = 1;
  ti->flush_supported = true;
  if (p->pf.discard_enabled) {
    ti->discards_supported = true;
    ti->num_discard_bios = 1;
    ti->max_discard_granularity = true;  // discards split at the prison's 1024-block ranges
  }
  thin_c* raw = tc.release();
  ti->private_ = raw;
  // A pool that skips zeroing exposes whatever its data device held in a new block's unwritten
  // part (and, after a power cut, in a block whose first write never landed).
  ti->unwritten_reads_elsewhere = raw->origin_dev != nullptr || !p->pf.zero_new_blocks;
  p->active_thins.push_back(raw);
  journal_event({.kind = JournalEvent::ThinDevice,
                 .device = "/dev/mapper/" + model::dm_device_name(model::dm_table_get_md(ti->table)),
                 .metadata_device = p->metadata_dev_name,
                 .dev_id = raw->dev_id,
                 .block_sectors = p->sectors_per_block,
                 .external_origin = raw->origin_dev != nullptr,
                 .origin_device = raw->origin_dev ? raw->origin_dev->name : std::string(),
                 .skip_zeroing = !p->pf.zero_new_blocks});
  return 0;
}

void thin_hook_bio(thin_c* tc, Bio* bio) {
  auto* h = model::dm_per_bio_data<dm_thin_endio_hook>(bio);
  *h = dm_thin_endio_hook{};
  h->tc = tc;
}

// thin_bio_map: the non-blocking fast path for provisioned, unshared blocks.
int thin_map(DmTarget* ti, Bio* bio) {
  auto* tc = static_cast<thin_c*>(ti->private_);
  pool* p = tc->p;
  bio->sector = model::dm_target_offset(ti, bio->sector);
  thin_hook_bio(tc, bio);
  if (tc->requeue_mode) {
    bio->status = model::BLK_STS_DM_REQUEUE;
    model::bio_endio(bio);
    return model::DM_MAPIO_SUBMITTED;
  }
  if (get_pool_mode(p) == PM_FAIL) {
    model::bio_io_error(bio);
    return model::DM_MAPIO_SUBMITTED;
  }
  if (model::op_is_flush(bio->flags) || bio->op == model::ReqOp::Discard) {
    thin_defer_bio(tc, bio);
    return model::DM_MAPIO_SUBMITTED;
  }
  const uint64_t block = get_bio_block(tc, bio);
  dm_bio_prison_cell* virt_cell;
  if (p->prison.detain(virtual_key(tc, block, block + 1), bio, &virt_cell)) return model::DM_MAPIO_SUBMITTED;
  dm_thin_lookup_result result;
  const int r = dm_thin_find_block(tc->td, block, false, &result);
  if (r == 0) {
    // A snapshot may just have been taken: sharing is broken by the worker.
    if (result.shared) {
      thin_defer_cell(tc, virt_cell);
      return model::DM_MAPIO_SUBMITTED;
    }
    dm_bio_prison_cell* data_cell;
    if (p->prison.detain(data_key(tc, result.block, result.block + 1), bio, &data_cell)) {
      cell_defer_no_holder(tc, virt_cell);
      return model::DM_MAPIO_SUBMITTED;
    }
    inc_all_io_entry(p, bio);
    cell_defer_no_holder(tc, data_cell);
    cell_defer_no_holder(tc, virt_cell);
    remap(tc, bio, result.block);
    return model::DM_MAPIO_REMAPPED;
  }
  if (r == -ENODATA || r == -EWOULDBLOCK) {
    thin_defer_cell(tc, virt_cell);
    return model::DM_MAPIO_SUBMITTED;
  }
  model::bio_io_error(bio);
  cell_defer_no_holder(tc, virt_cell);
  return model::DM_MAPIO_SUBMITTED;
}

// thin_endio: drops the bio's deferred-set entries, releasing the work that waited for them.
int thin_endio(DmTarget* ti, Bio* bio, BlkStatus*) {
  auto* tc = static_cast<thin_c*>(ti->private_);
  pool* p = tc->p;
  auto* h = model::dm_per_bio_data<dm_thin_endio_hook>(bio);
  std::vector<DmDeferredSet::Work> work;
  if (h->shared_read_entry >= 0) {
    p->shared_read_ds.entry_dec(static_cast<unsigned>(h->shared_read_entry), &work);
    h->shared_read_entry = -1;
  }
  if (h->all_io_entry >= 0) {
    p->all_io_ds.entry_dec(static_cast<unsigned>(h->all_io_entry), &work);
    h->all_io_entry = -1;
  }
  for (auto& w : work) w();
  if (h->cell) {
    cell_defer_no_holder(tc, h->cell);
    h->cell = nullptr;
  }
  return model::DM_ENDIO_DONE;
}

void thin_presuspend(DmTarget* ti) {
  auto* tc = static_cast<thin_c*>(ti->private_);
  if (model::dm_noflush_suspending(ti)) {
    // do_noflush_start, run in the pool's worker context in the kernel.
    tc->requeue_mode = true;
    wake_worker(tc->p);
    sim::flush_workqueue(tc->p->wq);
    std::vector<Bio*> retry;
    sim::spin_lock(&tc->lock);
    retry.swap(tc->retry_on_resume_list);
    sim::spin_unlock(&tc->lock);
    for (Bio* b : retry) {
      b->status = model::BLK_STS_DM_REQUEUE;
      model::bio_endio(b);
    }
  }
}

void thin_postsuspend(DmTarget* ti) {
  auto* tc = static_cast<thin_c*>(ti->private_);
  tc->requeue_mode = false;  // do_noflush_stop
}

int thin_preresume(DmTarget* ti) {
  auto* tc = static_cast<thin_c*>(ti->private_);
  if (tc->origin_dev) tc->origin_size = tc->origin_dev->bdev->capacity();
  return 0;
}

void thin_status(DmTarget* ti, model::StatusType type, unsigned, std::string& result) {
  auto* tc = static_cast<thin_c*>(ti->private_);
  pool* p = tc->p;
  result.clear();
  if (get_pool_mode(p) == PM_FAIL) {
    result = "Fail";
    return;
  }
  if (!tc->td) {
    result = "-";
    return;
  }
  if (type == model::STATUSTYPE_TABLE) {
    result = tc->pool_dev->bdev->devt() + " " + std::to_string(tc->dev_id);
    if (tc->origin_dev) result += " " + tc->origin_dev->bdev->devt();
    return;
  }
  uint64_t mapped, highest;
  if (dm_thin_get_mapped_count(tc->td, &mapped)) {
    result = "Error";
    return;
  }
  const int r = dm_thin_get_highest_mapped_block(tc->td, &highest);
  if (r < 0 && r != -ENODATA) {
    result = "Error";
    return;
  }
  result = std::to_string(mapped * p->sectors_per_block) + " ";
  result += r == 0 ? std::to_string((highest + 1) * p->sectors_per_block - 1) : std::string("-");
}

int thin_iterate_devices(DmTarget* ti, const model::IterateFn& fn) {
  auto* tc = static_cast<thin_c*>(ti->private_);
  pool* p = tc->p;
  // Only the blocks the pool device holds for this thin's length count.
  const uint64_t blocks = p->pool_md->capacity() / p->sectors_per_block;
  if (blocks) return fn(ti, tc->pool_dev, 0, p->sectors_per_block * blocks);
  return 0;
}

void thin_io_hints(DmTarget* ti, model::QueueLimits* limits) {
  auto* tc = static_cast<thin_c*>(ti->private_);
  pool* p = tc->p;
  if (p->pf.discard_enabled) {
    limits->discard_granularity = p->sectors_per_block << 9;
    limits->max_discard_sectors = p->sectors_per_block * BIO_PRISON_MAX_RANGE;
  }
}

std::string thin_state_signature(DmTarget* ti) {
  const thin_c* tc = static_cast<const thin_c*>(ti->private_);
  if (!tc) return "";
  std::string sig = tc->origin_dev ? "external-origin" : "";
  if (tc->requeue_mode) sig += " requeue";
  if (!tc->deferred_bio_list.empty() || !tc->deferred_cells.empty()) sig += " deferred";
  if (!tc->retry_on_resume_list.empty()) sig += " retry-on-resume";
  return sig;
}

const model::TargetType thin_target = {
    .name = "thin",
    .version = {1, 23, 0},
    .ctr = thin_ctr,
    .dtr = thin_dtr,
    .map = thin_map,
    .end_io = thin_endio,
    .presuspend = thin_presuspend,
    .postsuspend = thin_postsuspend,
    .preresume = thin_preresume,
    .status = thin_status,
    .iterate_devices = thin_iterate_devices,
    .io_hints = thin_io_hints,
    .reads_zeroes_unless_written = true,
    .state_signature = thin_state_signature,
};

}  // namespace

std::vector<std::string> thin_pool_metadata_devices() {
  return metadata_device_history();
}

void register_thin_target() {
  model::dm_register_target(&pool_target);
  model::dm_register_target(&thin_target);
}

}  // namespace engines::thin
