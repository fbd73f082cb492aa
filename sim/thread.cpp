#include "sim/thread.hpp"

#include <exception>

#include "sim/runtime.hpp"

namespace sim {

char task_state_letter(TaskState s) {
  switch (s) {
    case TaskState::Running:
      return 'R';
    case TaskState::Uninterruptible:
      return 'D';
    case TaskState::Interruptible:
      return 'S';
    case TaskState::Idle:
      return 'I';
    case TaskState::Spinning:
      return 'R';
    case TaskState::Sleeping:
      return 'S';
    case TaskState::Dead:
      return 'X';
  }
  return '?';
}

void Thread::releasers(const Thread&, std::vector<Releaser>& out) const {
  if (state != TaskState::Dead) out.push_back({this, nullptr, "exits"});
}

std::string format_call_trace(const std::vector<const char*>& frames, const std::string& indent) {
  std::string s;
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) s += indent + *it + "\n";
  if (frames.empty()) s += indent + "(no frames)\n";
  return s;
}

std::string Thread::call_trace(const std::string& indent) const {
  return format_call_trace(frames, indent);
}

std::string Thread::blocked_call_trace(const std::string& indent) const {
  std::string s = indent + "__schedule\n" + indent + "schedule\n";
  if (wait_how) s += indent + wait_how + "\n";
  return frames.empty() ? s : s + call_trace(indent);
}

bool Thread::blocked() const {
  return parked && !wait_timed &&
         (state == TaskState::Uninterruptible || state == TaskState::Interruptible || state == TaskState::Spinning);
}

FrameGuard::FrameGuard(const char* fn) : t_(Runtime::active() ? Runtime::get().current_or_null() : nullptr) {
  if (t_) t_->frames.push_back(fn);
}

FrameGuard::~FrameGuard() {
  if (!t_) return;
  // Keep the deepest stack of an escaping exception for the oops report.
  if (std::uncaught_exceptions() > 0 && t_->oops_frames.empty()) t_->oops_frames = t_->frames;
  t_->frames.pop_back();
}

}  // namespace sim

#include "sim/atomic.hpp"

namespace sim {
void atomic_preempt_point(PreemptionPoint op) {
  if (!Runtime::active()) return;
  Runtime& rt = Runtime::get();
  if (rt.config().preempt_on_atomics && rt.current_or_null()) rt.preempt_point(op);
}
}  // namespace sim
