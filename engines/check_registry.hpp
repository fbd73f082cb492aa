// The registry behind engines/checks.hpp, and the one check it defines itself.
#pragma once

#include "engines/checks.hpp"

namespace engines {

// "metadata-check": every engine's metadata checker (register_metadata_checker) over the devices
// of its own targets.
void register_metadata_checks();

}  // namespace engines
