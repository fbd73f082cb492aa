// The snapshot targets (drivers/md/dm-snap.c): snapshot-origin passes I/O to the origin device
// but first copies each chunk a write would overwrite to the COW device of every snapshot that
// has not preserved it yet (copy-on-write, by kcopyd, one pending exception per chunk); snapshot
// reads preserved chunks from the COW device and the others from the origin; snapshot-merge
// copies the preserved chunks back into the origin. One global rw semaphore, _origins_lock,
// guards the origins and their snapshot lists: every origin write holds it for read, snapshot
// construction, destruction and origin resume take it for write. Copy completions run in each
// snapshot's kcopyd worker, one at a time, in the order the chunks were allocated.
#include <algorithm>
#include <climits>
#include <list>
#include <map>
#include <memory>
#include <set>

#include "engines/journal.hpp"
#include "engines/lib/kcopyd.hpp"
#include "engines/module_params.hpp"
#include "engines/snapshot/exception_store.hpp"
#include "engines/snapshot/snapshot.hpp"
#include "model/dm/dm_target.hpp"
#include "model/dm/mapped_device.hpp"
#include "model/errno.hpp"
#include "model/sync_io.hpp"
#include "sim/config.hpp"
#include "sim/kernel.hpp"

namespace engines::snapshot {

unsigned snapshot_cow_threshold = 2048;  // DEFAULT_COW_THRESHOLD, decided experimentally

using model::Bio;
using model::BlkStatus;
using model::DmArgs;
using model::DmDev;
using model::DmTarget;

namespace {

void DMERR(const std::string& msg) {
  model::dm_log("snapshots", msg);
}
void DMWARN(const std::string& msg) {
  model::dm_log_warn("snapshots", msg);
}

constexpr unsigned DM_TRACKED_CHUNK_HASH_SIZE = 16;
constexpr unsigned DM_CHUNK_CONSECUTIVE_BITS = 8;
constexpr unsigned DM_CHUNK_NUMBER_BITS = 56;
constexpr unsigned kBucketLocks = 64;  // dmsim: a table's bucket locks folded to 64 lock objects
// What a kmalloc'd, never-initialised counter holds in the 4.4 backport: slab poison here.
constexpr unsigned kUninitialisedInProgress = 0x6b6b6b6b;

// The module parameter snapshot_copy_throttle (DECLARE_DM_KCOPYD_THROTTLE_WITH_MODULE_PARM).
DmKcopydThrottle& snapshot_copy_throttle() {
  static DmKcopydThrottle t;
  return t;
}

chunk_t dm_chunk_number(chunk_t chunk) {
  return chunk & ((uint64_t{1} << DM_CHUNK_NUMBER_BITS) - 1);
}
unsigned dm_consecutive_chunk_count(chunk_t new_chunk) {
  return static_cast<unsigned>(new_chunk >> DM_CHUNK_NUMBER_BITS);
}

// A completed exception: new_chunk's top bits count the chunks after old_chunk it also covers.
struct exception_entry {
  chunk_t old_chunk = 0;
  chunk_t new_chunk = 0;
  unsigned consecutive() const { return dm_consecutive_chunk_count(new_chunk); }
};

struct dm_snapshot;

// struct dm_snap_pending_exception: a chunk being copied, and the bios waiting for the copy.
struct dm_snap_pending_exception {
  dm_exception e;
  std::vector<Bio*> origin_bios, snapshot_bios;
  dm_snapshot* snap = nullptr;
  bool started = false;
  bool copy_error = false;
  uint64_t exception_sequence = 0;
  Bio* full_bio = nullptr;
  std::function<void(Bio*)> full_bio_end_io;
  DmKcopydClient::Job* callback_job = nullptr;
  std::unique_ptr<sim::WorkStruct> callback_work;  // parallel_kcopyd_callbacks only
  int read_err = 0;
  unsigned long write_err = 0;
};

// struct dm_exception_table: buckets of one list each, in the kernel's sizes. Each bucket's lock
// is one of kBucketLocks objects: hlist_bl bit locks (spinning, preemption off, even on RT) or,
// since 6.19, a spinlock_t per bucket (a sleeping lock on PREEMPT_RT).
template <class E>
struct dm_exception_table {
  uint32_t hash_mask = 0;
  unsigned hash_shift = 0;
  std::vector<std::list<E*>> table;
  std::vector<std::unique_ptr<sim::Spinlock>> locks;

