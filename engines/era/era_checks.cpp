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
#include "engines/era/era_format.hpp"
#include "engines/era/era_layout.hpp"
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
    if (e.kind == JournalEvent::EraMap) add(e.device, true);
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
    if (in.events[i].kind == JournalEvent::EraFormat && in.events[i].device == metadata_dev) formats.push_back(i);
  std::optional<size_t> start;
  for (size_t k = 1; k < formats.size(); k++)
    for (const auto& w : in.writes)
      if (w.device == metadata_dev && w.sectors && w.sector < (DM_ERA_METADATA_BLOCK_SIZE >> 9) &&
          w.events_before > formats[k - 1] && w.events_before <= formats[k])
        start = formats[k];
  return start;
}

// What the journal says of each write id: the era era_map first saw it in, the latest era its
// block was marked in, and the resizes, which legitimately forget blocks beyond a smaller end.
struct WriteEras {
  std::map<uint64_t, uint32_t> mapped, marked;
  std::map<uint64_t, size_t> mapped_at;  // write id -> index of its first EraMap event
  struct Resize {
    size_t at;  // journal index
    std::string device;
    uint64_t nr_blocks;
  };
  std::vector<Resize> resizes;
};

WriteEras write_eras(const std::vector<JournalEvent>& events) {
  WriteEras w;
  for (size_t i = 0; i < events.size(); i++) {
    const JournalEvent& e = events[i];
    if (e.kind == JournalEvent::EraResize) w.resizes.push_back({i, e.device, e.nr_blocks});
    if (e.write_id == 0) continue;  // a bio no step issued
    if (e.kind == JournalEvent::EraMap) {
      w.mapped_at.emplace(e.write_id, i);
      auto [it, fresh] = w.mapped.emplace(e.write_id, e.era);
      if (!fresh) it->second = std::min(it->second, e.era);
    } else if (e.kind == JournalEvent::EraMark) {
      w.marked[e.write_id] = std::max(w.marked[e.write_id], e.era);
    }
  }
  return w;
}

using EraMembers = std::vector<std::pair<std::string, const era_table_info*>>;  // (top device, table)

// The era-written-since verdict on one metadata device and the era devices that share it (one
// record of the origin's blocks): recall (every acknowledged write is reported), then precision
// (every reported block had a write that may be recorded that late).
class MetadataVerdict {
 public:
  MetadataVerdict(const CheckInput& in, const WriteEras& eras, const std::string& metadata_dev,
                  const EraMembers& members, std::vector<CheckViolation>& out)
      : in_(in), eras_(eras), metadata_dev_(metadata_dev), members_(members), out_(out) {}

  void judge() {
    std::string why;
    model::BlockDevice* meta = metadata_device(in_, metadata_dev_, &why);
    if (!meta) {
      out_.push_back({"era-written-since", why, true});
      return;
    }
    const std::vector<model::Sector> sb_before = superblock_sectors(meta);
    if (q_.reader.open(meta, false, &q_.error)) {
      fail("cannot read the era metadata on " + metadata_dev_ + ": " + q_.error);
      return;
    }
    // The unit of every block number the metadata holds, for the tools and their users.
    bs_ = q_.reader.live().data_block_size;
    if (!bs_) {
      fail("the era metadata on " + metadata_dev_ + " has a data block size of 0");
      return;
    }
    start_ = history_start(in_, metadata_dev_);
    if (!every_acknowledged_write_reported()) return;
    no_block_reported_too_late();
    // Precondition of the whole verdict: the metadata did not change while it was read.
    if (superblock_sectors(meta) != sb_before)
      fail("the superblock on " + metadata_dev_ + " changed while the check read it: the steps had not settled");
  }

 private:
  void fail(const std::string& msg) { out_.push_back({"era-written-since", msg}); }

  bool forgotten(const TopWrite& w) const { return start_ && w.events_before <= *start_; }

  // A later resize of a device of this metadata to at most `b` blocks dropped the block.
  bool cut_off(uint64_t id, uint64_t b) const {
    const auto m = eras_.mapped_at.find(id);
    const size_t at = m != eras_.mapped_at.end() ? m->second : 0;
    for (const auto& r : eras_.resizes)
      if (r.at > at && r.nr_blocks <= b &&
          std::any_of(members_.begin(), members_.end(), [&r](const auto& mb) { return mb.first == r.device; }))
        return true;
    return false;
  }

