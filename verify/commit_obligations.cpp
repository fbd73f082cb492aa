#include "verify/commit_obligations.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace verify {

using engines::CommitRecord;
using Obligation = BlockDeviceOracle::Obligation;
using Place = BlockDeviceOracle::Place;

namespace {

// Where `sector` of `device` lives on the scenario's disks at the end of the phase.
std::vector<Place> places_of(const PhaseOutput& p1, const std::string& device, uint64_t sector) {
  std::vector<Place> out;
  for (const auto& e : p1.data_map)
    if (e.device == device && e.at.disk >= 0 && sector >= e.at.sector && sector < e.at.sector + e.at.sectors)
      out.push_back({e.at.disk, e.at.disk_sector + (sector - e.at.sector)});
  return out;
}

// What a disk sector may hold if it keeps what it held at `at_ns`: the last write completed by
// then (in last-writer-wins order) or any write that completed later or was in flight. Nothing
// when no write completed by then, or the last one was a discard that does not zero.
std::optional<LegalValues> content_since(const model::CrashStateSpace& cs, uint64_t sector, uint64_t at_ns) {
  const auto& records = cs.trace().records;
  std::optional<size_t> last;
  LegalValues legal;
  auto add = [&legal](model::Token t) {
    if (t == model::kZeroToken) legal.zero_allowed = true;
    legal.tokens.push_back(t);
  };
  for (size_t i = 0; i < records.size(); i++) {
    const model::IoRecord& r = records[i];
    if (!r.is_write() || sector < r.sector || sector >= r.sector + r.sectors) continue;
    if (!r.completed_by(at_ns)) {
      add(r.content_at(sector, cs.discard_zeroes(), model::Sector{}).token);
    } else if (!last || cs.order(i) > cs.order(*last)) {
      last = i;
    }
  }
  if (!last) return std::nullopt;
  const model::IoRecord& r = records[*last];
  if (r.op == model::ReqOp::Discard && !cs.discard_zeroes()) return std::nullopt;
  add(r.content_at(sector, cs.discard_zeroes(), model::Sector{}).token);
  return legal;
}

}  // namespace

std::vector<Obligation> commit_obligations(const PhaseOutput& p1, uint64_t crash_ns) {
  std::map<std::pair<std::string, uint64_t>, std::vector<size_t>> by_place;  // (device, sector) -> records
  const auto& commits = p1.journal.commits;
  for (size_t i = 0; i < commits.size(); i++) by_place[{commits[i].metadata_device, commits[i].sector}].push_back(i);
  std::vector<Obligation> out;
  for (const auto& [place, idx] : by_place) {
    // The first commit (position in idx) that records each (top device, block).
    std::map<std::pair<std::string, uint64_t>, size_t> first;
    for (size_t k = 0; k < idx.size(); k++)
      for (uint64_t b : commits[idx[k]].blocks) first.emplace(std::make_pair(commits[idx[k]].top_device, b), k);
    size_t need = 0;
    bool any = false;
    for (const auto& io : p1.io.ios) {
      if (io.kind != TopIo::Data && io.kind != TopIo::Zero) continue;
      if (!io.acked || io.ack_ns > crash_ns || io.status != 0 || !io.sectors) continue;
      const CommitRecord* rec = nullptr;
      for (size_t k : idx)
        if (commits[k].top_device == io.device) rec = &commits[k];
      if (!rec || !rec->block_sectors) continue;
      for (uint64_t b = io.sector / rec->block_sectors; b <= (io.sector + io.sectors - 1) / rec->block_sectors; b++) {
        auto it = first.find({io.device, b});
        need = std::max(need, it == first.end() ? idx.size() : it->second);
        any = true;
      }
    }
    if (!any) continue;
    Obligation ob;
    ob.device = place.first;
    ob.sector = place.second;
    ob.places = places_of(p1, ob.device, ob.sector);
    for (size_t k = need; k < idx.size(); k++) ob.legal.tokens.push_back(commits[idx[k]].token);
    out.push_back(std::move(ob));
  }
  return out;
}

std::vector<Obligation> mapping_obligations(const PhaseOutput& p1, const MultiDiskCrashSpace& space,
                                            uint64_t crash_ns) {
  std::vector<Obligation> out;
  for (const CommitRecord& c : p1.journal.commits) {
    if (c.data_blocks.empty() || c.at_ns > crash_ns) continue;
    const std::vector<Place> superblock = places_of(p1, c.metadata_device, c.sector);
    if (superblock.empty()) continue;
    for (uint64_t b : c.data_blocks)
      for (uint64_t s = b * c.data_block_sectors; s < (b + 1) * c.data_block_sectors; s++)
        for (const Place& p : places_of(p1, c.data_device, s)) {
          const auto legal = content_since(space.disk(static_cast<size_t>(p.disk)), p.sector, c.at_ns);
          if (!legal) continue;
          Obligation ob;
          ob.device = c.data_device;
          ob.sector = s;
          ob.legal = *legal;
          ob.places = {p};
          ob.if_places = superblock;
          ob.if_token = c.token;
          out.push_back(std::move(ob));
        }
  }
  return out;
}

}  // namespace verify