  uint32_t hash(chunk_t chunk) const { return static_cast<uint32_t>((chunk >> hash_shift) & hash_mask); }
  sim::Spinlock* lock_of(chunk_t chunk) const { return locks[hash(chunk) % kBucketLocks].get(); }
};

struct dm_snap_tracked_chunk {
  bool tracked = false;  // !hlist_unhashed
  chunk_t chunk = 0;
};

struct origin {
  model::BlockDevice* bdev = nullptr;
  std::list<dm_snapshot*> snapshots;  // largest chunk size first
};

// struct dm_origin: one per snapshot-origin target.
struct dm_origin {
  DmDev* dev = nullptr;
  DmTarget* ti = nullptr;
  unsigned split_boundary = 0;
};

// Module-wide state (init_origin_hash and the pending-exceptions-done counter), created in the
// running simulation on first use; one simulation per process.
struct snapshot_module {
  sim::RwSemaphore origins_lock{"_origins_lock"};
  std::map<model::BlockDevice*, origin*> origins;        // _origins, by origin device
  std::map<model::BlockDevice*, dm_origin*> dm_origins;  // _dm_origins: resumed origin targets
  sim::WaitQueueHead pending_exceptions_done{"_pending_exceptions_done"};
  sim::Spinlock pending_exceptions_done_spinlock{"_pending_exceptions_done_spinlock"};
  uint64_t pending_exceptions_done_count = 0;
  std::set<std::string> journaled_snapshots;  // dmsim: devices whose activation in this run is journaled
  // dmsim: every constructed snapshot-origin target, resumed or not, for the journal's name of
  // the device the origin is written through (LVM resumes a new snapshot with the origin suspended).
  std::multimap<model::BlockDevice*, dm_origin*> origin_targets;
};

snapshot_module& mod() {
  static snapshot_module* m = new snapshot_module;  // lives as long as the process's simulation
  return *m;
}

struct dm_snapshot {
  sim::RwSemaphore lock{"s->lock"};
  DmDev* origin = nullptr;
  DmDev* cow = nullptr;
  DmTarget* ti = nullptr;
  bool valid = true;
  bool snapshot_overflowed = false;
  bool active = false;
  sim::Atomic pending_exceptions_count{0};
  sim::Spinlock pe_allocation_lock{"s->pe_allocation_lock"};
  uint64_t exception_start_sequence = 0;     // under pe_allocation_lock
  uint64_t exception_complete_sequence = 0;  // kcopyd's single-threaded callbacks
  std::map<uint64_t, dm_snap_pending_exception*> out_of_order_tree;
  dm_exception_table<dm_snap_pending_exception> pending;
  dm_exception_table<exception_entry> complete;
  sim::Spinlock tracked_chunk_lock{"s->tracked_chunk_lock"};
  std::multiset<chunk_t> tracked_chunk_hash[DM_TRACKED_CHUNK_HASH_SIZE];
  std::unique_ptr<DmExceptionStore> store;
  // COW throttling: before 5.4 a semaphore (cow_count), since then a counter and a wait queue
  // whose lock guards it.
  std::unique_ptr<sim::Semaphore> cow_count;
  unsigned in_progress = 0;
  sim::WaitQueueHead in_progress_wait{"s->in_progress_wait"};
  std::unique_ptr<DmKcopydClient> kcopyd_client;
  sim::Workqueue* callback_wq = nullptr;               // parallel_kcopyd_callbacks only
  bool running_merge = false, shutdown_merge = false;  // state_bits
  sim::WaitQueueHead state_bits_wait{"s->state_bits"};
  chunk_t first_merging_chunk = 0;
  int num_merging_chunks = 0;
  bool merge_failed = false;
  bool discard_zeroes_cow = false, discard_passdown_origin = false;
  std::vector<Bio*> bios_queued_during_merge;
  snapshot_variant variant;
  std::string device_path;  // dmsim: "/dev/mapper/<name>", for the journal
  // dmsim instrumentation (KASAN's view): the pending exceptions allocated and not yet freed, so
  // that completing one twice is reported rather than undefined.
  std::set<const dm_snap_pending_exception*> live_pes;
};

const model::TargetType* merge_target_type();
bool dm_target_is_snapshot_merge(const DmTarget* ti) {
  return ti->type == merge_target_type();
}

uint64_t get_dev_size(model::BlockDevice* bdev) {
  return bdev->capacity();
}
uint64_t chunk_to_sector(const DmExceptionStore* store, chunk_t chunk) {
  return chunk << store->chunk_shift;
}
chunk_t sector_to_chunk(const DmExceptionStore* store, uint64_t sector) {
  return sector >> store->chunk_shift;
}

// ---- tracked chunks: snapshot reads redirected to the origin, still in flight ----

void init_tracked_chunk(Bio* bio) {
  *model::dm_per_bio_data<dm_snap_tracked_chunk>(bio) = {};
}
bool is_bio_tracked(Bio* bio) {
  return model::dm_per_bio_data<dm_snap_tracked_chunk>(bio)->tracked;
}

void track_chunk(dm_snapshot* s, Bio* bio, chunk_t chunk) {
  KFRAME();
  auto* c = model::dm_per_bio_data<dm_snap_tracked_chunk>(bio);
  c->chunk = chunk;
  sim::spin_lock_irq(&s->tracked_chunk_lock);
  s->tracked_chunk_hash[chunk & (DM_TRACKED_CHUNK_HASH_SIZE - 1)].insert(chunk);
  c->tracked = true;
  sim::spin_unlock_irq(&s->tracked_chunk_lock);
}

void stop_tracking_chunk(dm_snapshot* s, Bio* bio) {
  auto* c = model::dm_per_bio_data<dm_snap_tracked_chunk>(bio);
  unsigned long flags = 0;
  sim::spin_lock_irqsave(&s->tracked_chunk_lock, flags);
  auto& bucket = s->tracked_chunk_hash[c->chunk & (DM_TRACKED_CHUNK_HASH_SIZE - 1)];
  bucket.erase(bucket.find(c->chunk));
  c->tracked = false;
  sim::spin_unlock_irqrestore(&s->tracked_chunk_lock, flags);
}

bool __chunk_is_tracked(dm_snapshot* s, chunk_t chunk) {
  sim::spin_lock_irq(&s->tracked_chunk_lock);
  const bool found = s->tracked_chunk_hash[chunk & (DM_TRACKED_CHUNK_HASH_SIZE - 1)].count(chunk) > 0;
  sim::spin_unlock_irq(&s->tracked_chunk_lock);
  return found;
}

// Conflicting I/O is improbable, so polling every millisecond is enough (no wait queue).
void __check_for_conflicting_io(dm_snapshot* s, chunk_t chunk) {
  while (__chunk_is_tracked(s, chunk)) sim::msleep(1);
}

// ---- the origin hash and snapshot registration (all under _origins_lock) ----

origin* __lookup_origin(model::BlockDevice* bdev) {
  auto it = mod().origins.find(bdev);
  return it == mod().origins.end() ? nullptr : it->second;
}

dm_origin* __lookup_dm_origin(model::BlockDevice* bdev) {
  auto it = mod().dm_origins.find(bdev);
  return it == mod().dm_origins.end() ? nullptr : it->second;
}

// __find_snapshots_sharing_cow: how many snapshots of snap's origin use its COW device, with
// the active one (a handover source), an inactive one (a destination) and any merging one.
int __find_snapshots_sharing_cow(dm_snapshot* snap, dm_snapshot** snap_src, dm_snapshot** snap_dest,
                                 dm_snapshot** snap_merge) {
  int count = 0;
  origin* o = __lookup_origin(snap->origin->bdev);
  if (!o) return 0;
  for (dm_snapshot* s : o->snapshots) {
    if (dm_target_is_snapshot_merge(s->ti) && snap_merge) *snap_merge = s;
    if (s->cow->bdev != snap->cow->bdev) continue;
    sim::down_read(&s->lock);
    const bool active = s->active;
    sim::up_read(&s->lock);
    if (active) {
      if (snap_src) *snap_src = s;
    } else if (snap_dest) {
      *snap_dest = s;
    }
    count++;
  }
  return count;
}

// __validate_exception_handover: 1 when snap is to receive another table's exceptions.
int __validate_exception_handover(dm_snapshot* snap) {
  dm_snapshot *snap_src = nullptr, *snap_dest = nullptr, *snap_merge = nullptr;
  if (__find_snapshots_sharing_cow(snap, &snap_src, &snap_dest, &snap_merge) == 2 || snap_dest) {
    snap->ti->error = "Snapshot cow pairing for exception table handover failed";
    return -EINVAL;
  }
  if (!snap_src) return 0;
  if (!dm_target_is_snapshot_merge(snap->ti)) return 1;
  if (snap_merge) {
    snap->ti->error = "A snapshot is already merging.";
    return -EINVAL;
  }
  if (!snap_src->store->supports_merge()) {
    snap->ti->error = "Snapshot exception store does not support snapshot-merge.";
    return -EINVAL;
  }
  return 1;
}

void __insert_snapshot(origin* o, dm_snapshot* s) {
  auto it = o->snapshots.begin();
  while (it != o->snapshots.end() && (*it)->store->chunk_size >= s->store->chunk_size) ++it;
  o->snapshots.insert(it, s);
}

int register_snapshot(dm_snapshot* snap) {
  KFRAME();
  sim::down_write(&mod().origins_lock);
  const int r = __validate_exception_handover(snap);
  if (r >= 0) {
    origin* o = __lookup_origin(snap->origin->bdev);
    if (!o) {
      o = new origin;
      o->bdev = snap->origin->bdev;
      mod().origins[o->bdev] = o;
    }
    __insert_snapshot(o, snap);
  }
  sim::up_write(&mod().origins_lock);
  return r;
}

void reregister_snapshot(dm_snapshot* s) {
  sim::down_write(&mod().origins_lock);
  origin* o = __lookup_origin(s->origin->bdev);
  o->snapshots.remove(s);
  __insert_snapshot(o, s);
  sim::up_write(&mod().origins_lock);
}

void unregister_snapshot(dm_snapshot* s) {
  KFRAME();
  sim::down_write(&mod().origins_lock);
  if (origin* o = __lookup_origin(s->origin->bdev)) {
    o->snapshots.remove(s);
    if (o->snapshots.empty()) {
      mod().origins.erase(o->bdev);
      delete o;
    }
  }
  sim::up_write(&mod().origins_lock);
}

uint32_t __minimum_chunk_size(origin* o) {
  uint32_t chunk_size = 0;
  if (o)
    for (dm_snapshot* snap : o->snapshots)
      if (snap->store->chunk_size && (!chunk_size || snap->store->chunk_size < chunk_size))
        chunk_size = snap->store->chunk_size;
  return chunk_size;
}

uint32_t get_origin_minimum_chunksize(model::BlockDevice* bdev) {
  sim::down_read(&mod().origins_lock);
  const uint32_t min_chunksize = __minimum_chunk_size(__lookup_origin(bdev));
  sim::up_read(&mod().origins_lock);
  return min_chunksize;
}

// ---- exception tables ----

// dm_exception_table_lock: the complete bucket, then the pending bucket.
struct exception_table_lock {  // struct dm_exception_table_lock
  sim::Spinlock* complete_slot = nullptr;
  sim::Spinlock* pending_slot = nullptr;
};

exception_table_lock dm_exception_table_lock_init(dm_snapshot* s, chunk_t chunk) {
  return {s->complete.lock_of(chunk), s->pending.lock_of(chunk)};
}
void dm_exception_table_lock(const exception_table_lock& l) {
  sim::spin_lock(l.complete_slot);
  sim::spin_lock(l.pending_slot);
}
void dm_exception_table_unlock(const exception_table_lock& l) {
  sim::spin_unlock(l.pending_slot);
  sim::spin_unlock(l.complete_slot);
}

template <class E>
void dm_exception_table_init(dm_exception_table<E>* et, uint32_t size, unsigned hash_shift, bool bit_locks,
                             const char* cls) {
  et->hash_shift = hash_shift;
  et->hash_mask = size - 1;
  et->table.assign(size, {});
  for (unsigned i = 0; i < kBucketLocks; i++) {
    if (bit_locks)
      et->locks.push_back(std::make_unique<sim::RawSpinlock>(std::string(cls) + " bit lock", cls));
    else
      et->locks.push_back(std::make_unique<sim::Spinlock>(std::string(cls) + " lock", false, cls));
  }
}

exception_entry* dm_lookup_exception(dm_exception_table<exception_entry>* et, chunk_t chunk) {
  for (exception_entry* e : et->table[et->hash(chunk)])
    if (chunk >= e->old_chunk && chunk <= e->old_chunk + e->consecutive()) return e;
  return nullptr;
}

dm_snap_pending_exception* __lookup_pending_exception(dm_snapshot* s, chunk_t chunk) {
  for (dm_snap_pending_exception* pe : s->pending.table[s->pending.hash(chunk)])
    if (pe->e.old_chunk == chunk) return pe;
  return nullptr;
}

// dm_insert_exception (completed table): extends a neighbouring run when both the origin and
// the COW chunks are adjacent, else inserts in old_chunk order.
void dm_insert_exception(dm_exception_table<exception_entry>* eh, exception_entry* new_e) {
  auto& l = eh->table[eh->hash(new_e->old_chunk)];
  auto it = l.begin();
  for (; it != l.end(); ++it) {
    exception_entry* e = *it;
    if (new_e->old_chunk == e->old_chunk + e->consecutive() + 1 &&
        new_e->new_chunk == dm_chunk_number(e->new_chunk) + e->consecutive() + 1) {
      e->new_chunk += uint64_t{1} << DM_CHUNK_NUMBER_BITS;  // dm_consecutive_chunk_count_inc
      delete new_e;
      return;
    }
    if (new_e->old_chunk + 1 == e->old_chunk && new_e->new_chunk + 1 == dm_chunk_number(e->new_chunk)) {
      e->new_chunk += uint64_t{1} << DM_CHUNK_NUMBER_BITS;
      e->old_chunk--;
      e->new_chunk--;
      delete new_e;
      return;
    }
    if (new_e->old_chunk < e->old_chunk) break;
  }
  l.insert(it, new_e);
}

void dm_remove_pending(dm_snapshot* s, dm_snap_pending_exception* pe) {
  s->pending.table[s->pending.hash(pe->e.old_chunk)].remove(pe);
}

// dm_add_exception: the store's read_metadata callback. The 6.19 fix dropped the locking that
// only kept the hlist_bl debug checks quiet; the bit-lock code still takes it.
int dm_add_exception(dm_snapshot* s, chunk_t old_chunk, chunk_t new_chunk) {
  auto* e = new exception_entry{old_chunk, new_chunk};
  if (s->variant.rt_bitlock_nesting) {
    const exception_table_lock lock = dm_exception_table_lock_init(s, old_chunk);
    dm_exception_table_lock(lock);
    dm_insert_exception(&s->complete, e);
    dm_exception_table_unlock(lock);
  } else {
    dm_insert_exception(&s->complete, e);
  }
  return 0;
}

uint32_t rounddown_pow_of_two(uint64_t v) {
  uint32_t p = 1;
  while (uint64_t{p} * 2 <= v) p *= 2;
  return p;
}

// init_hash_tables: a bucket per COW chunk, at most 2 MiB of heads; the pending table an eighth.
void init_hash_tables(dm_snapshot* s) {
  const uint64_t max_buckets = (2u << 20) / 8;
  uint64_t hash_size = std::min(get_dev_size(s->cow->bdev) >> s->store->chunk_shift, max_buckets);
  if (hash_size < 64) hash_size = 64;
  hash_size = rounddown_pow_of_two(hash_size);
  const bool bit_locks = s->variant.rt_bitlock_nesting;
  dm_exception_table_init(&s->complete, static_cast<uint32_t>(hash_size), DM_CHUNK_CONSECUTIVE_BITS, bit_locks,
                          "complete bucket");
  hash_size >>= 3;
  if (hash_size < 64) hash_size = 64;
  dm_exception_table_init(&s->pending, static_cast<uint32_t>(hash_size), 0, bit_locks, "pending bucket");
}

void free_exception_tables(dm_snapshot* s) {
  for (auto& l : s->complete.table)
    for (exception_entry* e : l) delete e;
  s->complete.table.clear();
  for (auto& l : s->pending.table)
    for (dm_snap_pending_exception* pe : l) delete pe;
  s->pending.table.clear();
}

dm_snap_pending_exception* alloc_pending_exception(dm_snapshot* s) {
  auto* pe = new dm_snap_pending_exception;  // mempool_alloc(GFP_NOIO): may sleep, never fails
  s->live_pes.insert(pe);
  s->pending_exceptions_count.add_return(1);
  pe->snap = s;
  return pe;
}

void free_pending_exception(dm_snap_pending_exception* pe) {
  dm_snapshot* s = pe->snap;
  s->live_pes.erase(pe);
  delete pe;
  s->pending_exceptions_count.add_return(-1);
}

// ---- COW throttling ----

void account_start_copy(dm_snapshot* s) {
  if (s->variant.cow_throttle_semaphore) {
    sim::down(s->cow_count.get());
    return;
  }
  sim::spin_lock(&s->in_progress_wait.lock);
  s->in_progress++;
  sim::spin_unlock(&s->in_progress_wait.lock);
}

void account_end_copy(dm_snapshot* s) {
  if (s->variant.cow_throttle_semaphore) {
    sim::up(s->cow_count.get());
    return;
  }
  sim::spin_lock(&s->in_progress_wait.lock);
  if (!s->in_progress) sim::bug("kernel BUG at drivers/md/dm-snap.c: account_end_copy: !s->in_progress");
  s->in_progress--;
  if (s->in_progress <= snapshot_cow_threshold && sim::waitqueue_active(&s->in_progress_wait))
    sim::wake_up_locked(&s->in_progress_wait);
  sim::spin_unlock(&s->in_progress_wait.lock);
}

// wait_for_in_progress: false when it slept (the caller starts over); the origin path drops
// _origins_lock before sleeping, so no throttled writer ever holds it.
bool wait_for_in_progress(dm_snapshot* s, bool unlock_origins) {
  KFRAME();
  if (s->variant.cow_throttle_semaphore) return true;  // the semaphore throttles in start_copy
  if (s->in_progress > snapshot_cow_threshold) {
    sim::spin_lock(&s->in_progress_wait.lock);
    if (s->in_progress > snapshot_cow_threshold) {
      sim::WaitQueueHead::Entry wait;
      s->in_progress_wait.prepare_to_wait(wait);
      sim::spin_unlock(&s->in_progress_wait.lock);
      if (unlock_origins) sim::up_read(&mod().origins_lock);
      sim::might_sleep("io_schedule");
      s->in_progress_wait.wait(wait, sim::TaskState::Uninterruptible, "io_schedule");
      s->in_progress_wait.finish_wait(wait);
      return false;
    }
    sim::spin_unlock(&s->in_progress_wait.lock);
  }
  return true;
}

// ---- invalidation ----

void __invalidate_snapshot(dm_snapshot* s, int err) {
  if (!s->valid) return;
  if (err == -EIO)
    DMERR("Invalidating snapshot: Error reading/writing.");
  else if (err == -ENOMEM)
    DMERR("Invalidating snapshot: Unable to allocate exception.");
  s->store->drop_snapshot();
  s->valid = false;
  journal_event({.kind = JournalEvent::SnapshotInvalid,
                 .device = s->device_path,
                 .metadata_device = s->cow->name,
                 .at_ns = sim::ktime_get_ns()});
}

void invalidate_snapshot(dm_snapshot* s, int err) {
  sim::down_write(&s->lock);
  __invalidate_snapshot(s, err);
  sim::up_write(&s->lock);
}

// ---- the completion path (the snapshot's kcopyd worker) ----

int do_origin(DmDev* origin, Bio* bio, bool limit);

void flush_bios(std::vector<Bio*>& bios) {
  for (Bio* b : bios) model::submit_bio(b);
}
void error_bios(std::vector<Bio*>& bios) {
  for (Bio* b : bios) model::bio_io_error(b);
}

void retry_origin_bios(dm_snapshot* s, std::vector<Bio*>& bios) {
  KFRAME();
  for (Bio* b : bios)
    if (do_origin(s->origin, b, false) == model::DM_MAPIO_REMAPPED) model::submit_bio(b);
}

void increment_pending_exceptions_done_count() {
  sim::spin_lock(&mod().pending_exceptions_done_spinlock);
  mod().pending_exceptions_done_count++;
  sim::spin_unlock(&mod().pending_exceptions_done_spinlock);
  sim::wake_up_all(&mod().pending_exceptions_done);
}

uint64_t read_pending_exceptions_done_count() {
  sim::spin_lock(&mod().pending_exceptions_done_spinlock);
  const uint64_t n = mod().pending_exceptions_done_count;
  sim::spin_unlock(&mod().pending_exceptions_done_spinlock);
  return n;
}

// pending_complete: the exception is committed (or failed); the completed exception goes in
// before the pending one leaves, and the pending one leaves only once no snapshot read of the
// chunk redirected to the origin is in flight.
void pending_complete(dm_snapshot* s, dm_snap_pending_exception* pe, bool success) {
  KFRAME();
  if (!s->live_pes.count(pe))
    sim::bug("BUG: KASAN: use-after-free in pending_complete: the pending exception was completed and freed already");
  bool error = false;
  const exception_table_lock lock = dm_exception_table_lock_init(s, pe->e.old_chunk);
  if (!success) {
    invalidate_snapshot(s, -EIO);
    error = true;
    dm_exception_table_lock(lock);
  } else {
    auto* e = new exception_entry{pe->e.old_chunk, pe->e.new_chunk};  // alloc_completed_exception
    sim::down_read(&s->lock);
    dm_exception_table_lock(lock);
    if (!s->valid) {
      sim::up_read(&s->lock);
      delete e;
      error = true;
    } else {
      dm_insert_exception(&s->complete, e);
      sim::up_read(&s->lock);
      if (__chunk_is_tracked(s, pe->e.old_chunk)) {
        dm_exception_table_unlock(lock);
        __check_for_conflicting_io(s, pe->e.old_chunk);
        dm_exception_table_lock(lock);
      }
    }
  }
  dm_remove_pending(s, pe);
  dm_exception_table_unlock(lock);
  std::vector<Bio*> snapshot_bios, origin_bios;
  snapshot_bios.swap(pe->snapshot_bios);
  origin_bios.swap(pe->origin_bios);
  Bio* full_bio = pe->full_bio;
  if (full_bio) full_bio->end_io = std::move(pe->full_bio_end_io);
  increment_pending_exceptions_done_count();
  if (error) {
    if (full_bio) model::bio_io_error(full_bio);
    error_bios(snapshot_bios);
  } else {
    if (full_bio) model::bio_endio(full_bio);
    flush_bios(snapshot_bios);
  }
  retry_origin_bios(s, origin_bios);
  free_pending_exception(pe);
}

void complete_exception(dm_snap_pending_exception* pe) {
  dm_snapshot* s = pe->snap;
  // The store's batch waits for every prepared exception; the pre-fix path let failed copies
  // skip it.
  if (pe->copy_error && s->variant.copy_error_bypasses_store) {
    pending_complete(s, pe, false);
    return;
  }
  s->store->commit_exception(pe->e, !pe->copy_error, [s, pe](bool success) { pending_complete(s, pe, success); });
}

// copy_callback: completions are released in allocation order (the out-of-order tree), so that a
// crash never leaves a committed exception past an uncommitted, allocated one.
void copy_callback(dm_snap_pending_exception* pe, int read_err, unsigned long write_err) {
  KFRAME();
  dm_snapshot* s = pe->snap;
  pe->copy_error = read_err || write_err;
  if (s->variant.completion_as_copies_finish) {  // before "avoid snapshot space leak on crash"
    complete_exception(pe);
    account_end_copy(s);
    return;
  }
  if (pe->exception_sequence == s->exception_complete_sequence) {
    s->exception_complete_sequence++;
    complete_exception(pe);
    while (!s->out_of_order_tree.empty()) {
      auto next = s->out_of_order_tree.begin();
      if (next->first != s->exception_complete_sequence) break;
      dm_snap_pending_exception* p = next->second;
      s->exception_complete_sequence++;
      s->out_of_order_tree.erase(next);
      complete_exception(p);
    }
  } else {
    if (s->out_of_order_tree.count(pe->exception_sequence))
      sim::bug("kernel BUG at drivers/md/dm-snap.c: copy_callback: two pending exceptions with sequence " +
               std::to_string(pe->exception_sequence));
    s->out_of_order_tree[pe->exception_sequence] = pe;
  }
  account_end_copy(s);
}

// How a copy's completion reaches copy_callback: from kcopyd's single worker, or (the variant) from
// a work item of its own on an unbound queue, several at once.
KcopydNotifyFn copy_notify(dm_snap_pending_exception* pe) {
  dm_snapshot* s = pe->snap;
  if (!s->variant.parallel_kcopyd_callbacks)
    return [pe](int read_err, unsigned long write_err) { copy_callback(pe, read_err, write_err); };
  pe->callback_work = std::make_unique<sim::WorkStruct>(
      "pe->callback_work", [pe](sim::WorkStruct*) { copy_callback(pe, pe->read_err, pe->write_err); }, "copy_callback");
  return [pe, s](int read_err, unsigned long write_err) {
    pe->read_err = read_err;
    pe->write_err = write_err;
    sim::queue_work(s->callback_wq, pe->callback_work.get());
  };
}

void start_copy(dm_snap_pending_exception* pe) {
  KFRAME();
  dm_snapshot* s = pe->snap;
  model::BlockDevice* bdev = s->origin->bdev;
  const uint64_t dev_size = get_dev_size(bdev);
  DmIoRegion src{bdev, chunk_to_sector(s->store.get(), pe->e.old_chunk), 0};
  src.count = std::min<uint64_t>(s->store->chunk_size, dev_size - src.sector);
  DmIoRegion dest{s->cow->bdev, chunk_to_sector(s->store.get(), pe->e.new_chunk), src.count};
  account_start_copy(s);
  s->kcopyd_client->copy(src, {dest}, 0, copy_notify(pe));
}

// start_full_bio: a write of the whole chunk is the copy; its completion is delivered to kcopyd
// as a callback-only job, and the writer hears of it only after the commit (pending_complete).
void start_full_bio(dm_snap_pending_exception* pe, Bio* bio) {
  dm_snapshot* s = pe->snap;
  pe->full_bio = bio;
  pe->full_bio_end_io = std::move(bio->end_io);
  account_start_copy(s);
  pe->callback_job = s->kcopyd_client->prepare_callback(copy_notify(pe));
  bio->end_io = [pe](Bio* b) {
    b->remaining = 1;  // ended again in pending_complete, with its own completion
    DmKcopydClient::do_callback(pe->callback_job, 0, b->status != model::BLK_STS_OK ? 1 : 0);
  };
  model::submit_bio(bio);
}

// zero_exception: a discard of a whole preserved chunk zeroes its COW copy (discard_zeroes_cow).
void zero_exception(dm_snapshot* s, Bio* bio) {
  DmIoRegion dest{s->cow->bdev, bio->sector, s->store->chunk_size};
  account_start_copy(s);
  s->kcopyd_client->zero({dest}, 0, [s, bio](int, unsigned long write_err) {
    account_end_copy(s);
    bio->status = write_err ? model::BLK_STS_IOERR : model::BLK_STS_OK;
    model::bio_endio(bio);
  });
}

// __insert_pending_exception: the store allocates the COW chunk and the sequence number is
// stamped under the same lock, so completion order can follow allocation order.
dm_snap_pending_exception* __insert_pending_exception(dm_snapshot* s, dm_snap_pending_exception* pe, chunk_t chunk) {
  KFRAME();
  pe->e.old_chunk = chunk;
  pe->started = false;
  pe->full_bio = nullptr;
  sim::spin_lock(&s->pe_allocation_lock);
  if (s->store->prepare_exception(&pe->e)) {
    sim::spin_unlock(&s->pe_allocation_lock);
    free_pending_exception(pe);
    return nullptr;
  }
  pe->exception_sequence = s->exception_start_sequence++;
  sim::spin_unlock(&s->pe_allocation_lock);
  s->pending.table[s->pending.hash(chunk)].push_front(pe);
  return pe;
}

dm_snap_pending_exception* __find_pending_exception(dm_snapshot* s, dm_snap_pending_exception* pe, chunk_t chunk) {
  if (dm_snap_pending_exception* pe2 = __lookup_pending_exception(s, chunk)) {
    free_pending_exception(pe);
    return pe2;
  }
  return __insert_pending_exception(s, pe, chunk);
}

void remap_exception(dm_snapshot* s, chunk_t old_chunk, chunk_t new_chunk, Bio* bio, chunk_t chunk) {
  bio->bdev = s->cow->bdev;
  bio->sector = chunk_to_sector(s->store.get(), dm_chunk_number(new_chunk) + (chunk - old_chunk)) +
                (bio->sector & s->store->chunk_mask);
}

bool io_overlaps_chunk(dm_snapshot* s, const Bio* bio) {
  return bio->size == s->store->chunk_size;
}

// ---- the snapshot target ----

int snapshot_map(DmTarget* ti, Bio* bio) {
  KFRAME();
  auto* s = static_cast<dm_snapshot*>(ti->private_);
  int r = model::DM_MAPIO_REMAPPED;
  init_tracked_chunk(bio);
  if (bio->flags & model::REQ_PREFLUSH) {
    bio->bdev = s->cow->bdev;
    return model::DM_MAPIO_REMAPPED;
  }
  bio->sector = model::dm_target_offset(ti, bio->sector);
  const chunk_t chunk = sector_to_chunk(s->store.get(), bio->sector);
  const exception_table_lock lock = dm_exception_table_lock_init(s, chunk);
  if (!s->valid) return model::DM_MAPIO_KILL;
  const bool write = bio->op == model::ReqOp::Write;
  if (model::op_is_write(bio->op))
    while (!wait_for_in_progress(s, false)) {
    }
  sim::down_read(&s->lock);
  dm_exception_table_lock(lock);
  auto out_unlock = [&] {
    dm_exception_table_unlock(lock);
    sim::up_read(&s->lock);
    return r;
  };
  if (!s->valid || (s->snapshot_overflowed && bio->op != model::ReqOp::Read)) {
    r = model::DM_MAPIO_KILL;
    return out_unlock();
  }
  const bool discard = bio->op == model::ReqOp::Discard;
  if (discard && s->discard_passdown_origin && bio->target_bio_nr) {
    // Straight to the origin's device: no exception is triggered (the point is to free space).
    bio->bdev = s->origin->bdev;
    track_chunk(s, bio, chunk);
    return out_unlock();
  }
  if (exception_entry* e = dm_lookup_exception(&s->complete, chunk)) {
    remap_exception(s, e->old_chunk, e->new_chunk, bio, chunk);
    if (discard && io_overlaps_chunk(s, bio)) {
      dm_exception_table_unlock(lock);
      sim::up_read(&s->lock);
      zero_exception(s, bio);
      return model::DM_MAPIO_SUBMITTED;  // the discard itself is not issued
    }
    return out_unlock();
  }
  if (discard) {  // no exception: nothing to zero, and no copy-out either
    model::bio_endio(bio);
    r = model::DM_MAPIO_SUBMITTED;
    return out_unlock();
  }
  if (!write) {
    bio->bdev = s->origin->bdev;
    track_chunk(s, bio, chunk);
    return out_unlock();
  }
  dm_snap_pending_exception* pe = __lookup_pending_exception(s, chunk);
  if (!pe) {
    dm_exception_table_unlock(lock);
    pe = alloc_pending_exception(s);
    dm_exception_table_lock(lock);
    if (exception_entry* e = dm_lookup_exception(&s->complete, chunk)) {
      free_pending_exception(pe);
      remap_exception(s, e->old_chunk, e->new_chunk, bio, chunk);
      return out_unlock();
    }
    pe = __find_pending_exception(s, pe, chunk);
    if (!pe) {
      dm_exception_table_unlock(lock);
      sim::up_read(&s->lock);
      sim::down_write(&s->lock);
      if (s->store->userspace_supports_overflow) {
        if (s->valid && !s->snapshot_overflowed) {
          s->snapshot_overflowed = true;
          DMERR("Snapshot overflowed: Unable to allocate exception.");
        }
      } else {
        __invalidate_snapshot(s, -ENOMEM);
      }
      sim::up_write(&s->lock);
      return model::DM_MAPIO_KILL;
    }
  }
  remap_exception(s, pe->e.old_chunk, pe->e.new_chunk, bio, chunk);
  r = model::DM_MAPIO_SUBMITTED;
  if (!pe->started && io_overlaps_chunk(s, bio)) {
    pe->started = true;
    dm_exception_table_unlock(lock);
    sim::up_read(&s->lock);
    start_full_bio(pe, bio);
    return r;
  }
  bio->where.add_part(s->kcopyd_client->jobs());
  pe->snapshot_bios.push_back(bio);
  if (!pe->started) {
    pe->started = true;
    dm_exception_table_unlock(lock);
    sim::up_read(&s->lock);
    start_copy(pe);
    return r;
  }
  return out_unlock();
}

// snapshot_merge_map: preserved chunks are read and written in the COW (writes to chunks being
// merged wait for the merge); the rest goes to the origin, through the other snapshots' COW.
int snapshot_merge_map(DmTarget* ti, Bio* bio) {
  KFRAME();
  auto* s = static_cast<dm_snapshot*>(ti->private_);
  int r = model::DM_MAPIO_REMAPPED;
  init_tracked_chunk(bio);
  if (bio->flags & model::REQ_PREFLUSH) {
    bio->bdev = bio->target_bio_nr ? s->cow->bdev : s->origin->bdev;
    return model::DM_MAPIO_REMAPPED;
  }
  if (bio->op == model::ReqOp::Discard) {  // once merging, discards change nothing
    model::bio_endio(bio);
    return model::DM_MAPIO_SUBMITTED;
  }
  bio->sector = model::dm_target_offset(ti, bio->sector);
  const chunk_t chunk = sector_to_chunk(s->store.get(), bio->sector);
  const bool write = bio->op == model::ReqOp::Write;
  sim::down_write(&s->lock);
  if (s->valid) {
    if (exception_entry* e = dm_lookup_exception(&s->complete, chunk)) {
      if (write && chunk >= s->first_merging_chunk &&
          chunk < s->first_merging_chunk + static_cast<chunk_t>(s->num_merging_chunks)) {
        bio->bdev = s->origin->bdev;
        bio->where.add_part(s->kcopyd_client->jobs());
        s->bios_queued_during_merge.push_back(bio);
        sim::up_write(&s->lock);
        return model::DM_MAPIO_SUBMITTED;
      }
      remap_exception(s, e->old_chunk, e->new_chunk, bio, chunk);
      if (write) track_chunk(s, bio, chunk);
      sim::up_write(&s->lock);
      return r;
    }
  }
  bio->bdev = s->origin->bdev;
  if (write) {
    sim::up_write(&s->lock);
    return do_origin(s->origin, bio, false);
  }
  sim::up_write(&s->lock);
  return r;
}

int snapshot_end_io(DmTarget* ti, Bio* bio, BlkStatus*) {
  auto* s = static_cast<dm_snapshot*>(ti->private_);
  if (is_bio_tracked(bio)) stop_tracking_chunk(s, bio);
  return model::DM_ENDIO_DONE;
}

// ---- merging ----

void merge_shutdown(dm_snapshot* s) {
  s->running_merge = false;
  sim::wake_up_all(&s->state_bits_wait);
}

std::vector<Bio*> __release_queued_bios_after_merge(dm_snapshot* s) {
  s->first_merging_chunk = 0;
  s->num_merging_chunks = 0;
  std::vector<Bio*> b;
  b.swap(s->bios_queued_during_merge);
  return b;
}

int __remove_single_exception_chunk(dm_snapshot* s, chunk_t old_chunk) {
  exception_entry* e = dm_lookup_exception(&s->complete, old_chunk);
  if (!e) {
    DMERR("Corruption detected: exception for block " + std::to_string(old_chunk) + " is on disk but not in memory");
    return -EINVAL;
  }
  if (!e->consecutive()) {
    s->complete.table[s->complete.hash(e->old_chunk)].remove(e);
    delete e;
    return 0;
  }
  // Chunks leave in the reverse order they were merged in: always from an end of a run.
  if (old_chunk == e->old_chunk) {
    e->old_chunk++;
    e->new_chunk++;
  } else if (old_chunk != e->old_chunk + e->consecutive()) {
    DMERR("Attempt to merge block " + std::to_string(old_chunk) + " from the middle of a chunk range [" +
          std::to_string(e->old_chunk) + " - " + std::to_string(e->old_chunk + e->consecutive()) + "]");
    return -EINVAL;
  }
  e->new_chunk -= uint64_t{1} << DM_CHUNK_NUMBER_BITS;
  return 0;
}

int remove_single_exception_chunk(dm_snapshot* s) {
  int r = 0;
  chunk_t old_chunk = s->first_merging_chunk + static_cast<chunk_t>(s->num_merging_chunks) - 1;
  std::vector<Bio*> b;
  sim::down_write(&s->lock);
  do {
    r = __remove_single_exception_chunk(s, old_chunk);
    if (r) break;
  } while (old_chunk-- > s->first_merging_chunk);
  if (!r) b = __release_queued_bios_after_merge(s);
  sim::up_write(&s->lock);
  flush_bios(b);
  return r;
}

int __origin_write(std::list<dm_snapshot*>& snapshots, uint64_t sector, Bio* bio);

// origin_write_extent: triggers the COW of the destination range in every other snapshot; 1 when
// something must be waited for.
int origin_write_extent(dm_snapshot* merging_snap, uint64_t sector, uint64_t size) {
  int must_wait = 0;
  sim::down_read(&mod().origins_lock);
  origin* o = __lookup_origin(merging_snap->origin->bdev);
  for (uint64_t n = 0; n < size; n += merging_snap->ti->max_io_len)
    if (__origin_write(o->snapshots, sector + n, nullptr) == model::DM_MAPIO_SUBMITTED) must_wait = 1;
  sim::up_read(&mod().origins_lock);
  return must_wait;
}

void merge_callback(dm_snapshot* s, int read_err, unsigned long write_err);

void snapshot_merge_next_chunks(dm_snapshot* s) {
  KFRAME();
  if (!s->running_merge) sim::bug("kernel BUG at drivers/md/dm-snap.c: snapshot_merge_next_chunks: !RUNNING_MERGE");
  if (s->shutdown_merge) {
    merge_shutdown(s);
    return;
  }
  if (!s->valid) {
    DMERR("Snapshot is invalid: can't merge");
    merge_shutdown(s);
    return;
  }
  chunk_t old_chunk = 0, new_chunk = 0;
  const int linear_chunks = s->store->prepare_merge(&old_chunk, &new_chunk);
  if (linear_chunks <= 0) {
    if (linear_chunks < 0) {
      DMERR("Read error in exception store: shutting down merge");
      sim::down_write(&s->lock);
      s->merge_failed = true;
      sim::up_write(&s->lock);
    }
    merge_shutdown(s);
    return;
  }
  old_chunk = old_chunk + 1 - static_cast<chunk_t>(linear_chunks);
  new_chunk = new_chunk + 1 - static_cast<chunk_t>(linear_chunks);
  const uint64_t io_size = static_cast<uint64_t>(linear_chunks) * s->store->chunk_size;
  DmIoRegion dest{s->origin->bdev, chunk_to_sector(s->store.get(), old_chunk), 0};
  dest.count = std::min(io_size, get_dev_size(dest.bdev) - dest.sector);
  DmIoRegion src{s->cow->bdev, chunk_to_sector(s->store.get(), new_chunk), dest.count};
  // Other snapshots preserve the destination first; each completion anywhere wakes us to retry.
  uint64_t previous_count = read_pending_exceptions_done_count();
  while (origin_write_extent(s, dest.sector, io_size)) {
    sim::wait_event(mod().pending_exceptions_done,
                    [&] { return read_pending_exceptions_done_count() != previous_count; });
    previous_count = read_pending_exceptions_done_count();
  }
  sim::down_write(&s->lock);
  s->first_merging_chunk = old_chunk;
  s->num_merging_chunks = linear_chunks;
  sim::up_write(&s->lock);
  for (int i = 0; i < linear_chunks; i++) __check_for_conflicting_io(s, old_chunk + static_cast<chunk_t>(i));
  journal_event({.kind = JournalEvent::SnapshotMerge,
                 .device = s->device_path,
                 .nr_blocks = static_cast<uint64_t>(linear_chunks),
                 .metadata_device = s->cow->name,
                 .block_sectors = s->store->chunk_size,
                 .origin_device = s->origin->name,
                 .at_ns = sim::ktime_get_ns(),
                 .old_chunk = old_chunk,
                 .new_chunk = new_chunk});
  s->kcopyd_client->copy(src, {dest}, 0, [s](int re, unsigned long we) { merge_callback(s, re, we); });
}

// merge_callback: the merged data is flushed to the origin before the exceptions that still
// point at the COW copy are cleared on disk.
void merge_callback(dm_snapshot* s, int read_err, unsigned long write_err) {
  KFRAME();
  bool shut = false;
  if (read_err || write_err) {
    DMERR(read_err ? "Read error: shutting down merge." : "Write error: shutting down merge.");
    shut = true;
  }
  if (!shut && !s->variant.merge_no_flush_before_commit &&
      model::blkdev_issue_flush(s->origin->bdev) != model::BLK_STS_OK) {
    DMERR("Flush after merge failed: shutting down merge");
    shut = true;
  }
  if (!shut && s->store->commit_merge(s->num_merging_chunks) < 0) {
    DMERR("Write error in exception store: shutting down merge");
    shut = true;
  }
  if (!shut && remove_single_exception_chunk(s) < 0) shut = true;
  if (!shut) {
    snapshot_merge_next_chunks(s);
    return;
  }
  sim::down_write(&s->lock);
  s->merge_failed = true;
  std::vector<Bio*> b = __release_queued_bios_after_merge(s);
  sim::up_write(&s->lock);
  error_bios(b);
  merge_shutdown(s);
}

void start_merge(dm_snapshot* s) {
  if (s->running_merge) return;
  s->running_merge = true;
  snapshot_merge_next_chunks(s);
}

// stop_merge: asks the merge loop to stop and waits until it has.
void stop_merge(dm_snapshot* s) {
  KFRAME();
  s->shutdown_merge = true;
  sim::wait_event(s->state_bits_wait, [s] { return !s->running_merge; });
  s->shutdown_merge = false;
}

// ---- constructor and destructor ----

int parse_snapshot_features(const DmArgs& argv, size_t pos, dm_snapshot* s, DmTarget* ti) {
  if (pos >= argv.size()) return 0;
  uint64_t argc;
  if (!model::dm_parse_u64(argv[pos], &argc) || argc > 2 || argc > argv.size() - pos - 1) {
    ti->error = "Invalid number of feature arguments";
    return -EINVAL;
  }
  int r = 0;
  for (uint64_t i = 0; i < argc; i++) {
    std::string a = argv[pos + 1 + i];
    std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return std::tolower(c); });
    if (a == "discard_zeroes_cow") {
      s->discard_zeroes_cow = true;
    } else if (a == "discard_passdown_origin") {
      s->discard_passdown_origin = true;
    } else {
      ti->error = "Unrecognised feature requested";
      r = -EINVAL;
      break;
    }
  }
  if (!r && !s->discard_zeroes_cow && s->discard_passdown_origin) {
    ti->error = "discard_passdown_origin feature depends on discard_zeroes_cow";
    r = -EINVAL;
  }
  if (!r && pos + 1 + argc != argv.size()) {
    ti->error = "Invalid number of feature arguments";  // dmsim: words after the feature group
    r = -EINVAL;
  }
  return r;
}

