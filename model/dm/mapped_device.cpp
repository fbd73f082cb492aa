#include "model/dm/mapped_device.hpp"

#include <algorithm>

#include "model/errno.hpp"

namespace model {

namespace {

// struct dm_io: the original bio and the clones still in flight for it.
struct DmIo {
  MappedDevice* md;
  Bio* orig;
  int io_count;
  BlkStatus status;
};

uint32_t max_io_len(const DmTarget* ti, uint64_t sector) {
  const uint64_t offset = dm_target_offset(ti, sector);
  uint64_t len = ti->len - offset;
  if (ti->max_io_len) len = std::min<uint64_t>(len, ti->max_io_len - offset % ti->max_io_len);
  return static_cast<uint32_t>(std::min<uint64_t>(len, UINT32_MAX));
}

}  // namespace

// The parts of the bio path that need DmIo; friends of MappedDevice through DmIo.
struct DmIoOps {
  static void dec_pending(DmIo* io, BlkStatus error);
  static void complete(DmIo* io);
  static void map_bio(DmTarget* ti, Bio* clone, DmIo* io);
  static void clone_endio(Bio* clone, DmTarget* ti, DmIo* io);
};

MappedDevice::MappedDevice(std::string name, uint32_t minor)
    : BlockDevice(std::move(name), 253, minor),
      io_barrier("md->io_barrier"),
      suspend_lock("md->suspend_lock"),
      type_lock("md->type_lock"),
      deferred_lock("md->deferred_lock"),
      wq_(sim::alloc_workqueue("kdmflush/dm-" + std::to_string(minor), sim::WQ_MEM_RECLAIM, 0)),
      work_(
          "md->work", [this](sim::WorkStruct*) { dm_wq_work(); }, "dm_wq_work"),
      wait_("md->wait"),
      internal_resume_wait_("md->flags (DMF_SUSPENDED_INTERNALLY)") {
  limits = QueueLimits::stacking_defaults();
}

MappedDevice::~MappedDevice() = default;

DmTable* MappedDevice::get_live_table(int* srcu_idx) {
  *srcu_idx = sim::srcu_read_lock(&io_barrier);
  return map_;
}

void MappedDevice::put_live_table(int srcu_idx) {
  sim::srcu_read_unlock(&io_barrier, srcu_idx);
}

void MappedDevice::start_io_acct() {
  in_flight_++;
}

void MappedDevice::end_io_acct() {
  if (--in_flight_ == 0) sim::wake_up(&wait_);
}

void MappedDevice::submit(Bio* bio) {
  KFRAME_NAMED("dm_submit_bio");
  int srcu_idx;
  DmTable* map = get_live_table(&srcu_idx);
  // While suspending (or before the first resume) new bios wait on md->deferred.
  if (test_flag(DMF_BLOCK_IO_FOR_SUSPEND) || !map) {
    if (bio->flags & REQ_NOWAIT) {
      bio->status = BLK_STS_AGAIN;
      bio_endio(bio);
    } else if (bio->flags & REQ_RAHEAD) {
      bio_io_error(bio);
    } else {
      queue_io(bio);
    }
  } else {
    split_and_process_bio(map, bio);
  }
  put_live_table(srcu_idx);
}

void MappedDevice::set_deferred_where(Bio* bio) {
  if (test_flag(DMF_BLOCK_IO_FOR_SUSPEND))
    bio->where.set(suspend_lock, "parked on md->deferred until dm_resume, which takes md->suspend_lock");
  else
    bio->where.set(work_, "on md->deferred, for dm_wq_work");
}

void MappedDevice::retarget_deferred() {
  for (Bio* bio : deferred_) set_deferred_where(bio);
}

void MappedDevice::queue_io(Bio* bio) {
  unsigned long flags;
  sim::spin_lock_irqsave(&deferred_lock, flags);
  set_deferred_where(bio);
  deferred_.push_back(bio);
  sim::spin_unlock_irqrestore(&deferred_lock, flags);
  sim::queue_work(wq_, &work_);
}

void MappedDevice::dm_wq_work() {
  KFRAME();
  while (!test_flag(DMF_BLOCK_IO_FOR_SUSPEND)) {
    sim::spin_lock_irq(&deferred_lock);
    Bio* bio = nullptr;
    if (!deferred_.empty()) {
      bio = deferred_.front();
      deferred_.pop_front();
    }
    sim::spin_unlock_irq(&deferred_lock);
    if (!bio) break;
    submit_bio(bio);
  }
}

void MappedDevice::split_and_process_bio(DmTable* map, Bio* bio) {
  KFRAME_NAMED("dm_split_and_process_bio");
  auto* io = new DmIo{this, bio, 1, BLK_STS_OK};
  start_io_acct();
  // The bio is now wherever its clones are.
  bio->where.clear();
  in_flight_where_.add_part(bio->where);
  if (bio->flags & REQ_PREFLUSH) {
    // __send_empty_flush: num_flush_bios empty flushes to every target; the data part, if
    // any, is resubmitted once they have all completed.
    for (const auto& t : map->targets()) {
      for (unsigned i = 0; i < t->num_flush_bios; i++) {
        Bio* clone = bio_alloc_clone(nullptr, bio);
        clone->op = ReqOp::Write;
        clone->flags = REQ_PREFLUSH | REQ_SYNC;
        clone->sector = 0;
        clone->size = 0;
        clone->target_bio_nr = i;
        io->io_count++;
        bio->where.add_part(clone->where);
        DmIoOps::map_bio(t.get(), clone, io);
      }
    }
  } else {
    uint64_t sector = bio->sector;
    uint32_t remaining = bio->size, off = bio->buf_off;
    while (remaining > 0) {
      DmTarget* ti = map->find_target(sector);
      if (!ti) {
        DmIoOps::dec_pending(io, BLK_STS_IOERR);
        io = nullptr;
        break;
      }
      unsigned nr = 1;
      uint32_t len;
      if (op_is_discard_like(bio->op)) {
        nr = bio->op == ReqOp::Discard ? ti->num_discard_bios : ti->num_write_zeroes_bios;
        len = static_cast<uint32_t>(std::min<uint64_t>(remaining, ti->begin + ti->len - sector));
        // __send_changing_extent_only: a discard is cut to the device's max_discard_sectors, at
        // its multiples when the target asks for that granularity (dm-thin's prison ranges).
        const uint32_t max = limits.max_discard_sectors;
        if (bio->op == ReqOp::Discard && max)
          len = std::min<uint32_t>(len, ti->max_discard_granularity ? max - dm_target_offset(ti, sector) % max : max);
      } else {
        len = std::min(remaining, max_io_len(ti, sector));
      }
      if (nr == 0) {
        io->status = BLK_STS_NOTSUPP;
        break;
      }
      for (unsigned i = 0; i < nr; i++) {
        Bio* clone = bio_alloc_clone(nullptr, bio);
        clone->sector = sector;
        clone->size = len;
        clone->buf_off = off;
        clone->target_bio_nr = i;
        io->io_count++;
        bio->where.add_part(clone->where);
        DmIoOps::map_bio(ti, clone, io);
      }
      sector += len;
      remaining -= len;
      off += len;
    }
  }
  if (io) DmIoOps::dec_pending(io, BLK_STS_OK);  // the submission's own reference
}

void DmIoOps::map_bio(DmTarget* ti, Bio* clone, DmIo* io) {
  KFRAME_NAMED("__map_bio");
  clone->end_io = [ti, io](Bio* c) { clone_endio(c, ti, io); };
  const int r = ti->type->map(ti, clone);
  switch (r) {
    case DM_MAPIO_SUBMITTED:
      break;
    case DM_MAPIO_REMAPPED:
      if (!clone->bdev) sim::bug("dm: target " + std::string(ti->type->name) + " remapped a bio to no device");
      submit_bio(clone);
      break;
    case DM_MAPIO_KILL:
    case DM_MAPIO_REQUEUE:
      bio_put(clone);
      dec_pending(io, r == DM_MAPIO_KILL ? BLK_STS_IOERR : BLK_STS_DM_REQUEUE);
      break;
    default:
      sim::bug("dm: unimplemented target map return value: " + std::to_string(r));
  }
}

void DmIoOps::clone_endio(Bio* clone, DmTarget* ti, DmIo* io) {
  BlkStatus error = clone->status;
  if (ti->type->end_io) {
    const int r = ti->type->end_io(ti, clone, &error);
    switch (r) {
      case DM_ENDIO_DONE:
        break;
      case DM_ENDIO_REQUEUE:
        error = BLK_STS_DM_REQUEUE;
        break;
      default:
        sim::bug("dm: unimplemented target endio return value: " + std::to_string(r));
    }
  }
  bio_put(clone);
  dec_pending(io, error);
}

void DmIoOps::dec_pending(DmIo* io, BlkStatus error) {
  if (error != BLK_STS_OK) {
    // A push-back during a noflush suspend supersedes errors; otherwise the first error wins.
    if (!(io->status == BLK_STS_DM_REQUEUE && io->md->noflush_suspending()) &&
        (io->status == BLK_STS_OK || error == BLK_STS_DM_REQUEUE))
      io->status = error;
  }
  if (--io->io_count == 0) complete(io);
}

void DmIoOps::complete(DmIo* io) {
  MappedDevice* md = io->md;
  Bio* bio = io->orig;
  BlkStatus st = io->status;
  delete io;
  md->in_flight_where_.drop_part(bio->where);
  md->end_io_acct();
  if (st == BLK_STS_DM_REQUEUE) {
    if (md->noflush_suspending()) {
      // Pushed back: replayed after resume, possibly against a new table.
      sim::spin_lock(&md->deferred_lock);
      md->set_deferred_where(bio);
      md->deferred_.push_front(bio);
      sim::spin_unlock(&md->deferred_lock);
      return;
    }
    st = BLK_STS_IOERR;
  }
  if (st == BLK_STS_OK && (bio->flags & REQ_PREFLUSH) && bio->size > 0) {
    bio->flags &= ~REQ_PREFLUSH;
    md->queue_io(bio);
    return;
  }
  bio->status = st;
  bio_endio(bio);
}

int MappedDevice::wait_for_completion(bool interruptible) {
  KFRAME_NAMED("dm_wait_for_completion");
  // Userspace suspends wait interruptibly (TASK_INTERRUPTIBLE) for the bios in flight: a
  // signal ends the wait. Internal suspends wait uninterruptibly.
  sim::WaitingFor wf(in_flight_where_);
  if (!interruptible) {
    sim::wait_event(wait_, [this] { return in_flight_ == 0; });
    return 0;
  }
  return sim::wait_event_interruptible(wait_, [this] { return in_flight_ == 0; }) ? -EINTR : 0;
}

int MappedDevice::__suspend(DmTable* map, bool noflush, bool interruptible, DmFlags suspend_flag) {
  KFRAME_NAMED("__dm_suspend");
  if (noflush) set_flag(DMF_NOFLUSH_SUSPENDING);
  if (map) map->presuspend_targets();
  set_flag(DMF_BLOCK_IO_FOR_SUSPEND);
  retarget_deferred();
  // Waits for every bio inside dm_submit_bio and every other reader of the live table.
  if (map) sim::synchronize_srcu(&io_barrier);
  sim::flush_workqueue(wq_);
  const int r = wait_for_completion(interruptible);
  if (!r) set_flag(suspend_flag);
  clear_flag(DMF_NOFLUSH_SUSPENDING);
  if (map) sim::synchronize_srcu(&io_barrier);
  if (r) {
    // Interrupted: I/O flows again and the targets take their presuspend back; there is no
    // postsuspend.
    dm_queue_flush();
    if (map) map->presuspend_undo_targets();
  }
  return r;
}

int MappedDevice::wait_for_internal_resume() {
  return sim::wait_event_interruptible(internal_resume_wait_, [this] { return !suspended_internally(); }) ? -EINTR : 0;
}

int MappedDevice::suspend(bool noflush) {
  KFRAME_NAMED("dm_suspend");
  for (;;) {
    sim::mutex_lock_nested(&suspend_lock, 1);  // SINGLE_DEPTH_NESTING: an internal suspend may nest
    if (suspended()) {
      sim::mutex_unlock(&suspend_lock);
      return -EINVAL;
    }
    if (!suspended_internally()) break;
    sim::mutex_unlock(&suspend_lock);
    if (const int r = wait_for_internal_resume()) return r;
  }
  DmTable* map = map_;
  if (const int r = __suspend(map, noflush, true, DMF_SUSPENDED)) {
    sim::mutex_unlock(&suspend_lock);
    return r;
  }
  set_flag(DMF_POST_SUSPENDING);
  if (map) map->postsuspend_targets();
  clear_flag(DMF_POST_SUSPENDING);
  sim::mutex_unlock(&suspend_lock);
  return 0;
}

void MappedDevice::internal_suspend_noflush() {
  KFRAME_NAMED("dm_internal_suspend_noflush");
  sim::mutex_lock(&suspend_lock);
  if (internal_suspend_count_++ == 0) {
    if (suspended()) {
      set_flag(DMF_SUSPENDED_INTERNALLY);  // nested in the user's suspend
    } else {
      KFRAME_NAMED("__dm_internal_suspend");
      DmTable* map = map_;
      (void)__suspend(map, true, false, DMF_SUSPENDED_INTERNALLY);
      set_flag(DMF_POST_SUSPENDING);
      if (map) map->postsuspend_targets();
      clear_flag(DMF_POST_SUSPENDING);
    }
  }
  sim::mutex_unlock(&suspend_lock);
}

void MappedDevice::internal_resume() {
  KFRAME_NAMED("dm_internal_resume");
  sim::mutex_lock(&suspend_lock);
  if (!internal_suspend_count_) sim::bug("kernel BUG at drivers/md/dm.c: __dm_internal_resume without a suspend");
  if (--internal_suspend_count_ == 0) {
    KFRAME_NAMED("__dm_internal_resume");
    if (!suspended()) {
      // As kernels since "dm: fix suspend/resume pairing" resume the targets too; a failed
      // resume leaves the device suspended rather than unpaired.
      DmTable* map = map_;
      const int r = map ? map->resume_targets() : 0;
      if (r == 0)
        dm_queue_flush();
      else
        set_flag(DMF_SUSPENDED);
    }
    clear_flag(DMF_SUSPENDED_INTERNALLY);
    sim::wake_up(&internal_resume_wait_);
  }
  sim::mutex_unlock(&suspend_lock);
}

DmTable* MappedDevice::swap_table(DmTable* new_map) {
  KFRAME_NAMED("dm_swap_table");
  sim::mutex_lock(&suspend_lock);
  DmTable* old = map_;
  // __bind: capacity, queue limits, then publish the new map and wait out old readers.
  set_capacity(new_map->size());
  limits = new_map->compute_limits();
  map_ = new_map;
  event_nr_++;
  if (old) {
    KFRAME_NAMED("dm_sync_table");
    sim::synchronize_srcu(&io_barrier);
  }
  sim::mutex_unlock(&suspend_lock);
  return old;
}

int MappedDevice::resume() {
  KFRAME_NAMED("dm_resume");
  for (;;) {
    sim::mutex_lock_nested(&suspend_lock, 1);
    if (!suspended()) {
      sim::mutex_unlock(&suspend_lock);
      return 0;
    }
    if (!suspended_internally()) break;
    sim::mutex_unlock(&suspend_lock);
    if (const int r = wait_for_internal_resume()) return r;
  }
  DmTable* map = map_;
  if (!map || map->size() == 0) {
    sim::mutex_unlock(&suspend_lock);
    return -EINVAL;
  }
  int r;
  {
    KFRAME_NAMED("__dm_resume");
    r = map->resume_targets();
    if (r == 0) dm_queue_flush();  // release parked bios to the (possibly new) live table
  }
  if (r == 0) clear_flag(DMF_SUSPENDED);
  sim::mutex_unlock(&suspend_lock);
  return r;
}

void MappedDevice::dm_queue_flush() {
  clear_flag(DMF_BLOCK_IO_FOR_SUSPEND);
  retarget_deferred();
  sim::queue_work(wq_, &work_);
}

void MappedDevice::destroy_live_table() {
  KFRAME_NAMED("__dm_destroy");
  sim::mutex_lock(&suspend_lock);
  set_flag(DMF_FREEING);
  DmTable* map = map_;
  if (map && !suspended()) {
    map->presuspend_targets();
    map->postsuspend_targets();
  }
  map_ = nullptr;
  if (map) {
    sim::synchronize_srcu(&io_barrier);
    map->destroy();
    delete map;
  }
  sim::mutex_unlock(&suspend_lock);
}

}  // namespace model
