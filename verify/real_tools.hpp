// The `real-tools` check: the installed thin-provisioning-tools checker of each engine
// (engines::metadata_tools: era_check for dm-era) run on the metadata images of a phase, as a
// second oracle beside dmsim's own tools. A recovery's crash image of each metadata device (what
// the disks held when the recovery began, through the mapping the recovery built) and, in every
// phase that runs the engine checks, the final image are written to a temporary file and
// checked. Nothing is sent to the simulated system: the images are read from the disks' content,
// not through bios, and the simulated tool of the same name reads a private in-memory copy.
#pragma once

#include <string>

#include "model/world.hpp"
#include "verify/phase.hpp"

namespace verify {

// The real tool's path: $DMSIM_<TOOL> (DMSIM_ERA_CHECK) when set, an empty value meaning "not
// installed"; else the first executable `tool` in $PATH, /usr/sbin or /sbin; "" when none.
std::string real_tool_path(const std::string& tool);

// Runs the check if `in`'s scenario expects it; violations, notes and tallies go to `out`.
void run_real_tools(const PhaseInput& in, PhaseOutput& out, model::World& world);

}  // namespace verify
