// The era checks. era-written-since reads each era metadata device the way era_invalidate reads
// it, and compares the answer with what the top of the stack wrote and in which era era_map saw
// each write (the engine journal):
//  - every acknowledged write to block b, mapped in era e, is reported for --written-since e
//    (and so for every smaller era);
//  - a block reported for --written-since e had some write that may be recorded in era >= e;
//    a block nobody wrote is never reported.
// Blocks are counted in the superblock's data block size, the unit era_invalidate's answer is
// in for whoever reads it. A metadata device formatted anew after the scenario wrote over its
// superblock starts a new history: writes before that are no longer owed.
// metadata-check runs era_check (and the reference-count check it lacks) on every era metadata
// device of the simulation.
//
// The checks observe without perturbing: no message is sent (take_metadata_snap would change
// the era, and log an error when the scenario holds a snapshot already) and nothing reaches the
// kernel log. They read the committed metadata straight from the device instead: they run in
// the checker's thread once the steps settled, and the simulation is cooperative, so nothing
// commits while they read; the superblock's first sector is compared before and after to assert
// it. What is committed is exactly what a snapshot taken now would hold (marking commits before
// a write is submitted), once the current writeset is counted as archived under the current era.
#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "engines/checks.hpp"
#include "engines/era/era.hpp"
#include "engines/era/era_reader.hpp"
#include "engines/era/era_target.hpp"
#include "model/dm/mapped_device.hpp"
#include "model/sync_io.hpp"
#include "model/world.hpp"