void snapshot_dtr(DmTarget* ti);

// snapshot_ctr: <origin> <COW> <P|PO|N> <chunk sectors> [<#features> <feature>...]
int snapshot_ctr(DmTarget* ti, const DmArgs& argv) {
  KFRAME();
  if (argv.size() < 4) {
    ti->error = "requires 4 or more arguments";
    return -EINVAL;
  }
  const bool merge = dm_target_is_snapshot_merge(ti);
  auto s = std::make_unique<dm_snapshot>();
  s->variant = snapshot_variant::from_knobs();
  if (int r = parse_snapshot_features(argv, 4, s.get(), ti)) return r;
  if (model::dm_get_device(ti, argv[0], &s->origin)) {
    ti->error = "Cannot get origin device";
    return -EINVAL;
  }
  auto put_origin = [&] { model::dm_put_device(ti, s->origin); };
  if (model::BlockDevice* o = s->origin->bdev; o->devt() == argv[1] || o->name() == argv[1] ||
                                               "/dev/" + o->name() == argv[1] ||
                                               "/dev/mapper/" + o->name() == argv[1]) {
    ti->error = "COW device cannot be the same as origin device";
    put_origin();
    return -EINVAL;
  }
  if (model::dm_get_device(ti, argv[1], &s->cow)) {
    ti->error = "Cannot get COW device";
    put_origin();
    return -EINVAL;
  }
  if (s->cow->bdev == s->origin->bdev) {
    ti->error = "COW device cannot be the same as origin device";
    model::dm_put_device(ti, s->cow);
    put_origin();
    return -EINVAL;
  }
  auto put_devices = [&] {
    model::dm_put_device(ti, s->cow);
    put_origin();
  };
  s->device_path = "/dev/mapper/" + model::dm_device_name(model::dm_table_get_md(ti->table));
  StoreContext ctx{s->cow->bdev, s->cow->name, s->device_path};
  std::string store_error;
  store_variant sv;
  sv.copy_error_bypasses_store = s->variant.copy_error_bypasses_store;
  if (dm_exception_store_create(argv[2], argv[3], ctx, sv, &s->store, &store_error)) {
    ti->error = "Couldn't create exception store";
    put_devices();
    return -EINVAL;
  }
  s->ti = ti;
  init_hash_tables(s.get());
  if (s->variant.cow_throttle_semaphore) {
    const unsigned count = snapshot_cow_threshold > 0 && snapshot_cow_threshold <= INT_MAX
                               ? snapshot_cow_threshold
                               : static_cast<unsigned>(INT_MAX);
    s->cow_count = std::make_unique<sim::Semaphore>("s->cow_count", count);
  }
  s->in_progress = s->variant.in_progress_uninit ? kUninitialisedInProgress : 0;
  s->kcopyd_client = std::make_unique<DmKcopydClient>(&snapshot_copy_throttle());
  if (s->variant.parallel_kcopyd_callbacks)
    s->callback_wq = sim::alloc_workqueue("kcopyd-callbacks", sim::WQ_UNBOUND, 0);
  // copy_callback runs in the kcopyd worker, or (variant) in a callback workqueue's worker.
  const sim::WaitObject& callbacks =
      s->callback_wq ? static_cast<const sim::WaitObject&>(*s->callback_wq) : s->kcopyd_client->work();
  if (s->cow_count) s->cow_count->add_signaler(callbacks, "up() at the end of copy_callback");
  s->in_progress_wait.add_signaler(callbacks, "account_end_copy in copy_callback");
  ti->private_ = s.get();
  ti->num_flush_bios = merge ? 2 : 1;
  ti->flush_supported = true;
  if (s->discard_zeroes_cow) {
    ti->num_discard_bios = s->discard_passdown_origin ? 2 : 1;
    ti->discards_supported = true;
  }
  ti->unwritten_reads_elsewhere = true;
  const int r = register_snapshot(s.get());
  if (r < 0) {
    if (r == -ENOMEM) ti->error = "Snapshot origin struct allocation failed";
    free_exception_tables(s.get());
    s->kcopyd_client.reset();
    if (s->callback_wq) sim::destroy_workqueue(s->callback_wq);
    put_devices();
    ti->private_ = nullptr;
    return r;
  }
  // A handover destination's metadata is read by the source: it takes the store at resume.
  if (r > 0) {
    s->store->chunk_size = 0;
    s.release();
    return 0;
  }
  dm_snapshot* raw = s.get();
  const int rm = s->store->read_metadata([raw](chunk_t o, chunk_t n) { return dm_add_exception(raw, o, n); });
  std::string error;
  if (rm < 0) {
    error = "Failed to read snapshot metadata";
  } else if (rm > 0) {
    s->valid = false;
    DMWARN("Snapshot is marked invalid.");
  }
  if (error.empty() && !s->store->chunk_size) error = "Chunk size not set";
  if (!error.empty()) {
    s.release();
    snapshot_dtr(ti);
    ti->error = error;
    return -EINVAL;
  }
  ti->max_io_len = s->store->chunk_size;
  s.release();
  return 0;
}

