#include "sim/result.hpp"

namespace sim {

const char* finding_kind_name(FindingKind k) {
  switch (k) {
    case FindingKind::Deadlock:
      return "deadlock";
    case FindingKind::HungTask:
      return "hung-task";
    case FindingKind::LockOrder:
      return "lock-order";
    case FindingKind::RecursiveLocking:
      return "recursive-locking";
    case FindingKind::AtomicSleep:
      return "atomic-sleep";
    case FindingKind::LockMisuse:
      return "lock-misuse";
    case FindingKind::Warning:
      return "warning";
    case FindingKind::Bug:
      return "bug";
    case FindingKind::Leak:
      return "leak";
    case FindingKind::Budget:
      return "budget";
    case FindingKind::Crash:
      return "crash";
    case FindingKind::HarnessTimeout:
      return "harness-timeout";
    case FindingKind::Annotation:
      return "annotation";
  }
  return "?";
}

const char* run_status_name(RunStatus s) {
  switch (s) {
    case RunStatus::Completed:
      return "completed";
    case RunStatus::Deadlocked:
      return "deadlocked";
    case RunStatus::Budget:
      return "budget";
    case RunStatus::Crashed:
      return "crashed";
  }
  return "?";
}

bool SimResult::has(FindingKind k) const {
  return first(k) != nullptr;
}

size_t SimResult::count(FindingKind k) const {
  size_t n = 0;
  for (const auto& f : findings) n += f.kind == k;
  return n;
}

const Finding* SimResult::first(FindingKind k) const {
  for (const auto& f : findings)
    if (f.kind == k) return &f;
  return nullptr;
}

std::string SimResult::summary() const {
  std::string s = std::string("status ") + run_status_name(status);
  for (const auto& f : findings) s += "\n  [" + std::string(finding_kind_name(f.kind)) + "] " + f.title;
  return s;
}

}  // namespace sim
