#include "engines/lib/bufio.hpp"

#include <algorithm>

#include "model/errno.hpp"
#include "sim/assert.hpp"
#include "sim/config.hpp"

namespace engines {

using model::Bio;
using model::ReqOp;
using model::Sector;

DmBufioClient::DmBufioClient(model::BlockDevice* bdev, unsigned block_size, std::string name,
                             std::function<void(DmBuffer*)> write_callback)
    : bdev_(bdev),
      block_size_(block_size),
      name_(std::move(name)),
      write_callback_(std::move(write_callback)),
      lock_("c->lock", "dm_bufio_client->lock"),
      io_wait_("bufio io") {}

DmBufioClient::~DmBufioClient() {
  KFRAME_NAMED("dm_bufio_client_destroy");
  // drop_buffers: dirty buffers are written back (asynchronously, no flush), then freed.
  write_dirty_buffers_async();
  sim::WaitingFor wf(writes_where_);
  sim::wait_event(io_wait_, [this] { return writes_in_flight_ == 0; });
  for (auto& [blk, b] : buffers_)
    if (b->hold_count)
      sim::printk("device-mapper: bufio: leaked buffer " + std::to_string(blk) + ", hold count " +
                  std::to_string(b->hold_count));
}

uint64_t DmBufioClient::nr_blocks() const {
  return bdev_->capacity() * 512 / block_size_;
}

size_t DmBufioClient::dirty_count() const {
  size_t n = 0;
  for (const auto& [blk, b] : buffers_) n += b->dirty;
  return n;
}

void DmBufioClient::touch(DmBuffer* b) {
  lru_.splice(lru_.end(), lru_, b->lru);
}

void DmBufioClient::wait_io(DmBuffer* b) {
  sim::WaitingFor wf(b->io);
  sim::wait_event(io_wait_, [b] { return !b->reading && !b->writing; });
}

void DmBufioClient::submit_read(DmBuffer* b) {
  const uint32_t sectors = block_size_ / 512;
  Bio* bio = model::bio_alloc(bdev_, ReqOp::Read, model::REQ_META, b->block * sectors, sectors);
  b->reading = true;
  b->io.clear();
  b->io.add_part(bio->where);
  bio->end_io = [this, b](Bio* done) {
    for (uint32_t i = 0; i < done->size; i++) done->data()[i].to_bytes(b->data.data() + 512 * i);
    b->read_error = done->status == model::BLK_STS_OK ? 0 : -EIO;
    b->reading = false;
    b->io.clear();
    model::bio_put(done);
    sim::wake_up(&io_wait_);
  };
  model::submit_bio(bio);
}

void DmBufioClient::submit_write(DmBuffer* b) {
  KFRAME_NAMED("__write_dirty_buffer");
  if (b->writing) wait_io(b);
  if (!b->dirty) return;
  b->dirty = false;  // cleared before submission: a later change dirties it again
  if (write_callback_) write_callback_(b);
  const uint32_t sectors = block_size_ / 512;
  Bio* bio = model::bio_alloc(bdev_, ReqOp::Write, model::REQ_META, b->block * sectors, sectors);
  for (uint32_t i = 0; i < sectors; i++) bio->data()[i] = Sector::of_bytes(b->data.data() + 512 * i);
  b->writing = true;
  writes_in_flight_++;
  writes_submitted_++;
  written_blocks_.push_back(b->block);
  b->io.clear();
  b->io.add_part(bio->where);
  writes_where_.add_part(bio->where);
  bio->end_io = [this, b](Bio* done) {
    b->io.clear();
    writes_where_.drop_part(done->where);
    if (done->status != model::BLK_STS_OK) {
      b->write_error = -EIO;
      if (!async_write_error_) async_write_error_ = -EIO;
    }
    b->writing = false;
    DMSIM_ASSERT(writes_in_flight_ > 0, "bufio: a write completed that was not in flight");
    writes_in_flight_--;
    model::bio_put(done);
    sim::wake_up(&io_wait_);
  };
  model::submit_bio(bio);
}

DmBuffer* DmBufioClient::alloc_buffer(uint64_t block) {
  if (buffers_.size() >= cache_limit_) evict_one();
  auto b = std::make_unique<DmBuffer>();
  b->block = block;
  b->data.assign(block_size_, 0);
  lru_.push_back(block);
  b->lru = std::prev(lru_.end());
  DmBuffer* raw = b.get();
  buffers_[block] = std::move(b);
  // Every cached buffer is on the LRU list exactly once.
  DMSIM_ASSERT(lru_.size() == buffers_.size(), "bufio: LRU list and cache disagree");
  check_watermark();
  return raw;
}

void DmBufioClient::evict_one() {
  // Clean buffers first, then dirty ones, which are written synchronously before they go.
  for (bool want_dirty : {false, true}) {
    for (uint64_t blk : lru_) {
      DmBuffer* b = buffers_.at(blk).get();
      if (b->hold_count || b->reading || b->writing || b->dirty != want_dirty) continue;
      if (b->dirty) {
        submit_write(b);
        wait_io(b);
        if (b->hold_count || b->dirty) return;
      }
      lru_.erase(b->lru);
      buffers_.erase(blk);
      return;
    }
  }
}

void DmBufioClient::check_watermark() {
  size_t dirty = 0, clean = 0;
  for (const auto& [blk, b] : buffers_) (b->dirty ? dirty : clean)++;
  if (dirty > 3 * clean) write_dirty_buffers_async();
}

void DmBufioClient::maybe_background_writeback(DmBuffer* b) {
  if (sim::background_chance(sim::sim_config().background_writeback_rate)) {
    sim::trace_event("bufio_background_writeback", name_ + " block " + std::to_string(b->block));
    submit_write(b);
  }
}

int DmBufioClient::read(uint64_t block, DmBuffer** result) {
  KFRAME_NAMED("dm_bufio_read");
  sim::mutex_lock(&lock_);
  auto it = buffers_.find(block);
  DmBuffer* b;
  if (it != buffers_.end()) {
    b = it->second.get();
  } else {
    b = alloc_buffer(block);
    submit_read(b);
  }
  b->hold_count++;
  touch(b);
  sim::mutex_unlock(&lock_);
  wait_for_read(b);
  if (b->read_error) {
    const int err = b->read_error;
    release(b);
    return err;
  }
  *result = b;
  return 0;
}

void DmBufioClient::wait_for_read(DmBuffer* b) {
  if (!b->reading) return;
  sim::WaitingFor wf(b->io);
  sim::wait_event(io_wait_, [b] { return !b->reading; });
}

int DmBufioClient::new_buffer(uint64_t block, DmBuffer** result) {
  KFRAME_NAMED("dm_bufio_new");
  sim::mutex_lock(&lock_);
  auto it = buffers_.find(block);
  DmBuffer* b = it != buffers_.end() ? it->second.get() : alloc_buffer(block);
  b->hold_count++;
  touch(b);
  sim::mutex_unlock(&lock_);
  wait_for_read(b);
  b->read_error = 0;
  *result = b;
  return 0;
}

DmBuffer* DmBufioClient::get(uint64_t block) {
  auto it = buffers_.find(block);
  if (it == buffers_.end() || it->second->reading || it->second->read_error) return nullptr;
  it->second->hold_count++;
  touch(it->second.get());
  return it->second.get();
}

void DmBufioClient::prefetch(uint64_t block) {
  sim::mutex_lock(&lock_);
  if (!buffers_.count(block)) submit_read(alloc_buffer(block));
  sim::mutex_unlock(&lock_);
}

void DmBufioClient::release(DmBuffer* b) {
  if (b->hold_count <= 0) {
    sim::bug("dm_bufio_release: buffer " + std::to_string(b->block) + " is not held");
  }
  b->hold_count--;
  // A clean buffer that failed to read is dropped so that the next read retries.
  if (b->hold_count == 0 && b->read_error && !b->dirty && !b->writing) {
    lru_.erase(b->lru);
    buffers_.erase(b->block);
  }
}

void DmBufioClient::mark_buffer_dirty(DmBuffer* b) {
  b->dirty = true;
  maybe_background_writeback(b);
}

void DmBufioClient::write_dirty_buffers_async() {
  KFRAME_NAMED("dm_bufio_write_dirty_buffers_async");
  std::vector<DmBuffer*> dirty;
  for (uint64_t blk : lru_) {
    DmBuffer* b = buffers_.at(blk).get();
    if (b->dirty && !b->writing) dirty.push_back(b);
  }
  for (DmBuffer* b : dirty) submit_write(b);
}

int DmBufioClient::write_dirty_buffers() {
  KFRAME_NAMED("dm_bufio_write_dirty_buffers");
  std::vector<DmBuffer*> dirty;
  for (uint64_t blk : lru_) {
    DmBuffer* b = buffers_.at(blk).get();
    if (b->dirty) dirty.push_back(b);
  }
  for (DmBuffer* b : dirty) submit_write(b);
  for (DmBuffer* b : dirty) wait_io(b);
  int r = async_write_error_;
  async_write_error_ = 0;
  const int f = issue_flush();
  return r ? r : f;
}

int DmBufioClient::issue_flush() {
  KFRAME_NAMED("dm_bufio_issue_flush");
  Bio* bio = model::bio_alloc_flush(bdev_);
  const model::BlkStatus st = model::submit_bio_wait(bio);
  model::bio_put(bio);
  return st == model::BLK_STS_OK ? 0 : -EIO;
}

void DmBufioClient::forget(uint64_t block) {
  auto it = buffers_.find(block);
  if (it == buffers_.end()) return;
  DmBuffer* b = it->second.get();
  if (b->hold_count || b->writing || b->reading || b->dirty) return;
  lru_.erase(b->lru);
  buffers_.erase(it);
}

}  // namespace engines
