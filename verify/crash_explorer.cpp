#include "verify/crash_explorer.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "sim/assert.hpp"
#include "sim/schedule_explorer.hpp"

namespace verify {

using scenarios::CrashPoints;

std::vector<CrashPoint> crash_points(const scenarios::Scenario& s, const PhaseOutput& p1) {
  const uint64_t cut = p1.end_ns;
  std::map<uint64_t, std::string> pts;
  switch (s.explore.crash_points) {
    case CrashPoints::None:
      break;
    case CrashPoints::Steps:
      for (const auto& st : p1.steps)
        if (st.finished && st.end_ns <= cut)
          pts.emplace(st.end_ns, "after step " + std::to_string(st.index + 1) + ": " + st.text);
      break;
    case CrashPoints::EveryIo:
    case CrashPoints::EveryFlush:
      for (size_t d = 0; d < p1.disks.size(); d++) {
        std::istringstream in(p1.disks[d].trace);
        const model::DiskTrace t = model::DiskTrace::load(in);
        for (size_t i = 0; i < t.records.size(); i++) {
          const auto& r = t.records[i];
          const bool flush = r.flushes();
          if (s.explore.crash_points == CrashPoints::EveryFlush && !flush && !(r.flags & model::REQ_FUA)) continue;
          const std::string what = s.disks[d].name + " " + model::req_op_name(r.op) + model::req_flags_string(r.flags) +
                                   " " + std::to_string(r.sector) + "+" + std::to_string(r.sectors);
          if (flush && r.submit_ns <= cut) pts.emplace(r.submit_ns, "while " + what + " is in flight");
          if (r.complete_ns != model::IoRecord::kInFlight && r.complete_ns <= cut)
            pts.emplace(r.complete_ns, "after " + what + " completed");
        }
      }
      break;
  }
  // Nothing before the setup the scenario arms its crashes after (explore: crash-after).
  if (const uint64_t k = s.explore.crash_after_step) {
    uint64_t from = cut;
    for (const auto& st : p1.steps)
      if (st.index + 1 == k && st.finished) from = std::min(from, st.end_ns);
    std::erase_if(pts, [from](const auto& p) { return p.first < from; });
  }
  pts[cut] = "power cut";
  std::vector<CrashPoint> all;
  for (auto& [ns, label] : pts) all.push_back({ns, label});
  // Evenly thinned, keeping the power cut itself.
  const size_t max = std::max<uint64_t>(s.explore.max_crash_points, 1);
  if (all.size() <= max) return all;
  std::vector<CrashPoint> kept;
  for (size_t i = 0; i < max - 1; i++) kept.push_back(all[i * (all.size() - 1) / (max - 1)]);
  kept.push_back(all.back());
  // Invariant: the power cut is a crash point whatever the thinning (the latest one).
  DMSIM_ASSERT(kept.back().ns == cut, "the power cut is the last crash point");
  return kept;
}

MultiDiskCrashSpace::MultiDiskCrashSpace(const PhaseOutput& p1, uint64_t crash_ns,
                                         const std::vector<model::DiskImage>& starts) {
  // REQUIRES: a starting image for every disk, or none (new disks).
  DMSIM_ASSERT(starts.empty() || starts.size() == p1.disks.size(), "one starting image per disk");
  traces_.reserve(p1.disks.size());
  for (const auto& d : p1.disks) {
    std::istringstream in(d.trace);
    traces_.push_back(model::DiskTrace::load(in));
  }
  for (size_t i = 0; i < p1.disks.size(); i++) {
    const auto& d = p1.disks[i];
    const model::DiskImage initial =
        starts.empty() ? model::DiskImage(d.disk_id, d.sectors, d.initial_zero) : starts[i];
    spaces_.push_back(std::make_unique<model::CrashStateSpace>(traces_[i], initial, d.logical_block_size,
                                                               d.discard_zeroes, crash_ns));
    offsets_.push_back(total_);
    total_ += spaces_.back()->variables();
  }
}

std::vector<model::DiskImage> MultiDiskCrashSpace::images(const std::vector<bool>& choice) const {
  // REQUIRES: one choice per may-persist block of every disk, as the search made it.
  DMSIM_ASSERT(choice.size() == total_, "a crash state chooses every may-persist block");
  std::vector<model::DiskImage> out;
  for (size_t i = 0; i < spaces_.size(); i++) {
    const size_t n = spaces_[i]->variables();
    std::vector<bool> part(n, false);
    for (size_t k = 0; k < n && offsets_[i] + k < choice.size(); k++) part[k] = choice[offsets_[i] + k];
    out.push_back(spaces_[i]->image(part).materialize());
  }
  return out;
}

void MultiDiskCrashSpace::enumerate(uint64_t bound, const std::function<void(const std::vector<bool>&)>& fn) const {
  model::enumerate_by_weight(total_, bound, fn);
}

void MultiDiskCrashSpace::sample(uint64_t seed, uint64_t n,
                                 const std::function<void(const std::vector<bool>&)>& fn) const {
  // Per write: none, all, or a torn subset, drawn from one seeded stream for all disks.
  sim::Rng rng(seed);
  std::vector<bool> c(total_, false);
  for (uint64_t k = 0; k < n; k++) {
    for (size_t d = 0; d < spaces_.size(); d++) {
      const auto& may = spaces_[d]->may();
      size_t v = 0;
      while (v < may.size()) {
        const size_t rec = may[v].record;
        const uint64_t mode = rng.below(3);
        for (; v < may.size() && may[v].record == rec; v++)
          c[offsets_[d] + v] = mode == 1 || (mode == 2 && rng.below(2));
      }
    }
    fn(c);
  }
}

void MultiDiskCrashSpace::prefixes(const std::function<void(const std::vector<bool>&)>& fn) const {
  // The may-persist writes of all disks in one completion order (by trace time).
  struct W {
    uint64_t when;
    size_t disk, record;
  };
  std::vector<W> writes;
  for (size_t d = 0; d < spaces_.size(); d++)
    for (size_t rec : spaces_[d]->may_writes()) {
      const auto& r = spaces_[d]->trace().records[rec];
      writes.push_back({r.complete_ns == model::IoRecord::kInFlight ? UINT64_MAX : r.complete_ns, d, rec});
    }
  std::stable_sort(writes.begin(), writes.end(), [](const W& a, const W& b) { return a.when < b.when; });
  std::vector<bool> c(total_, false);
  fn(c);
  for (const W& w : writes) {
    const auto& may = spaces_[w.disk]->may();
    for (size_t v = 0; v < may.size(); v++)
      if (may[v].record == w.record) c[offsets_[w.disk] + v] = true;
    fn(c);
  }
}

std::string MultiDiskCrashSpace::describe(const std::vector<bool>& choice) const {
  std::string s;
  for (size_t i = 0; i < spaces_.size(); i++) {
    const size_t n = spaces_[i]->variables();
    if (!n) continue;
    std::vector<bool> part(n);
    for (size_t k = 0; k < n; k++) part[k] = offsets_[i] + k < choice.size() && choice[offsets_[i] + k];
    std::string d = spaces_[i]->describe(part);
    std::istringstream lines(d);
    std::string line;
    while (std::getline(lines, line)) s += "disk " + std::to_string(i) + ": " + line + "\n";
  }
  return s.empty() ? "no write could be lost at this point\n" : s;
}

std::string choice_to_hex(const std::vector<bool>& c) {
  std::string s;
  for (size_t i = 0; i < c.size(); i += 4) {
    int v = 0;
    for (size_t k = 0; k < 4 && i + k < c.size(); k++) v |= c[i + k] << k;
    s += "0123456789abcdef"[v];
  }
  return s.empty() ? "0" : s;
}

std::vector<bool> choice_from_hex(const std::string& hex, size_t n) {
  std::vector<bool> c(n, false);
  for (size_t i = 0; i < hex.size(); i++) {
    const char ch = hex[i];
    const int v = ch >= 'a' ? ch - 'a' + 10 : ch - '0';
    for (size_t k = 0; k < 4 && 4 * i + k < n; k++) c[4 * i + k] = (v >> k) & 1;
  }
  return c;
}

std::string choice_hex_problem(const std::string& hex, size_t n) {
  const size_t digits = n == 0 ? 1 : (n + 3) / 4;
  if (hex.empty() || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
    return "expected lowercase hexadecimal digits";
  if (hex.size() != digits)
    return "expected " + std::to_string(digits) + " hex digit(s) for " + std::to_string(n) +
           " crash-state variable(s), got " + std::to_string(hex.size());
  const int last = hex.back() >= 'a' ? hex.back() - 'a' + 10 : hex.back() - '0';
  const size_t used = n == 0 ? 0 : n - 4 * (digits - 1);  // variables in the last digit
  if (last >> used) return "the last digit sets variables beyond the " + std::to_string(n) + " there are";
  return "";
}

}  // namespace verify
