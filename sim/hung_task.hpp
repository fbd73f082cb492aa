// The hung-task watchdog (khungtaskd): a thread in D state for longer than
// hung_task_timeout_secs is reported in the kernel's words, once per blocked episode.
#pragma once

namespace sim {
class Runtime;
void check_hung_tasks(Runtime& rt);
}  // namespace sim
