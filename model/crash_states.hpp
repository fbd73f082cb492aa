// The on-disk images a power cut can leave. From a disk's trace and a crash instant: the writes
// that must persist (durable at completion, or covered by a completed flush) form the durable
// image; every other write that completed or was in flight may persist, each logical block on
// its own (a torn write). A choice of which may-persist blocks reached the media gives one
// image, with the last writer (in completion order) winning per block.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/disk_image.hpp"
#include "model/disk_trace.hpp"

namespace model {

// Every subset of n choices, by increasing size, at most `bound` of them; true when all were
// visited.
bool enumerate_by_weight(size_t n, uint64_t bound, const std::function<void(const std::vector<bool>&)>& fn);

// One crash state: the durable image plus the may-persist blocks that were chosen.
class CrashImage {
 public:
  CrashImage(std::shared_ptr<const DiskImage> base) : base_(std::move(base)) {}
  Sector read(uint64_t sector) const;
  void apply(uint64_t sector, const Sector& c, uint64_t order);
  DiskImage materialize() const;
  const DiskImage& base() const { return *base_; }
  const std::map<uint64_t, DiskImage::Written>& overlay() const { return overlay_; }

 private:
  std::shared_ptr<const DiskImage> base_;
  std::map<uint64_t, DiskImage::Written> overlay_;
};

// A logical block of one write that may or may not have reached the media: one boolean
// variable of the crash state (the encoding the Z3 search uses).
struct MayPersist {
  size_t record;     // index in the trace
  uint64_t sector;   // first sector of the block
  uint32_t sectors;  // logical block size in sectors
  bool completed;    // acknowledged before the crash (else in flight)
};

class CrashStateSpace {
 public:
  // `initial` is the disk's content before the trace began.
  CrashStateSpace(const DiskTrace& trace, const DiskImage& initial, uint32_t logical_block_size, bool discard_zeroes,
                  uint64_t crash_ns);

  const std::vector<MayPersist>& may() const { return may_; }
  size_t variables() const { return may_.size(); }
  // Indexes of the writes that must persist / may persist.
  const std::vector<size_t>& must_writes() const { return must_; }
  std::vector<size_t> may_writes() const;
  const DiskImage& durable() const { return *durable_; }

  CrashImage image(const std::vector<bool>& choice) const;
  // `choice` with what it implies: a REQ_PREFLUSH write reaches the media only after its flush
  // completed (the block layer issues the flush first), so if any block of one persisted, every
  // write completed before its submission persisted too. image() and describe() apply it.
  std::vector<bool> feasible(const std::vector<bool>& choice) const;
  // Calls fn for each choice, fewest persisted blocks first, at most `bound` times; returns
  // true if that covered the whole space.
  bool enumerate(uint64_t bound, const std::function<void(const std::vector<bool>&)>& fn) const;
  // n seeded choices: per write, all of it, none of it, or a torn random subset of its blocks.
  void sample(uint64_t seed, uint64_t n, const std::function<void(const std::vector<bool>&)>& fn) const;
  // CrashMonkey's prefix mode: the first k may-persist writes (whole) in completion order, then
  // in-flight ones in submission order, for k = 0 .. number of may-persist writes.
  void prefixes(const std::function<void(const std::vector<bool>&)>& fn) const;
  // Position of a record in "last writer wins" order (larger wins).
  uint64_t order(size_t record) const { return order_[record]; }
  const DiskTrace& trace() const { return trace_; }
  bool discard_zeroes() const { return discard_zeroes_; }
  // "write #12 (WRITE 8+8): lost" lines for the writes a choice did not (fully) persist.
  std::string describe(const std::vector<bool>& choice) const;

 private:
  const DiskTrace& trace_;
  bool discard_zeroes_;
  std::shared_ptr<DiskImage> durable_;
  std::vector<size_t> must_;
  std::vector<MayPersist> may_;
  std::vector<uint64_t> order_;  // per record: position in "last writer wins" order
};

}  // namespace model
