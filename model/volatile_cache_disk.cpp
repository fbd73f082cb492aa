#include "model/volatile_cache_disk.hpp"

#include <algorithm>
#include <stdexcept>

#include "sim/assert.hpp"
#include "sim/runtime.hpp"
#include "sim/thread.hpp"

namespace model {

VolatileCacheDisk::VolatileCacheDisk(uint32_t disk_id, const DiskConfig& cfg, uint32_t major, uint32_t minor)
    : BlockDevice(cfg.name, major, minor),
      id_(disk_id),
      cfg_(cfg),
      profile_(disk_profile(cfg.profile).value_or(DiskProfile{})),
      channel_(cfg.name, profile_.read_bw, profile_.write_bw),
      media_(disk_id, cfg.sectors, cfg.initial_zero),
      initial_(media_) {
  if (!disk_profile(cfg.profile)) throw std::invalid_argument("unknown disk profile '" + cfg.profile + "'");
  set_capacity(cfg.sectors);
  limits.logical_block_size = cfg.logical_block_size;
  limits.physical_block_size = cfg.logical_block_size;
  limits.max_sectors = 2560;
  limits.write_cache = cfg.write_cache;
  limits.fua = cfg.write_cache;
  limits.max_discard_sectors = cfg.discard ? 0x3fffff : 0;
  limits.discard_granularity = cfg.discard ? cfg.logical_block_size : 0;
  limits.max_write_zeroes_sectors = 0x3fffff;
}

Sector VolatileCacheDisk::read_sector(uint64_t sector) const {
  auto it = volatile_.find(sector);
  return it == volatile_.end() ? media_.read(sector) : it->second.content;
}

void VolatileCacheDisk::load_media(const DiskImage& image) {
  if (!trace_.records.empty()) throw std::logic_error("load_media after I/O on " + name());
  media_ = image;
  initial_ = image;
  volatile_.clear();
  cached_.clear();
  // Writes from now on must be newer than anything in the image, or applying them to the
  // media would keep the image's older content.
  for (const auto& [s, w] : image.written()) complete_seq_ = std::max(complete_seq_, w.seq);
}

void VolatileCacheDisk::submit(Bio* bio) {
  KFRAME_NAMED("disk_submit");
  sim::Runtime& rt = sim::Runtime::get();
  const FaultDecision fault = faults_.decide(*bio);
  IoRecord r;
  r.id = bio->id;
  r.op = bio->op;
  r.flags = bio->flags;
  r.sector = bio->sector;
  r.sectors = bio->size;
  r.submit_ns = rt.now_ns();
  r.pid = bio->submitter_pid;
  if (r.flushes()) r.flush_covers = complete_seq_;
  r.durable_at_completion = !cfg_.write_cache || (bio->flags & REQ_FUA);
  if (bio->op == ReqOp::Write && bio->size > 0)
    r.data = std::make_shared<SectorBuffer>(bio->data(), bio->data() + bio->size);
  const size_t rec = trace_.records.size();
  trace_.records.push_back(std::move(r));
  rt.event("disk_submit", nullptr, name() + " " + bio->describe());

  const bool write = op_is_write(bio->op);
  double latency = bio->op == ReqOp::Read ? profile_.read_latency_s : profile_.write_latency_s;
  if (bio->flags & REQ_PREFLUSH) latency += cfg_.write_cache ? profile_.flush_latency_s : 0;
  latency += fault.extra_delay_s;
  const uint64_t bytes = bio->has_data() ? static_cast<uint64_t>(bio->size) * 512 : 0;
  bio->where.set(channel_, "in flight on the disk");
  channel_.submit(write, bytes, latency, [this, bio, rec, fault] { complete(bio, rec, fault); });
}

void VolatileCacheDisk::make_durable(const IoRecord& r) {
  for (uint64_t s = r.sector; s < r.sector + r.sectors; s++) {
    media_.apply(s, r.content_at(s, cfg_.discard_zeroes, media_.read(s)), r.complete_seq);
    auto it = volatile_.find(s);
    if (it != volatile_.end() && it->second.seq <= r.complete_seq) volatile_.erase(it);
  }
}

void VolatileCacheDisk::flush_cache(uint64_t covers) {
  flushed_upto_ = std::max(flushed_upto_, covers);
  std::vector<size_t> still;
  for (size_t idx : cached_) {
    const IoRecord& w = trace_.records[idx];
    if (w.complete_seq <= covers)
      make_durable(w);
    else
      still.push_back(idx);
  }
  cached_.swap(still);
  // The cache holds no write that a completed flush covered: durability never goes backwards.
  DMSIM_ASSERT(cached_.empty() || trace_.records[cached_.front()].complete_seq > flushed_upto_,
               "a cached write survived a flush that covered it");
}

void VolatileCacheDisk::complete(Bio* bio, size_t rec, const FaultDecision& fault) {
  sim::Runtime& rt = sim::Runtime::get();
  IoRecord& r = trace_.records[rec];
  r.complete_ns = rt.now_ns();
  r.complete_seq = ++complete_seq_;
  if (fault.error) {
    r.status = BLK_STS_IOERR;
  } else {
    if (r.flushes()) flush_cache(r.flush_covers);
    if (bio->op == ReqOp::Read) {
      Sector* d = bio->data();
      for (uint32_t i = 0; i < bio->size; i++) d[i] = read_sector(bio->sector + i);
    } else if (r.is_write() && r.sectors > 0) {
      if (fault.drop) {
        r.dropped = true;
      } else if (r.durable_at_completion) {
        make_durable(r);
      } else {
        for (uint64_t s = r.sector; s < r.sector + r.sectors; s++)
          volatile_[s] = DiskImage::Written{r.content_at(s, cfg_.discard_zeroes, read_sector(s)), r.complete_seq};
        // Cached writes stay in completion order (flush_cache and crash states rely on it).
        DMSIM_ASSERT(cached_.empty() || trace_.records[cached_.back()].complete_seq < r.complete_seq,
                     "cached writes out of completion order");
        cached_.push_back(rec);
      }
    }
  }
  bio->status = r.status;
  rt.event("disk_complete", nullptr, name() + " " + bio->describe() + " " + blk_status_name(r.status));
  bio_endio(bio);
}

}  // namespace model
