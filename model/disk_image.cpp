#include "model/disk_image.hpp"

#include <cstdio>

namespace model {

DiskImage::DiskImage(uint32_t disk_id, uint64_t sectors, bool initial_zero)
    : disk_id_(disk_id), sectors_(sectors), initial_zero_(initial_zero) {}

Sector DiskImage::initial(uint64_t sector) const {
  return Sector::of_token(initial_zero_ ? kZeroToken : initial_token(disk_id_, sector));
}

Sector DiskImage::read(uint64_t sector) const {
  auto it = map_.find(sector);
  return it == map_.end() ? initial(sector) : it->second.content;
}

void DiskImage::apply(uint64_t sector, const Sector& c, uint64_t seq) {
  auto [it, fresh] = map_.try_emplace(sector, Written{c, seq});
  if (!fresh && it->second.seq <= seq) it->second = Written{c, seq};
}

std::string DiskImage::digest() const {
  uint64_t h = 1469598103934665603ULL;
  for (const auto& [s, w] : map_) {
    uint8_t bytes[512];
    w.content.to_bytes(bytes);
    uint64_t x = s * 0x9e3779b97f4a7c15ULL ^ w.content.token;
    for (size_t i = 0; i < 512; i += 64) x = (x ^ bytes[i]) * 1099511628211ULL;
    h = (h ^ x) * 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace model
