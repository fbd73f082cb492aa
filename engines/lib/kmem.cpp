#include "engines/lib/kmem.hpp"

#include "sim/thread.hpp"

namespace engines {

uint64_t* KmemOwner::vzalloc_words(size_t words, const char* site) {
  auto mem = std::make_unique<uint64_t[]>(words ? words : 1);
  uint64_t* p = mem.get();
  live_[p] = Alloc{std::move(mem), words, site};
  return p;
}

void KmemOwner::vfree(uint64_t* p) {
  if (!p) return;
  live_.erase(p);
}

size_t KmemOwner::check_leaks() {
  const size_t n = live_.size();
  if (!n) return 0;
  std::string detail;
  for (const auto& [p, a] : live_)
    detail += "unreferenced object of " + std::to_string(a.words * 8) + " bytes, allocated in " + a.site + "\n";
  sim::report_leak("kmemleak: " + std::to_string(n) + " object(s) of " + name_ + " not freed when it was destroyed",
                   detail);
  live_.clear();
  return n;
}

}  // namespace engines
