// The persistent-data knobs. Fixed-in releases are inferred from the stable backports' dates
// (4feaef830de7 reached 5.4.19 on 2020-02-10, after the 5.6 merge window), not read off git tags.
#include "engines/lib/persistent_data/pdata_variant.hpp"
#include "model/knobs.hpp"

namespace engines::pd {

namespace {

constexpr model::KnobRow<pdata_variant> kPdataKnobs[] = {
    {.name = "pdata.sm_alloc_ignores_previous_transaction",
     .field = &pdata_variant::sm_alloc_ignores_previous_transaction,
     .fixed_in = "5.6",
     .detects = "bug",
     .source = "4feaef830de7 dm space map common: fix to ensure new block isn't already in use (reported by "
               "Eric Wheeler: kernel BUG at drivers/md/persistent-data/dm-space-map-disk.c:178)",
     .description = "sm_disk_new_block and sm_metadata_new_block_ search only the last committed map, from a "
                    "cursor reset at commit: a block this transaction gave a reference without allocating it "
                    "(an increment from shadowing a shared btree node) is handed out again"},
};

}  // namespace

pdata_variant pdata_variant::from_knobs() {
  return model::variant_from_knobs(kPdataKnobs);
}

void register_pdata_knobs() {
  static bool done = false;
  if (done) return;
  done = true;
  model::register_knobs(kPdataKnobs);
}

}  // namespace engines::pd
