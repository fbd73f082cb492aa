#include "engines/content_view.hpp"

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

}  // namespace engines
