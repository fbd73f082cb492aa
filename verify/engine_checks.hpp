// The engine checks a scenario expects, run at the end of a phase in its own simulation (they
// read the recovered metadata as the tools would). They are handed what the top of the stack
// saw (the writes before the crash, then this phase's) and the engines' journal in the same
// order, so that a write's `events_before` indexes the one list of events.
#pragma once

#include "verify/phase.hpp"

namespace verify {

// Runs every check `in`'s scenario expects; violations and notes go to `out`.
void run_engine_checks(const PhaseInput& in, PhaseOutput& out);

}  // namespace verify
