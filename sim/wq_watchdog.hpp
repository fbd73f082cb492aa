// The workqueue watchdog (kernel/workqueue.c, wq_watchdog_timer_fn): a per-CPU worker pool that
// has work pending but starts none for workqueue.watchdog_thresh seconds is reported as
// "BUG: workqueue lockup - pool ... stuck for Ns!", once per stuck execution.
#pragma once

namespace sim {
class Runtime;
void check_workqueue_lockups(Runtime& rt);
}  // namespace sim
