// The transaction manager (dm-transaction-manager.c): copy-on-write of committed blocks and
// the two-phase commit. Its space map is the metadata space map, which itself changes blocks
// through this transaction manager (shadowing its bitmaps and index), as in the kernel.
// pre_commit writes the space map and every dirty block, then flushes;
// the client fills its superblock; commit unlocks it and flushes again, so the superblock
// reaches the media last and the new transaction is durable exactly when it is.
#pragma once

#include <memory>
#include <set>

#include "engines/lib/persistent_data/block_manager.hpp"
#include "engines/lib/persistent_data/space_map.hpp"

namespace engines::pd {

class DmTransactionManager {
 public:
  // dm_tm_create_with_sm: a fresh metadata space map over the whole device (or its first
  // `nr_blocks` blocks when non-zero, for tests of extension); the superblock is counted.
  static int create_with_sm(DmBlockManager* bm, uint64_t sb_location, std::unique_ptr<DmTransactionManager>* tm,
                            uint64_t nr_blocks = 0);
  // dm_tm_open_with_sm: the space map is read from the root the client saved.
  static int open_with_sm(DmBlockManager* bm, uint64_t sb_location, const uint8_t* sm_root,
                          std::unique_ptr<DmTransactionManager>* tm);

  DmBlockManager* bm() { return bm_; }
  DmSpaceMap* sm() { return sm_.get(); }

  int new_block(const DmBlockValidator* v, DmBlock** result);
  // Copy-on-write: a block of the committed state (or a shared one) is copied to a new block;
  // `inc_children` says the caller must add references for what the copy points to.
  int shadow_block(uint64_t orig, const DmBlockValidator* v, DmBlock** result, int* inc_children);
  int read_lock(uint64_t b, const DmBlockValidator* v, DmBlock** result) { return bm_->read_lock(b, v, result); }
  void unlock(DmBlock* b) { bm_->unlock(b); }
  void inc(uint64_t b) { sm_->inc_block(b); }
  void dec(uint64_t b) { sm_->dec_block(b); }
  uint32_t ref(uint64_t b) { return sm_->get_count(b); }
  bool is_shadow(uint64_t b) const { return shadows_.count(b); }

  int pre_commit();
  int commit(DmBlock* superblock);
  // Test mutation: pre_commit does not write and flush the dirty blocks, so the superblock
  // goes out with them under one flush. Exists to prove the crash checks can fail.
  void set_unsafe_commit_for_tests(bool on) { unsafe_commit_ = on; }

 private:
  // dm_tm_create: the space map is given its transaction manager afterwards (the two are built
  // in two phases, each needing the other).
  DmTransactionManager(DmBlockManager* bm, std::unique_ptr<DmSpaceMap> sm) : bm_(bm), sm_(std::move(sm)) {}
  DmBlockManager* bm_;
  std::unique_ptr<DmSpaceMap> sm_;
  std::set<uint64_t> shadows_;  // allocated or shadowed in this transaction
  bool unsafe_commit_ = false;
};

}  // namespace engines::pd
