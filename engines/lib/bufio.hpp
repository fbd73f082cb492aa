// dm-bufio: a cache of fixed-size blocks of a block device (drivers/md/dm-bufio.c). Dirty
// buffers may be written back at any time after they were dirtied: when dirty buffers exceed
// three times the clean ones (asynchronously), when a buffer must be evicted (synchronously),
// when the client is destroyed (asynchronously, no flush), and, when schedule exploration asks
// for it, at random points. write_dirty_buffers() is the commit primitive: write every dirty
// buffer, wait, then one empty REQ_PREFLUSH.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/block_device.hpp"
#include "sim/kernel.hpp"

namespace engines {

struct DmBuffer {
  uint64_t block = 0;
  std::vector<uint8_t> data;
  int hold_count = 0;
  bool reading = false, writing = false, dirty = false;
  int read_error = 0, write_error = 0;
  void* aux = nullptr;  // the block manager's per-buffer state
  std::list<uint64_t>::iterator lru;
  sim::Holder io;  // the read or write in flight, for those who wait for it
};

class DmBufioClient {
 public:
  // `write_callback` runs just before a buffer's write is submitted (the block manager's
  // validators set the location and checksum there).
  DmBufioClient(model::BlockDevice* bdev, unsigned block_size, std::string name,
                std::function<void(DmBuffer*)> write_callback = {});
  // dm_bufio_client_destroy: writes back dirty buffers (no flush) and frees everything.
  ~DmBufioClient();
  DmBufioClient(const DmBufioClient&) = delete;
  DmBufioClient& operator=(const DmBufioClient&) = delete;

  // dm_bufio_read: the cached buffer, or one read synchronously. Returns 0 or -EIO.
  int read(uint64_t block, DmBuffer** result);
  // dm_bufio_new: a buffer that will be overwritten entirely (no read).
  int new_buffer(uint64_t block, DmBuffer** result);
  // dm_bufio_get: only if cached and not being read; no I/O.
  DmBuffer* get(uint64_t block);
  void prefetch(uint64_t block);
  void release(DmBuffer* b);
  void mark_buffer_dirty(DmBuffer* b);
  void write_dirty_buffers_async();
  // 0, or the first write error since the last call, or the flush's error.
  int write_dirty_buffers();
  int issue_flush();
  void forget(uint64_t block);

  unsigned block_size() const { return block_size_; }
  uint64_t nr_blocks() const;
  size_t cached() const { return buffers_.size(); }
  size_t dirty_count() const;
  // The cache holds at most this many buffers before evicting (default 1024).
  void set_cache_limit(size_t n) { cache_limit_ = n; }
  uint64_t writes_submitted() const { return writes_submitted_; }
  const std::vector<uint64_t>& written_blocks() const { return written_blocks_; }

 private:
  DmBuffer* alloc_buffer(uint64_t block);
  void submit_read(DmBuffer* b);
  void submit_write(DmBuffer* b);
  void wait_io(DmBuffer* b);
  void evict_one();
  void check_watermark();
  void maybe_background_writeback(DmBuffer* b);
  void touch(DmBuffer* b);
  // Waits until an in-flight read of `b` ended (the kernel waits on B_READING).
  void wait_for_read(DmBuffer* b);

  model::BlockDevice* bdev_;
  unsigned block_size_;
  std::string name_;
  std::function<void(DmBuffer*)> write_callback_;
  std::map<uint64_t, std::unique_ptr<DmBuffer>> buffers_;
  std::list<uint64_t> lru_;  // front: least recently used
  sim::Mutex lock_;          // dm_bufio_lock
  sim::WaitQueueHead io_wait_;
  sim::Holder writes_where_;  // every write in flight, for the final wait
  size_t cache_limit_ = 1024;
  int async_write_error_ = 0;
  uint64_t writes_in_flight_ = 0;
  uint64_t writes_submitted_ = 0;
  std::vector<uint64_t> written_blocks_;  // in submission order, for tests and traces
};

}  // namespace engines
