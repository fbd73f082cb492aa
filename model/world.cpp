#include "model/world.hpp"

#include <stdexcept>

#include "model/targets/simple_targets.hpp"

namespace model {

namespace {
World* g_world = nullptr;
}

World::World() : dm_(std::make_unique<DmControl>()) {
  if (g_world) throw std::logic_error("one World per simulation");
  g_world = this;
  register_simple_targets();
}

World::~World() {
  g_world = nullptr;
}

World& World::get() {
  if (!g_world) throw std::logic_error("no storage world in this simulation");
  return *g_world;
}

VolatileCacheDisk& World::add_disk(const DiskConfig& cfg) {
  if (lookup("/dev/" + cfg.name)) throw std::invalid_argument("disk '" + cfg.name + "' already exists");
  const uint32_t n = static_cast<uint32_t>(disks_.size());
  // sd devices: major 8, 16 minors each, as sda, sdb, ... get them.
  disks_.push_back(std::make_unique<VolatileCacheDisk>(n + 1, cfg, 8, n * 16));
  VolatileCacheDisk* d = disks_.back().get();
  register_path("/dev/" + cfg.name, d);
  register_path(d->devt(), d);
  return *d;
}

std::vector<VolatileCacheDisk*> World::disks() const {
  std::vector<VolatileCacheDisk*> v;
  for (const auto& d : disks_) v.push_back(d.get());
  return v;
}

VolatileCacheDisk* World::disk(const std::string& name) const {
  for (const auto& d : disks_)
    if (d->name() == name) return d.get();
  return nullptr;
}

BlockDevice* World::lookup(const std::string& path) const {
  auto it = paths_.find(path);
  return it == paths_.end() ? nullptr : it->second;
}

void World::register_path(const std::string& path, BlockDevice* dev) {
  paths_[path] = dev;
}
void World::unregister_path(const std::string& path) {
  paths_.erase(path);
}

const std::string* World::file(const std::string& path) const {
  for (auto it = files_.rbegin(); it != files_.rend(); ++it)
    if (it->path == path) return &it->bytes;
  return nullptr;
}

void World::write_file(const std::string& path, std::string bytes, uint64_t ns) {
  files_.push_back({path, ns, std::move(bytes)});
}

int World::open_count(BlockDevice* b) const {
  auto it = open_.find(b);
  return it == open_.end() ? 0 : it->second;
}

}  // namespace model
