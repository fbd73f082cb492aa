// The dm-era target (the "struct era" half of drivers/md/dm-era-target.c): era_map defers the
// first write to a block in each era to a single worker, which marks the block on disk, commits
// and only then submits; rollovers, archives and digestion run in that worker too. Userland
// reaches metadata through RPCs served by the worker, or (the fix of the table-swap deadlock)
// in its own thread under the metadata mutex.
#include "engines/era/era_target.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <list>
#include <map>

#include "engines/era/era_metadata.hpp"
#include "engines/journal.hpp"
#include "model/content.hpp"
#include "model/dm/dm_target.hpp"
#include "model/dm/mapped_device.hpp"
#include "model/errno.hpp"
#include "model/knobs.hpp"
#include "sim/kernel.hpp"

namespace engines::era {

using model::Bio;
using model::DmArgs;
using model::DmDev;
using model::DmTarget;

namespace {

void DMERR(const std::string& msg) {
  model::dm_log("era", msg);
}

struct rpc {
  int (*fn0)(era_metadata* md) = nullptr;
  int (*fn1)(era_metadata* md, void* arg) = nullptr;
  void* arg = nullptr;
  int result = 0;
  sim::Completion complete{"rpc->complete"};
  sim::Holder where;  // on e->rpc_calls until process_rpc_calls completes it
};

struct era {
  DmTarget* ti = nullptr;
  DmDev* metadata_dev = nullptr;
  DmDev* origin_dev = nullptr;

  uint64_t nr_blocks = 0;
  uint32_t sectors_per_block = 0;
  int sectors_per_block_shift = -1;
  std::unique_ptr<era_metadata> md;

  sim::Workqueue* wq = nullptr;
  sim::WorkStruct worker;

  sim::Spinlock deferred_lock{"era->deferred_lock"};
  std::deque<Bio*> deferred_bios;

  sim::Spinlock rpc_lock{"era->rpc_lock"};
  std::list<rpc*> rpc_calls;

  digest dg;
  sim::Atomic suspended{0};

  // The fix of the table-swap deadlock: status and messages run in the caller under this.
  sim::Mutex metadata_lock{"era->metadata_lock"};

  era_variant variant;
  KmemOwner kmem{"dm-era instance"};

  // dmsim instrumentation (the reference's quiescence invariant, D.6).
  bool worker_stopped = false;  // stop_worker returned, start_worker not yet called
  bool preresumed = false;      // the table became live at least once
  uint64_t writes_at_ctr = 0;
  std::string top_device;                    // "/dev/mapper/NAME", for the journal
  std::vector<uint64_t> marked_uncommitted;  // newly marked blocks the next commit records