void __free_exceptions(dm_snapshot* s) {
  s->kcopyd_client.reset();
  free_exception_tables(s);
}

void snapshot_dtr(DmTarget* ti) {
  KFRAME();
  auto* s = static_cast<dm_snapshot*>(ti->private_);
  dm_snapshot *snap_src = nullptr, *snap_dest = nullptr;
  sim::down_read(&mod().origins_lock);
  (void)__find_snapshots_sharing_cow(s, &snap_src, &snap_dest, nullptr);
  if (snap_src && snap_dest && s == snap_src) {
    sim::down_write(&snap_dest->lock);
    snap_dest->valid = false;
    sim::up_write(&snap_dest->lock);
    DMERR("Cancelling snapshot handover.");
  }
  sim::up_read(&mod().origins_lock);
  if (dm_target_is_snapshot_merge(ti)) stop_merge(s);
  unregister_snapshot(s);  // no new copies after this
  while (sim::atomic_read(&s->pending_exceptions_count)) sim::msleep(1);
  if (s->callback_wq) sim::destroy_workqueue(s->callback_wq);
  __free_exceptions(s);
  s->store.reset();
  model::dm_put_device(ti, s->cow);
  model::dm_put_device(ti, s->origin);
  delete s;
}

// __handover_exceptions: the new table takes the old one's exceptions and store; the old one
// is invalidated so that it receives no more I/O.
void __handover_exceptions(dm_snapshot* snap_src, dm_snapshot* snap_dest) {
  std::swap(snap_dest->complete, snap_src->complete);
  const bool overflow = snap_dest->store->userspace_supports_overflow;
  std::swap(snap_dest->store, snap_src->store);
  snap_dest->store->userspace_supports_overflow = overflow;
  snap_dest->ti->max_io_len = snap_dest->store->chunk_size;
  snap_dest->valid = snap_src->valid;
  snap_dest->snapshot_overflowed = snap_src->snapshot_overflowed;
  snap_src->valid = false;
}

