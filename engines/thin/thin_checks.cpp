// thin-mappings-durable: what a thin device reads where the steps never wrote through it, in the
// blocks they did write (and, for a snapshot, the blocks its origin wrote). The block-device
// oracle judges the sectors written through a device; this check judges the rest of each block:
//  - a block provisioned for a partial write is zeroed (or copied) before its mapping is
//    committed, so its unwritten sectors read zeroes, never a stale block's content;
//  - a snapshot reads what its origin held when the snapshot was taken, never what the origin
//    was written with later (the copy breaking sharing must not land in the shared block);
//  - a device with an external origin reads the origin's content (zeroes past its end): a
//    partial write copies the rest of the block from it;
//  - no data block is allocated again in the transaction that freed it (commit records).
// It reads through the thin devices once the steps settled (no message, nothing logged).
#include <algorithm>
#include <map>
#include <set>

#include "engines/checks.hpp"
#include "engines/thin/thin.hpp"
#include "model/content.hpp"
#include "model/dm/mapped_device.hpp"
#include "model/sync_io.hpp"
#include "model/world.hpp"

namespace engines::thin {

namespace {

constexpr const char* kCheck = "thin-mappings-durable";
constexpr size_t kMaxReported = 8;  // per device; the count says how many more

struct ThinDeviceInfo {
  uint64_t block_sectors = 0;
  std::string external_origin;  // the device, or empty
  bool skip_zeroing = false;    // a new block's unwritten sectors hold the data device's old content
};

// What an external origin holds at `sector`: its content now (it is read-only while a thin
// device uses it) or any write the steps made through it; zeroes past its end.
void add_external_original(const CheckInput& in, const std::string& origin, uint64_t sector,
                           std::set<model::Token>* legal, std::string* why) {
  model::BlockDevice* b = model::World::get().lookup(origin);
  if (!b) {
    *why = "external origin " + origin + " does not exist at the end of the run";
    return;
  }
  if (sector >= b->capacity()) return;  // zeroes, already legal
  std::vector<model::Sector> data;
  if (model::blk_read(b, sector, 1, &data) == model::BLK_STS_OK) legal->insert(data[0].token);
  for (const TopWrite& w : in.writes)
    if (w.device == origin && !w.discard && sector >= w.sector && sector < w.sector + w.sectors)
      legal->insert(model::written_token(w.id, sector));
}

// What `device` may read at `sector` where it was never written itself: zeroes, and what its
// origin was written with before the snapshot (recursively for snapshots of snapshots).
void add_original(const CheckInput& in, const std::map<std::string, SnapshotOrigin>& origins, const std::string& device,
                  uint64_t sector, std::set<model::Token>* legal, int depth) {
  auto it = origins.find(device);
  if (it == origins.end() || depth > 64) return;
  for (const TopWrite& w : in.writes)
    if (w.device == it->second.origin && !w.discard && sector >= w.sector && sector < w.sector + w.sectors &&
        w.events_before <= it->second.journal_at)
      legal->insert(model::written_token(w.id, sector));
  add_original(in, origins, it->second.origin, sector, legal, depth + 1);
}

bool written_through(const CheckInput& in, const std::string& device, uint64_t sector) {
  return std::any_of(in.writes.begin(), in.writes.end(), [&](const TopWrite& w) {
    return w.device == device && sector >= w.sector && sector < w.sector + w.sectors;
  });
}

// A thin device the check can read now, or null with `why`.
model::BlockDevice* readable(const std::string& path, std::string* why) {
  model::BlockDevice* b = model::World::get().lookup(path);
  auto* md = dynamic_cast<model::MappedDevice*>(b);
  if (!b || !md || md->suspended() || !md->live_table()) {
    *why = path +
           (!b    ? " does not exist"
            : !md ? " is not a dm device"
                  : " is suspended or has no table") +
           " at the end of the run";
    return nullptr;
  }
  return b;
}

std::vector<CheckViolation> mappings_durable(const CheckInput& in) {
  std::map<std::string, ThinDeviceInfo> devices;
  for (const JournalEvent& e : in.events)
    if (e.kind == JournalEvent::ThinDevice)
      devices[e.device] = {e.block_sectors, e.external_origin ? e.origin_device : std::string(), e.skip_zeroing};
  const auto origins = snapshot_origins(in.events);
  std::vector<CheckViolation> out;
  for (const auto& [path, info] : devices) {
    if (!info.block_sectors) continue;
    // The blocks written through the device, or through its origin (which must not show through).
    std::set<uint64_t> blocks;
    auto origin = origins.find(path);
    for (const TopWrite& w : in.writes) {
      if (!w.before_crash && in.after_crash) continue;
      const bool own = w.device == path, by_origin = origin != origins.end() && w.device == origin->second.origin;
      if (!(own || by_origin) || !w.sectors) continue;
      for (uint64_t b = w.sector / info.block_sectors; b <= (w.sector + w.sectors - 1) / info.block_sectors; b++)
        blocks.insert(b);
    }
    if (blocks.empty()) continue;
    std::string why;
    model::BlockDevice* dev = readable(path, &why);
    if (!dev) {
      out.push_back({kCheck, why, true});
      continue;
    }
    size_t bad = 0;
    std::string detail;
    for (uint64_t b : blocks) {
      const uint64_t first = b * info.block_sectors;
      if (first >= dev->capacity()) continue;
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(info.block_sectors, dev->capacity() - first));
      std::vector<model::Sector> data;
      if (model::blk_read(dev, first, n, &data) != model::BLK_STS_OK) {
        out.push_back({kCheck, path + ": reading block " + std::to_string(b) + " failed"});
        continue;
      }
      for (uint32_t k = 0; k < n; k++) {
        const uint64_t s = first + k;
        if (written_through(in, path, s)) continue;  // the block-device oracle's to judge
        std::set<model::Token> legal{model::kZeroToken};
        add_original(in, origins, path, s, &legal, 0);
        if (!info.external_origin.empty()) {
          add_external_original(in, info.external_origin, s, &legal, &why);
          if (!why.empty()) break;
        }
        if (legal.count(data[k].token)) continue;
        // skip_block_zeroing: what the data device held before (never another write's data).
        if (info.skip_zeroing && model::token_kind(data[k].token) == model::TokenKind::Initial) continue;
        if (bad++ < kMaxReported)
          detail += "  sector " + std::to_string(s) + " (block " + std::to_string(b) +
                    "): " + model::describe_token(data[k].token) + "\n";
      }
    }
    if (!why.empty()) {
      out.push_back({kCheck, path + ": " + why, true});
      continue;
    }
    if (bad)
      out.push_back({kCheck, path + ": " + std::to_string(bad) +
                                 " sector(s) never written through it read neither zeroes nor what its origin held "
                                 "(a mapping to a block whose zeroing or copy was not durable)\n" +
                                 detail});
  }
  return out;
}

// No data block is handed out again before the transaction that freed it has committed: until
// then the committed metadata may still map it, and a crash would show another device's data
// there. From each thin commit record's allocations and frees, in order: a block freed that the
// transaction had not allocated itself must not be allocated again in it.
std::vector<CheckViolation> no_early_reuse(const CheckInput& in) {
  std::vector<CheckViolation> out;
  for (const CommitRecord& c : in.commits) {
    if (c.data_device.empty()) continue;  // not a thin pool's
    std::set<uint64_t> fresh, freed_committed;
    for (const DataSmOp& op : c.data_ops) {
      if (!op.alloc) {
        if (!fresh.erase(op.block)) freed_committed.insert(op.block);
      } else if (freed_committed.count(op.block)) {
        out.push_back({kCheck, c.metadata_device + ": data block " + std::to_string(op.block) +
                                   " was allocated again in the transaction that freed it, before that transaction "
                                   "committed (the committed metadata may still map it)"});
        break;
      } else {
        fresh.insert(op.block);
      }
    }
  }
  return out;
}

std::vector<CheckViolation> thin_mappings_durable(const CheckInput& in) {
  std::vector<CheckViolation> out = no_early_reuse(in);
  for (auto& v : mappings_durable(in)) out.push_back(std::move(v));
  return out;
}

}  // namespace

void register_thin_checks() {
  register_check({kCheck,
                  "in every thin block the steps wrote, the sectors not written through the device read zeroes, or "
                  "for a snapshot what its origin held when it was taken, or for an external origin what it holds "
                  "(after any crash and recovery); and no data block is allocated again before the transaction "
                  "that freed it commits",
                  thin_mappings_durable});
}

}  // namespace engines::thin
