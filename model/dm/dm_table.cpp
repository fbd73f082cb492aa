#include "model/dm/dm_table.hpp"

#include <algorithm>
#include <map>

#include "model/dm/mapped_device.hpp"
#include "model/errno.hpp"
#include "model/errno_text.hpp"
#include "model/world.hpp"
#include "sim/thread.hpp"

namespace model {

namespace {
std::map<std::string, const TargetType*>& registry() {
  static std::map<std::string, const TargetType*> r;
  return r;
}
}  // namespace

void dm_register_target(const TargetType* tt) {
  registry()[tt->name] = tt;
}

const TargetType* dm_get_target_type(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second;
}

std::vector<std::string> dm_target_type_names() {
  std::vector<std::string> n;
  for (const auto& [k, v] : registry()) n.push_back(k);
  return n;
}

void dm_log(const std::string& prefix, const std::string& msg) {
  sim::printk("device-mapper: " + prefix + ": " + msg, sim::KERN_ERR);
}

void dm_log_warn(const std::string& prefix, const std::string& msg) {
  sim::printk("device-mapper: " + prefix + ": " + msg, sim::KERN_WARNING);
}

void dm_log_info(const std::string& prefix, const std::string& msg) {
  sim::printk("device-mapper: " + prefix + ": " + msg, sim::KERN_INFO);
}

bool dm_parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

DmArgs dm_split_args(const std::string& params) {
  DmArgs out;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < params.size(); i++) {
    char c = params[i];
    if (c == '\\' && i + 1 < params.size()) {
      cur += params[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(cur);
  return out;
}

MappedDevice* dm_table_get_md(DmTable* t) {
  return t->md();
}
void dm_internal_suspend_noflush(MappedDevice* md) {
  md->internal_suspend_noflush();
}
void dm_internal_resume(MappedDevice* md) {
  md->internal_resume();
}
bool dm_suspended(const DmTarget* ti) {
  return ti->table->md()->suspended();
}
bool dm_noflush_suspending(const DmTarget* ti) {
  return ti->table->md()->noflush_suspending();
}
const std::string& dm_device_name(const MappedDevice* md) {
  return md->name();
}
sim::Mutex& dm_suspend_lock(DmTarget* ti) {
  return ti->table->md()->suspend_lock;
}

int dm_get_device(DmTarget* ti, const std::string& path, DmDev** result) {
  DmDev* d = ti->table->get_device(path);
  if (!d) return -ENODEV;
  *result = d;
  return 0;
}

void dm_put_device(DmTarget* ti, DmDev* d) {
  ti->table->put_device(d);
}

DmTable::~DmTable() = default;

DmDev* DmTable::get_device(const std::string& path) {
  BlockDevice* bdev = World::get().lookup(path);
  if (!bdev || bdev == md_) return nullptr;
  auto d = std::make_unique<DmDev>();
  d->bdev = bdev;
  d->name = path;
  World::get().bdev_get(bdev);
  devices_.push_back(std::move(d));
  return devices_.back().get();
}

void DmTable::put_device(DmDev* d) {
  auto it = std::find_if(devices_.begin(), devices_.end(), [d](const auto& p) { return p.get() == d; });
  if (it == devices_.end()) {
    dm_log("table", "dm_put_device: device " + d->name + " not found");
    return;
  }
  World::get().bdev_put(d->bdev);
  devices_.erase(it);
}

std::vector<BlockDevice*> DmTable::devices() const {
  std::vector<BlockDevice*> out;
  for (const auto& d : devices_) out.push_back(d->bdev);
  return out;
}

int DmTable::add_target(const std::string& type, uint64_t start, uint64_t len, const std::string& params) {
  KFRAME_NAMED("dm_table_add_target");
  const std::string dev = md_->devt();
  if (len == 0) {
    error_ = "zero-length target";
    dm_log("table", dev + ": zero-length target");
    return -EINVAL;
  }
  auto ti = std::make_unique<DmTarget>();
  ti->table = this;
  ti->begin = start;
  ti->len = len;
  ti->params = params;
  ti->type = dm_get_target_type(type);
  int r = 0;
  if (!ti->type) {
    ti->error = "unknown target type";
    r = -EINVAL;
  } else if (start != size()) {
    // adjoin(): the first target starts at 0, each next one where the previous ended.
    ti->error = "Gap in table";
    r = -EINVAL;
  } else {
    r = ti->type->ctr(ti.get(), dm_split_args(params));
  }
  if (r) {
    error_ = type + ": " + ti->error;
    dm_log("table", dev + ": " + type + ": " + ti->error + " (" + errno_name(r) + ")");
    return r;
  }
  targets_.push_back(std::move(ti));
  return 0;
}

int DmTable::complete() {
  if (targets_.empty()) {
    error_ = "no targets";
    dm_log("table", md_->devt() + ": Table has no targets");
    return -EINVAL;
  }
  return 0;
}

void DmTable::destroy() {
  KFRAME_NAMED("dm_table_destroy");
  if (destroyed_) return;
  destroyed_ = true;
  for (auto it = targets_.rbegin(); it != targets_.rend(); ++it)
    if ((*it)->type->dtr) (*it)->type->dtr(it->get());
  if (!devices_.empty()) {
    std::string names;
    for (const auto& d : devices_) names += " " + d->name;
    dm_log("table", md_->devt() + ": dm_table_destroy: dm_put_device call missing for" + names);
    for (const auto& d : devices_) World::get().bdev_put(d->bdev);
    devices_.clear();
  }
}

DmTarget* DmTable::find_target(uint64_t sector) const {
  for (const auto& t : targets_)
    if (sector >= t->begin && sector < t->begin + t->len) return t.get();
  return nullptr;
}

uint64_t DmTable::size() const {
  return targets_.empty() ? 0 : targets_.back()->begin + targets_.back()->len;
}

QueueLimits DmTable::compute_limits() {
  QueueLimits l = QueueLimits::stacking_defaults();
  bool any_leg = false;
  for (const auto& t : targets_) {
    if (t->type->iterate_devices)
      t->type->iterate_devices(t.get(), [&](DmTarget*, DmDev* dev, uint64_t, uint64_t) {
        l.stack(dev->bdev->limits);
        any_leg = true;
        return 0;
      });
    // A target may ask for flushes whatever its legs say (dm_table_supports_flush).
    if (t->flush_supported) l.write_cache = l.fua = true;
    if (t->num_discard_bios == 0) l.max_discard_sectors = 0;
    if (t->discards_supported && t->num_discard_bios > 0 && l.max_discard_sectors == 0)
      l.max_discard_sectors = UINT32_MAX;
    if (t->num_write_zeroes_bios == 0) l.max_write_zeroes_sectors = 0;
  }
  if (!any_leg) l.max_sectors = 2560;
  for (const auto& t : targets_)
    if (t->type->io_hints) t->type->io_hints(t.get(), &l);
  return l;
}

void DmTable::presuspend_targets() {
  for (const auto& t : targets_)
    if (t->type->presuspend) t->type->presuspend(t.get());
}

void DmTable::presuspend_undo_targets() {
  for (const auto& t : targets_)
    if (t->type->presuspend_undo) t->type->presuspend_undo(t.get());
}

void DmTable::postsuspend_targets() {
  for (const auto& t : targets_)
    if (t->type->postsuspend) t->type->postsuspend(t.get());
}

int DmTable::resume_targets() {
  for (const auto& t : targets_) {
    if (!t->type->preresume) continue;
    const int r = t->type->preresume(t.get());
    if (r) {
      dm_log("table", md_->devt() + ": " + t->type->name + ": preresume failed, error = " + std::to_string(r));
      return r;
    }
  }
  for (const auto& t : targets_)
    if (t->type->resume) t->type->resume(t.get());
  return 0;
}

}  // namespace model
