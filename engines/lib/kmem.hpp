// Allocation accounting per engine instance: every allocation an instance makes is recorded
// against it, and its destructor must have freed them all; what is left is reported as a leak,
// with where it was allocated (kmemleak's view of the instance).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace engines {

class KmemOwner {
 public:
  explicit KmemOwner(std::string name) : name_(std::move(name)) {}
  // A zeroed buffer of `words` u64 words (vzalloc), recorded with the function that asked.
  uint64_t* vzalloc_words(size_t words, const char* site);
  void vfree(uint64_t* p);
  // Reports every allocation still recorded; returns how many there were.
  size_t check_leaks();
  size_t outstanding() const { return live_.size(); }

 private:
  std::string name_;
  struct Alloc {
    std::unique_ptr<uint64_t[]> mem;
    size_t words;
    const char* site;
  };
  // By allocation order, so that a leak report lists objects the same way in every run (heap
  // addresses differ between runs); `seq_of_` finds an allocation from its address.
  std::map<uint64_t, Alloc> live_;
  std::map<const uint64_t*, uint64_t> seq_of_;
  uint64_t next_seq_ = 0;
};

}  // namespace engines
