#include "verify/block_device_oracle.hpp"

#include <algorithm>
#include <set>

#include "sim/assert.hpp"

namespace verify {

namespace {
constexpr int kMaxSnapshotDepth = 64;  // snapshots of snapshots; bounds a cycle a bad journal could make
}  // namespace

using model::Token;

std::string LegalValues::describe() const {
  std::string s;
  for (Token t : tokens) s += (s.empty() ? "" : " or ") + model::describe_token(t);
  if (zero_allowed && std::find(tokens.begin(), tokens.end(), model::kZeroToken) == tokens.end())
    s += std::string(s.empty() ? "" : " or ") + "zeroes";
  if (unknown_original) s += std::string(s.empty() ? "" : " or ") + "any never-written content";
  return s.empty() ? "nothing" : s;
}

bool LegalValues::allows(Token t) const {
  if (std::find(tokens.begin(), tokens.end(), t) != tokens.end()) return true;
  if (t == model::kZeroToken && zero_allowed) return true;
  return unknown_original && (t == model::kZeroToken || model::token_kind(t) == model::TokenKind::Initial);
}

void BlockDeviceOracle::Index::build(PhaseView v) {
  view = v;
  if (!v.io) return;
  const auto& ios = v.io->ios;
  for (size_t i = 0; i < ios.size(); i++) {
    const TopIo& io = ios[i];
    if (io.kind == TopIo::Flush) flushes[io.device].push_back(&io);
    if (io.kind == TopIo::Flush || !io.sectors) continue;
    by_device[io.device].push_back(i);
    longest[io.device] = std::max(longest[io.device], io.sectors);
    for (const Placement& p : io.placed)
      if (p.disk >= 0 && p.sectors) {
        by_disk[p.disk].push_back({i, p});
        longest_placed[p.disk] = std::max(longest_placed[p.disk], p.sectors);
      }
  }
  for (auto& [dev, idx] : by_device)
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return ios[a].sector < ios[b].sector; });
  for (auto& [disk, list] : by_disk)
    std::stable_sort(list.begin(), list.end(),
                     [](const Placed& a, const Placed& b) { return a.p.disk_sector < b.p.disk_sector; });
}

std::vector<const TopIo*> BlockDeviceOracle::Index::at(const std::string& device, uint64_t sector) const {
  std::vector<size_t> hits;
  auto it = by_device.find(device);
  if (it != by_device.end()) {
    const auto& ios = view.io->ios;
    const uint64_t span = longest.at(device);
    const uint64_t from = sector >= span ? sector - span + 1 : 0;
    auto k = std::lower_bound(it->second.begin(), it->second.end(), from,
                              [&](size_t i, uint64_t s) { return ios[i].sector < s; });
    for (; k != it->second.end() && ios[*k].sector <= sector; ++k)
      if (sector < ios[*k].sector + ios[*k].sectors) hits.push_back(*k);
  }
  std::sort(hits.begin(), hits.end());  // in the order the steps issued them
  std::vector<const TopIo*> out;
  for (size_t i : hits) out.push_back(&view.io->ios[i]);
  return out;
}

std::vector<BlockDeviceOracle::Index::Placed> BlockDeviceOracle::Index::placed_at(int disk, uint64_t x) const {
  std::vector<Placed> out;
  auto it = by_disk.find(disk);
  if (it == by_disk.end()) return out;
  const uint64_t span = longest_placed.at(disk);
  const uint64_t from = x >= span ? x - span + 1 : 0;
  auto k = std::lower_bound(it->second.begin(), it->second.end(), from,
                            [](const Placed& p, uint64_t s) { return p.p.disk_sector < s; });
  for (; k != it->second.end() && k->p.disk_sector <= x; ++k)
    if (x < k->p.disk_sector + k->p.sectors) out.push_back(*k);
  return out;
}

BlockDeviceOracle::BlockDeviceOracle(PhaseView before, uint64_t crash_ns) : crash_ns_(crash_ns) {
  before_.build(before);
}

void BlockDeviceOracle::add_recovery(PhaseView after) {
  after_.build(after);
  has_after_ = true;
}

const Placement* BlockDeviceOracle::placement_of(const TopIo& io, uint64_t sector) {
  for (const Placement& p : io.placed)
    if (sector >= p.sector && sector < p.sector + p.sectors) return &p;
  return nullptr;
}

bool BlockDeviceOracle::claimed_since(const PhaseView& v, const std::string& device, uint64_t ns) {
  if (!v.claims) return false;
  return std::any_of(v.claims->begin(), v.claims->end(),
                     [&](const Claim& c) { return c.device == device && c.ns >= ns; });
}

