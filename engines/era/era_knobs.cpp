// The historical dm-era bugs as variant knobs: one row each, with the seed thread it comes from
// and the release whose code has the fix. era_variant (era_metadata.hpp) is read from this table.
#include "engines/era/era.hpp"
#include "engines/era/era_metadata.hpp"
#include "engines/era/era_target.hpp"
#include "model/knobs.hpp"

namespace engines::era {

namespace {

constexpr model::KnobRow<era_variant> kEraKnobs[] = {
    {.name = "era.status_in_worker",
     .field = &era_variant::status_in_worker,
     .fixed_in = "unfixed",
     .detects = "deadlock",
     .source = "Deadlock when swapping a table with a dm-era target (2021-12); [PATCH 0/2] dm era: avoid "
               "deadlock when swapping table (2023-01)",
     .description = "status and messages are RPCs to the worker, which is stopped while the device is suspended: a "
                    "status issued between suspend and a resume that swaps in a new table blocks the swap's "
                    "synchronize_srcu forever. Off = the posted fix (not merged upstream): status and messages run "
                    "in the caller under era->metadata_lock, in-core writesets allocated when metadata is opened"},
    {.name = "era.commit_before_worker_stops",
     .field = &era_variant::commit_before_worker_stops,
     .fixed_in = "5.19",
     .detects = "warning",
     .source = "[PATCH] dm era: commit metadata in postsuspend after worker stops (2022-06)",
     .description = "postsuspend commits only inside the archive RPC, before the worker stops: digestion steps the "
                    "worker runs afterwards stay dirty in bufio and are written when the instance is destroyed, over "
                    "metadata a newer instance committed"},
    {.name = "era.stop_worker_flush",
     .field = &era_variant::stop_worker_flush,
     .fixed_in = "5.19",
     .detects = "warning",
     .source = "[PATCH] dm era: commit metadata in postsuspend after worker stops (2022-06)",
     .description = "stop_worker uses flush_workqueue, which does not wait for a run the worker re-queued meanwhile: "
                    "the worker can run after postsuspend returned, even concurrently with its commit"},
    {.name = "era.resize_in_worker",
     .field = &era_variant::resize_in_worker,
     .fixed_in = "never released",
     .detects = "errors",
     .source = "[PATCH v2] dm era: only resize metadata in preresume (2021-02)",
     .description = "preresume resizes through an RPC to the worker, which first runs a digestion step with the old "
                    "size: shrinking the device makes dm_array_set_value fail beyond the end of the era array"},
    {.name = "era.resize_in_ctr",
     .field = &era_variant::resize_in_ctr,
     .fixed_in = "5.12",
     .detects = "warning",
     .source = "[PATCH v2] dm era: only resize metadata in preresume (2021-02)",
     .description = "the constructor resizes the metadata, in the new instance's cache, even for a table that is "
                    "never resumed; its destructor then writes those blocks"},
    {.name = "era.no_writeset_recovery",
     .field = &era_variant::no_writeset_recovery,
     .fixed_in = "5.12",
     .detects = "era-written-since",
     .source = "[PATCH 1/2] dm era: Recover committed writeset after crash (2021-01)",
     .description = "the committed current writeset is ignored when metadata is opened (and wiped by resize), and "
                    "preresume starts a new era without archiving it: writes of the era current at a crash are lost"},
    {.name = "era.incore_bit_before_commit",
     .field = &era_variant::incore_bit_before_commit,
     .fixed_in = "5.12",
     .detects = "era-written-since",
     .source = "[PATCH 2/2] dm era: Update in-core bitset after committing the metadata (2021-01)",
     .description = "the in-core bit is set before the commit that marks the block on disk: a second write to the "
                    "block passes while the commit is in flight and is lost if power fails before it"},
    {.name = "era.digest_stale_bitset_cache",
     .field = &era_variant::digest_stale_bitset_cache,
     .fixed_in = "5.12",
     .detects = "era-written-since",
     .source = "[PATCH 1/1] dm era: Reinitialize bitset cache before digesting a new writeset (2021-01)",
     .description = "the digest's bitset cache is set up once per digestion run, not per writeset: on devices of at "
                    "most 64 blocks the next writeset is read through the previous one's cached word"},
    {.name = "era.no_block_size_check",
     .field = &era_variant::no_block_size_check,
     .fixed_in = "5.12",
     .detects = "era-written-since",
     .source = "[PATCH 1/4] dm era: Verify the data block size hasn't changed (2021-01)",
     .description = "a table whose block size differs from the metadata's is accepted: blocks are numbered in the "
                    "table's size while the superblock keeps the old one, so era_invalidate names the wrong blocks"},
    {.name = "era.leak_writesets",
     .field = &era_variant::leak_writesets,
     .fixed_in = "5.12",
     .detects = "leak",
     .source = "[PATCH 2/4] dm era: Fix bitset memory leaks (2021-01)",
     .description = "the in-core writeset bitmaps are not freed when the metadata is closed, nor on the error paths "
                    "of a resize"},
};

}  // namespace

era_variant era_variant::from_knobs() {
  return model::variant_from_knobs(kEraKnobs);
}

void register_era_knobs() {
  model::register_knobs(kEraKnobs);
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
