// dm-clone's checks. They read the metadata on the disk (a block manager of their own, as a
// userland tool would) and the devices below through the world, after the steps settled; nothing
// they do reaches the simulated kernel's log.
//  - clone-committed-durable: every region whose bit is set in the committed metadata holds, on
//    the destination, what the source held when the clone was built or what was written through
//    the clone, sector by sector (regions marked by a discard are undefined and skipped). After a
//    power cut this is "no committed region points at unflushed data".
//  - clone-source-intact: the source changes only in regions committed hydrated, and (in the
//    phase that did it) only after a commit recorded the region: discard_rw_src done safely.
//  - clone-discard-containment: a destination disk is discarded only inside the whole regions a
//    discard through the clone covered.
//  - clone-status: the status lines the steps printed keep the kernel's fields and bounds.
//  - metadata-check (clone's part): the superblock validates and the region bitset can be walked.
#include <algorithm>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "engines/checks.hpp"
#include "engines/clone/clone.hpp"
#include "engines/clone/clone_format.hpp"
#include "engines/content_view.hpp"
#include "engines/lib/persistent_data/array.hpp"
#include "engines/lib/persistent_data/codec.hpp"
#include "engines/lib/persistent_data/transaction_manager.hpp"
#include "model/content.hpp"
#include "model/sync_io.hpp"
#include "model/volatile_cache_disk.hpp"
#include "model/world.hpp"

