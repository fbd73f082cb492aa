#include "engines/engine_registry.hpp"

#include "engines/check_registry.hpp"
#include "engines/era/era.hpp"
#include "engines/thin/thin.hpp"
#include "model/targets/simple_targets.hpp"

namespace engines {

void register_engines() {
  static bool done = false;
  if (done) return;
  done = true;
  model::register_simple_targets();
  register_metadata_checks();
  era::register_era();
  thin::register_thin();
}

}  // namespace engines
