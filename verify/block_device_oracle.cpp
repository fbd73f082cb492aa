#include "verify/block_device_oracle.hpp"

#include <algorithm>
#include <set>

namespace verify {

using model::Token;

std::string LegalValues::describe() const {
  std::string s;
  for (Token t : tokens) s += (s.empty() ? "" : " or ") + model::describe_token(t);
  if (original) s += std::string(s.empty() ? "" : " or ") + "the original content";
  if (zero_allowed) s += std::string(s.empty() ? "" : " or ") + "zeroes";
  return s.empty() ? "nothing" : s;
}

bool LegalValues::allows(Token t) const {
  if (std::find(tokens.begin(), tokens.end(), t) != tokens.end()) return true;
  if (t == model::kZeroToken && zero_allowed) return true;
  // The oracle does not know the original content exactly; a new disk's tokens stand for it.
  if (original && model::token_kind(t) == model::TokenKind::Initial) return true;
  return false;
}

BlockDeviceOracle::BlockDeviceOracle(const TopIoLog& log, uint64_t crash_ns, bool original_may_be_zero)
    : log_(log), crash_ns_(crash_ns), original_may_be_zero_(original_may_be_zero) {}

LegalValues BlockDeviceOracle::legal(const std::string& device, uint64_t sector) const {
  // Flushes of this device that completed before the crash, by submission time.
  std::vector<uint64_t> flush_submits;
  for (const auto& io : log_.ios)
    if (io.kind == TopIo::Flush && io.device == device && io.acked && io.ack_ns <= crash_ns_)
      flush_submits.push_back(io.submit_ns);
  auto covered = [&](const TopIo& w) {
    if (!w.acked || w.ack_ns > crash_ns_) return false;
    if (w.fua) return true;
    return std::any_of(flush_submits.begin(), flush_submits.end(), [&](uint64_t f) { return w.ack_ns <= f; });
  };
  // Writes to the sector submitted before the crash, in the order they completed (the ones
  // still in flight last, by submission).
  std::vector<const TopIo*> writes;
  for (const auto& io : log_.ios)
    if (io.kind != TopIo::Flush && io.device == device && io.submit_ns <= crash_ns_ && sector >= io.sector &&
        sector < io.sector + io.sectors && (io.acked || io.status == 0))
      writes.push_back(&io);
  std::stable_sort(writes.begin(), writes.end(), [&](const TopIo* a, const TopIo* b) {
    const uint64_t ka = a->acked && a->ack_ns <= crash_ns_ ? a->ack_ns : UINT64_MAX;
    const uint64_t kb = b->acked && b->ack_ns <= crash_ns_ ? b->ack_ns : UINT64_MAX;
    return ka < kb;
  });
  LegalValues l;
  size_t from = 0;
  for (size_t i = writes.size(); i-- > 0;)
    if (covered(*writes[i])) {
      from = i;
      break;
    }
  const bool any_covered = !writes.empty() && covered(*writes[from]);
  if (!any_covered) {
    l.original = true;
    l.zero_allowed = original_may_be_zero_;
  }
  for (size_t i = any_covered ? from : 0; i < writes.size(); i++) {
    const TopIo& w = *writes[i];
    switch (w.kind) {
      case TopIo::Data:
        l.tokens.push_back(model::written_token(w.id, sector));
        break;
      case TopIo::Zero:
        l.zero_allowed = true;
        break;
      case TopIo::Discard:
        // A discarded block may read zeroes or keep what it had.
        l.zero_allowed = true;
        if (i == from && any_covered) l.original = true;
        break;
      case TopIo::Flush:
        break;
    }
  }
  // A discard that is the durable value keeps whatever could be there before it as legal.
  if (any_covered && writes[from]->kind == TopIo::Discard)
    for (size_t i = 0; i < from; i++)
      if (writes[i]->kind == TopIo::Data) l.tokens.push_back(model::written_token(writes[i]->id, sector));
  return l;
}

std::vector<BlockDeviceOracle::Obligation> BlockDeviceOracle::obligations(const std::string& device) const {
  std::set<uint64_t> sectors;
  for (const auto& io : log_.ios)
    if (io.kind != TopIo::Flush && io.device == device && io.submit_ns <= crash_ns_)
      for (uint64_t s = io.sector; s < io.sector + io.sectors; s++) sectors.insert(s);
  std::vector<Obligation> out;
  for (uint64_t s : sectors) out.push_back({device, s, legal(device, s)});
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