namespace engines::era {

namespace {

constexpr uint32_t kUnknownEra = std::numeric_limits<uint32_t>::max();
const std::string kMapperPrefix = "/dev/mapper/";

// The era devices the writes and the journal name, with the table each was last built from;
// `lost`: devices era_map saw whose table this simulation never built (not re-created after a
// power cut), so that nothing says where their metadata is.
std::map<std::string, const era_table_info*> era_devices(const CheckInput& in, std::set<std::string>* lost) {
  std::map<std::string, const era_table_info*> out;
  auto add = [&](const std::string& path, bool seen_by_era) {
    if (path.rfind(kMapperPrefix, 0) != 0) return;
    if (const era_table_info* t = era_table_for(path.substr(kMapperPrefix.size())))
      out[path] = t;
    else if (seen_by_era && lost)
      lost->insert(path);
  };
  for (const auto& e : in.events)
    if (e.kind == "era.map") add(e.device, true);
  for (const auto& w : in.writes) add(w.device, false);
  return out;
}

// The metadata device at the end of the run, or null with `why` saying why it cannot be read.
model::BlockDevice* metadata_device(const CheckInput& in, const std::string& path, std::string* why) {
  model::BlockDevice* b = model::World::get().lookup(path);
  if (!b) {
    auto it = in.removed_at.find(path);
    *why = "metadata device " + path +
           (it != in.removed_at.end() ? " was removed at step " + std::to_string(it->second)
            : in.after_crash          ? " was not created again after the power cut"
                                      : " does not exist at the end of the run");
    return nullptr;
  }
  // A dm device parks bios while it is suspended or has no table: reading would never end.
  if (auto* md = dynamic_cast<model::MappedDevice*>(b); md && (md->suspended() || !md->live_table())) {
    *why = "metadata device " + path + (md->suspended() ? " is suspended" : " has no live table") +
           " at the end of the run";
    return nullptr;
  }
  return b;
}

std::vector<model::Sector> superblock_sectors(model::BlockDevice* b) {
  std::vector<model::Sector> s;
  if (model::blk_read(b, SUPERBLOCK_LOCATION, DM_ERA_METADATA_BLOCK_SIZE >> 9, &s) != model::BLK_STS_OK) s.clear();
  return s;
}

struct Query {
  EraMetadataReader reader;
  std::map<uint32_t, std::vector<bool>> cache;
  std::string error;
  // era_invalidate --written-since e on a snapshot taken now.
  const std::vector<bool>* since(uint32_t e) {
    auto it = cache.find(e);
    if (it != cache.end()) return &it->second;
    std::vector<bool> m;
    if (reader.written_since(e, &m, &error, true)) return nullptr;
    return &(cache[e] = std::move(m));
  }
};

// The journal index of the format that began the metadata's current history, when the
// scenario reformatted it on purpose: a format preceded by a write of the steps over the
// superblock made since the previous format. (A superblock the engine lost is no such thing.)
// Writes submitted before that event are no longer owed. Nothing: no reset.
std::optional<size_t> history_start(const CheckInput& in, const std::string& metadata_dev) {
  std::vector<size_t> formats;
  for (size_t i = 0; i < in.events.size(); i++)
    if (in.events[i].kind == "era.format" && in.events[i].device == metadata_dev) formats.push_back(i);
  std::optional<size_t> start;
  for (size_t k = 1; k < formats.size(); k++)
    for (const auto& w : in.writes)
      if (w.device == metadata_dev && w.sectors && w.sector < (DM_ERA_METADATA_BLOCK_SIZE >> 9) &&
          w.events_before > formats[k - 1] && w.events_before <= formats[k])
        start = formats[k];
  return start;
}

std::vector<CheckViolation> written_since_check(const CheckInput& in) {
  std::vector<CheckViolation> out;
  auto fail = [&](const std::string& msg) { out.push_back({"era-written-since", msg}); };
  auto cannot_judge = [&](const std::string& why) { out.push_back({"era-written-since", why, true}); };
  std::set<std::string> lost;
  // Devices sharing a metadata device share one record of the origin's blocks.
  std::map<std::string, std::vector<std::pair<std::string, const era_table_info*>>> groups;
  for (const auto& [path, table] : era_devices(in, &lost)) groups[table->metadata_dev].emplace_back(path, table);
  for (const auto& path : lost) cannot_judge("era device " + path + " was not created again after the power cut");

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
    std::string why;
    model::BlockDevice* meta = metadata_device(in, metadata_dev, &why);
    if (!meta) {
      cannot_judge(why);
      continue;
    }
    const std::vector<model::Sector> sb_before = superblock_sectors(meta);
    Query q;
    if (q.reader.open(meta, false, &q.error)) {
      fail("cannot read the era metadata on " + metadata_dev + ": " + q.error);
      continue;
    }
    // The unit of every block number the metadata holds, for the tools and their users.
    const uint64_t bs = q.reader.live().data_block_size;
    if (!bs) {
      fail("the era metadata on " + metadata_dev + " has a data block size of 0");
      continue;
    }
    const std::optional<size_t> start = history_start(in, metadata_dev);
    auto forgotten = [&](const TopWrite& w) { return start && w.events_before <= *start; };

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
    size_t lost_writes = 0;
    bool query_failed = false;
    for (const auto& [path, table] : members) {
      for (const auto& w : in.writes) {
        if (w.device != path || !w.sectors || forgotten(w)) continue;
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
          query_failed = true;
          break;
        }
        for (uint64_t b = w.sector / bs; b <= (w.sector + w.sectors - 1) / bs; b++) {
          if (b < m->size() && (*m)[b]) continue;
          if (cut_off(w.id, b)) continue;
          if (lost_writes++ < 8)
            fail("block " + std::to_string(b) + " of " + path + ": write #" + std::to_string(w.id) + " (sectors " +
                 std::to_string(w.sector) + "+" + std::to_string(w.sectors) + ", mapped in era " + std::to_string(e) +
                 ", acknowledged" + (in.after_crash && w.before_crash ? " before the power cut" : "") +
                 ") is not reported by era_invalidate --written-since " + std::to_string(e) + " (blocks of " +
                 std::to_string(bs) + " sectors)");
        }
      }
      if (query_failed) break;
    }
    if (query_failed) continue;
    if (lost_writes > 8) fail(std::to_string(lost_writes - 8) + " more lost write(s) recorded on " + metadata_dev);

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
    // Precondition of the whole verdict: the metadata did not change while it was read.
    if (superblock_sectors(meta) != sb_before)
      fail("the superblock on " + metadata_dev + " changed while the check read it: the steps had not settled");
  }
  return out;
}

std::vector<CheckViolation> metadata_check(const CheckInput& in) {
  std::vector<CheckViolation> out;
  std::set<std::string> seen;
  for (const auto& [path, table] : era_devices(in, nullptr)) {
    if (!seen.insert(table->metadata_dev).second) continue;
    std::string why;
    model::BlockDevice* meta = metadata_device(in, table->metadata_dev, &why);
    if (!meta) {
      out.push_back({"metadata-check", why, true});
      continue;
    }
    EraMetadataReader rd;
    std::string err;
    if (rd.open(meta, false, &err)) {
      out.push_back({"metadata-check", "era metadata on " + table->metadata_dev + ": " + err});
      continue;
    }
    for (const auto& p : rd.check())
      out.push_back({"metadata-check", "era metadata on " + table->metadata_dev + ": " + p});
    for (const auto& m : rd.messages())
      out.push_back({"metadata-check", "era metadata on " + table->metadata_dev + ": " + m});
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
