// The historical dm-snapshot behaviours as variant knobs: one row each, with the patch or thread
// it comes from and the release whose code has the fix (inferred from posting dates and the trees
// the patches went to, not read off git tags). snapshot_variant (snapshot.hpp) is read from here.
#include "engines/snapshot/snapshot.hpp"
#include "model/knobs.hpp"

namespace engines::snapshot {

namespace {

constexpr model::KnobRow<snapshot_variant> kSnapshotKnobs[] = {
    {.name = "snapshot.cow_throttle_semaphore",
     .field = &snapshot_variant::cow_throttle_semaphore,
     .fixed_in = "5.4",
     .detects = "deadlock",
     .source = "dm-devel: [PATCH] dm snapshot: rework COW throttling to fix deadlock (2019-10, Mikulas Patocka; "
               "reported by Guruswamy Basavaiah, analysed by Nikos Tsironis), fixing 721b1d98fb51 (5.0)",
     .description = "COW throttling is a counting semaphore taken in start_copy while an origin write holds "
                    "_origins_lock for read: a throttled writer sleeps in down() holding the read lock, a snapshot "
                    "being created or removed (on any origin) queues for write, and the kcopyd worker that would "
                    "up() the semaphore first re-drives a deferred origin write, which needs the read lock behind "
                    "the queued writer",
     .affects = "5.0 to 5.3 (721b1d98fb51 added the semaphore in 5.0), and stable backports of it",
     .introduced_in = "5.0"},
    {.name = "snapshot.in_progress_uninit",
     .field = &snapshot_variant::in_progress_uninit,
     .fixed_in = "never released",
     .detects = "hung-task",
     .source = "dm-devel: the 4.4.184 backport of \"dm snapshot: rework COW throttling to fix deadlock\" for Guruswamy "
               "Basavaiah (2019-10): the snapshot came from a non-zeroing allocation",
     .description = "in_progress is never set in the constructor and starts with whatever the allocation held (slab "
                    "poison here): it is above the threshold, so the first write to the origin or the snapshot "
                    "sleeps in wait_for_in_progress, and no copy in flight will ever wake it",
     .affects = "the 4.4 stable backport only (mainline zeroes the structure)"},
    {.name = "snapshot.rt_bitlock_nesting",
     .field = &snapshot_variant::rt_bitlock_nesting,
     .fixed_in = "6.19",
     .detects = "atomic-sleep",
     .source = "f79ae415b64c dm snapshot: Make exception tables scalable (5.2); dm-devel: dm-snapshot: fix crash with "
               "the realtime kernel (2019-11); 8f591d86bc0f dm-snapshot: fix 'scheduling while atomic' on real-time "
               "kernels (2025-12)",
     .description = "the exception tables are locked with hlist_bl bit locks (preemption disabled), and inside them "
                    "the code takes spinlock_t locks (pe_allocation_lock, tracked_chunk_lock), which sleep on "
                    "PREEMPT_RT: sleeping function called from invalid context (machine: {preempt-rt: true})",
     .affects = "5.2 to 6.18 on PREEMPT_RT kernels",
     .introduced_in = "5.2"},
    {.name = "snapshot.parallel_kcopyd_callbacks",
     .field = &snapshot_variant::parallel_kcopyd_callbacks,
     .fixed_in = "never released",
     .detects = "bug",
     .source = "dm-devel: Copy Offload thread (2022-03): Mikulas Patocka and Nikos Tsironis on kcopyd callbacks that "
               "dm-snapshot assumes are serialised per client",
     .description = "copy completions of one snapshot run in parallel, without a lock, as a kcopyd that completes "
                    "jobs on the submitting CPU would deliver them: persistent_commit_exception calls share the "
                    "area index and the callback array, so a completion appends to an area another is committing "
                    "(past its end once it is full), and one commit runs callbacks of exceptions it did not write"},
    {.name = "snapshot.merge_no_flush_before_commit",
     .field = &snapshot_variant::merge_no_flush_before_commit,
     .fixed_in = "5.12",
     .detects = "snapshot-merge-durable",
     .source = "fcc42338375a dm snapshot: flush merged data before committing metadata (2021, Akilesh Kailash)",
     .description = "merge_callback clears the merged exceptions on the COW device (a FLUSH|FUA write there) without "
                    "flushing the origin first: after a power cut the exceptions are gone while the merged data is "
                    "still lost from the origin's volatile cache"},
    {.name = "snapshot.copy_error_bypasses_store",
     .field = &snapshot_variant::copy_error_bypasses_store,
     .fixed_in = "4.1",
     .detects = "hung-task",
     .source = "dm snapshot: fix hung bios when copy error occurs (2015, Mikulas Patocka); the commit id and release "
               "were not confirmed",
     .description = "a failed copy is completed without passing through the exception store, so the persistent "
                    "store's count of prepared exceptions never returns to zero: the commits of other exceptions "
                    "stay batched and their origin writes never complete"},
    {.name = "snapshot.completion_as_copies_finish",
     .field = &snapshot_variant::completion_as_copies_finish,
     .fixed_in = "3.10",
     .detects = "snapshot-no-leak",
     .source = "230c83afdd9cd dm snapshot: avoid snapshot space leak on crash (2013, Mikulas Patocka); the release "
               "is inferred from the posting date",
     .description = "copy_callback commits each exception as soon as its copy finishes, while COW chunks are "
                    "allocated in prepare order: a later chunk's exception can be committed (a full metadata area "
                    "is written) while an earlier one still copies, and after a power cut the earlier chunk is "
                    "never referenced nor reused: COW space leaks"},
};

}  // namespace

snapshot_variant snapshot_variant::from_knobs() {
  return model::variant_from_knobs(kSnapshotKnobs);
}

void register_snapshot_knobs() {
  model::register_knobs(kSnapshotKnobs);
}

void register_dm_snapshot() {
  static bool done = false;
  if (done) return;
  done = true;
  register_snapshot_targets();
  register_snapshot_knobs();
  register_snapshot_checks();
}

}  // namespace engines::snapshot
