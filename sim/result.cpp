#include "sim/result.hpp"

#include <stdexcept>

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
    case FindingKind::Budget:
      return "budget";
    case FindingKind::Crash:
      return "crash";
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

// Wire format: a sequence of length-prefixed fields. Simple, exact, and independent of locale.
namespace {
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}
struct Reader {
  const std::string& in;
  size_t pos = 0;
  uint64_t u64() {
    if (pos + 8 > in.size()) throw std::runtime_error("truncated simulation result");
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
    pos += 8;
    return v;
  }
  std::string str() {
    uint64_t n = u64();
    if (pos + n > in.size()) throw std::runtime_error("truncated simulation result");
    std::string s = in.substr(pos, n);
    pos += n;
    return s;
  }
};
}  // namespace

std::string SimResult::serialize() const {
  std::string out = "DMSIMRES1";
  put_u64(out, static_cast<uint64_t>(status));
  put_u64(out, end_time_ns);
  put_u64(out, findings.size());
  for (const auto& f : findings) {
    put_u64(out, static_cast<uint64_t>(f.kind));
    put_u64(out, f.time_ns);
    put_str(out, f.title);
    put_str(out, f.text);
  }
  put_u64(out, trace.size());
  for (const auto& l : trace) put_str(out, l);
  put_u64(out, notes.size());
  for (const auto& l : notes) put_str(out, l);
  put_u64(out, dmesg.size());
  for (const auto& l : dmesg) put_str(out, l);
  put_u64(out, stats.size());
  for (const auto& [k, v] : stats) {
    put_str(out, k);
    put_str(out, std::to_string(v));
  }
  return out;
}

SimResult SimResult::deserialize(const std::string& bytes) {
  if (bytes.rfind("DMSIMRES1", 0) != 0) throw std::runtime_error("not a simulation result");
  Reader r{bytes, 9};
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
  return res;
}

}  // namespace sim