  // Recall, and the latest era each written block may be recorded in for precision. False when
  // era_invalidate itself failed (reported): nothing more can be judged.
  bool every_acknowledged_write_reported() {
    size_t lost_writes = 0;
    for (const auto& [path, table] : members_)
      for (const TopWrite& w : in_.writes) {
        if (w.device != path || !w.sectors || forgotten(w)) continue;
        const auto mapped = eras_.mapped.find(w.id);
        if (!w.discard && mapped == eras_.mapped.end()) continue;  // written while another target was loaded
        // Discards, and writes not yet marked, may be recorded in any later era.
        const auto marked = eras_.marked.find(w.id);
        const uint32_t last = !w.discard && marked != eras_.marked.end() ? marked->second : kUnknownEra;
        for (uint64_t b = w.sector / bs_; b <= (w.sector + w.sectors - 1) / bs_; b++)
          latest_[b] = std::max(latest_[b], last);
        if (!w.acked || w.discard) continue;
        const uint32_t e = std::max<uint32_t>(mapped->second, 1);
        const std::vector<bool>* m = q_.since(e);
        if (!m) {
          fail("era_invalidate on " + metadata_dev_ + " failed: " + q_.error);
          return false;
        }
        for (uint64_t b = w.sector / bs_; b <= (w.sector + w.sectors - 1) / bs_; b++) {
          if ((b < m->size() && (*m)[b]) || cut_off(w.id, b)) continue;
          if (lost_writes++ < 8) fail(lost_write(path, w, b, e));
        }
      }
    if (lost_writes > 8) fail(std::to_string(lost_writes - 8) + " more lost write(s) recorded on " + metadata_dev_);
    return true;
  }

  std::string lost_write(const std::string& path, const TopWrite& w, uint64_t b, uint32_t e) const {
    return "block " + std::to_string(b) + " of " + path + ": write #" + std::to_string(w.id) + " (sectors " +
           std::to_string(w.sector) + "+" + std::to_string(w.sectors) + ", mapped in era " + std::to_string(e) +
           ", acknowledged" + (in_.after_crash && w.before_crash ? " before the power cut" : "") +
           ") is not reported by era_invalidate --written-since " + std::to_string(e) + " (blocks of " +
           std::to_string(bs_) + " sectors)";
  }

  // Precision: a block reported since era t had a write that may be recorded in era >= t.
  void no_block_reported_too_late() {
    std::set<uint32_t> thresholds{1};
    for (const auto& [b, e] : latest_)
      if (e != kUnknownEra) thresholds.insert(e + 1);
    size_t wrong = 0;
    for (uint32_t t : thresholds) {
      const std::vector<bool>* m = q_.since(t);
      if (!m) break;
      for (size_t b = 0; b < m->size(); b++) {
        if (!(*m)[b]) continue;
        auto it = latest_.find(b);
        if (it != latest_.end() && it->second >= t) continue;
        if (wrong++ < 8)
          fail("block " + std::to_string(b) + " recorded on " + metadata_dev_ +
               " is reported by era_invalidate --written-since " + std::to_string(t) + " but " +
               (it == latest_.end() ? std::string("nothing was ever written to it")
                                    : "its last write was recorded in era " + std::to_string(it->second)));
      }
    }
    if (wrong > 8) fail(std::to_string(wrong - 8) + " more wrongly reported block(s) on " + metadata_dev_);
  }

  const CheckInput& in_;
  const WriteEras& eras_;
  const std::string& metadata_dev_;
  const EraMembers& members_;
  std::vector<CheckViolation>& out_;
  Query q_;
  uint64_t bs_ = 0;                      // the metadata's data block size, in sectors
  std::optional<size_t> start_;          // history_start()
  std::map<uint64_t, uint32_t> latest_;  // block -> the latest era it may be recorded in
};

std::vector<CheckViolation> written_since_check(const CheckInput& in) {
  std::vector<CheckViolation> out;
  std::set<std::string> lost;
  std::map<std::string, EraMembers> groups;  // by metadata device
  for (const auto& [path, table] : era_devices(in, &lost)) groups[table->metadata_dev].emplace_back(path, table);
  for (const auto& path : lost)
    out.push_back({"era-written-since", "era device " + path + " was not created again after the power cut", true});
  const WriteEras eras = write_eras(in.events);
  for (const auto& [metadata_dev, members] : groups) MetadataVerdict(in, eras, metadata_dev, members, out).judge();
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

std::string era_check_misjudges(const std::string& image) {
  namespace sb = superblock_layout;
  if (image.size() < sb::nr_blocks.end()) return "";
  const auto* bytes = reinterpret_cast<const uint8_t*>(image.data());
  if (sb::magic.get(bytes) != SUPERBLOCK_MAGIC || sb::nr_blocks.get(bytes) != 0) return "";
  return "its era array has 0 blocks (formatted, not yet resized by a preresume), which era_check 0.9.0 reports "
         "as missing blocks although the kernel writes such metadata";
}

void register_era_checks() {
  register_check({"era-written-since",
                  "every acknowledged write to an era device is reported by era_invalidate --written-since its era "
                  "(after any crash and recovery), and no block is reported that was not written since",
                  written_since_check});
  register_metadata_checker("era", metadata_check);
}

}  // namespace engines::era