// What a sector placed at `p` held before its first write through the stack.
void BlockDeviceOracle::add_original(const Placement& p, uint64_t sector, uint64_t first_submit, LegalValues& l) const {
  if (p.zeroes) {
    l.zero_allowed = true;
    return;
  }
  const auto* disks = before_.view.disks;
  if (p.disk < 0 || !disks || static_cast<size_t>(p.disk) >= disks->size()) {
    l.unknown_original = true;
    return;
  }
  const DiskHistory& h = (*disks)[static_cast<size_t>(p.disk)];
  const uint64_t x = p.disk_sector + (sector - p.sector);
  l.tokens.push_back(h.initial(x));
  // Whatever reached that place before the first write (a write through another path).
  for (const model::IoRecord* r : h.writes_at(x))
    if (r->completed_by(first_submit))
      if (auto t = h.content(*r, x)) l.tokens.push_back(*t);
}

// Values others wrote to the place below after the device's first write there: top writes
// through another device mapped to it, and, once a table held the device open, anything the
// target that owns it wrote.
void BlockDeviceOracle::add_later_below(const std::string& device, uint64_t sector, const Placement& p,
                                        uint64_t first_submit, LegalValues& l) const {
  const uint64_t x = p.disk_sector + (sector - p.sector);
  auto aliases = [&](const Index& ix, uint64_t from, uint64_t until) {
    for (const auto& [i, pl] : ix.placed_at(p.disk, x)) {
      const TopIo& o = ix.view.io->ios[i];
      if (o.device == device && sector >= o.sector && sector < o.sector + o.sectors) continue;  // its own writes
      if (o.submit_ns < from || o.submit_ns > until) continue;
      if (o.kind == TopIo::Data)
        l.tokens.push_back(model::written_token(o.id, pl.sector + (x - pl.disk_sector)));
      else
        l.zero_allowed = true;
    }
  };
  auto owned = [&](const Index& ix, uint64_t from, uint64_t until) {
    const auto* disks = ix.view.disks;
    if (!disks || static_cast<size_t>(p.disk) >= disks->size()) return;
    const DiskHistory& h = (*disks)[static_cast<size_t>(p.disk)];
    for (const model::IoRecord* r : h.writes_at(x))
      if (r->submit_ns >= from && r->submit_ns <= until)
        if (auto t = h.content(*r, x)) l.tokens.push_back(*t);
  };
  aliases(before_, first_submit, crash_ns_);
  if (claimed_since(before_.view, device, first_submit)) owned(before_, first_submit, crash_ns_);
  if (has_after_) {
    aliases(after_, 0, UINT64_MAX);
    if (claimed_since(after_.view, device, 0)) owned(after_, 0, UINT64_MAX);
  }
}

// Writes to the sector submitted before the crash, in the order they completed (the ones still
// in flight last, by submission).
std::vector<const TopIo*> BlockDeviceOracle::writes_before_crash(const std::string& device, uint64_t sector) const {
  std::vector<const TopIo*> writes;
  for (const TopIo* io : before_.at(device, sector))
    if (io->submit_ns <= crash_ns_ && (io->acked || io->status == 0)) writes.push_back(io);
  std::stable_sort(writes.begin(), writes.end(), [&](const TopIo* a, const TopIo* b) {
    const uint64_t ka = a->acked && a->ack_ns <= crash_ns_ ? a->ack_ns : UINT64_MAX;
    const uint64_t kb = b->acked && b->ack_ns <= crash_ns_ ? b->ack_ns : UINT64_MAX;
    return ka < kb;
  });
  return writes;
}

// The index in `writes` of the last one a completed flush or FUA made durable, if any.
std::optional<size_t> BlockDeviceOracle::last_durable(const std::string& device,
                                                      const std::vector<const TopIo*>& writes) const {
  // Flushes of this device that completed before the crash, by submission time.
  std::vector<uint64_t> flush_submits;
  if (auto f = before_.flushes.find(device); f != before_.flushes.end())
    for (const TopIo* io : f->second)
      if (io->acked && io->ack_ns <= crash_ns_) flush_submits.push_back(io->submit_ns);
  auto covered = [&](const TopIo& w) {
    if (!w.acked || w.ack_ns > crash_ns_) return false;
    if (w.fua) return true;
    return std::any_of(flush_submits.begin(), flush_submits.end(), [&](uint64_t f) { return w.ack_ns <= f; });
  };
  for (size_t i = writes.size(); i-- > 0;)
    if (covered(*writes[i])) return i;
  return std::nullopt;
}

