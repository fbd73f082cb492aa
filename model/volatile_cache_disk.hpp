// A disk with an optional volatile write cache. A completed write sits in the cache until a
// flush submitted after its completion completes; a FUA write, or any write to a disk without
// a cache, is durable when it completes. Reads see the newest completed write. Every bio is
// recorded in the disk's trace, from which crash states are built.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/block_device.hpp"
#include "model/disk_image.hpp"
#include "model/disk_profile.hpp"
#include "model/disk_trace.hpp"
#include "model/fault_injector.hpp"
#include "sim/io_channel.hpp"

namespace model {

struct DiskConfig {
  std::string name;  // "sda", or "datavg/erameta"
  uint64_t sectors = 0;
  uint32_t logical_block_size = 512;
  bool write_cache = true;
  std::string profile = "instant";
  bool initial_zero = false;   // start zero-filled instead of with distinct tokens
  bool discard = true;         // supports discard
  bool discard_zeroes = true;  // a discarded block reads zeroes (false: keeps old data)
};

class VolatileCacheDisk : public BlockDevice {
 public:
  VolatileCacheDisk(uint32_t disk_id, const DiskConfig& cfg, uint32_t major, uint32_t minor);

  void submit(Bio* bio) override;

  uint32_t disk_id() const { return id_; }
  const DiskConfig& config() const { return cfg_; }
  const DiskProfile& profile() const { return profile_; }
  // What is on the media now: what survives a power cut that loses every cached write.
  const DiskImage& media() const { return media_; }
  // The content before the first bio of the trace: what crash states start from.
  const DiskImage& initial_media() const { return initial_; }
  // What a read returns now: the newest completed write, or the media.
  Sector read_sector(uint64_t sector) const;
  const DiskTrace& trace() const { return trace_; }
  FaultInjector& faults() { return faults_; }
  // Starts from a recovered image: the media holds it and the cache is empty. Only before the
  // disk has seen any bio.
  void load_media(const DiskImage& image);
  uint64_t cached_writes() const { return cached_.size(); }

 private:
  void complete(Bio* bio, size_t rec, const FaultDecision& fault);
  void make_durable(const IoRecord& r);
  void flush_cache(uint64_t covers);

  uint32_t id_;
  DiskConfig cfg_;
  DiskProfile profile_;
  sim::IoChannel channel_;
  DiskImage media_;
  DiskImage initial_;
  std::map<uint64_t, DiskImage::Written> volatile_;  // newest completed, not yet durable
  std::vector<size_t> cached_;                       // records of cached writes, completion order
  DiskTrace trace_;
  FaultInjector faults_;
  uint64_t complete_seq_ = 0;
  uint64_t flushed_upto_ = 0;  // the highest completion a completed flush covered
};

}  // namespace model
