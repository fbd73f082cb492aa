// One disk as the block-device oracle sees it below the stack: its content before the run, and
// every write and discard its trace recorded, indexed by sector, so that "what did this place
// hold before the first write through the stack" and "who wrote it since" are quick to ask.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "model/content.hpp"
#include "model/disk_image.hpp"
#include "model/disk_trace.hpp"
#include "verify/phase_output.hpp"

namespace verify {

class DiskHistory {
 public:
  // `start`: the image the disk started from (a scenario's `image:`), or null for a new disk.
  explicit DiskHistory(const DiskState& d, const model::DiskImage* start = nullptr);

  // What sector `x` held before the trace began: the starting image's, or on a new disk zeroes
  // or the disk's own initial content. (Only for the first phase: a recovery's disks start from
  // a crash image.)
  model::Token initial(uint64_t x) const;
  // The records that write or discard sector `x`, in trace (submission) order.
  std::vector<const model::IoRecord*> writes_at(uint64_t x) const;
  // What `r` leaves at `x`, or nothing for a discard that keeps the old data.
  std::optional<model::Token> content(const model::IoRecord& r, uint64_t x) const;
  const model::DiskTrace& trace() const { return trace_; }

 private:
  DiskState state_;
  const model::DiskImage* start_;
  model::DiskTrace trace_;
  std::vector<size_t> by_start_;  // write records ordered by first sector
  uint64_t longest_ = 0;          // sectors of the longest write, bounding a lookup's scan
};

// `starts`: one starting image per disk (they must outlive the histories), or empty.
std::vector<DiskHistory> disk_histories(const std::vector<DiskState>& disks,
                                        const std::vector<model::DiskImage>& starts = {});

}  // namespace verify
