#include "verify/disk_history.hpp"

#include <algorithm>
#include <sstream>

#include "sim/assert.hpp"

namespace verify {

DiskHistory::DiskHistory(const DiskState& d, const model::DiskImage* start) : state_(d), start_(start) {
  std::istringstream in(d.trace);
  trace_ = model::DiskTrace::load(in);
  state_.trace.clear();  // parsed: the text is not needed again
  for (size_t i = 0; i < trace_.records.size(); i++) {
    const model::IoRecord& r = trace_.records[i];
    if (!r.is_write() || !r.sectors || r.status != model::BLK_STS_OK) continue;
    by_start_.push_back(i);
    longest_ = std::max<uint64_t>(longest_, r.sectors);
  }
  std::stable_sort(by_start_.begin(), by_start_.end(),
                   [&](size_t a, size_t b) { return trace_.records[a].sector < trace_.records[b].sector; });
}

model::Token DiskHistory::initial(uint64_t x) const {
  if (start_) return start_->read(x).token;
  return state_.initial_zero ? model::kZeroToken : model::initial_token(state_.disk_id, x);
}

std::vector<const model::IoRecord*> DiskHistory::writes_at(uint64_t x) const {
  std::vector<size_t> hits;
  const uint64_t from = x >= longest_ ? x - longest_ + 1 : 0;
  auto it = std::lower_bound(by_start_.begin(), by_start_.end(), from,
                             [&](size_t i, uint64_t s) { return trace_.records[i].sector < s; });
  for (; it != by_start_.end() && trace_.records[*it].sector <= x; ++it)
    if (x < trace_.records[*it].sector + trace_.records[*it].sectors) hits.push_back(*it);
  std::sort(hits.begin(), hits.end());
  std::vector<const model::IoRecord*> out;
  for (size_t i : hits) out.push_back(&trace_.records[i]);
  return out;
}

std::optional<model::Token> DiskHistory::content(const model::IoRecord& r, uint64_t x) const {
  if (r.op == model::ReqOp::Discard && !state_.discard_zeroes) return std::nullopt;
  return r.content_at(x, state_.discard_zeroes, model::Sector{}).token;
}

std::vector<DiskHistory> disk_histories(const std::vector<DiskState>& disks,
                                        const std::vector<model::DiskImage>& starts) {
  // REQUIRES: a starting image for every disk, or none.
  DMSIM_ASSERT(starts.empty() || starts.size() == disks.size(), "one starting image per disk");
  std::vector<DiskHistory> out;
  out.reserve(disks.size());
  for (size_t i = 0; i < disks.size(); i++) out.emplace_back(disks[i], starts.empty() ? nullptr : &starts[i]);
  return out;
}

}  // namespace verify
