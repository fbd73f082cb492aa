// The historical dm-clone behaviours as variant knobs: one row each, with the patch it comes from
// and the release whose code has the fix (inferred from the patches' posting dates and the dm
// trees they went to, not read off git tags). dm-clone first shipped in 5.4.
// clone_variant (clone.hpp) is read from this table.
#include "engines/clone/clone.hpp"
#include "model/knobs.hpp"

namespace engines::clone {

namespace {

constexpr model::KnobRow<clone_variant> kCloneKnobs[] = {
    {.name = "clone.no_flush_before_commit",
     .field = &clone_variant::no_flush_before_commit,
     .fixed_in = "5.5",
     .detects = "block-device",
     .source = "[PATCH 3/3] dm clone: Flush destination device before committing metadata (2019-12-04, Cc stable 5.4+)",
     .description = "a commit writes the region bitmap without flushing the destination first: a region copied by "
                    "kcopyd (no FUA) is recorded hydrated while its data is still in the destination's volatile "
                    "cache, so a power loss leaves it reading the destination's old content; user flushes reach "
                    "the destination only after the commit",
     .affects = "5.4"},
    {.name = "clone.single_phase_commit",
     .field = &clone_variant::single_phase_commit,
     .fixed_in = "5.5",
     .detects = "clone-committed-durable",
     .source = "[PATCH 2/3] dm clone metadata: Use a two phase commit (2019-12-04)",
     .description = "one metadata call swaps the dirty maps and writes the old one, so the destination flush can "
                    "only come before the swap: a hydration completing during the flush joins the transaction "
                    "being committed without its data having been flushed",
     .affects = "5.4"},
    {.name = "clone.inexact_dirty_tracking",
     .field = &clone_variant::inexact_dirty_tracking,
     .fixed_in = "5.5",
     .detects = "clone-committed-durable",
     .source = "[PATCH 1/3] dm clone metadata: Track exact changes per transaction (2019-12-04)",
     .description = "a dirty map records dirty words only, and a commit writes every bit of the live region map "
                    "in those words: a region of the same word hydrated after the swap (after the destination "
                    "flush) is committed with its data unflushed",
     .affects = "5.4"},
    {.name = "clone.redundant_preflush",
     .field = &clone_variant::redundant_preflush,
     .fixed_in = "5.5",
     .detects = "max-flushes-per-flush",
     .source = "[PATCH 3/3] dm clone: Flush destination device before committing metadata (2019-12-04): "
               "dest_dev_flushed",
     .description = "an empty flush that waited for a commit is still sent to the destination after the commit "
                    "flushed it: two destination flushes per user flush",
     .affects = "5.4"},
    {.name = "clone.partial_discard_range",
     .field = &clone_variant::partial_discard_range,
     .fixed_in = "5.7",
     .detects = "clone-discard-containment",
     .source = "[PATCH 1/4] dm clone: Fix handling of partial region discards (2020-03-27, Cc stable 5.4+)",
     .description = "a discard strictly inside one region gives an end region below the start; re - rs wraps, "
                    "the range counts as hydrated and, with passdown, the bio is trimmed to start at the next "
                    "region and last 4 GiB minus one region: other regions' data is discarded",
     .affects = "5.4 to 5.6"},
    {.name = "clone.nr_regions_overflow_32",
     .field = &clone_variant::nr_regions_overflow_32,
     .fixed_in = "5.7",
     .detects = "step-failed",
     .source = "[PATCH 2/4] dm clone: Add overflow check for number of regions (2020-03-27)",
     .description = "on a 32-bit kernel the number of regions is truncated into an unsigned long, so a device "
                    "of more than 2^32 regions is accepted with a few regions, and sectors far apart share a "
                    "region's bit (machine: {bits-per-long: 32})",
     .affects = "5.4 to 5.6"},
    {.name = "clone.region_to_sector_no_cast_32",
     .field = &clone_variant::region_to_sector_no_cast_32,
     .fixed_in = "5.7",
     .detects = "clone-committed-durable",
     .source = "[PATCH 3/4] dm clone: Add missing casts to prevent overflows and data corruption (2020-03-27)",
     .description = "on a 32-bit kernel region << shift wraps at 2^32 sectors: a region past 2 TiB is hydrated "
                    "by copying a low region of the source over the destination's low region "
                    "(machine: {bits-per-long: 32})",
     .affects = "5.4 to 5.6"},
    {.name = "clone.hydrated_count_sign_extension",
     .field = &clone_variant::hydrated_count_sign_extension,
     .fixed_in = "5.7",
     .detects = "clone-status",
     .source = "[PATCH 4/4] dm clone metadata: Fix return type of dm_clone_nr_of_hydrated_regions() (2020-03-27)",
     .description = "the hydrated count is an int returned as unsigned long: with 2^31 regions all hydrated the "
                    "status shows 18446744071562067968/2147483648",
     .affects = "5.4 to 5.6"},
    {.name = "clone.discard_source_before_commit",
     .field = &clone_variant::discard_source_before_commit,
     .fixed_in = "never released",
     .detects = "clone-source-intact",
     .source = "dm-devel: dm-clone: Request option to send discard to source device during hydration (2023-03), "
               "option (b)",
     .description = "with the proposed discard_rw_src feature, each region's source is discarded asynchronously "
                    "right after its copy, before a commit records it hydrated: after a power loss the region "
                    "is hydrated again from the discarded source"},
    {.name = "clone.discard_source_sync_before_commit",
     .field = &clone_variant::discard_source_sync_before_commit,
     .fixed_in = "never released",
     .detects = "clone-source-intact",
     .source = "dm-devel: dm-clone: Request option to send discard to source device during hydration (2023-03), "
               "option (a)",
     .description = "with the proposed discard_rw_src feature, each region's source is discarded, and the discard "
                    "waited for, before the hydration completes, but still before a commit records it: after a "
                    "power loss the region is hydrated again from the discarded source"},
};

}  // namespace

clone_variant clone_variant::from_knobs() {
  return model::variant_from_knobs(kCloneKnobs);
}

void register_clone_knobs() {
  model::register_knobs(kCloneKnobs);
}

void register_clone() {
  static bool done = false;
  if (done) return;
  done = true;
  register_clone_target();
  register_clone_knobs();
  register_clone_checks();
}

}  // namespace engines::clone
