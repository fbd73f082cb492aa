#include "engines/lib/persistent_data/transaction_manager.hpp"

#include <cstring>

namespace engines::pd {

int DmTransactionManager::create_with_sm(DmBlockManager* bm, uint64_t sb_location,
                                         std::unique_ptr<DmTransactionManager>* tm) {
  auto sm = std::make_unique<MetadataSpaceMap>(bm);
  const int r = sm->create(bm->nr_blocks(), sb_location + 1);
  if (r) return r;
  tm->reset(new DmTransactionManager(bm, std::move(sm)));
  return 0;
}

int DmTransactionManager::open_with_sm(DmBlockManager* bm, uint64_t sb_location, const uint8_t* sm_root,
                                       std::unique_ptr<DmTransactionManager>* tm) {
  (void)sb_location;
  auto sm = std::make_unique<MetadataSpaceMap>(bm);
  const int r = sm->open(sm_root);
  if (r) return r;
  tm->reset(new DmTransactionManager(bm, std::move(sm)));
  return 0;
}

int DmTransactionManager::new_block(const DmBlockValidator* v, DmBlock** result) {
  uint64_t b;
  int r = sm_->new_block(&b);
  if (r) return r;
  r = bm_->write_lock_zero(b, v, result);
  if (r) {
    sm_->dec_block(b);
    return r;
  }
  shadows_.insert(b);
  return 0;
}

int DmTransactionManager::shadow_block(uint64_t orig, const DmBlockValidator* v, DmBlock** result, int* inc_children) {
  KFRAME_NAMED("dm_tm_shadow_block");
  *inc_children = sm_->count_is_more_than_one(orig);
  if (shadows_.count(orig) && !*inc_children) return bm_->write_lock(orig, v, result);
  uint64_t b;
  int r = sm_->new_block(&b);
  if (r) return r;
  r = sm_->dec_block(orig);
  if (r) return r;
  DmBlock* old;
  r = bm_->read_lock(orig, v, &old);
  if (r) return r;
  r = bm_->write_lock_zero(b, v, result);
  if (r) {
    bm_->unlock(old);
    return r;
  }
  std::memcpy(dm_block_data(*result), dm_block_data(old), bm_->block_size());
  bm_->unlock(old);
  shadows_.insert(b);
  return 0;
}

int DmTransactionManager::pre_commit() {
  KFRAME_NAMED("dm_tm_pre_commit");
  int r = sm_->commit();
  if (r) return r;
  if (unsafe_commit_) return 0;
  return bm_->flush();
}

int DmTransactionManager::commit(DmBlock* superblock) {
  KFRAME_NAMED("dm_tm_commit");
  shadows_.clear();
  bm_->unlock(superblock);
  return bm_->flush();
}

}  // namespace engines::pd