int snapshot_preresume(DmTarget* ti) {
  auto* s = static_cast<dm_snapshot*>(ti->private_);
  int r = 0;
  dm_snapshot *snap_src = nullptr, *snap_dest = nullptr;
  sim::down_read(&mod().origins_lock);
  (void)__find_snapshots_sharing_cow(s, &snap_src, &snap_dest, nullptr);
  if (snap_src && snap_dest) {
    sim::down_read(&snap_src->lock);
    if (s == snap_src) {
      DMERR("Unable to resume snapshot source until handover completes.");
      r = -EINVAL;
    } else if (!model::dm_suspended(snap_src->ti)) {
      DMERR("Unable to perform snapshot handover until source is suspended.");
      r = -EINVAL;
    }
    sim::up_read(&snap_src->lock);
  }
  sim::up_read(&mod().origins_lock);
  return r;
}

// dmsim: the snapshot's first activation, for the oracles: where it was never written it reads
// what the origin (as written through its snapshot-origin device) held now.
void journal_activation(dm_snapshot* s) {
  if (dm_target_is_snapshot_merge(s->ti)) return;
  // Each snapshot begun here, and the first activation in this run of one that existed already.
  if (!mod().journaled_snapshots.insert(s->device_path).second && !s->store->new_snapshot) return;
  std::string origin_device = s->origin->name;
  dm_origin* o = __lookup_dm_origin(s->origin->bdev);
  if (!o && mod().origin_targets.count(s->origin->bdev)) o = mod().origin_targets.find(s->origin->bdev)->second;
  if (o) {
    origin_device = "/dev/mapper/" + model::dm_device_name(model::dm_table_get_md(o->ti->table));
  } else if (origin* og = __lookup_origin(s->origin->bdev)) {
    // No snapshot-origin target: the origin may be presented by a merging snapshot's table.
    for (dm_snapshot* m : og->snapshots)
      if (dm_target_is_snapshot_merge(m->ti)) origin_device = m->device_path;
  }
  journal_event({.kind = JournalEvent::SnapshotDevice,
                 .device = s->device_path,
                 .metadata_device = s->cow->name,
                 .block_sectors = s->store->chunk_size,
                 .origin_device = origin_device,
                 .at_ns = sim::ktime_get_ns(),
                 .data_device = s->origin->name,
                 .fresh = s->store->new_snapshot});
  s->store->new_snapshot = false;  // begun once
}

