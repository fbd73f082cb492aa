// The era checks. era-written-since asks the recovered metadata what userland would ask it
// (take_metadata_snap, era_invalidate --metadata-snapshot --written-since E) and compares the
// answer with what the top of the stack wrote and in which era era_map saw each write (the
// engine journal):
//  - every acknowledged write to block b, mapped in era e, is reported for --written-since e
//    (and so for every smaller era);
//  - a block reported for --written-since e had some write that may be recorded in era >= e;
//    a block nobody wrote is never reported.
// Blocks are counted in the table's block size, as the user who configured it asks.
// metadata-check runs era_check (and the reference-count check it lacks) on every era metadata
// device of the simulation.
#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "engines/checks.hpp"
#include "engines/era/era.hpp"
#include "engines/era/era_reader.hpp"
#include "engines/era/era_target.hpp"
#include "model/dm/dm_table.hpp"
#include "model/world.hpp"

namespace engines::era {

namespace {

constexpr uint32_t kUnknownEra = std::numeric_limits<uint32_t>::max();

// The era devices the writes and the journal name, with the table each was last built from.
std::map<std::string, const era_table_info*> era_devices(const CheckInput& in) {
  std::map<std::string, const era_table_info*> out;
  auto add = [&](const std::string& path) {
    const std::string prefix = "/dev/mapper/";
    if (path.rfind(prefix, 0) != 0) return;
    if (const era_table_info* t = era_table_for(path.substr(prefix.size()))) out[path] = t;
  };
  for (const auto& e : in.events)
    if (e.kind == "era.map") add(e.device);
  for (const auto& w : in.writes) add(w.device);
  return out;
}

bool live_era_device(const std::string& name) {
  model::MappedDevice* md = model::World::get().dm().device(name);
  if (!md || !md->live_table() || md->suspended()) return false;
  const auto& ts = md->live_table()->targets();
  return ts.size() == 1 && std::string(ts[0]->type->name) == "era";
}

struct Query {
  EraMetadataReader reader;
  std::map<uint32_t, std::vector<bool>> cache;
  std::string error;
  const std::vector<bool>* since(uint32_t e) {
    auto it = cache.find(e);
    if (it != cache.end()) return &it->second;
    std::vector<bool> m;
    if (reader.written_since(e, &m, &error)) return nullptr;
    return &(cache[e] = std::move(m));
  }
};

std::vector<CheckViolation> written_since_check(const CheckInput& in) {
  std::vector<CheckViolation> out;
  auto fail = [&](const std::string& msg) { out.push_back({"era-written-since", msg}); };
  model::World& world = model::World::get();
  // Devices sharing a metadata device share one record of the origin's blocks.
  std::map<std::string, std::vector<std::pair<std::string, const era_table_info*>>> groups;
  for (const auto& [path, table] : era_devices(in)) groups[table->metadata_dev].emplace_back(path, table);

  // Eras per write id, from the journal: when era_map saw it, and when it was marked; and
  // resizes, which legitimately forget blocks beyond a smaller end.
  std::map<uint64_t, uint32_t> mapped, marked;
  std::map<uint64_t, size_t> mapped_at;                            // write id -> index of its first era.map event
  std::vector<std::tuple<size_t, std::string, uint64_t>> resizes;  // (index, device, nr_blocks)
  for (size_t i = 0; i < in.events.size(); i++) {
    const auto& e = in.events[i];
    if (e.kind == "era.resize" && !e.v.empty()) resizes.emplace_back(i, e.device, e.v[0]);
    if (e.v.size() < 3 || e.v[0] == 0) continue;
    if (e.kind == "era.map") mapped_at.emplace(e.v[0], i);
    const uint32_t era = static_cast<uint32_t>(e.v[2]);
    if (e.kind == "era.map") {
      auto [it, fresh] = mapped.emplace(e.v[0], era);
      if (!fresh) it->second = std::min(it->second, era);
    } else if (e.kind == "era.mark") {
      marked[e.v[0]] = std::max(marked[e.v[0]], era);
    }
  }

  for (const auto& [metadata_dev, members] : groups) {
    // Ask as userland would: from a metadata snapshot of a live device, else from the metadata
    // of an inactive one.
    std::string snap_device;
    for (const auto& [path, table] : members) {
      const std::string name = path.substr(12);
      if (snap_device.empty() && live_era_device(name)) {
        model::DmResult r = world.dm().message(name, 0, "take_metadata_snap");
        if (!r.ok()) {  // one is held already: replace it with a current one
          world.dm().message(name, 0, "drop_metadata_snap");
          r = world.dm().message(name, 0, "take_metadata_snap");
        }
        if (r.ok()) snap_device = name;
      }
    }
    model::BlockDevice* meta = world.lookup(metadata_dev);
    Query q;
    const int opened = meta ? q.reader.open(meta, !snap_device.empty(), &q.error) : -19;
    if (!snap_device.empty()) world.dm().message(snap_device, 0, "drop_metadata_snap");
    if (opened) {
      fail("cannot read the era metadata on " + metadata_dev + ": " + q.error);
      continue;
    }

    // A later resize of a device of this metadata to at most `b` blocks dropped the block.
    auto cut_off = [&](uint64_t id, uint64_t b) {
      const size_t at = mapped_at.count(id) ? mapped_at[id] : 0;
      for (const auto& [i, dev, n] : resizes)
        if (i > at && n <= b &&
            std::any_of(members.begin(), members.end(), [&dev = dev](const auto& m) { return m.first == dev; }))
          return true;
      return false;
    };
    std::map<uint64_t, uint32_t> latest;  // block -> the latest era it may be recorded in
    size_t lost = 0;
    for (const auto& [path, table] : members) {
      const uint64_t bs = table->block_size;
      for (const auto& w : in.writes) {
        if (w.device != path || !w.sectors) continue;
        const bool through_era = mapped.count(w.id);
        if (!w.discard && !through_era) continue;  // written while another target was loaded
        // Discards, and writes not yet marked, may be recorded in any later era.
        const uint32_t last = !w.discard && marked.count(w.id) ? marked[w.id] : kUnknownEra;
        for (uint64_t b = w.sector / bs; b <= (w.sector + w.sectors - 1) / bs; b++)
          latest[b] = std::max(latest[b], last);
        if (!w.acked || w.discard) continue;
        const uint32_t e = std::max<uint32_t>(mapped[w.id], 1);
        const std::vector<bool>* m = q.since(e);
        if (!m) {
          fail("era_invalidate on " + metadata_dev + " failed: " + q.error);
          return out;
        }
        for (uint64_t b = w.sector / bs; b <= (w.sector + w.sectors - 1) / bs; b++) {
          if (b < m->size() && (*m)[b]) continue;
          if (cut_off(w.id, b)) continue;
          if (lost++ < 8)
            fail("block " + std::to_string(b) + " of " + path + ": write #" + std::to_string(w.id) + " (sectors " +
                 std::to_string(w.sector) + "+" + std::to_string(w.sectors) + ", mapped in era " + std::to_string(e) +
                 ", acknowledged" + (in.after_crash && w.before_crash ? " before the power cut" : "") +
                 ") is not reported by era_invalidate --written-since " + std::to_string(e));
        }
      }
    }
    if (lost > 8) fail(std::to_string(lost - 8) + " more lost write(s) recorded on " + metadata_dev);

    // Precision: a block reported since era t had a write that may be recorded in era >= t.
    std::set<uint32_t> thresholds{1};
    for (const auto& [b, e] : latest)
      if (e != kUnknownEra) thresholds.insert(e + 1);
    size_t wrong = 0;
    for (uint32_t t : thresholds) {
      const std::vector<bool>* m = q.since(t);
      if (!m) break;
      for (size_t b = 0; b < m->size(); b++) {
        if (!(*m)[b]) continue;
        auto it = latest.find(b);
        if (it != latest.end() && it->second >= t) continue;
        if (wrong++ < 8)
          fail("block " + std::to_string(b) + " recorded on " + metadata_dev +
               " is reported by era_invalidate --written-since " + std::to_string(t) + " but " +
               (it == latest.end() ? std::string("nothing was ever written to it")
                                   : "its last write was recorded in era " + std::to_string(it->second)));
      }
    }
    if (wrong > 8) fail(std::to_string(wrong - 8) + " more wrongly reported block(s) on " + metadata_dev);
  }
  return out;
}

std::vector<CheckViolation> metadata_check(const CheckInput& in) {
  std::vector<CheckViolation> out;
  std::set<std::string> seen;
  for (const auto& [path, table] : era_devices(in)) {
    if (!seen.insert(table->metadata_dev).second) continue;
    model::BlockDevice* meta = model::World::get().lookup(table->metadata_dev);
    if (!meta) continue;
    EraMetadataReader rd;
    std::string err;
    if (rd.open(meta, false, &err)) {
      out.push_back({"metadata-check", "era metadata on " + table->metadata_dev + ": " + err});
      continue;
    }
    for (const auto& p : rd.check())
      out.push_back({"metadata-check", "era metadata on " + table->metadata_dev + ": " + p});
  }
  return out;
}

}  // namespace

void register_era_checks() {
  register_check({"era-written-since",
                  "every acknowledged write to an era device is reported by era_invalidate --written-since its era "
                  "(after any crash and recovery), and no block is reported that was not written since",
                  written_since_check});
  register_metadata_checker("era", metadata_check);
}

}  // namespace engines::era
