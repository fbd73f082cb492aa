#include "engines/lib/kmem.hpp"

#include "sim/thread.hpp"

namespace engines {

uint64_t* KmemOwner::vzalloc_words(size_t words, const char* site) {
  auto mem = std::make_unique<uint64_t[]>(words ? words : 1);
  uint64_t* p = mem.get();
  const uint64_t seq = next_seq_++;
  seq_of_[p] = seq;
  live_[seq] = Alloc{std::move(mem), words, site};
  return p;
}

void KmemOwner::vfree(uint64_t* p) {
  auto it = seq_of_.find(p);
  if (it == seq_of_.end()) return;
  live_.erase(it->second);
  seq_of_.erase(it);
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
  seq_of_.clear();
  return n;
}

}  // namespace engines