// The places below the stack `writes` put the sector at (one, unless tables changed), each
// narrowed to that one sector.
std::vector<Placement> BlockDeviceOracle::places_of(const std::vector<const TopIo*>& writes, uint64_t sector) {
  std::vector<Placement> places;
  for (const TopIo* w : writes) {
    const Placement* p = placement_of(*w, sector);
    Placement at = p ? *p : Placement{sector, 1, -1, 0, false};
    at.disk_sector += sector - at.sector;
    at.sector = sector;
    at.sectors = 1;
    if (std::none_of(places.begin(), places.end(), [&](const Placement& q) {
          return q.disk == at.disk && q.disk_sector == at.disk_sector && q.zeroes == at.zeroes;
        }))
      places.push_back(at);
  }
  return places;
}

// What a snapshot's origin held at `sector` when the snapshot was taken: every write submitted
// through the origin before then (a superset of what was durable), and the origin's own original.
void BlockDeviceOracle::add_snapshot_original(const std::string& device, uint64_t sector, LegalValues& l,
                                              int depth) const {
  auto it = origins_.find(device);
  if (it == origins_.end() || depth > kMaxSnapshotDepth) return;
  const SnapshotOrigin& o = it->second;
  for (const TopIo* w : before_.at(o.origin, sector)) {
    if (w->journal_at > o.journal_at) continue;
    if (w->kind == TopIo::Data)
      l.tokens.push_back(model::written_token(w->id, sector));
    else
      l.zero_allowed = true;
  }
  add_snapshot_original(o.origin, sector, l, depth + 1);
}

// What an external origin holds at `sector`: anything written through it before the crash, and
// anything its place below ever held (it is read-only while the thin device uses it); zeroes
// past its end.
void BlockDeviceOracle::add_external_original(const std::string& device, uint64_t sector, LegalValues& l) const {
  auto it = external_.find(device);
  if (it == external_.end()) return;
  const std::string& origin = it->second;
  const auto clone = clones_.find(device);
  const uint64_t until = clone == clones_.end() ? crash_ns_ : clone->second.at_ns;
  for (const TopIo* w : before_.at(origin, sector)) {
    if (w->submit_ns > until) continue;
    if (w->kind == TopIo::Data)
      l.tokens.push_back(model::written_token(w->id, sector));
    else
      l.zero_allowed = true;
  }
  // REQUIRES: the data map of every external origin (the first phase maps them all).
  DMSIM_ASSERT(external_map_, "an external origin is judged with the data map of the phase before the crash");
  bool inside = false;
  for (const Extent& e : *external_map_) {
    if (e.device != origin || sector < e.at.sector || sector >= e.at.sector + e.at.sectors) continue;
    inside = true;
    add_original(e.at, sector, clone == clones_.end() ? UINT64_MAX : until, l);
  }
  if (!inside) l.zero_allowed = true;  // past the origin's end
}

