#include "model/dm/dm_ioctl.hpp"

#include <sstream>

#include "model/errno.hpp"
#include "model/errno_text.hpp"
#include "model/world.hpp"

namespace model {

DmControl::DmControl() = default;
DmControl::~DmControl() = default;

DmResult DmControl::fail(const std::string& ioctl, const std::string& name, int err) {
  DmResult r;
  r.err = err;
  // libdevmapper's wording, including its double space where a uuid would go.
  r.error = "device-mapper: " + ioctl + " ioctl on " + name + "  failed: " + errno_text(err);
  return r;
}

DmControl::HashCell* DmControl::find(const std::string& name, const char* ioctl, DmResult& res) {
  sim::down_read(&hash_lock_);
  auto it = cells_.find(name);
  HashCell* hc = it == cells_.end() ? nullptr : &it->second;
  sim::up_read(&hash_lock_);
  if (!hc) res = fail(ioctl, name, -ENXIO);
  return hc;
}

const DmControl::HashCell* DmControl::cell_of(const MappedDevice* md) const {
  for (const auto& [name, hc] : cells_)
    if (hc.md.get() == md) return &hc;
  return nullptr;
}

MappedDevice* DmControl::device(const std::string& name) const {
  auto it = cells_.find(name);
  return it == cells_.end() ? nullptr : it->second.md.get();
}

std::vector<std::string> DmControl::names() const {
  std::vector<std::string> n;
  for (const auto& [k, v] : cells_) n.push_back(k);
  return n;
}

std::vector<BlockDevice*> DmControl::devices_in_use() const {
  std::vector<BlockDevice*> out;
  for (const auto& [name, hc] : cells_)
    for (const DmTable* t : {hc.md->live_table(), hc.new_map})
      if (t)
        for (BlockDevice* b : t->devices()) out.push_back(b);
  return out;
}

std::vector<std::string> DmControl::state_signatures() const {
  std::vector<std::string> out;
  for (const auto& [name, hc] : cells_) {
    const bool suspended = hc.md->suspended();
    for (const DmTable* t : {hc.md->live_table(), hc.new_map}) {
      if (!t) continue;
      for (const auto& ti : t->targets()) {
        std::string line = ti->type->name;
        line += t == hc.new_map ? " inactive" : " live";
        if (suspended && t != hc.new_map) line += " suspended";
        if (ti->type->state_signature) {
          line += ' ';
          line += ti->type->state_signature(ti.get());
        }
        out.push_back(std::move(line));
      }
    }
  }
  return out;
}

DmResult DmControl::create(const std::string& name, const std::string& table) {
  KFRAME_NAMED("dm_create");
  if (cells_.count(name)) return fail("create", name, -EBUSY);
  const uint32_t minor = next_minor_++;
  auto md = std::make_unique<MappedDevice>(name, minor);
  World& w = World::get();
  w.register_path("/dev/mapper/" + name, md.get());
  w.register_path("/dev/dm-" + std::to_string(minor), md.get());
  w.register_path(md->devt(), md.get());
  sim::down_write(&hash_lock_);
  cells_[name].md = std::move(md);
  sim::up_write(&hash_lock_);
  // libdm's _create_and_load: a failed load or a failed resume reverts with a remove, so a
  // refused table leaves no device behind; the error printed is the failed step's.
  DmResult r = load(name, table);
  if (r.ok()) r = resume(name);
  if (!r.ok()) remove(name);
  return r;
}

DmResult DmControl::populate(HashCell& hc, const std::string& table, DmTable** out) {
  MappedDevice* md = hc.md.get();
  auto t = std::make_unique<DmTable>(md);
  std::istringstream lines(table);
  std::string line;
  int lineno = 0;
  sim::mutex_lock(&md->type_lock);
  int r = 0;
  while (std::getline(lines, line)) {
    lineno++;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::istringstream ls(line);
    std::string start_s, len_s, type;
    uint64_t start = 0, len = 0;
    if (!(ls >> start_s >> len_s >> type) || !dm_parse_u64(start_s, &start) || !dm_parse_u64(len_s, &len)) {
      sim::mutex_unlock(&md->type_lock);
      t->destroy();
      DmResult res;
      res.err = -EINVAL;
      res.error = "Invalid format on line " + std::to_string(lineno) + " of table on stdin";
      return res;
    }
    std::string params;
    std::getline(ls, params);
    const size_t first = params.find_first_not_of(" \t");
    params = first == std::string::npos ? "" : params.substr(first);
    r = t->add_target(type, start, len, params);
    if (r) break;
  }
  if (!r) r = t->complete();
  sim::mutex_unlock(&md->type_lock);
  if (r) {
    // Targets already constructed are destroyed; the device stays as it was.
    t->destroy();
    return fail("reload", md->name(), r);
  }
  *out = t.release();
  return {};
}

DmResult DmControl::load(const std::string& name, const std::string& table) {
  KFRAME_NAMED("table_load");
  DmResult res;
  HashCell* hc = find(name, "reload", res);
  if (!hc) return res;
  DmTable* t = nullptr;
  res = populate(*hc, table, &t);
  if (!res.ok()) return res;
  replace_staged(*hc, t);
  return {};
}

void DmControl::replace_staged(HashCell& hc, DmTable* t) {
  sim::down_write(&hash_lock_);
  DmTable* old = hc.new_map;
  hc.new_map = t;
  sim::up_write(&hash_lock_);
  if (old) {
    // The staged table it replaces: wait for its readers, then destroy it.
    sim::synchronize_srcu(&hc.md->io_barrier);
    old->destroy();
    delete old;
  }
}

DmResult DmControl::clear(const std::string& name) {
  KFRAME_NAMED("table_clear");
  DmResult res;
  HashCell* hc = find(name, "clear", res);
  if (!hc) return res;
  replace_staged(*hc, nullptr);
  return {};
}

DmResult DmControl::suspend(const std::string& name, bool noflush) {
  KFRAME_NAMED("do_suspend");
  DmResult res;
  HashCell* hc = find(name, "suspend", res);
  if (!hc) return res;
  if (hc->md->suspended()) return {};
  const int r = hc->md->suspend(noflush);
  return r ? fail("suspend", name, r) : DmResult{};
}

DmResult DmControl::resume(const std::string& name, bool noflush) {
  KFRAME_NAMED("do_resume");
  DmResult res;
  HashCell* hc = find(name, "resume", res);
  if (!hc) return res;
  MappedDevice* md = hc->md.get();
  sim::down_write(&hash_lock_);
  DmTable* new_map = hc->new_map;
  hc->new_map = nullptr;
  sim::up_write(&hash_lock_);
  DmTable* old_map = nullptr;
  if (new_map) {
    if (!md->suspended()) {
      // do_resume suspends with the resume ioctl's own flags (DM_NOFLUSH_FLAG included).
      const int r = md->suspend(noflush);
      if (r) {
        sim::down_write(&hash_lock_);
        if (!hc->new_map)
          hc->new_map = new_map;
        else {
          new_map->destroy();
          delete new_map;
        }
        sim::up_write(&hash_lock_);
        return fail("resume", name, r);
      }
    }
    old_map = md->swap_table(new_map);
  }
  int r = 0;
  if (md->suspended()) r = md->resume();
  if (old_map) {
    // The old instance goes only now, after the new one was preresumed and resumed.
    old_map->destroy();
    delete old_map;
  }
  return r ? fail("resume", name, r) : DmResult{};
}

DmResult DmControl::retrieve_status(MappedDevice* md, StatusType type, unsigned flags, bool inactive) {
  KFRAME_NAMED("table_status");
  int srcu_idx;
  DmTable* table;
  if (inactive) {
    // dm_get_inactive_table: the SRCU read lock first, then the slot under _hash_lock, so a
    // load or clear replacing the staged table waits for this reader before destroying it.
    srcu_idx = sim::srcu_read_lock(&md->io_barrier);
    sim::down_read(&hash_lock_);
    const HashCell* hc = cell_of(md);  // dm_get_mdptr
    if (!hc) dm_log("ioctl", "device has been removed from the dev hash table.");
    table = hc ? hc->new_map : nullptr;
    sim::up_read(&hash_lock_);
  } else {
    table = md->get_live_table(&srcu_idx);
  }
  DmResult res;
  if (table) {
    KFRAME_NAMED("retrieve_status");
    for (const auto& ti : table->targets()) {
      std::string params;
      if (ti->type->status) ti->type->status(ti.get(), type, flags, params);
      res.output +=
          std::to_string(ti->begin) + " " + std::to_string(ti->len) + " " + ti->type->name + " " + params + "\n";
    }
  }
  md->put_live_table(srcu_idx);
  return res;
}

DmResult DmControl::status(const std::string& name, bool noflush, bool inactive) {
  DmResult res;
  HashCell* hc = find(name, "status", res);
  if (!hc) return res;
  return retrieve_status(hc->md.get(), STATUSTYPE_INFO, noflush ? DM_STATUS_NOFLUSH_FLAG : 0, inactive);
}

DmResult DmControl::table(const std::string& name, bool inactive) {
  DmResult res;
  HashCell* hc = find(name, "table", res);
  if (!hc) return res;
  return retrieve_status(hc->md.get(), STATUSTYPE_TABLE, 0, inactive);
}

DmResult DmControl::info(const std::string& name) {
  KFRAME_NAMED("dev_status");
  DmResult res;
  HashCell* hc = find(name, "info", res);
  if (!hc) return res;
  MappedDevice* md = hc->md.get();
  int srcu_idx;
  DmTable* live = md->get_live_table(&srcu_idx);
  const bool has_live = live != nullptr;
  const size_t targets = live ? live->targets().size() : 0;
  md->put_live_table(srcu_idx);
  const bool has_inactive = hc->new_map != nullptr;
  const char* tables = has_live && has_inactive ? "LIVE & INACTIVE"
                       : has_live               ? "LIVE"
                       : has_inactive           ? "INACTIVE"
                                                : "None";
  res.output = "Name:              " + name + "\n" +
               "State:             " + (md->suspended() ? "SUSPENDED" : "ACTIVE") + "\n" + "Read Ahead:        256\n" +
               "Tables present:    " + tables + "\n" +
               "Open count:        " + std::to_string(World::get().open_count(md)) + "\n" +
               "Event number:      " + std::to_string(md->event_nr()) + "\n" + "Major, minor:      253, " +
               std::to_string(md->minor()) + "\n";
  if (has_live) res.output += "Number of targets: " + std::to_string(targets) + "\n";
  return res;
}

DmResult DmControl::message(const std::string& name, uint64_t sector, const std::string& msg) {
  KFRAME_NAMED("target_message");
  DmResult res;
  HashCell* hc = find(name, "message", res);
  if (!hc) return res;
  const DmArgs argv = dm_split_args(msg);
  if (argv.empty()) {
    dm_log("ioctl", "Empty message received.");
    return fail("message", name, -EINVAL);
  }
  if (argv[0][0] == '@') {
    dm_log("ioctl", "Unsupported message sent to DM core: " + argv[0]);
    return fail("message", name, -EINVAL);
  }
  MappedDevice* md = hc->md.get();
  int srcu_idx;
  DmTable* table = md->get_live_table(&srcu_idx);
  int r = -EINVAL;
  std::string result;
  if (!table) {
    r = -ENXIO;
  } else if (sector >= table->size()) {
    dm_log("ioctl", "Target message sector outside device.");
  } else {
    DmTarget* ti = table->find_target(sector);
    if (ti->type->message) {
      r = ti->type->message(ti, argv, result);
    } else {
      dm_log("ioctl", "Target type does not support messages");
    }
  }
  md->put_live_table(srcu_idx);
  if (r < 0) return fail("message", name, r);
  if (r == 1) res.output = result + "\n";
  return res;
}

DmResult DmControl::remove(const std::string& name) {
  KFRAME_NAMED("dev_remove");
  DmResult res;
  HashCell* hc = find(name, "remove", res);
  if (!hc) return res;
  MappedDevice* md = hc->md.get();
  if (World::get().open_count(md) > 0) return fail("remove", name, -EBUSY);
  sim::down_write(&hash_lock_);
  DmTable* staged = hc->new_map;
  std::unique_ptr<MappedDevice> owned = std::move(hc->md);
  cells_.erase(name);
  sim::up_write(&hash_lock_);
  if (staged) {
    sim::synchronize_srcu(&md->io_barrier);
    staged->destroy();
    delete staged;
  }
  md->destroy_live_table();
  World& w = World::get();
  w.unregister_path("/dev/mapper/" + name);
  w.unregister_path("/dev/dm-" + std::to_string(md->minor()));
  w.unregister_path(md->devt());
  removed_.push_back(std::move(owned));
  return {};
}

}  // namespace model
