#include "sim/hung_task.hpp"

#include "sim/runtime.hpp"

namespace sim {

void check_hung_tasks(Runtime& rt) {
  const double timeout = rt.config().hung_task_timeout_secs;
  if (timeout <= 0) return;
  const uint64_t limit_ns = static_cast<uint64_t>(timeout * 1e9);
  const uint64_t now = rt.now_ns();
  const std::string secs = std::to_string(static_cast<long long>(timeout));
  for (const auto& tp : rt.threads()) {
    Thread& t = *tp;
    if (t.hung_reported || t.kind == ThreadKind::Internal) continue;
    if (!t.parked || t.state != TaskState::Uninterruptible) continue;
    if (now - t.blocked_since_ns < limit_ns) continue;
    t.hung_reported = true;
    std::string body =
        "      Not tainted (dmsim)\n"
        "\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n"
        "task:" +
        t.name() + " state:D stack:0 pid:" + std::to_string(t.pid) + " ppid:1 flags:0x00004000\n";
    if (!t.workqueue.empty()) body += "Workqueue: " + t.workqueue + "\n";
    body += "Call Trace:\n" + t.blocked_call_trace(" ");
    rt.report(FindingKind::HungTask,
              "INFO: task " + t.name() + ":" + std::to_string(t.pid) + " blocked for more than " + secs + " seconds.",
              body);
  }
}

}  // namespace sim
