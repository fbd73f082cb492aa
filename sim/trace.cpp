#include "sim/trace.hpp"

#include <cstdio>

namespace sim {

uint32_t Interner::intern(std::string_view s) {
  auto it = ids_.find(std::string(s));
  if (it != ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(names_.size());
  names_.emplace_back(s);
  ids_.emplace(names_.back(), id);
  return id;
}

std::string format_time(uint64_t t_ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%5llu.%09llu", static_cast<unsigned long long>(t_ns / 1000000000ULL),
                static_cast<unsigned long long>(t_ns % 1000000000ULL));
  return buf;
}

}  // namespace sim
