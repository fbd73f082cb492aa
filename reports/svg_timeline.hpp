// The timeline of a failing exploration as inline SVG: one lane per thread, what it ran, what it
// was blocked on and which locks it held, in simulated time, with the steps' starts and the
// detectors' findings as marks. Hovering a bar shows its <title>; no script is needed.
#pragma once

#include <string>

#include "verify/thread_timeline.hpp"

namespace reports {

// Seconds as the reports print simulated times: "1.081042980".
std::string seconds_text(uint64_t ns);

// An <svg id="timeline-svg"> element; empty for an empty timeline. The time axis is compressed
// (long quiet stretches shrink, every event stays in order and apart); ticks give true times.
std::string svg_timeline(const verify::ThreadTimeline& t);

}  // namespace reports
