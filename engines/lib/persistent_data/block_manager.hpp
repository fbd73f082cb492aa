// The block manager of persistent-data (dm-block-manager.c): metadata blocks through a
// dm-bufio client, read and write locks per block (with the kernel's debug semantics: at most
// four readers, writers exclusive, recursion refused), and validators that checksum every
// block so that a torn, stale or misdirected block is detected, never used. Where a block keeps
// its checksum, location, magic and version is its format's BlockHeaderLayout.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engines/lib/bufio.hpp"
#include "engines/lib/persistent_data/block_header_layout.hpp"
#include "model/errno.hpp"

namespace engines::pd {

struct DmBlockValidator {
  const char* name;
  BlockFormat format;
  // Structure-specific checks after the header matched; empty string when fine.
  std::string (*extra_check)(const uint8_t* data, size_t size) = nullptr;
  // The structure's own check, as the kernel's validators have one each (node_check,
  // array_block_check): when set it replaces the header checks and extra_check, and `why` is the
  // kernel's message with its DM_MSG_PREFIX ("btree spine: node_check failed: ...").
  int (*check)(const DmBlockValidator& v, uint64_t location, const uint8_t* data, size_t size,
               std::string* why) = nullptr;
};

using DmBlock = DmBuffer;
inline uint64_t dm_block_location(const DmBlock* b) {
  return b->block;
}
inline uint8_t* dm_block_data(DmBlock* b) {
  return b->data.data();
}

// persistent-data's error messages ("device-mapper: block manager: ..."): in the kernel log when
// kernel code runs the library, collected instead while a userland reader (the era tools, the
// checks) runs it in the current thread, since a tool prints to its own stderr, never to dmesg.
void pd_log(const std::string& msg);
class PdUserlandLog {
 public:
  explicit PdUserlandLog(std::vector<std::string>* sink);
  ~PdUserlandLog();
  PdUserlandLog(const PdUserlandLog&) = delete;
  PdUserlandLog& operator=(const PdUserlandLog&) = delete;

 private:
  const void* thread_;
  std::vector<std::string>* previous_;
};

// Sets the header (magic, location, version) and then the checksum, as prepare_for_write does.
void validator_prepare(const DmBlockValidator& v, uint64_t location, uint8_t* data, size_t size);
// The first two checks of every kernel validator, in its order and words: the block's own
// location (-ENOTBLK), then the checksum (-EILSEQ). `what` names the check with its message
// prefix, e.g. "btree spine: node_check" gives "btree spine: node_check failed: csum 1 != wanted 2".
int check_blocknr_and_csum(const DmBlockValidator& v, uint64_t location, const uint8_t* data, size_t size,
                           const char* what, std::string* why);
// 0, or -ENOTBLK / -EILSEQ with `why` saying what did not match.
int validator_check(const DmBlockValidator& v, uint64_t location, const uint8_t* data, size_t size, std::string* why);

class DmBlockManager {
 public:
  DmBlockManager(model::BlockDevice* bdev, unsigned block_size, unsigned max_held_per_thread);
  ~DmBlockManager();

  unsigned block_size() const { return bufio_.block_size(); }
  uint64_t nr_blocks() const { return bufio_.nr_blocks(); }

  int read_lock(uint64_t b, const DmBlockValidator* v, DmBlock** result);
  int write_lock(uint64_t b, const DmBlockValidator* v, DmBlock** result);
  int read_try_lock(uint64_t b, const DmBlockValidator* v, DmBlock** result);
  int write_lock_zero(uint64_t b, const DmBlockValidator* v, DmBlock** result);
  // A write-locked block becomes dirty when unlocked.
  void unlock(DmBlock* b);
  int flush();
  void prefetch(uint64_t b) { bufio_.prefetch(b); }

  bool is_read_only() const { return read_only_; }
  void set_read_only() { read_only_ = true; }
  void set_read_write() { read_only_ = false; }

  DmBufioClient& bufio() { return bufio_; }

 private:
  struct Aux;
  Aux* aux(DmBlock* b);
  int validate(DmBlock* b, const DmBlockValidator* v);
  int lock(DmBlock* b, bool write);

  // Declared before the bufio client: its destruction writes dirty buffers back through the
  // validators, which live in the aux records.
  std::vector<std::unique_ptr<Aux>> auxes_;
  sim::WaitQueueHead lock_wait_;
  DmBufioClient bufio_;
  unsigned max_held_;
  bool read_only_ = false;
};

}  // namespace engines::pd