void snapshot_resume(DmTarget* ti) {
  KFRAME();
  auto* s = static_cast<dm_snapshot*>(ti->private_);
  dm_snapshot *snap_src = nullptr, *snap_dest = nullptr, *snap_merging = nullptr;
  model::MappedDevice* origin_md = nullptr;
  bool must_restart_merging = false;
  sim::down_read(&mod().origins_lock);
  if (dm_origin* o = __lookup_dm_origin(s->origin->bdev)) origin_md = model::dm_table_get_md(o->ti->table);
  if (!origin_md) {
    (void)__find_snapshots_sharing_cow(s, nullptr, nullptr, &snap_merging);
    if (snap_merging) origin_md = model::dm_table_get_md(snap_merging->ti->table);
  }
  if (origin_md == model::dm_table_get_md(ti->table)) origin_md = nullptr;
  sim::up_read(&mod().origins_lock);
  // The origin is quiesced while exceptions change hands: no origin write sees half of it.
  if (origin_md) {
    model::dm_internal_suspend_noflush(origin_md);
    if (snap_merging && snap_merging->running_merge) {
      must_restart_merging = true;
      stop_merge(snap_merging);
    }
  }
  sim::down_read(&mod().origins_lock);
  (void)__find_snapshots_sharing_cow(s, &snap_src, &snap_dest, nullptr);
  if (snap_src && snap_dest) {
    sim::down_write(&snap_src->lock);
    sim::down_write_nested(&snap_dest->lock, sim::SINGLE_DEPTH_NESTING);
    __handover_exceptions(snap_src, snap_dest);
    sim::up_write(&snap_dest->lock);
    sim::up_write(&snap_src->lock);
  }
  journal_activation(s);
  sim::up_read(&mod().origins_lock);
  if (origin_md) {
    if (must_restart_merging) start_merge(snap_merging);
    model::dm_internal_resume(origin_md);
  }
  reregister_snapshot(s);
  sim::down_write(&s->lock);
  s->active = true;
  sim::up_write(&s->lock);
}

