#include "verify/crash_search.hpp"

#include <z3++.h>

#include <algorithm>
#include <map>

#include "sim/assert.hpp"
#include "sim/compiler_false_positives.hpp"

namespace verify {

struct CrashSearch::Impl {
  z3::context ctx;
  z3::solver solver{ctx};
  std::vector<z3::expr> vars;
  std::vector<bool> relevant;
  size_t nvars = 0;
};

CrashSearch::CrashSearch(const MultiDiskCrashSpace& space, const BlockDeviceOracle& oracle,
                         const std::vector<std::string>& devices,
                         const std::vector<BlockDeviceOracle::Obligation>& extra)
    : impl_(std::make_unique<Impl>()) {
  Impl& z = *impl_;
  z.nvars = space.variables();
  z.relevant.assign(z.nvars, false);
  DMSIM_GCC_BUG_105651(for (size_t i = 0; i < z.nvars; i++)
                           z.vars.push_back(z.ctx.bool_const(("x" + std::to_string(i)).c_str()));)
  // A REQ_PREFLUSH write persists only after its flush: each of its blocks implies every write
  // completed before its submission (model::CrashStateSpace::feasible).
  for (size_t d = 0; d < space.disks(); d++) {
    const model::CrashStateSpace& cs = space.disk(d);
    const auto& may = cs.may();
    for (size_t v = 0; v < may.size(); v++) {
      const model::IoRecord& r = cs.trace().records[may[v].record];
      if (!r.flushes() || r.sectors == 0) continue;
      for (size_t u = 0; u < may.size(); u++) {
        const model::IoRecord& earlier = cs.trace().records[may[u].record];
        if (may[u].completed && earlier.complete_seq <= r.flush_covers)
          z.solver.add(z3::implies(z.vars[space.offset(d) + v], z.vars[space.offset(d) + u]));
      }
    }
  }
  // For each disk: which may-persist variables cover each sector.
  std::vector<std::map<uint64_t, std::vector<size_t>>> covering(space.disks());
  for (size_t d = 0; d < space.disks(); d++) {
    const auto& may = space.disk(d).may();
    for (size_t v = 0; v < may.size(); v++)
      for (uint64_t s = may[v].sector; s < may[v].sector + may[v].sectors; s++) covering[d][s].push_back(v);
  }
  // Whether the content at one place of one disk breaks an obligation: a chain of
  // if-then-else over the blocks that may have overwritten the durable content, newest last.
  auto bad_at = [&](const BlockDeviceOracle::Obligation& ob, size_t disk, uint64_t ds) {
    const model::CrashStateSpace& cs = space.disk(disk);
    const model::DiskImage& base = cs.durable();
    auto it = base.written().find(ds);
    const uint64_t base_order = it == base.written().end() ? 0 : it->second.seq;
    model::Sector content = base.read(ds);
    z3::expr bad = z.ctx.bool_val(!ob.legal.allows(content.token));
    std::vector<size_t> cands;
    for (size_t v : covering[disk][ds])
      if (cs.order(cs.may()[v].record) >= base_order) cands.push_back(v);
    std::sort(cands.begin(), cands.end(),
              [&](size_t a, size_t b) { return cs.order(cs.may()[a].record) < cs.order(cs.may()[b].record); });
    for (size_t v : cands) {
      const model::IoRecord& rec = cs.trace().records[cs.may()[v].record];
      const model::Sector val = rec.content_at(ds, cs.discard_zeroes(), content);
      const size_t var = space.offset(disk) + v;
      z.relevant[var] = true;
      bad = z3::ite(z.vars[var], z.ctx.bool_val(!ob.legal.allows(val.token)), bad);
    }
    return bad;
  };
  z3::expr_vector bads(z.ctx);
  std::vector<BlockDeviceOracle::Obligation> all = extra;
  for (const auto& dev : devices) {
    auto obs = oracle.obligations(dev);
    all.insert(all.end(), obs.begin(), obs.end());
  }
  // A conditional obligation applies where one of its condition places holds the token.
  auto applies = [&](const BlockDeviceOracle::Obligation& ob) {
    if (ob.if_places.empty()) return z.ctx.bool_val(true);
    BlockDeviceOracle::Obligation holds;
    holds.legal.tokens = {ob.if_token};
    z3::expr_vector any(z.ctx);
    for (const auto& p : ob.if_places) {
      DMSIM_ASSERT(p.disk >= 0 && static_cast<size_t>(p.disk) < space.disks(), "a condition names an unknown disk");
      any.push_back(!bad_at(holds, static_cast<size_t>(p.disk), p.sector));
    }
    return z3::mk_or(any);
  };
  for (const auto& ob : all) {
    // An obligation whose data may live at several places (tables changed while it was
    // written) is checked at every one of them.
    bool placed = false;
    for (const auto& p : ob.places) {
      // A place is on a disk of the scenario, or unknown (-1): never a disk the space lacks.
      DMSIM_ASSERT(p.disk < 0 || static_cast<size_t>(p.disk) < space.disks(), "an obligation names an unknown disk");
      if (p.disk < 0) continue;
      placed = true;
      bads.push_back(applies(ob) && bad_at(ob, static_cast<size_t>(p.disk), p.sector));
    }
    placed ? encoded_++ : unlocated_++;
  }
  z.solver.add(bads.empty() ? z.ctx.bool_val(false) : z3::mk_or(bads));
}

CrashSearch::~CrashSearch() = default;

std::optional<std::vector<bool>> CrashSearch::next() {
  Impl& z = *impl_;
  calls_++;
  if (z.solver.check() != z3::sat) return std::nullopt;
  z3::model m = z.solver.get_model();
  std::vector<bool> choice(z.nvars, false);
  z3::expr_vector differ(z.ctx);
  for (size_t i = 0; i < z.nvars; i++) {
    if (!z.relevant[i]) continue;
    choice[i] = m.eval(z.vars[i], true).is_true();
    differ.push_back(choice[i] ? !z.vars[i] : z.vars[i]);
  }
  // Ask for a different assignment next time.
  if (!differ.empty())
    z.solver.add(z3::mk_or(differ));
  else
    z.solver.add(z.ctx.bool_val(false));
  return choice;
}

}  // namespace verify
