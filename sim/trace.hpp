// The event trace: every runtime event with simulated time, thread and frame. It is the
// material of reports and the determinism check (same seed, byte-identical trace).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sim {

// Names of objects and lock classes, stored once; events refer to them by number.
class Interner {
 public:
  uint32_t intern(std::string_view s);
  const std::string& str(uint32_t id) const { return names_[id]; }

 private:
  std::vector<std::string> names_{""};
  std::unordered_map<std::string, uint32_t> ids_{{"", 0}};
};

struct TraceEvent {
  uint64_t t_ns;
  int pid;
  const char* frame;  // innermost frame of the thread, or nullptr
  const char* what;   // "mutex_lock", "queue_work", ...
  uint32_t obj;       // interned object name, 0 for none
  std::string detail;
};

class Trace {
 public:
  void add(TraceEvent e) { events_.push_back(std::move(e)); }
  size_t size() const { return events_.size(); }
  const std::vector<TraceEvent>& events() const { return events_; }

 private:
  std::vector<TraceEvent> events_;
};

// "[   0.000100000] 3 dmsetup era_status: mutex_lock md->suspend_lock detail"
std::string format_time(uint64_t t_ns);

}  // namespace sim
