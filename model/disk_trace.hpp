// Every bio a disk saw, with submission and completion times and the issuing thread, like
// dm-log-writes records them. It is what crash states are built from, and it can be saved to a
// file and loaded again.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "model/bio.hpp"

namespace model {

struct IoRecord {
  static constexpr uint64_t kInFlight = std::numeric_limits<uint64_t>::max();

  uint64_t id = 0;  // the bio's id
  ReqOp op = ReqOp::Read;
  unsigned flags = 0;
  uint64_t sector = 0;
  uint32_t sectors = 0;
  uint64_t submit_ns = 0;
  uint64_t complete_ns = kInFlight;
  BlkStatus status = BLK_STS_OK;
  int pid = 0;
  uint64_t complete_seq = 0;  // position in completion order (1-based), 0 while in flight
  // Flushes (and PREFLUSH writes): writes whose complete_seq <= flush_covers had completed
  // when the flush was submitted, so the flush makes them durable.
  uint64_t flush_covers = 0;
  bool durable_at_completion = false;        // FUA, or no volatile cache
  bool dropped = false;                      // acknowledged but never stored (fault injection)
  std::shared_ptr<const SectorBuffer> data;  // writes: the payload at submission

  bool is_write() const { return op == ReqOp::Write || op == ReqOp::Discard || op == ReqOp::WriteZeroes; }
  bool flushes() const { return flags & REQ_PREFLUSH; }
  bool completed_by(uint64_t t_ns) const { return complete_ns != kInFlight && complete_ns <= t_ns; }
  // The content this write stores at `sector` (discards store zeroes when `discard_zeroes`).
  Sector content_at(uint64_t sector, bool discard_zeroes, const Sector& old) const;
};

class DiskTrace {
 public:
  std::vector<IoRecord> records;

  void save(std::ostream& out) const;
  // Throws std::runtime_error naming the line on malformed input.
  static DiskTrace load(std::istream& in);
};

}  // namespace model
