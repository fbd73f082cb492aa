// The engine checks a scenario expects, run at the end of a phase in its own simulation (they
// read the recovered metadata as the tools would). They are handed what the top of the stack
// saw (the writes before the crash, then this phase's) and the engines' journal in the same
// order, so that a write's `events_before` indexes the one list of events.
#pragma once

#include "engines/checks.hpp"
#include "verify/phase.hpp"

namespace verify {

// What the checks are handed at the end of the phase `in` that recorded `out` so far.
engines::CheckInput check_input(const PhaseInput& in, const PhaseOutput& out);

// Runs every check `in`'s scenario expects; violations and notes go to `out`.
void run_engine_checks(const PhaseInput& in, PhaseOutput& out);

}  // namespace verify
