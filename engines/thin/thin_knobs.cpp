// The historical dm-thin bugs as variant knobs: one row each, with the seed thread or fix it comes
// from and the release whose code has the fix (inferred from the patches' posting dates and the
// dm fixes trees they went to, not read off git tags). thin_variant (thin.hpp) is read from this table.
#include "engines/lib/persistent_data/pdata_variant.hpp"
#include "engines/thin/thin.hpp"
#include "model/knobs.hpp"

namespace engines::thin {

namespace {

constexpr model::KnobRow<thin_variant> kThinKnobs[] = {
    {.name = "thin.no_data_flush_before_commit",
     .field = &thin_variant::no_data_flush_before_commit,
     .fixed_in = "5.5",
     .detects = "block-device",
     .source = "[PATCH 2/2] dm thin: Flush data device before committing metadata (2019-12); 694cfe7f31db3",
     .description = "no pre-commit callback: a commit (periodic, status, message, or for a user flush) makes "
                    "mappings durable whose zeroed, copied or overwritten data is still in the data device's "
                    "volatile cache; user flushes reach the data device only after the commit"},
    {.name = "thin.double_flush",
     .field = &thin_variant::double_flush,
     .fixed_in = "5.5",
     .detects = "max-flushes-per-flush",
     .source = "[PATCH] dm thin: Avoid flushing the data device twice (2019-12)",
     .description = "a REQ_PREFLUSH bio that triggered a commit is passed down after it, although the commit's "
                    "pre-commit callback already flushed the data device: two data-device flushes per user flush"},
    {.name = "thin.no_in_service_gate",
     .field = &thin_variant::no_in_service_gate,
     .fixed_in = "5.4",
     .detects = "no-writes-after",
     .source = "873f258becca dm thin metadata: do not write metadata if no changes occurred (2019-12)",
     .description = "every commit writes the details, both space maps and the superblock (and flushes the data "
                    "device), even on a pool that was only activated, queried or suspended"},
    {.name = "thin.fua_overwrite_early_completion",
     .field = &thin_variant::fua_overwrite_early_completion,
     .fixed_in = "5.5",
     .detects = "block-device",
     .source = "4ae280b4ee34 dm thin: fix bug where bio that overwrites thin block ignores FUA",
     .description = "a FUA write covering a whole unprovisioned or shared block is acknowledged as soon as its "
                    "mapping is inserted, before the commit that makes the mapping durable"},
    {.name = "thin.precommit_ctx_is_pool_c",
     .field = &thin_variant::precommit_ctx_is_pool_c,
     .fixed_in = "5.5",
     .detects = "warning",
     .source = "a4a8d286586d dm thin: fix use-after-free in metadata_pre_commit_callback",
     .description = "the pre-commit callback's context is the pool_c of the table that registered it: after a "
                    "reload drops that table, the next commit uses freed memory"},
};

}  // namespace

thin_variant thin_variant::from_knobs() {
  return model::variant_from_knobs(kThinKnobs);
}

void register_thin_knobs() {
  model::register_knobs(kThinKnobs);
}

void register_thin() {
  static bool done = false;
  if (done) return;
  done = true;
  register_thin_target();
  register_thin_knobs();
  pd::register_pdata_knobs();
  register_thin_tools();
  register_thin_checks();
}

}  // namespace engines::thin
