// The historical dm-era bugs as variant knobs, each with the seed thread it comes from and the
// release whose code has the fix.
#include "engines/era/era.hpp"
#include "engines/era/era_target.hpp"
#include "model/knobs.hpp"

namespace engines::era {

void register_era_knobs() {
  using model::register_knob;
  register_knob({"era.status_in_worker",
                 "status and messages are RPCs to the worker, which is stopped while the device is suspended: a "
                 "status issued between suspend and a resume that swaps in a new table blocks the swap's "
                 "synchronize_srcu forever. Off = the posted fix (not merged upstream): status and messages run "
                 "in the caller under era->metadata_lock, in-core writesets allocated when metadata is opened",
                 "Deadlock when swapping a table with a dm-era target (2021-12); [PATCH 0/2] dm era: avoid "
                 "deadlock when swapping table (2023-01)",
                 "unfixed", "deadlock"});
  register_knob({"era.commit_before_worker_stops",
                 "postsuspend commits only inside the archive RPC, before the worker stops: digestion steps the "
                 "worker runs afterwards stay dirty in bufio and are written when the instance is destroyed, over "
                 "metadata a newer instance committed",
                 "[PATCH] dm era: commit metadata in postsuspend after worker stops (2022-06)", "5.19", "warning"});
  register_knob({"era.stop_worker_flush",
                 "stop_worker uses flush_workqueue, which does not wait for a run the worker re-queued meanwhile: "
                 "the worker can run after postsuspend returned, even concurrently with its commit",
                 "[PATCH] dm era: commit metadata in postsuspend after worker stops (2022-06)", "5.19", "warning"});
  register_knob({"era.resize_in_worker",
                 "preresume resizes through an RPC to the worker, which first runs a digestion step with the old "
                 "size: shrinking the device makes dm_array_set_value fail beyond the end of the era array",
                 "[PATCH v2] dm era: only resize metadata in preresume (2021-02)", "never released", "errors"});
  register_knob({"era.resize_in_ctr",
                 "the constructor resizes the metadata, in the new instance's cache, even for a table that is "
                 "never resumed; its destructor then writes those blocks",
                 "[PATCH v2] dm era: only resize metadata in preresume (2021-02)", "5.12", "warning"});
  register_knob({"era.no_writeset_recovery",
                 "the committed current writeset is ignored when metadata is opened (and wiped by resize), and "
                 "preresume starts a new era without archiving it: writes of the era current at a crash are lost",
                 "[PATCH 1/2] dm era: Recover committed writeset after crash (2021-01)", "5.12", "era-written-since"});
  register_knob({"era.incore_bit_before_commit",
                 "the in-core bit is set before the commit that marks the block on disk: a second write to the "
                 "block passes while the commit is in flight and is lost if power fails before it",
                 "[PATCH 2/2] dm era: Update in-core bitset after committing the metadata (2021-01)", "5.12",
                 "era-written-since"});
  register_knob({"era.digest_stale_bitset_cache",
                 "the digest's bitset cache is set up once per digestion run, not per writeset: on devices of at "
                 "most 64 blocks the next writeset is read through the previous one's cached word",
                 "[PATCH 1/1] dm era: Reinitialize bitset cache before digesting a new writeset (2021-01)", "5.12",
                 "era-written-since"});
  register_knob({"era.no_block_size_check",
                 "a table whose block size differs from the metadata's is accepted: blocks are numbered in the "
                 "table's size while the superblock keeps the old one, so era_invalidate names the wrong blocks",
                 "[PATCH 1/4] dm era: Verify the data block size hasn't changed (2021-01)", "5.12",
                 "era-written-since"});
  register_knob({"era.leak_writesets",
                 "the in-core writeset bitmaps are not freed when the metadata is closed, nor on the error paths "
                 "of a resize",
                 "[PATCH 2/4] dm era: Fix bitset memory leaks (2021-01)", "5.12", "leak"});
}

void register_era() {
  static bool done = false;
  if (done) return;
  done = true;
  register_era_target();
  register_era_knobs();
  register_era_tools();
  register_era_checks();
}

}  // namespace engines::era
