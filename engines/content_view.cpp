#include "engines/content_view.hpp"

#include "model/dm/mapped_device.hpp"
#include "model/world.hpp"

namespace engines {

void ContentView::submit(model::Bio* bio) {
  if (bio->op != model::ReqOp::Read) {
    bio->status = model::BLK_STS_IOERR;
  } else {
    for (uint32_t i = 0; i < bio->size; i++) bio->data()[i] = read_(bio->sector + i);
  }
  model::bio_endio(bio);
}

model::VolatileCacheDisk* scenario_disk(const std::string& path) {
  const std::string prefix = "/dev/";
  if (path.rfind(prefix, 0) != 0) return nullptr;
  return model::World::get().disk(path.substr(prefix.size()));
}

model::VolatileCacheDisk* disk_place(const std::string& path, uint64_t sector, uint64_t* disk_sector) {
  constexpr int kMaxDepth = 16;  // deeper than any stack: a table cycle must not loop
  model::BlockDevice* b = model::World::get().lookup(path);
  for (int depth = 0; b && depth < kMaxDepth; depth++) {
    if (auto* d = dynamic_cast<model::VolatileCacheDisk*>(b)) {
      *disk_sector = sector;
      return d;
    }
    auto* md = dynamic_cast<model::MappedDevice*>(b);
    model::DmTable* t = md ? md->live_table() : nullptr;
    model::DmTarget* ti = t ? t->find_target(sector) : nullptr;
    if (!ti || !ti->type->locate) return nullptr;
    model::BlockDevice* leg = nullptr;
    uint64_t leg_sector = 0;
    if (ti->type->locate(ti, sector, &leg, &leg_sector)) return nullptr;
    b = leg;
    sector = leg_sector;
  }
  return nullptr;
}

}  // namespace engines
