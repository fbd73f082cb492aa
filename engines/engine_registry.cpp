#include "engines/engine_registry.hpp"

#include "engines/check_registry.hpp"
#include "engines/clone/clone.hpp"
#include "engines/era/era.hpp"
#include "engines/lib/kcopyd.hpp"
#include "engines/snapshot/snapshot.hpp"
#include "engines/thin/thin.hpp"
#include "model/targets/simple_targets.hpp"

namespace engines {

void register_engines() {
  static bool done = false;
  if (done) return;
  done = true;
  model::register_simple_targets();
  register_metadata_checks();
  register_kcopyd();
  era::register_era();
  thin::register_thin();
  clone::register_clone();
  snapshot::register_dm_snapshot();
}

}  // namespace engines