  era()
      : worker(
            "era->worker", [this](sim::WorkStruct*) { do_work(); }, "do_work") {}
  void do_work();
};

uint64_t metadata_writes(const era* e) {
  return e->md ? e->md->bm->bufio().writes_submitted() + e->md->bm->bufio().dirty_count() : 0;
}

// ---- remapping ----

uint64_t get_block(const era* e, const Bio* bio) {
  if (e->sectors_per_block_shift >= 0) return bio->sector >> e->sectors_per_block_shift;
  return bio->sector / e->sectors_per_block;
}

void remap_to_origin(era* e, Bio* bio) {
  bio->bdev = e->origin_dev->bdev;
}

// The write at the top of the stack a clone belongs to, whatever it carries (zeroes too): the
// id the oracle's record of that write has. 0 for an empty flush.
uint64_t write_id_of(const Bio* bio) {
  return bio->size ? bio->top_id : 0;
}

// ---- the worker ----

void wake_worker(era* e) {
  KFRAME();
  if (!atomic_read(&e->suspended)) sim::queue_work(e->wq, &e->worker);
}

void process_old_eras(era* e) {
  KFRAME();
  if (!e->dg.step) return;
  int r = e->dg.step(e->md.get(), &e->dg);
  if (r < 0) {
    DMERR("process_old_eras: digest step failed, stopping digestion");
    e->dg.step = nullptr;
  } else if (e->dg.step) {
    wake_worker(e);
  }
}

void process_deferred_bios(era* e) {
  KFRAME();
  writeset* ws = e->md->current_writeset;
  std::deque<Bio*> deferred;
  sim::spin_lock(&e->deferred_lock);
  deferred.swap(e->deferred_bios);
  sim::spin_unlock(&e->deferred_lock);
  if (deferred.empty()) return;

  bool commit_needed = false, failed = false;
  for (Bio* bio : deferred) {
    const uint64_t block = get_block(e, bio);
    int r = writeset_test_and_set(&e->md->bitset_info, ws, static_cast<uint32_t>(block),
                                  e->variant.incore_bit_before_commit);
    if (r < 0) {
      failed = true;
    } else if (r == 0) {
      commit_needed = true;
      e->marked_uncommitted.push_back(block);
    }
  }
  if (commit_needed && metadata_commit(e->md.get())) failed = true;

  if (failed) {
    for (Bio* bio : deferred) model::bio_io_error(bio);
    return;
  }
  for (Bio* bio : deferred) {
    const uint64_t block = get_block(e, bio);
    // Only now is the in-core bit true on disk too (pre-5.12 it was set before the commit).
    if (commit_needed && !e->variant.incore_bit_before_commit) writeset_set_incore(ws, block);
    journal_event({.kind = JournalEvent::EraMark,
                   .device = e->top_device,
                   .write_id = write_id_of(bio),
                   .era_block = block,
                   .era = e->md->current_era});
    model::submit_bio(bio);
  }
}

void process_rpc_calls(era* e) {
  KFRAME();
  std::list<rpc*> calls;
  sim::spin_lock(&e->rpc_lock);
  calls.swap(e->rpc_calls);
  sim::spin_unlock(&e->rpc_lock);
  bool need_commit = false;
  for (rpc* c : calls) {
    c->result = c->fn0 ? c->fn0(e->md.get()) : c->fn1(e->md.get(), c->arg);
    need_commit = true;
  }
  if (need_commit) {
    int r = metadata_commit(e->md.get());
    if (r)
      for (rpc* c : calls) c->result = r;
  }
  for (rpc* c : calls) sim::complete(&c->complete);
}

void kick_off_digest(era* e) {
  if (e->md->archived_writesets) {
    e->md->archived_writesets = false;
    metadata_digest_start(e->md.get(), &e->dg);
  }
}

void era::do_work() {
  // dmsim instrumentation: after stop_worker returned, nothing may touch the metadata until
  // start_worker (the flush_workqueue bug let a re-queued run through).
  if (worker_stopped) sim::warn_on(true, "dmsim: era do_work ran after stop_worker returned");
  if (!variant.status_in_worker) sim::mutex_lock(&metadata_lock);
  kick_off_digest(this);
  process_old_eras(this);
  process_deferred_bios(this);
  process_rpc_calls(this);
  if (!variant.status_in_worker) sim::mutex_unlock(&metadata_lock);
}

void defer_bio(era* e, Bio* bio) {
  bio->where.set(e->worker, "on era->deferred_bios, for do_work");
  sim::spin_lock(&e->deferred_lock);
  e->deferred_bios.push_back(bio);
  sim::spin_unlock(&e->deferred_lock);
  wake_worker(e);
}

// Makes an RPC to the worker: the caller sleeps, uninterruptibly, until the worker served it.
int perform_rpc(era* e, rpc* c) {
  KFRAME();
  c->result = 0;
  sim::reinit_completion(&c->complete);
  c->where.set(e->worker, "on era->rpc_calls, for do_work");
  sim::spin_lock(&e->rpc_lock);
  e->rpc_calls.push_front(c);  // list_add: newest first
  sim::spin_unlock(&e->rpc_lock);
  wake_worker(e);
  sim::WaitingFor wf(c->where);
  sim::wait_for_completion(&c->complete);
  return c->result;
}

int in_worker0(era* e, int (*fn)(era_metadata*)) {
  KFRAME();
  rpc c;
  c.fn0 = fn;
  return perform_rpc(e, &c);
}

int in_worker1(era* e, int (*fn)(era_metadata*, void*), void* arg) {
  KFRAME();
  rpc c;
  c.fn1 = fn;
  c.arg = arg;
  return perform_rpc(e, &c);
}

void start_worker(era* e) {
  KFRAME();
  e->worker.clear_signalers();
  e->worker_stopped = false;
  atomic_set(&e->suspended, 0);
}

void stop_worker(era* e) {
  KFRAME();
  atomic_set(&e->suspended, 1);
  // Only this instance's preresume starts the worker again, and resume runs under
  // md->suspend_lock: what a caller stuck on an RPC is really waiting for.
  e->worker.add_signaler(model::dm_suspend_lock(e->ti),
                         "start_worker() in this instance's preresume, under "
                         "md->suspend_lock");
  if (e->variant.stop_worker_flush)
    sim::flush_workqueue(e->wq);  // pre-5.19: misses a run that re-queued itself meanwhile
  else
    sim::drain_workqueue(e->wq);
  e->worker_stopped = true;
}

// RPC adapters for the functions that take an argument.
int resize_rpc(era_metadata* md, void* arg) {
  return metadata_resize(md, *static_cast<uint64_t*>(arg));
}
int get_stats_rpc(era_metadata* md, void* arg) {
  return metadata_get_stats(md, static_cast<metadata_stats*>(arg));
}

// ---- target methods ----

void era_destroy(era* e) {
  if (e->wq && (sim::work_pending(&e->worker) || e->worker.running())) {
    // dmsim instrumentation: the kernel would free the metadata under the running worker.
    sim::warn_on(true, "dmsim: era instance destroyed while do_work is queued or running (use-after-free)");
    sim::drain_workqueue(e->wq);
  }
  if (e->md) {
    // dmsim instrumentation: metadata written by an instance after its postsuspend (or by
    // one that never became live) lands over whatever the next instance committed.
    const uint64_t since_ctr = metadata_writes(e) - e->writes_at_ctr;
    const size_t dirty = e->md->bm->bufio().dirty_count();
    if (e->worker_stopped && dirty)
      sim::warn_on(true,
                   "dmsim: era instance destroyed with uncommitted metadata after its postsuspend (the dirty "
                   "blocks reach the disk now)");
    else if (!e->preresumed && since_ctr)
      sim::warn_on(true, "dmsim: era instance whose table never became live wrote metadata");
    metadata_close(std::move(e->md));
  }
  if (e->wq) sim::destroy_workqueue(e->wq);
  if (e->origin_dev) model::dm_put_device(e->ti, e->origin_dev);
  if (e->metadata_dev) model::dm_put_device(e->ti, e->metadata_dev);
  e->kmem.check_leaks();
  delete e;
}

uint64_t calc_nr_blocks(const era* e) {
  return (e->ti->len + e->sectors_per_block - 1) / e->sectors_per_block;
}

// Block numbers come from a shift when the size is a power of two.
void set_block_size(era* e, uint32_t sectors) {
  e->sectors_per_block = sectors;
  e->sectors_per_block_shift = (sectors & (sectors - 1)) ? -1 : __builtin_ctz(sectors);
}

bool valid_block_size(uint64_t block_size) {
  return block_size > 0 && (block_size & (MIN_BLOCK_SIZE - 1)) == 0;
}

// The table lines an era instance was built from, for checkers that outlive the device.
std::map<std::string, era_table_info>& table_history() {
  static std::map<std::string, era_table_info> h;
  return h;
}

// era_ctr's arguments: the metadata and origin devices, then the block size. 0, or -EINVAL
// with ti->error saying which was wrong.
int era_parse_args(era* e, DmTarget* ti, const DmArgs& argv) {
  if (model::dm_get_device(ti, argv[0], &e->metadata_dev)) {
    ti->error = "Error opening metadata device";
    return -EINVAL;
  }
  if (model::dm_get_device(ti, argv[1], &e->origin_dev)) {
    ti->error = "Error opening data device";
    return -EINVAL;
  }
  uint64_t bs = 0;
  if (!model::dm_parse_u64(argv[2], &bs) || bs > 0xffffffffull) {
    ti->error = "Error parsing block size";
    return -EINVAL;
  }
  e->sectors_per_block = static_cast<uint32_t>(bs);
  ti->max_io_len = e->sectors_per_block;
  if (!valid_block_size(e->sectors_per_block)) {
    ti->error = "Invalid block size";
    return -EINVAL;
  }
  set_block_size(e, e->sectors_per_block);
  return 0;
}

int era_ctr(DmTarget* ti, const DmArgs& argv) {
  KFRAME();
  if (argv.size() != 3) {
    ti->error = "Invalid argument count";
    return -EINVAL;
  }
  era* e = new era;
  e->ti = ti;
  e->variant = era_variant::from_knobs();
  int r = era_parse_args(e, ti, argv);
  if (r) {
    era_destroy(e);
    return r;
  }
  // The table's block size, whichever size the superblock has (see no_block_size_check).
  const uint32_t table_block_size = e->sectors_per_block;

  r = metadata_open(e->metadata_dev->bdev, e->sectors_per_block, true, e->variant, &e->kmem, &e->md);
  if (r) {
    ti->error = "Error reading metadata";
    era_destroy(e);
    return r;
  }
  // Pre-5.12 a superblock of another block size was accepted: md->block_size (what every commit
  // writes back) kept the superblock's, while get_block and calc_nr_blocks use the table's.
  if (e->md->formatted) journal_event({.kind = JournalEvent::EraFormat, .device = e->metadata_dev->name});
  e->writes_at_ctr = metadata_writes(e);  // formatting a blank device is the one write a ctr may do
  e->top_device = "/dev/mapper/" + model::dm_device_name(model::dm_table_get_md(ti->table));
  e->md->on_commit = [e](const uint8_t* block) {
    // The superblock's first sector as it will be written, for the Z3 crash search.
    std::vector<uint8_t> copy(block, block + DM_ERA_METADATA_BLOCK_SIZE);
    pd::validator_prepare(sb_validator, SUPERBLOCK_LOCATION, copy.data(), copy.size());
    CommitRecord rec;
    rec.metadata_device = e->metadata_dev->name;
    rec.sector = 0;
    rec.token = model::Sector::of_bytes(copy.data()).token;
    rec.top_device = e->top_device;
    rec.block_sectors = e->sectors_per_block;
    rec.blocks.swap(e->marked_uncommitted);
    journal_commit(std::move(rec));
  };

  if (e->variant.resize_in_ctr) {
    // v3.15-v5.11: the constructor resizes, even for a table that never becomes live.
    e->nr_blocks = calc_nr_blocks(e);
    r = metadata_resize(e->md.get(), e->nr_blocks);
    if (r) {
      ti->error = "couldn't resize metadata";
      era_destroy(e);
      return -ENOMEM;
    }
  } else if (!e->variant.status_in_worker) {
    e->nr_blocks = e->md->nr_blocks;  // bitmaps were allocated at open
  }

  e->wq = sim::alloc_ordered_workqueue("dm-era", sim::WQ_MEM_RECLAIM);
  ti->private_ = e;
  ti->num_flush_bios = 1;
  ti->flush_supported = true;
  ti->num_discard_bios = 1;
  table_history()[model::dm_device_name(model::dm_table_get_md(ti->table))] =
      era_table_info{e->metadata_dev->name, e->origin_dev->name, table_block_size};
  return 0;
}

void era_dtr(DmTarget* ti) {
  KFRAME();
  era_destroy(static_cast<era*>(ti->private_));
}

int era_map(DmTarget* ti, Bio* bio) {
  era* e = static_cast<era*>(ti->private_);
  const uint64_t block = get_block(e, bio);
  // Every bio goes to the origin; a write to a block not yet marked in this era waits.
  remap_to_origin(e, bio);
  if (!(bio->flags & model::REQ_PREFLUSH) && model::op_is_write(bio->op)) {
    const uint32_t era_now = e->md->current_era;
    journal_event({.kind = JournalEvent::EraMap,
                   .device = e->top_device,
                   .write_id = write_id_of(bio),
                   .era_block = block,
                   .era = era_now});
    if (!metadata_current_marked(e->md.get(), block)) {
      defer_bio(e, bio);
      return model::DM_MAPIO_SUBMITTED;
    }
    journal_event({.kind = JournalEvent::EraMark,
                   .device = e->top_device,
                   .write_id = write_id_of(bio),
                   .era_block = block,
                   .era = era_now});
  }
  return model::DM_MAPIO_REMAPPED;
}

void era_postsuspend(DmTarget* ti) {
  KFRAME();
  era* e = static_cast<era*>(ti->private_);
  if (in_worker0(e, metadata_era_archive)) DMERR("era_postsuspend: couldn't archive current era");
  stop_worker(e);
  if (!e->variant.commit_before_worker_stops) {
    // Since 5.19: the worker may have changed metadata after the archive's commit.
    if (!e->variant.status_in_worker) sim::mutex_lock(&e->metadata_lock);
    if (metadata_commit(e->md.get())) DMERR("era_postsuspend: metadata_commit failed");
    if (!e->variant.status_in_worker) sim::mutex_unlock(&e->metadata_lock);
  }
  // dmsim instrumentation: postsuspend must leave nothing uncommitted behind.
  if (const size_t dirty = e->md->bm->bufio().dirty_count())
    sim::warn_on(true, ("dmsim: era postsuspend returned with " + std::to_string(dirty) +
                        " uncommitted metadata block(s) in its cache")
                           .c_str());
}

int era_preresume(DmTarget* ti) {
  KFRAME();
  era* e = static_cast<era*>(ti->private_);
  uint64_t new_size = calc_nr_blocks(e);
  e->preresumed = true;
  if (e->nr_blocks != new_size) {
    if (e->variant.resize_in_worker) {
      // The never-merged proposal: the worker resizes, after a digestion step with the old size.
      int r = in_worker1(e, resize_rpc, &new_size);
      if (r) return r;
    } else {
      if (!e->variant.status_in_worker) sim::mutex_lock(&e->metadata_lock);
      int r = metadata_resize(e->md.get(), new_size);
      if (r)
        DMERR("era_preresume: metadata_resize failed");
      else if ((r = metadata_commit(e->md.get())))
        DMERR("era_preresume: metadata_commit failed");
      if (!e->variant.status_in_worker) sim::mutex_unlock(&e->metadata_lock);
      if (r) return r;
    }
    e->nr_blocks = new_size;
    journal_event({.kind = JournalEvent::EraResize, .device = e->top_device, .nr_blocks = new_size});
  }
  start_worker(e);
  // Pre-5.12 a new era started without archiving a current writeset left by a crash.
  int r = in_worker0(e, e->variant.no_writeset_recovery ? metadata_new_era : metadata_era_rollover);
  if (r) {
    DMERR("era_preresume: metadata_era_rollover failed");
    return r;
  }
  return 0;
}

void era_status(DmTarget* ti, model::StatusType type, unsigned, std::string& result) {
  KFRAME();
  era* e = static_cast<era*>(ti->private_);
  if (type == model::STATUSTYPE_TABLE) {
    result =
        e->metadata_dev->bdev->devt() + " " + e->origin_dev->bdev->devt() + " " + std::to_string(e->sectors_per_block);
    return;
  }
  metadata_stats stats;
  int r;
  if (e->variant.status_in_worker) {
    r = in_worker1(e, get_stats_rpc, &stats);
  } else {
    sim::mutex_lock(&e->metadata_lock);
    r = metadata_get_stats(e->md.get(), &stats);
    sim::mutex_unlock(&e->metadata_lock);
  }
  if (r) {
    result = "Error";
    return;
  }
  result = std::to_string(DM_ERA_METADATA_BLOCK_SIZE >> 9) + " " + std::to_string(stats.used) + "/" +
           std::to_string(stats.total) + " " + std::to_string(stats.era) + " " +
           (stats.snap != SUPERBLOCK_LOCATION ? std::to_string(stats.snap) : "-");
}

// The posted fix: a message runs in the caller under the metadata mutex and commits.
int process_message(era* e, int (*fn)(era_metadata*)) {
  KFRAME();
  sim::mutex_lock(&e->metadata_lock);
  int r = fn(e->md.get());
  const int c = metadata_commit(e->md.get());
  if (c) r = c;
  sim::mutex_unlock(&e->metadata_lock);
  wake_worker(e);  // digest what was archived
  return r;
}

bool iequals(const std::string& a, const char* b) {
  return a.size() == std::strlen(b) &&
         std::equal(a.begin(), a.end(), b, [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

int era_message(DmTarget* ti, const DmArgs& argv, std::string&) {
  KFRAME();
  era* e = static_cast<era*>(ti->private_);
  if (argv.size() != 1) {
    DMERR("incorrect number of message arguments");
    return -EINVAL;
  }
  int (*fn)(era_metadata*) = nullptr;
  if (iequals(argv[0], "checkpoint"))
    fn = metadata_checkpoint;
  else if (iequals(argv[0], "take_metadata_snap"))
    fn = metadata_take_snap;
  else if (iequals(argv[0], "drop_metadata_snap"))
    fn = metadata_drop_snap;
  if (!fn) {
    DMERR("unsupported message '" + argv[0] + "'");
    return -EINVAL;
  }
  return e->variant.status_in_worker ? in_worker0(e, fn) : process_message(e, fn);
}

int era_iterate_devices(DmTarget* ti, const model::IterateFn& fn) {
  era* e = static_cast<era*>(ti->private_);
  return fn(ti, e->origin_dev, 0, e->origin_dev->bdev->capacity());
}

void era_io_hints(DmTarget* ti, model::QueueLimits* limits) {
  era* e = static_cast<era*>(ti->private_);
  const uint64_t io_opt_sectors = limits->io_opt >> 9;
  // Keep stacked limits that already suit the block size.
  if (io_opt_sectors < e->sectors_per_block || io_opt_sectors % e->sectors_per_block) {
    limits->io_min = 0;
    limits->io_opt = e->sectors_per_block << 9;
  }
}

// Data stays where it was written: the origin sector is the era device's sector.
int era_locate(DmTarget* ti, uint64_t sector, model::BlockDevice** bdev, uint64_t* out) {
  era* e = static_cast<era*>(ti->private_);
  *bdev = e->origin_dev->bdev;
  *out = sector;
  return 0;
}

// Coverage for dmsim explore: the era (small ones exactly), digestion, a held metadata
// snapshot, the worker's and the device's phase; bounded so that states repeat.
std::string era_state_signature(DmTarget* ti) {
  const era* e = static_cast<const era*>(ti->private_);
  if (!e || !e->md) return "no-metadata";
  const uint32_t cur = e->md->current_era;
  std::string sig = "era=" + (cur < 6 ? std::to_string(cur) : std::string("6+"));
  if (e->dg.step) sig += " digesting";
  if (e->md->archived_writesets) sig += " archived";
  if (e->md->metadata_snap != SUPERBLOCK_LOCATION) sig += " snap";
  if (e->worker_stopped) sig += " worker-stopped";
  if (!e->preresumed) sig += " never-resumed";
  if (!e->deferred_bios.empty()) sig += " deferred";
  return sig;
}

const model::TargetType era_target = {
    .name = "era",
    .version = {1, 0, 0},
    .ctr = era_ctr,
    .dtr = era_dtr,
    .map = era_map,
    .postsuspend = era_postsuspend,
    .preresume = era_preresume,
    .status = era_status,
    .message = era_message,
    .iterate_devices = era_iterate_devices,
    .io_hints = era_io_hints,
    .locate = era_locate,
    .state_signature = era_state_signature,
};

}  // namespace

const era_table_info* era_table_for(const std::string& device_name) {
  auto it = table_history().find(device_name);
  return it == table_history().end() ? nullptr : &it->second;
}

void register_era_target() {
  model::dm_register_target(&era_target);
}

}  // namespace engines::era