void snapshot_merge_presuspend(DmTarget* ti) {
  stop_merge(static_cast<dm_snapshot*>(ti->private_));
}

void snapshot_merge_resume(DmTarget* ti) {
  auto* s = static_cast<dm_snapshot*>(ti->private_);
  snapshot_resume(ti);
  // snapshot-merge acts as an origin: split I/O at the smallest chunk of the origin's snapshots.
  ti->max_io_len = get_origin_minimum_chunksize(s->origin->bdev);
  start_merge(s);
}

void snapshot_status(DmTarget* ti, model::StatusType type, unsigned, std::string& result) {
  auto* snap = static_cast<dm_snapshot*>(ti->private_);
  result.clear();
  if (type == model::STATUSTYPE_INFO) {
    sim::down_write(&snap->lock);
    if (!snap->valid) {
      result = "Invalid";
    } else if (snap->merge_failed) {
      result = "Merge failed";
    } else if (snap->snapshot_overflowed) {
      result = "Overflow";
    } else {
      uint64_t total = 0, allocated = 0, metadata = 0;
      snap->store->usage(&total, &allocated, &metadata);
      result = std::to_string(allocated) + "/" + std::to_string(total) + " " + std::to_string(metadata);
    }
    sim::up_write(&snap->lock);
    return;
  }
  result = snap->origin->bdev->devt() + " " + snap->cow->bdev->devt() + " " + snap->store->type_name() + " " +
           std::to_string(snap->store->chunk_size);
  const unsigned num_features = unsigned{snap->discard_zeroes_cow} + unsigned{snap->discard_passdown_origin};
  if (num_features) {
    result += " " + std::to_string(num_features);
    if (snap->discard_zeroes_cow) result += " discard_zeroes_cow";
    if (snap->discard_passdown_origin) result += " discard_passdown_origin";
  }
}

int snapshot_iterate_devices(DmTarget* ti, const model::IterateFn& fn) {
  auto* snap = static_cast<dm_snapshot*>(ti->private_);
  int r = fn(ti, snap->origin, 0, ti->len);
  if (!r) r = fn(ti, snap->cow, 0, get_dev_size(snap->cow->bdev));
  return r;
}

void snapshot_io_hints(DmTarget* ti, model::QueueLimits* limits) {
  auto* snap = static_cast<dm_snapshot*>(ti->private_);
  if (!snap->discard_zeroes_cow) return;
  dm_snapshot *snap_src = nullptr, *snap_dest = nullptr;
  sim::down_read(&mod().origins_lock);
  (void)__find_snapshots_sharing_cow(snap, &snap_src, &snap_dest, nullptr);
  if (snap_src && snap_dest) snap = snap_src;
  // Discards are split on chunk boundaries.
  limits->discard_granularity = snap->store->chunk_size << 9;
  limits->max_discard_sectors = snap->store->chunk_size;
  sim::up_read(&mod().origins_lock);
}

std::string snapshot_state_signature(DmTarget* ti) {
  const auto* s = static_cast<const dm_snapshot*>(ti->private_);
  if (!s || !s->store) return "no-store";
  std::string sig = s->valid ? "valid" : "invalid";
  if (s->active) sig += " active";
  if (s->snapshot_overflowed) sig += " overflow";
  if (s->merge_failed) sig += " merge-failed";
  if (s->running_merge) sig += " merging";
  if (s->pending_exceptions_count.read()) sig += " copying";
  if (!s->out_of_order_tree.empty()) sig += " out-of-order";
  if (!s->bios_queued_during_merge.empty()) sig += " queued";
  return sig;
}

