// The dm-kcopyd knobs, shared by every engine that copies with kcopyd. Fixed-in releases are
// inferred from stable backports and pull requests, not read off git tags: the stall fix is in
// openSUSE's 4.4.172 stable update (openSUSE-2019-140, early 2019), so it was merged during the
// 5.0 cycle; d1fef41465f0 went to Linus in "device mapper fixes for 5.3-rc6" (2019-08-23). That
// b73c67c2cbb0 (sequential writes, with dm-zoned) is 4.13 is from memory of dm-zoned's merge.
#include "engines/lib/kcopyd.hpp"
#include "engines/module_params.hpp"
#include "model/knobs.hpp"

namespace engines {

namespace {

constexpr model::KnobRow<kcopyd_variant> kKcopydKnobs[] = {
    {.name = "kcopyd.callback_list_stall",
     .field = &kcopyd_variant::callback_list_stall,
     .fixed_in = "5.0",
     .detects = "bug",
     .source = "dm kcopyd: Fix bug causing workqueue stalls (Nikos Tsironis, early 2019, Cc stable; the "
               "callback_jobs list); companion of dm snapshot: Fix excessive memory usage and workqueue stalls",
     .description = "dm_kcopyd_do_callback and zero-length jobs push onto complete_jobs, which a do_work pass drains "
                    "until it is empty: callbacks queued while the pass runs (completions of writes those callbacks "
                    "let through) keep it running, and its CPU's worker pool starts no other work (workqueue "
                    "lockup)"},
    {.name = "kcopyd.no_wake_on_failed_job",
     .field = &kcopyd_variant::no_wake_on_failed_job,
     .fixed_in = "5.3",
     .detects = "hung-task",
     .source = "d1fef41465f0 dm kcopyd: always complete failed jobs (Dmitry Fomichev, 2019-08; dm-zoned reclaim "
               "hung when its backing device failed)",
     .description = "a job process_jobs fails (a sequential write after its master's write failed) is put on "
                    "complete_jobs without waking the worker: with no other kcopyd activity its callback never "
                    "runs and whoever waits for the copy hangs",
     .affects = "releases 4.13 to 5.2: b73c67c2cbb0 (sequential writes, 4.13) brought the only way process_jobs "
                "fails a job (--kernel VERSION below 5.3 turns it on)"},
};

}  // namespace

kcopyd_variant kcopyd_variant::from_knobs() {
  return model::variant_from_knobs(kKcopydKnobs);
}

void register_kcopyd() {
  static bool done = false;
  if (done) return;
  done = true;
  model::register_knobs(kKcopydKnobs);
  // dm-kcopyd is part of dm-mod.ko, hence dm_mod's parameter.
  register_module_param({.module = "dm_mod",
                         .name = "kcopyd_subjob_size_kb",
                         .description = "Sub-job size for dm-kcopyd clients",
                         .value = &kcopyd_subjob_size_kb});
  register_kcopyd_test_target();
}

}  // namespace engines
