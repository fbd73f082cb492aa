#include "model/crash_states.hpp"

#include <algorithm>

#include "sim/schedule_explorer.hpp"

namespace model {

Sector CrashImage::read(uint64_t sector) const {
  auto it = overlay_.find(sector);
  return it == overlay_.end() ? base_->read(sector) : it->second.content;
}

void CrashImage::apply(uint64_t sector, const Sector& c, uint64_t order) {
  // The durable image already holds the newest must-persist content; a may-persist write only
  // lands if it is newer than what is there.
  auto ov = overlay_.find(sector);
  uint64_t current = 0;
  if (ov != overlay_.end()) {
    current = ov->second.seq;
  } else {
    auto it = base_->written().find(sector);
    if (it != base_->written().end()) current = it->second.seq;
  }
  if (order >= current) overlay_[sector] = DiskImage::Written{c, order};
}

DiskImage CrashImage::materialize() const {
  DiskImage img = *base_;
  for (const auto& [s, w] : overlay_) img.apply(s, w.content, w.seq);
  return img;
}

CrashStateSpace::CrashStateSpace(const DiskTrace& trace, const DiskImage& initial, uint32_t logical_block_size,
                                 bool discard_zeroes, uint64_t crash_ns)
    : trace_(trace), discard_zeroes_(discard_zeroes), durable_(std::make_shared<DiskImage>(initial)) {
  const auto& recs = trace.records;
  // "Last writer wins" order: completion order for completed writes, then in-flight writes
  // in submission order after all of them.
  order_.assign(recs.size(), 0);
  uint64_t max_seq = 0;
  for (const auto& r : recs)
    if (r.completed_by(crash_ns)) max_seq = std::max(max_seq, r.complete_seq);
  uint64_t next = max_seq;
  for (size_t i = 0; i < recs.size(); i++) {
    const auto& r = recs[i];
    if (r.submit_ns > crash_ns) continue;
    order_[i] = r.completed_by(crash_ns) ? r.complete_seq : ++next;
  }
  // Which completed writes are covered by a flush completed before the crash.
  uint64_t covered = 0;
  for (const auto& r : recs)
    if (r.flushes() && r.completed_by(crash_ns) && r.status == BLK_STS_OK) covered = std::max(covered, r.flush_covers);
  const uint32_t lbs = std::max<uint32_t>(logical_block_size / 512, 1);
  std::vector<size_t> durable_order;
  for (size_t i = 0; i < recs.size(); i++) {
    const auto& r = recs[i];
    if (!r.is_write() || r.sectors == 0 || r.submit_ns > crash_ns || r.dropped || r.status != BLK_STS_OK) continue;
    const bool done = r.completed_by(crash_ns);
    if (done && (r.durable_at_completion || r.complete_seq <= covered)) {
      durable_order.push_back(i);
    } else {
      for (uint64_t s = r.sector; s < r.sector + r.sectors; s += lbs)
        may_.push_back({i, s, static_cast<uint32_t>(std::min<uint64_t>(lbs, r.sector + r.sectors - s)), done});
    }
  }
  std::sort(durable_order.begin(), durable_order.end(), [&](size_t a, size_t b) { return order_[a] < order_[b]; });
  for (size_t i : durable_order) {
    const auto& r = recs[i];
    for (uint64_t s = r.sector; s < r.sector + r.sectors; s++)
      durable_->apply(s, r.content_at(s, discard_zeroes_, durable_->read(s)), order_[i]);
  }
  must_ = durable_order;
}

std::vector<size_t> CrashStateSpace::may_writes() const {
  std::vector<size_t> w;
  for (const auto& m : may_)
    if (w.empty() || w.back() != m.record) w.push_back(m.record);
  return w;
}

std::vector<bool> CrashStateSpace::feasible(const std::vector<bool>& choice) const {
  uint64_t covered = 0;
  for (size_t v = 0; v < may_.size() && v < choice.size(); v++) {
    const IoRecord& r = trace_.records[may_[v].record];
    if (choice[v] && r.flushes() && r.sectors > 0) covered = std::max(covered, r.flush_covers);
  }
  if (!covered) return choice;
  std::vector<bool> out = choice;
  out.resize(std::max(choice.size(), may_.size()), false);
  for (size_t v = 0; v < may_.size(); v++) {
    const IoRecord& r = trace_.records[may_[v].record];
    if (may_[v].completed && r.complete_seq <= covered) out[v] = true;
  }
  return out;
}

CrashImage CrashStateSpace::image(const std::vector<bool>& requested) const {
  const std::vector<bool> choice = feasible(requested);
  CrashImage img(durable_);
  // Apply chosen blocks oldest writer first, so that the newest persisted one wins.
  std::vector<size_t> chosen;
  for (size_t v = 0; v < may_.size() && v < choice.size(); v++)
    if (choice[v]) chosen.push_back(v);
  std::stable_sort(chosen.begin(), chosen.end(),
                   [&](size_t a, size_t b) { return order_[may_[a].record] < order_[may_[b].record]; });
  for (size_t v : chosen) {
    const MayPersist& m = may_[v];
    const IoRecord& r = trace_.records[m.record];
    for (uint64_t s = m.sector; s < m.sector + m.sectors; s++)
      img.apply(s, r.content_at(s, discard_zeroes_, img.read(s)), order_[m.record]);
  }
  return img;
}

bool enumerate_by_weight(size_t n, uint64_t bound, const std::function<void(const std::vector<bool>&)>& fn) {
  // Fewest persisted blocks first (all lost, then each block alone, then each pair, ...): a bug
  // that one block's persistence exposes shows within n + 1 states, not after 2^i of them.
  uint64_t visited = 0;
  std::vector<size_t> idx;
  std::vector<bool> choice(n, false);
  for (size_t k = 0; k <= n; k++) {
    idx.resize(k);
    for (size_t i = 0; i < k; i++) idx[i] = i;
    for (;;) {
      if (visited++ >= bound) return false;
      std::fill(choice.begin(), choice.end(), false);
      for (size_t i : idx) choice[i] = true;
      fn(choice);
      // Next combination of k out of n, in lexicographic order.
      size_t i = k;
      while (i > 0 && idx[i - 1] == n - k + i - 1) i--;
      if (i == 0) break;
      idx[i - 1]++;
      for (size_t j = i; j < k; j++) idx[j] = idx[j - 1] + 1;
    }
  }
  return true;
}

bool CrashStateSpace::enumerate(uint64_t bound, const std::function<void(const std::vector<bool>&)>& fn) const {
  return enumerate_by_weight(may_.size(), bound, fn);
}

void CrashStateSpace::sample(uint64_t seed, uint64_t n, const std::function<void(const std::vector<bool>&)>& fn) const {
  sim::Rng rng(seed);
  std::vector<bool> choice(may_.size());
  for (uint64_t k = 0; k < n; k++) {
    size_t v = 0;
    while (v < may_.size()) {
      const size_t rec = may_[v].record;
      const uint64_t mode = rng.below(3);  // none, all, torn
      for (; v < may_.size() && may_[v].record == rec; v++) choice[v] = mode == 1 || (mode == 2 && rng.below(2));
    }
    fn(choice);
  }
}

void CrashStateSpace::prefixes(const std::function<void(const std::vector<bool>&)>& fn) const {
  std::vector<size_t> writes = may_writes();
  std::stable_sort(writes.begin(), writes.end(), [&](size_t a, size_t b) { return order_[a] < order_[b]; });
  for (size_t k = 0; k <= writes.size(); k++) {
    std::vector<bool> choice(may_.size(), false);
    for (size_t v = 0; v < may_.size(); v++)
      choice[v] = std::find(writes.begin(), writes.begin() + static_cast<long>(k), may_[v].record) !=
                  writes.begin() + static_cast<long>(k);
    fn(choice);
  }
}

std::string CrashStateSpace::describe(const std::vector<bool>& requested) const {
  const std::vector<bool> choice = feasible(requested);
  std::string s;
  size_t v = 0;
  while (v < may_.size()) {
    const size_t rec = may_[v].record;
    size_t kept = 0, total = 0;
    for (; v < may_.size() && may_[v].record == rec; v++, total++) kept += v < choice.size() && choice[v];
    const IoRecord& r = trace_.records[rec];
    s += "io #" + std::to_string(r.id) + " (" + req_op_name(r.op) + req_flags_string(r.flags) + " " +
         std::to_string(r.sector) + "+" + std::to_string(r.sectors) + ", " +
         (may_[v - 1].completed ? "acknowledged" : "in flight") + "): " +
         (kept == total ? "persisted"
          : kept == 0   ? "lost"
                        : "torn, " + std::to_string(kept) + "/" + std::to_string(total) + " blocks persisted") +
         "\n";
  }
  return s;
}

}  // namespace model