// ---- the origin target ----

// __origin_write: each valid, active snapshot that has not preserved the chunk gets a pending
// exception; the bio waits on the first one, whose copy is started last (the others get a head
// start). DM_MAPIO_REMAPPED when nothing needs copying.
int __origin_write(std::list<dm_snapshot*>& snapshots, uint64_t sector, Bio* bio) {
  KFRAME();
  int r = model::DM_MAPIO_REMAPPED;
  dm_snap_pending_exception* pe_to_start_last = nullptr;
  for (dm_snapshot* snap : snapshots) {
    if (dm_target_is_snapshot_merge(snap->ti)) continue;  // effectively deleted
    if (sector >= snap->ti->len) continue;
    const chunk_t chunk = sector_to_chunk(snap->store.get(), sector);
    const exception_table_lock lock = dm_exception_table_lock_init(snap, chunk);
    dm_snap_pending_exception* pe_to_start_now = nullptr;
    sim::down_read(&snap->lock);
    dm_exception_table_lock(lock);
    bool skip = !snap->valid || !snap->active;
    dm_snap_pending_exception* pe = skip ? nullptr : __lookup_pending_exception(snap, chunk);
    if (!skip && !pe) {
      if (dm_lookup_exception(&snap->complete, chunk)) {
        skip = true;
      } else {
        dm_exception_table_unlock(lock);
        pe = alloc_pending_exception(snap);
        dm_exception_table_lock(lock);
        if (dm_snap_pending_exception* pe2 = __lookup_pending_exception(snap, chunk)) {
          free_pending_exception(pe);
          pe = pe2;
        } else if (dm_lookup_exception(&snap->complete, chunk)) {
          free_pending_exception(pe);
          skip = true;
        } else {
          pe = __insert_pending_exception(snap, pe, chunk);
          if (!pe) {
            dm_exception_table_unlock(lock);
            sim::up_read(&snap->lock);
            invalidate_snapshot(snap, -ENOMEM);
            continue;
          }
        }
      }
    }
    if (!skip) {
      r = model::DM_MAPIO_SUBMITTED;
      if (bio) {
        bio->where.add_part(snap->kcopyd_client->jobs());
        pe->origin_bios.push_back(bio);
        bio = nullptr;
        if (!pe->started) {
          pe->started = true;
          pe_to_start_last = pe;
        }
      }
      if (!pe->started) {
        pe->started = true;
        pe_to_start_now = pe;
      }
    }
    dm_exception_table_unlock(lock);
    sim::up_read(&snap->lock);
    if (pe_to_start_now) start_copy(pe_to_start_now);
  }
  if (pe_to_start_last) start_copy(pe_to_start_last);
  return r;
}

// do_origin: `limit` (origin writes, not retries) waits for each snapshot's throttle first,
// with _origins_lock dropped while it sleeps, then starts over.
int do_origin(DmDev* origin_dev, Bio* bio, bool limit) {
  KFRAME();
  int r = model::DM_MAPIO_REMAPPED;
  for (;;) {
    sim::down_read(&mod().origins_lock);
    origin* o = __lookup_origin(origin_dev->bdev);
    if (o && limit) {
      bool slept = false;
      for (dm_snapshot* s : o->snapshots)
        if (!wait_for_in_progress(s, true)) {
          slept = true;
          break;
        }
      if (slept) continue;  // the lock was dropped before sleeping
    }
    if (o) r = __origin_write(o->snapshots, bio->sector, bio);
    sim::up_read(&mod().origins_lock);
    return r;
  }
}

int origin_ctr(DmTarget* ti, const DmArgs& argv) {
  if (argv.size() != 1) {
    ti->error = "origin: incorrect number of arguments";
    return -EINVAL;
  }
  auto* o = new dm_origin;
  if (model::dm_get_device(ti, argv[0], &o->dev)) {
    ti->error = "Cannot get target device";
    delete o;
    return -EINVAL;
  }
  o->ti = ti;
  ti->private_ = o;
  ti->num_flush_bios = 1;
  ti->flush_supported = true;
  mod().origin_targets.emplace(o->dev->bdev, o);
  return 0;
}

void origin_dtr(DmTarget* ti) {
  auto* o = static_cast<dm_origin*>(ti->private_);
  auto& targets = mod().origin_targets;
  for (auto it = targets.begin(); it != targets.end(); ++it)
    if (it->second == o) {
      targets.erase(it);
      break;
    }
  model::dm_put_device(ti, o->dev);
  delete o;
}

int origin_map(DmTarget* ti, Bio* bio) {
  KFRAME();
  auto* o = static_cast<dm_origin*>(ti->private_);
  bio->bdev = o->dev->bdev;
  bio->sector = model::dm_target_offset(ti, bio->sector);
  if (bio->flags & model::REQ_PREFLUSH) return model::DM_MAPIO_REMAPPED;
  if (bio->op == model::ReqOp::Read) return model::DM_MAPIO_REMAPPED;
  // dm_accept_partial_bio at split_boundary is ti->max_io_len here (set at resume): each piece
  // touches one chunk of every snapshot.
  return do_origin(o->dev, bio, true);
}

// origin_resume: the split boundary is the smallest chunk of the origin's snapshots now.
void origin_resume(DmTarget* ti) {
  auto* o = static_cast<dm_origin*>(ti->private_);
  o->split_boundary = get_origin_minimum_chunksize(o->dev->bdev);
  ti->max_io_len = o->split_boundary;
  sim::down_write(&mod().origins_lock);
  mod().dm_origins[o->dev->bdev] = o;
  sim::up_write(&mod().origins_lock);
}

void origin_postsuspend(DmTarget* ti) {
  auto* o = static_cast<dm_origin*>(ti->private_);
  sim::down_write(&mod().origins_lock);
  if (__lookup_dm_origin(o->dev->bdev) == o) mod().dm_origins.erase(o->dev->bdev);
  sim::up_write(&mod().origins_lock);
}

void origin_status(DmTarget* ti, model::StatusType type, unsigned, std::string& result) {
  auto* o = static_cast<dm_origin*>(ti->private_);
  result = type == model::STATUSTYPE_INFO ? std::string() : o->dev->bdev->devt();
}

int origin_iterate_devices(DmTarget* ti, const model::IterateFn& fn) {
  auto* o = static_cast<dm_origin*>(ti->private_);
  return fn(ti, o->dev, 0, ti->len);
}

int origin_locate(DmTarget* ti, uint64_t sector, model::BlockDevice** bdev, uint64_t* out) {
  auto* o = static_cast<dm_origin*>(ti->private_);
  *bdev = o->dev->bdev;
  *out = model::dm_target_offset(ti, sector);
  return 0;
}

const model::TargetType origin_target = {
    .name = "snapshot-origin",
    .version = {1, 9, 0},
    .ctr = origin_ctr,
    .dtr = origin_dtr,
    .map = origin_map,
    .postsuspend = origin_postsuspend,
    .resume = origin_resume,
    .status = origin_status,
    .iterate_devices = origin_iterate_devices,
    .locate = origin_locate,
};

const model::TargetType snapshot_target = {
    .name = "snapshot",
    .version = {1, 16, 0},
    .ctr = snapshot_ctr,
    .dtr = snapshot_dtr,
    .map = snapshot_map,
    .end_io = snapshot_end_io,
    .preresume = snapshot_preresume,
    .resume = snapshot_resume,
    .status = snapshot_status,
    .iterate_devices = snapshot_iterate_devices,
    .io_hints = snapshot_io_hints,
    .state_signature = snapshot_state_signature,
};

const model::TargetType merge_target = {
    .name = "snapshot-merge",
    .version = {1, 5, 0},
    .ctr = snapshot_ctr,
    .dtr = snapshot_dtr,
    .map = snapshot_merge_map,
    .end_io = snapshot_end_io,
    .presuspend = snapshot_merge_presuspend,
    .preresume = snapshot_preresume,
    .resume = snapshot_merge_resume,
    .status = snapshot_status,
    .iterate_devices = snapshot_iterate_devices,
    .io_hints = snapshot_io_hints,
    .state_signature = snapshot_state_signature,
};

const model::TargetType* merge_target_type() {
  return &merge_target;
}

}  // namespace

void register_snapshot_targets() {
  register_module_param({.module = "dm_snapshot",
                         .name = "snapshot_cow_threshold",
                         .description = "Maximum number of chunks being copied on write",
                         .value = &snapshot_cow_threshold});
  register_module_param({.module = "dm_snapshot",
                         .name = "snapshot_copy_throttle",
                         .description = "A percentage of time allocated for copy on write",
                         .value = &snapshot_copy_throttle().throttle});
  model::dm_register_target(&snapshot_target);
  model::dm_register_target(&origin_target);
  model::dm_register_target(&merge_target);
}

}  // namespace engines::snapshot
