// The content of a whole disk: every sector not written since the disk was new holds its
// initial token (or zeroes with `initial: zero`); written sectors are stored sparsely with the
// completion order of the write that put them there, so "last writer wins" can be applied
// whatever order writes reach the media in.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "model/content.hpp"

namespace model {

class DiskImage {
 public:
  struct Written {
    Sector content;
    uint64_t seq = 0;  // completion order of the write (0: loaded from an image)
  };

  DiskImage() = default;
  DiskImage(uint32_t disk_id, uint64_t sectors, bool initial_zero);

  uint32_t disk_id() const { return disk_id_; }
  uint64_t sectors() const { return sectors_; }
  bool initial_zero() const { return initial_zero_; }

  Sector read(uint64_t sector) const;
  Sector initial(uint64_t sector) const;
  // Stores `c` unless the sector already holds the content of a later write.
  void apply(uint64_t sector, const Sector& c, uint64_t seq);
  const std::map<uint64_t, Written>& written() const { return map_; }
  // Order-independent summary of the content, for comparing images.
  std::string digest() const;

 private:
  uint32_t disk_id_ = 0;
  uint64_t sectors_ = 0;
  bool initial_zero_ = false;
  std::map<uint64_t, Written> map_;
};

}  // namespace model
