#include "sim/result.hpp"

#include <stdexcept>

#include "sim/wire.hpp"

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

std::string SimResult::serialize() const {
  WireWriter w;
  w.str("DMSIMRES2");
  w.u64(static_cast<uint64_t>(status));
  w.u64(end_time_ns);
  w.u64(findings.size());
  for (const auto& f : findings) {
    w.u64(static_cast<uint64_t>(f.kind));
    w.u64(f.time_ns);
    w.str(f.title);
    w.str(f.text);
  }
  w.u64(trace.size());
  for (const auto& l : trace) w.str(l);
  w.u64(notes.size());
  for (const auto& l : notes) w.str(l);
  w.u64(dmesg.size());
  for (const auto& l : dmesg) w.str(l);
  w.u64(stats.size());
  for (const auto& [k, v] : stats) {
    w.str(k);
    w.str(std::to_string(v));
  }
  w.str(payload);
  return w.take();
}

SimResult SimResult::deserialize(const std::string& bytes) {
  WireReader r(bytes);
  if (r.str() != "DMSIMRES2") throw std::runtime_error("not a simulation result");
  SimResult res;
  res.status = static_cast<RunStatus>(r.u64());
  res.end_time_ns = r.u64();
  for (uint64_t n = r.u64(); n > 0; n--) {
    Finding f;
    f.kind = static_cast<FindingKind>(r.u64());
    f.time_ns = r.u64();
    f.title = r.str();
    f.text = r.str();
    res.findings.push_back(std::move(f));
  }
  for (uint64_t n = r.u64(); n > 0; n--) res.trace.push_back(r.str());
  for (uint64_t n = r.u64(); n > 0; n--) res.notes.push_back(r.str());
  for (uint64_t n = r.u64(); n > 0; n--) res.dmesg.push_back(r.str());
  for (uint64_t n = r.u64(); n > 0; n--) {
    std::string k = r.str();
    res.stats[k] = std::stod(r.str());
  }
  res.payload = r.str();
  return res;
}

}  // namespace sim