namespace engines::clone {

namespace {

constexpr const char* kDurable = "clone-committed-durable";
constexpr const char* kSourceIntact = "clone-source-intact";
constexpr const char* kStatus = "clone-status";
constexpr const char* kDiscards = "clone-discard-containment";
constexpr size_t kMaxReported = 8;
// A check reads at most this many destination sectors per device (a larger run is sampled by
// region, and says so).
constexpr uint64_t kMaxSectorsRead = uint64_t{1} << 22;

struct CloneInfo {
  std::string device, metadata, source, dest;
  uint64_t region_sectors = 0;
  size_t first_event = 0;  // the first table's event: the source as it was then is the original
};

// The clone devices of the run by path, from their CloneDevice events (latest table wins, the
// first one dates the source's original content).
std::map<std::string, CloneInfo> clone_devices(const CheckInput& in) {
  std::map<std::string, CloneInfo> out;
  for (size_t i = 0; i < in.events.size(); i++) {
    const JournalEvent& e = in.events[i];
    if (e.kind != JournalEvent::CloneDevice) continue;
    auto [it, fresh] = out.try_emplace(e.device);
    if (fresh) it->second.first_event = i;
    it->second.device = e.device;
    it->second.metadata = e.metadata_device;
    it->second.source = e.origin_device;
    it->second.dest = e.data_device;
    it->second.region_sectors = e.block_sectors;
  }
  return out;
}

// The committed region bitmap on `bdev`: the set regions, or -errno with `error`.
int read_committed_regions(model::BlockDevice* bdev, std::vector<uint64_t>* regions, uint64_t* nr_regions,
                           std::string* error) {
  std::vector<std::string> messages;
  pd::PdUserlandLog quiet(&messages);
  pd::DmBlockManager bm(bdev, DM_CLONE_METADATA_BLOCK_SIZE << 9, 16);
  pd::DmBlock* b;
  int r = bm.read_lock(SUPERBLOCK_LOCATION, &sb_validator, &b);
  if (r) {
    *error = "superblock: " + (messages.empty() ? std::string("unreadable") : messages.back());
    return r;
  }
  const superblock_fields f = superblock_unpack(pd::dm_block_data(b));
  bm.unlock(b);
  std::unique_ptr<pd::DmTransactionManager> tm;
  r = pd::DmTransactionManager::open_with_sm(&bm, SUPERBLOCK_LOCATION, f.metadata_space_map_root, &tm);
  if (r) {
    *error = "bad metadata space map";
    return r;
  }
  *nr_regions = (f.target_size + f.region_size - 1) / std::max<uint64_t>(f.region_size, 1);
  pd::DmArrayInfo info;
  pd::DmBtreeValueType u64;
  u64.size = 8;
  pd::dm_array_info_init(&info, tm.get(), u64);
  r = pd::dm_array_walk(&info, f.bitset_root, [&](uint32_t word, const uint8_t* v) {
    const uint64_t w = pd::get_le64(v);
    for (unsigned i = 0; i < 64; i++)
      if ((w >> i & 1) && uint64_t{word} * 64 + i < *nr_regions) regions->push_back(uint64_t{word} * 64 + i);
    return 0;
  });
  if (r) *error = "region bitset at block " + std::to_string(f.bitset_root) + " cannot be walked";
  return r;
}

// The committed regions of the metadata on `path`: as it holds them now, or (`at_start`) as
// the phase found them (after a power cut: what the crash left). Through a content view when
// the device is a scenario disk, else (a device above dm) by reading it now.
int committed_regions(const std::string& path, bool at_start, std::vector<uint64_t>* regions, uint64_t* nr_regions,
                      std::string* error) {
  if (model::VolatileCacheDisk* d = scenario_disk(path)) {
    ContentView view(d->capacity(),
                     [d, at_start](uint64_t s) { return at_start ? d->initial_media().read(s) : d->read_sector(s); });
    return read_committed_regions(&view, regions, nr_regions, error);
  }
  model::BlockDevice* b = model::World::get().lookup(path);
  if (!b || at_start) {
    *error = path + (b ? " is not a disk of the scenario" : " does not exist at the end of the run");
    return -ENODEV;
  }
  return read_committed_regions(b, regions, nr_regions, error);
}

// What `dev` holds at [first, first + n) now: read from the disk's content directly when it is
// a scenario disk (nothing submitted), else through the block layer in bios it accepts whole.
bool read_now(model::BlockDevice* dev, uint64_t first, uint32_t n, std::vector<model::Sector>* out) {
  out->clear();
  if (auto* d = dynamic_cast<model::VolatileCacheDisk*>(dev)) {
    for (uint32_t i = 0; i < n; i++) out->push_back(d->read_sector(first + i));
    return true;
  }
  constexpr uint32_t kChunk = 1024;
  for (uint32_t done = 0; done < n; done += kChunk) {
    std::vector<model::Sector> part;
    if (model::blk_read(dev, first + done, std::min(kChunk, n - done), &part) != model::BLK_STS_OK) return false;
    out->insert(out->end(), part.begin(), part.end());
  }
  return true;
}

bool covers(const TopWrite& w, uint64_t sector) {
  return sector >= w.sector && sector < w.sector + w.sectors;
}

// Regions a discard through the clone covered whole: undefined until written again.
bool discarded_whole(const CheckInput& in, const CloneInfo& c, uint64_t region) {
  const uint64_t begin = region * c.region_sectors, end = begin + c.region_sectors;
  return std::any_of(in.writes.begin(), in.writes.end(), [&](const TopWrite& w) {
    return w.device == c.device && w.discard && w.sector <= begin && w.sector + w.sectors >= end;
  });
}

// What the source held at `sector` when the clone was first built: its never-written content
// (a scenario disk's initial token) or a write through it before then. Empty when the source is
// not a scenario disk (then its current content is all the check can use).
std::set<model::Token> source_original(const CheckInput& in, const CloneInfo& c, uint64_t sector) {
  std::set<model::Token> legal;
  if (model::VolatileCacheDisk* d = scenario_disk(c.source)) {
    legal.insert(d->initial_media().initial(sector).token);
    // The image the run started from, if the recovery's start kept it (loaded, seq 0).
    const auto& w = d->initial_media().written();
    if (auto it = w.find(sector); it != w.end() && it->second.seq == 0) legal.insert(it->second.content.token);
  } else if (model::BlockDevice* b = model::World::get().lookup(c.source)) {
    std::vector<model::Sector> data;
    if (model::blk_read(b, sector, 1, &data) == model::BLK_STS_OK) legal.insert(data[0].token);
  }
  for (const TopWrite& w : in.writes)
    if (w.device == c.source && !w.discard && covers(w, sector) && w.events_before <= c.first_event)
      legal.insert(w.zero ? model::kZeroToken : model::written_token(w.id, sector));
  return legal;
}

std::vector<CheckViolation> committed_durable(const CheckInput& in) {
  std::vector<CheckViolation> out;
  for (const auto& [path, c] : clone_devices(in)) {
    model::World& world = model::World::get();
    const std::string& dest_path = c.dest;
    model::BlockDevice* dest = world.lookup(dest_path);
    if (!world.lookup(c.metadata) || !dest) {
      out.push_back(
          {kDurable, path + ": its metadata or destination device does not exist at the end of the run", true});
      continue;
    }
    std::vector<uint64_t> regions;
    uint64_t nr_regions = 0;
    std::string error;
    if (committed_regions(c.metadata, false, &regions, &nr_regions, &error)) {
      out.push_back({kDurable, path + ": the committed metadata on " + c.metadata + " cannot be read: " + error});
      continue;
    }
    const uint64_t len = std::min(dest->capacity(), nr_regions * c.region_sectors);
    const uint64_t step = std::max<uint64_t>(1, regions.size() * c.region_sectors / kMaxSectorsRead);
    size_t bad = 0;
    std::string detail;
    for (size_t k = 0; k < regions.size(); k += step) {
      const uint64_t r = regions[k];
      if (discarded_whole(in, c, r)) continue;
      const uint64_t first = r * c.region_sectors;
      if (first >= len) continue;
      const auto n = static_cast<uint32_t>(std::min(c.region_sectors, len - first));
      std::vector<model::Sector> data;
      if (!read_now(dest, first, n, &data)) {
        out.push_back({kDurable, path + ": reading region " + std::to_string(r) + " of " + dest_path + " failed"});
        continue;
      }
      for (uint32_t i = 0; i < n; i++) {
        const uint64_t s = first + i;
        std::set<model::Token> legal = source_original(in, c, s);
        for (const TopWrite& w : in.writes)
          if (w.device == path && covers(w, s)) {
            if (w.discard || w.zero)
              legal.insert(model::kZeroToken);
            else
              legal.insert(model::written_token(w.id, s));
          }
        if (legal.count(data[i].token)) continue;
        if (bad++ < kMaxReported)
          detail += "  sector " + std::to_string(s) + " (region " + std::to_string(r) +
                    "): " + model::describe_token(data[i].token) + "\n";
      }
    }
    if (bad)
      out.push_back({kDurable, path + ": " + std::to_string(bad) +
                                   " sector(s) of regions committed as hydrated hold neither what the source held "
                                   "nor anything written through the device (a committed region points at data "
                                   "that never reached the destination)\n" +
                                   detail});
  }
  return out;
}

std::vector<CheckViolation> source_intact(const CheckInput& in) {
  std::vector<CheckViolation> out;
  for (const auto& [path, c] : clone_devices(in)) {
    model::VolatileCacheDisk* src = scenario_disk(c.source);
    if (!src) continue;  // nothing to judge from (a source above dm)
    std::vector<uint64_t> regions;
    uint64_t nr_regions = 0;
    std::string error;
    // What the metadata recorded when this phase began (after a power cut: what survived).
    if (committed_regions(c.metadata, true, &regions, &nr_regions, &error)) continue;
    const std::set<uint64_t> committed(regions.begin(), regions.end());
    // Before this phase: the source's media as the phase found it.
    std::set<uint64_t> changed;
    for (const auto& [sector, w] : src->initial_media().written())
      if (w.seq != 0 && !committed.count(sector / c.region_sectors)) changed.insert(sector / c.region_sectors);
    size_t bad = 0;
    std::string detail;
    for (uint64_t r : changed)
      if (bad++ < kMaxReported) detail += " " + std::to_string(r);
    if (bad)
      out.push_back({kSourceIntact, path + ": " + std::to_string(bad) +
                                        " region(s) of the source changed although the metadata does not record them "
                                        "hydrated (a re-hydration copies what the source holds now):" +
                                        detail});
    // In this phase: every write to the source follows a commit that recorded its regions.
    std::vector<std::pair<uint64_t, uint64_t>> recorded;  // (superblock written at, region)
    for (const CommitRecord& r : in.commits)
      if (r.top_device == path)
        for (uint64_t b : r.data_blocks) recorded.emplace_back(r.at_ns, b);
    std::set<uint64_t> reported;
    for (const model::IoRecord& rec : src->trace().records) {
      if (!rec.is_write() || !rec.sectors) continue;
      for (uint64_t r = rec.sector / c.region_sectors; r <= (rec.sector + rec.sectors - 1) / c.region_sectors; r++) {
        const bool before = committed.count(r) || std::any_of(recorded.begin(), recorded.end(), [&](const auto& cr) {
                              return cr.second == r && cr.first < rec.submit_ns;
                            });
        if (!before && reported.insert(r).second && reported.size() <= kMaxReported)
          out.push_back({kSourceIntact, path + ": the source " + c.source + " was " +
                                            (rec.op == model::ReqOp::Discard ? "discarded" : "written") +
                                            " in region " + std::to_string(r) +
                                            " before a commit recorded the region hydrated"});
      }
    }
  }
  return out;
}

// D.6: every discard the destination disk received in this phase lies inside whole regions that a
// discard through a clone device on it covered (the clone passes down only those; nothing else
// discards the destination while a clone owns it).
std::vector<CheckViolation> discard_containment(const CheckInput& in) {
  std::vector<CheckViolation> out;
  std::map<std::string, std::vector<const CloneInfo*>> by_dest;
  const auto clones = clone_devices(in);
  for (const auto& [path, c] : clones) by_dest[c.dest].push_back(&c);
  for (const auto& [dest, users] : by_dest) {
    model::VolatileCacheDisk* d = scenario_disk(dest);
    if (!d) continue;
    size_t reported = 0;
    for (const model::IoRecord& rec : d->trace().records) {
      if (rec.op != model::ReqOp::Discard || !rec.sectors) continue;
      const uint64_t b = rec.sector, e = rec.sector + rec.sectors;
      const bool inside = std::any_of(users.begin(), users.end(), [&](const CloneInfo* c) {
        return std::any_of(in.writes.begin(), in.writes.end(), [&](const TopWrite& w) {
          if (w.device != c->device || !w.discard || w.before_crash) return false;
          const uint64_t r = c->region_sectors;
          const uint64_t wb = (w.sector + r - 1) / r * r, we = (w.sector + w.sectors) / r * r;
          return wb < we && b >= wb && e <= we;
        });
      });
      if (!inside && reported++ < kMaxReported)
        out.push_back({kDiscards, dest + " was discarded at [" + std::to_string(b) + ", " + std::to_string(e) +
                                      "), outside the whole regions of any discard through " + users.front()->device});
    }
  }
  return out;
}

// D.4 of the clone reference: every status line a step printed for a clone target has the
// hydrated count within the region count (an unsigned 32-bit value), the region count the
// table's, used metadata within the total, and features and core arguments in the kernel's form.
std::vector<CheckViolation> status_fields(const CheckInput& in) {
  std::vector<CheckViolation> out;
  static const std::regex kLine(
      R"(^(\d+) (\d+) clone (\d+) (\d+)/(\d+) (\d+) (\d+)/(\d+) (\d+) (\d+)((?: no_hydration)?(?: no_discard_passdown)?) )"
      R"(4 hydration_threshold \d+ hydration_batch_size \d+ (rw|ro)$)");
  for (const StepOutput& st : in.step_outputs) {
    if (!st.succeeded || st.command.find("dmsetup status") == std::string::npos) continue;
    std::istringstream lines(st.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(" clone ") == std::string::npos) continue;
      std::smatch m;
      auto bad = [&](const std::string& why) {
        out.push_back({kStatus, "step " + std::to_string(st.step) + " `" + st.command + "`: " + why + ": " + line});
      };
      if (std::regex_match(line, std::regex(R"(^\d+ \d+ clone (Fail|Error)$)"))) continue;
      if (!std::regex_match(line, m, kLine)) {
        bad("not a clone status line in the kernel's form");
        continue;
      }
      const auto num = [&m](int i) { return std::stoull(m[i].str()); };
      const uint64_t len = num(2), used = num(4), total = num(5), region = num(6), hydrated = num(7), regions = num(8);
      const uint64_t nfeat = num(10);
      const std::string feats = m[11].str();
      const uint64_t listed =
          (feats.find("no_hydration") != std::string::npos) + (feats.find("no_discard_passdown") != std::string::npos);
      if (hydrated > regions)
        bad("the hydrated count " + std::to_string(hydrated) + " is more than the " + std::to_string(regions) +
            " regions");
      if (region && regions != (len + region - 1) / region &&
          regions != static_cast<uint32_t>((len + region - 1) / region))
        bad("the region count is not the table's length over the region size");
      if (used > total) bad("more metadata blocks used than there are");
      if (nfeat != listed) bad("the feature count does not match the features listed");
    }
  }
  return out;
}

std::vector<CheckViolation> clone_metadata_check(const CheckInput& in) {
  std::vector<CheckViolation> out;
  std::set<std::string> seen;
  for (const auto& [path, c] : clone_devices(in)) {
    if (!seen.insert(c.metadata).second) continue;
    if (!model::World::get().lookup(c.metadata)) continue;
    std::vector<uint64_t> regions;
    uint64_t nr_regions = 0;
    std::string error;
    if (committed_regions(c.metadata, false, &regions, &nr_regions, &error))
      out.push_back({"metadata-check", c.metadata + " (dm-clone): " + error});
  }
  return out;
}

}  // namespace

void register_clone_checks() {
  register_check({kDurable,
                  "every region the committed dm-clone metadata records hydrated holds on the destination what the "
                  "source held or what was written through the device (after any crash and recovery)",
                  committed_durable});
  register_check({kSourceIntact,
                  "a clone's source changes only in regions whose hydration a commit recorded first (discard_rw_src)",
                  source_intact});
  register_check({kDiscards,
                  "every discard a clone's destination disk received lies inside the whole regions of a discard "
                  "through the clone (in the phase that issued it)",
                  discard_containment});
  register_check({kStatus,
                  "every clone status line a step printed has its hydrated count within the region count, the "
                  "table's region count, used metadata within the total and its features in the kernel's form",
                  status_fields});
  register_metadata_checker("clone", clone_metadata_check);
}

}  // namespace engines::clone