LegalValues BlockDeviceOracle::legal(const std::string& device, uint64_t sector) const {
  if (auto m = merges_.find(device); m != merges_.end() && m->second.snapshot != device) {
    // A merging device presents the snapshot (COW copy or merged origin), then its own later
    // writes, durable or not.
    LegalValues l = legal(m->second.snapshot, sector);
    auto written_since = [&](const TopIo& w) {
      if (w.kind == TopIo::Data)
        l.tokens.push_back(model::written_token(w.id, sector));
      else
        l.zero_allowed = true;
    };
    for (const TopIo* w : writes_before_crash(device, sector))
      if (w->journal_at > m->second.journal_at) written_since(*w);
    if (has_after_)
      for (const TopIo* w : after_.at(device, sector)) written_since(*w);
    std::sort(l.tokens.begin(), l.tokens.end());
    l.tokens.erase(std::unique(l.tokens.begin(), l.tokens.end()), l.tokens.end());
    return l;
  }
  const std::vector<const TopIo*> writes = writes_before_crash(device, sector);
  const std::optional<size_t> durable = last_durable(device, writes);
  // Writes that failed (EIO) leave the sector as it was, or hold part of their data.
  std::vector<const TopIo*> failed;
  for (const TopIo* io : before_.at(device, sector))
    if (io->submit_ns <= crash_ns_ && !io->acked && io->status != 0) failed.push_back(io);
  std::vector<const TopIo*> tried = writes;
  tried.insert(tried.end(), failed.begin(), failed.end());
  uint64_t first_submit = UINT64_MAX;
  for (const TopIo* w : tried) first_submit = std::min(first_submit, w->submit_ns);
  const std::vector<Placement> places = places_of(tried, sector);
  LegalValues l;
  auto written = [&](const TopIo& w) {
    if (w.kind == TopIo::Data)
      l.tokens.push_back(model::written_token(w.id, sector));
    else
      l.zero_allowed = true;  // a zero write, or a discard (which may also keep the old data)
  };
  // A discard that is the durable value may keep whatever could be there before it.
  const bool durable_discard = durable && writes[*durable]->kind == TopIo::Discard;
  if (!durable || durable_discard) {
    // Over an external origin, what the device held is the origin's (its own places say nothing).
    if (!external_.count(device))
      for (const Placement& p : places) add_original(p, sector, first_submit, l);
    add_snapshot_original(device, sector, l, 0);
    add_external_original(device, sector, l);
  }
  for (size_t i = durable.value_or(0); i < writes.size(); i++) written(*writes[i]);
  // Overlapping writes in flight together are unordered (the block layer may reissue or apply
  // them in any order): an earlier-completed one is durable too unless a covered write was
  // submitted after it completed.
  if (durable)
    for (size_t i = 0; i < *durable; i++) {
      bool superseded = false;
      for (size_t j = 0; j <= *durable && !superseded; j++)
        superseded = j != i && writes[j]->submit_ns >= writes[i]->ack_ns;
      if (!superseded) written(*writes[i]);
    }
  // dm-clone: a discard covering the sector's whole region may leave anything there.
  if (const auto c = clones_.find(device); c != clones_.end() && c->second.region_sectors) {
    const uint64_t r = c->second.region_sectors, begin = sector / r * r;
    for (size_t i = durable.value_or(0); i < writes.size(); i++)
      if (writes[i]->kind == TopIo::Discard && writes[i]->sector <= begin &&
          writes[i]->sector + writes[i]->sectors >= begin + r)
        l.unknown_original = true;
  }
  for (const TopIo* w : failed)
    if (!durable || std::none_of(writes.begin(), writes.begin() + static_cast<std::ptrdiff_t>(*durable) + 1,
                                 [&](const TopIo* d) { return d->submit_ns >= w->ack_ns; }))
      written(*w);
  if (durable_discard)
    for (size_t i = 0; i < *durable; i++)
      if (writes[i]->kind == TopIo::Data) l.tokens.push_back(model::written_token(writes[i]->id, sector));
  for (const Placement& p : places)
    if (p.disk >= 0) add_later_below(device, sector, p, first_submit, l);
  // The recovery's own writes to the sector are later writes too.
  if (has_after_)
    for (const TopIo* w : after_.at(device, sector)) written(*w);
  std::sort(l.tokens.begin(), l.tokens.end());
  l.tokens.erase(std::unique(l.tokens.begin(), l.tokens.end()), l.tokens.end());
  return l;
}

std::vector<BlockDeviceOracle::Obligation> BlockDeviceOracle::obligations(const std::string& device) const {
  // REQUIRES: the phase before the crash has a top I/O log (obligations come from its writes).
  DMSIM_ASSERT(before_.view.io, "obligations need the first phase's top I/O log");
  std::set<uint64_t> sectors;
  for (const auto& io : before_.view.io->ios)
    if (io.kind != TopIo::Flush && io.device == device && io.submit_ns <= crash_ns_)
      for (uint64_t s = io.sector; s < io.sector + io.sectors; s++) sectors.insert(s);
  std::vector<Obligation> out;
  for (uint64_t s : sectors) {
    Obligation ob{device, s, legal(device, s), {}, {}, 0};
    for (const TopIo* w : before_.at(device, s)) {
      if (w->submit_ns > crash_ns_) continue;
      const Placement* p = placement_of(*w, s);
      if (!p || p->disk < 0) continue;
      const Place at{p->disk, p->disk_sector + (s - p->sector)};
      if (std::none_of(ob.places.begin(), ob.places.end(),
                       [&](const Place& q) { return q.disk == at.disk && q.sector == at.sector; }))
        ob.places.push_back(at);
    }
    out.push_back(std::move(ob));
  }
  return out;
}

std::vector<BlockDeviceOracle::Violation> BlockDeviceOracle::judge(const std::vector<OracleRead>& reads,
                                                                   std::vector<std::string>* problems) const {
  std::vector<Violation> out;
  for (const auto& rd : reads) {
    if (!rd.present) {
      problems->push_back(rd.device + " does not exist after recovery: the recovery steps must create it again");
      continue;
    }
    for (uint64_t s : rd.failed) out.push_back({rd.device, s, "a read error", legal(rd.device, s).describe()});
    for (const auto& [s, t] : rd.values) {
      LegalValues l = legal(rd.device, s);
      if (!l.allows(t)) out.push_back({rd.device, s, model::describe_token(t), l.describe()});
    }
  }
  return out;
}

}  // namespace verify
