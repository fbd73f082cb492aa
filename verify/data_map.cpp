#include "verify/data_map.hpp"

#include <algorithm>

#include "model/dm/mapped_device.hpp"

namespace verify {

namespace {

// Deeper than any stack a scenario builds: a table cycle must not recurse forever.
constexpr int kMaxStackDepth = 16;

int disk_index(const model::World& world, const model::VolatileCacheDisk* d) {
  const auto disks = world.disks();
  return static_cast<int>(std::find(disks.begin(), disks.end(), d) - disks.begin());
}

void place_at_depth(const model::World& world, model::BlockDevice* b, uint64_t top_sector, uint64_t sector,
                    uint64_t len, int depth, std::vector<Placement>& out) {
  auto* d = dynamic_cast<model::VolatileCacheDisk*>(b);
  if (d) {
    out.push_back(Placement{top_sector, len, disk_index(world, d), sector, false});
    return;
  }
  auto* md = dynamic_cast<model::MappedDevice*>(b);
  model::DmTable* t = md ? md->live_table() : nullptr;
  if (!t || depth > kMaxStackDepth) {
    out.push_back(Placement{top_sector, len, -1, 0, false});
    return;
  }
  for (uint64_t s = sector; s < sector + len;) {
    const model::DmTarget* ti = t->find_target(s);
    if (!ti) {
      out.push_back(Placement{top_sector + (s - sector), sector + len - s, -1, 0, false});
      return;
    }
    const uint64_t n = std::min(sector + len, ti->begin + ti->len) - s;
    model::BlockDevice* leg = nullptr;
    uint64_t leg_sector = 0;
    if (ti->type->locate && !ti->type->locate(const_cast<model::DmTarget*>(ti), s, &leg, &leg_sector))
      place_at_depth(world, leg, top_sector + (s - sector), leg_sector, n, depth + 1, out);
    else
      out.push_back(Placement{top_sector + (s - sector), n, -1, 0,
                              ti->type->reads_zeroes_unless_written && !ti->unwritten_reads_elsewhere});
    s += n;
  }
}

}  // namespace

void place(const model::World& world, model::BlockDevice* b, uint64_t top_sector, uint64_t sector, uint64_t len,
           std::vector<Placement>& out) {
  place_at_depth(world, b, top_sector, sector, len, 0, out);
}

std::vector<Extent> data_map(const model::World& world, const std::set<std::string>& devices) {
  std::vector<Extent> out;
  for (const auto& dev : devices)
    if (model::BlockDevice* b = world.lookup(dev)) {
      std::vector<Placement> where;
      place(world, b, 0, 0, b->capacity(), where);
      for (const auto& p : where) out.push_back(Extent{dev, p});
    }
  return out;
}

}  // namespace verify
