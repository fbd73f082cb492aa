// dm-snapshot in dmsim: the snapshot-origin, snapshot and snapshot-merge targets, their variant
// knobs and their checks.
#pragma once

namespace engines::snapshot {

// Registers everything below with dm core and the harness (once per process).
void register_dm_snapshot();

void register_snapshot_targets();  // snapshot_target.cpp
void register_snapshot_knobs();    // snapshot_knobs.cpp
void register_snapshot_checks();   // snapshot_checks.cpp

// The historical behaviours a run can switch back on (dmsim knobs "snapshot.*", one row each in
// snapshot_knobs.cpp), read once when a target is constructed. All false is the fixed engine.
struct snapshot_variant {
  bool cow_throttle_semaphore = false;        // down(cow_count) with _origins_lock held (5.0-5.3)
  bool in_progress_uninit = false;            // the 4.4 backport: in_progress starts as garbage
  bool rt_bitlock_nesting = false;            // hlist_bl bit locks around spinlock_t (RT: sleeps atomically)
  bool parallel_kcopyd_callbacks = false;     // copy completions delivered in parallel, unlocked
  bool merge_no_flush_before_commit = false;  // merged chunks forgotten before the origin is flushed
  bool copy_error_bypasses_store = false;     // a failed copy skips commit_exception: batches hang
  bool completion_as_copies_finish = false;   // exceptions committed in copy order, not allocation order

  static snapshot_variant from_knobs();
};

// The module parameter dm_snapshot.snapshot_cow_threshold (DEFAULT_COW_THRESHOLD).
extern unsigned snapshot_cow_threshold;

}  // namespace engines::snapshot
