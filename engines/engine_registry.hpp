// Every engine of dmsim with dm core and the harness: targets, knobs, tools and checks.
#pragma once

namespace engines {

// Registers every engine's targets, knobs, tools and checks (once per process).
void register_engines();

}  // namespace engines
