#include "engines/lib/persistent_data/block_manager.hpp"

#include <algorithm>
#include <map>

#include "engines/lib/persistent_data/codec.hpp"
#include "sim/assert.hpp"

namespace engines::pd {

namespace {
// The block lock's debug semantics (dm-block-manager.c's MAX_HOLDERS): at most this many readers.
constexpr size_t kMaxReaders = 4;

// The userland readers running now, by thread.
std::map<const void*, std::vector<std::string>*>& userland_sinks() {
  static std::map<const void*, std::vector<std::string>*> m;
  return m;
}
}  // namespace

void pd_log(const std::string& msg) {
  auto it = userland_sinks().find(sim::current_or_null());
  if (it != userland_sinks().end())
    it->second->push_back(msg);
  else
    sim::printk(msg);
}

PdUserlandLog::PdUserlandLog(std::vector<std::string>* sink) : thread_(sim::current_or_null()) {
  auto& m = userland_sinks();
  auto it = m.find(thread_);
  previous_ = it == m.end() ? nullptr : it->second;
  m[thread_] = sink;
}

PdUserlandLog::~PdUserlandLog() {
  if (previous_)
    userland_sinks()[thread_] = previous_;
  else
    userland_sinks().erase(thread_);
}

void validator_prepare(const DmBlockValidator& v, uint64_t location, uint8_t* data, size_t size) {
  const BlockHeaderLayout& h = *v.format.header;
  if (h.magic) h.magic->put(data, v.format.magic);
  h.blocknr.put(data, location);
  if (h.version) h.version->put(data, v.format.version);
  h.csum.put(data, dm_bm_checksum(data + h.csum.end(), size - h.csum.end(), v.format.csum_xor));
}

int check_blocknr_and_csum(const DmBlockValidator& v, uint64_t location, const uint8_t* data, size_t size,
                           const char* what, std::string* why) {
  const BlockHeaderLayout& h = *v.format.header;
  const uint64_t blocknr = h.blocknr.get(data);
  if (blocknr != location) {
    *why = std::string(what) + " failed: blocknr " + std::to_string(blocknr) + " != wanted " + std::to_string(location);
    return -ENOTBLK;
  }
  const uint32_t csum = dm_bm_checksum(data + h.csum.end(), size - h.csum.end(), v.format.csum_xor);
  if (csum != h.csum.get(data)) {
    *why =
        std::string(what) + " failed: csum " + std::to_string(csum) + " != wanted " + std::to_string(h.csum.get(data));
    return -EILSEQ;
  }
  return 0;
}

int validator_check(const DmBlockValidator& v, uint64_t location, const uint8_t* data, size_t size, std::string* why) {
  if (v.check) return v.check(v, location, data, size, why);
  const BlockHeaderLayout& h = *v.format.header;
  const uint64_t blocknr = h.blocknr.get(data);
  if (blocknr != location) {
    *why = "blocknr mismatch: block has " + std::to_string(blocknr) + ", wanted " + std::to_string(location);
    return -ENOTBLK;
  }
  if (dm_bm_checksum(data + h.csum.end(), size - h.csum.end(), v.format.csum_xor) != h.csum.get(data)) {
    *why = "checksum mismatch";
    return -EILSEQ;
  }
  if (h.magic && h.magic->get(data) != v.format.magic) {
    *why = "bad magic";
    return -EILSEQ;
  }
  if (h.version && h.version->get(data) != v.format.version) {
    *why = "unsupported version " + std::to_string(h.version->get(data));
    return -EILSEQ;
  }
  if (v.extra_check) {
    *why = v.extra_check(data, size);
    if (!why->empty()) return -EILSEQ;
  }
  return 0;
}

struct DmBlockManager::Aux {
  const DmBlockValidator* validator = nullptr;
  bool write_locked = false;
  std::vector<sim::Thread*> holders;  // the threads holding the block lock
  sim::Holder lockers;                // the same, for those who wait for the lock
};

DmBlockManager::DmBlockManager(model::BlockDevice* bdev, unsigned block_size, unsigned max_held_per_thread)
    : lock_wait_("bm->lock_wait"),
      bufio_(bdev, block_size, "metadata",
             [this](DmBuffer* b) {
               // prepare_for_write: the checksum covers what is written now.
               if (b->aux && aux(b)->validator)
                 validator_prepare(*aux(b)->validator, b->block, b->data.data(), b->data.size());
             }),
      max_held_(max_held_per_thread) {}

DmBlockManager::~DmBlockManager() = default;

DmBlockManager::Aux* DmBlockManager::aux(DmBlock* b) {
  if (!b->aux) {
    auxes_.push_back(std::make_unique<Aux>());
    b->aux = auxes_.back().get();
  }
  return static_cast<Aux*>(b->aux);
}

int DmBlockManager::validate(DmBlock* b, const DmBlockValidator* v) {
  Aux* a = aux(b);
  if (!a->validator) {
    if (!v) return 0;
    std::string why;
    const int r = validator_check(*v, b->block, b->data.data(), b->data.size(), &why);
    if (r) {
      if (v->check) {
        // As dm_bm_validate_buffer: the structure's check says what is wrong, then the block manager which block.
        pd_log("device-mapper: " + why);
        pd_log(std::string("device-mapper: block manager: ") + v->name + " validator check failed for block " +
               std::to_string(b->block));
      } else {
        pd_log(std::string("device-mapper: block manager: ") + v->name + " validator check failed for block " +
               std::to_string(b->block) + ": " + why);
      }
      return r;
    }
    a->validator = v;
    return 0;
  }
  if (v && a->validator != v) {
    pd_log(std::string("device-mapper: block manager: validator mismatch (old=") + a->validator->name +
           " vs new=" + v->name + ") for block " + std::to_string(b->block));
    return -EINVAL;
  }
  return 0;
}

int DmBlockManager::lock(DmBlock* b, bool write) {
  Aux* a = aux(b);
  sim::Thread* self = &sim::current();
  if (std::find(a->holders.begin(), a->holders.end(), self) != a->holders.end()) {
    pd_log("device-mapper: block manager: recursive lock detected in metadata (block " + std::to_string(b->block) +
           ")");
    return -EINVAL;
  }
  // At most four readers; a writer is alone.
  {
    sim::WaitingFor wf(a->lockers);
    sim::wait_event(lock_wait_,
                    [&] { return write ? a->holders.empty() : (!a->write_locked && a->holders.size() < kMaxReaders); });
  }
  a->holders.push_back(self);
  DMSIM_ASSERT(a->holders.size() <= (write ? 1 : kMaxReaders), "dm_bm lock: too many holders");
  a->lockers.add(*self, "holds the block lock");
  a->write_locked = write;
  return 0;
}

int DmBlockManager::read_lock(uint64_t b, const DmBlockValidator* v, DmBlock** result) {
  if (b >= nr_blocks()) {
    pd_log("device-mapper: block manager: block " + std::to_string(b) + " is beyond the metadata device");
    return -EINVAL;
  }
  DmBlock* blk;
  int r = bufio_.read(b, &blk);
  if (r) return r;
  r = validate(blk, v);
  if (!r) r = lock(blk, false);
  if (r) {
    bufio_.release(blk);
    return r;
  }
  *result = blk;
  return 0;
}

int DmBlockManager::write_lock(uint64_t b, const DmBlockValidator* v, DmBlock** result) {
  if (read_only_) return -EPERM;
  if (b >= nr_blocks()) return -EINVAL;
  DmBlock* blk;
  int r = bufio_.read(b, &blk);
  if (r) return r;
  r = validate(blk, v);
  if (!r) r = lock(blk, true);
  if (r) {
    bufio_.release(blk);
    return r;
  }
  *result = blk;
  return 0;
}

int DmBlockManager::read_try_lock(uint64_t b, const DmBlockValidator* v, DmBlock** result) {
  DmBlock* blk = bufio_.get(b);
  if (!blk) return -EWOULDBLOCK;
  int r = validate(blk, v);
  if (!r && (aux(blk)->write_locked || aux(blk)->holders.size() >= kMaxReaders)) r = -EWOULDBLOCK;
  if (!r) r = lock(blk, false);
  if (r) {
    bufio_.release(blk);
    return r;
  }
  *result = blk;
  return 0;
}

int DmBlockManager::write_lock_zero(uint64_t b, const DmBlockValidator* v, DmBlock** result) {
  if (read_only_) return -EPERM;
  if (b >= nr_blocks()) return -EINVAL;
  DmBlock* blk;
  int r = bufio_.new_buffer(b, &blk);
  if (r) return r;
  std::fill(blk->data.begin(), blk->data.end(), 0);
  r = lock(blk, true);
  if (r) {
    bufio_.release(blk);
    return r;
  }
  aux(blk)->validator = v;
  *result = blk;
  return 0;
}

void DmBlockManager::unlock(DmBlock* b) {
  Aux* a = aux(b);
  sim::Thread* self = &sim::current();
  auto it = std::find(a->holders.begin(), a->holders.end(), self);
  if (it == a->holders.end())
    sim::bug("dm_bm_unlock: block " + std::to_string(b->block) + " is not locked by this thread");
  // A write-locked block has its writer as its only holder.
  DMSIM_ASSERT(!a->write_locked || a->holders.size() == 1, "dm_bm_unlock: a write lock shared");
  a->holders.erase(it);
  a->lockers.drop(*self);
  if (a->write_locked) {
    a->write_locked = false;
    bufio_.mark_buffer_dirty(b);
  }
  bufio_.release(b);
  sim::wake_up(&lock_wait_);
}

int DmBlockManager::flush() {
  if (read_only_) return -EPERM;
  return bufio_.write_dirty_buffers();
}

}  // namespace engines::pd
