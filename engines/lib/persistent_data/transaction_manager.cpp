#include "engines/lib/persistent_data/transaction_manager.hpp"

#include <cstring>

#include "engines/lib/persistent_data/space_map_metadata.hpp"

namespace engines::pd {

int DmTransactionManager::create_with_sm(DmBlockManager* bm, uint64_t sb_location,
                                         std::unique_ptr<DmTransactionManager>* tm, uint64_t nr_blocks) {
  auto owned = std::make_unique<MetadataSpaceMap>();
  MetadataSpaceMap* sm = owned.get();
  std::unique_ptr<DmTransactionManager> t(new DmTransactionManager(bm, std::move(owned)));
  const int r = sm->create(t.get(), nr_blocks ? nr_blocks : bm->nr_blocks(), sb_location);
  if (r) return r;
  *tm = std::move(t);
  return 0;
}

int DmTransactionManager::open_with_sm(DmBlockManager* bm, uint64_t sb_location, const uint8_t* sm_root,
                                       std::unique_ptr<DmTransactionManager>* tm) {
  (void)sb_location;
  auto owned = std::make_unique<MetadataSpaceMap>();
  MetadataSpaceMap* sm = owned.get();
  std::unique_ptr<DmTransactionManager> t(new DmTransactionManager(bm, std::move(owned)));
  const int r = sm->open(t.get(), sm_root);
  if (r) return r;
  *tm = std::move(t);
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
  int r = sm_->count_is_more_than_one(orig, inc_children);
  if (r) return r;
  if (shadows_.count(orig) && !*inc_children) return bm_->write_lock(orig, v, result);
  uint64_t b;
  r = sm_->new_block(&b);
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
