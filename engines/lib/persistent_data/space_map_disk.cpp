#include "engines/lib/persistent_data/space_map_disk.hpp"

#include "sim/thread.hpp"

namespace engines::pd {

void DiskSpaceMap::account(int r, AllocationEvent ev, uint64_t b, bool new_block) {
  if (r) return;
  if (on_event && (ev == AllocationEvent::kFree || (ev == AllocationEvent::kAlloc && new_block))) on_event(ev, b);
  if (ev == AllocationEvent::kAlloc) nr_allocated_this_transaction_++;
  if (ev == AllocationEvent::kFree) nr_allocated_this_transaction_--;
}

int DiskSpaceMap::extend(uint64_t extra_blocks) {
  return sm_ll_extend(&ll_, extra_blocks);
}

uint64_t DiskSpaceMap::nr_free() const {
  return old_ll_.nr_blocks - old_ll_.nr_allocated - static_cast<uint64_t>(nr_allocated_this_transaction_);
}

int DiskSpaceMap::get_count(uint64_t b, uint32_t* result) {
  return sm_ll_lookup(&ll_, b, result);
}

int DiskSpaceMap::count_is_more_than_one(uint64_t b, int* result) {
  uint32_t count;
  const int r = get_count(b, &count);
  if (!r) *result = count > 1;
  return r;
}

int DiskSpaceMap::set_count(uint64_t b, uint32_t count) {
  AllocationEvent ev;
  const int r = sm_ll_insert(&ll_, b, count, &ev);
  account(r, ev, b);
  return r;
}

int DiskSpaceMap::inc_block(uint64_t b) {
  AllocationEvent ev;
  const int r = sm_ll_inc(&ll_, b, &ev);
  account(r, ev, b);
  return r;
}

int DiskSpaceMap::dec_block(uint64_t b) {
  AllocationEvent ev;
  const int r = sm_ll_dec(&ll_, b, &ev);
  account(r, ev, b);
  return r;
}

int DiskSpaceMap::new_block(uint64_t* b) {
  KFRAME_NAMED("sm_disk_new_block");
  if (variant_.sm_alloc_ignores_previous_transaction) return new_block_committed_only(b);
  int r = sm_ll_find_common_free_block(&old_ll_, &ll_, begin_, ll_.nr_blocks, b);
  // Nothing free up to the end of the device: something before the cursor may have been freed.
  if (r == -ENOSPC) r = sm_ll_find_common_free_block(&old_ll_, &ll_, 0, begin_, b);
  if (r) return r;
  begin_ = *b + 1;
  AllocationEvent ev;
  r = sm_ll_inc(&ll_, *b, &ev);
  account(r, ev, *b, true);
  return r;
}

int DiskSpaceMap::new_block_committed_only(uint64_t* b) {
  int r = sm_ll_find_free_block(&old_ll_, begin_, old_ll_.nr_blocks, b);
  if (r) return r;
  begin_ = *b + 1;
  AllocationEvent ev;
  r = sm_ll_inc(&ll_, *b, &ev);
  if (!r && ev != AllocationEvent::kAlloc)
    sim::bug("kernel BUG at drivers/md/persistent-data/dm-space-map-disk.c:178! (sm_disk_new_block: block " +
             std::to_string(*b) + " already in use in this transaction)");
  account(r, ev, *b, true);
  return r;
}

int DiskSpaceMap::commit() {
  const int r = sm_ll_commit(&ll_);
  if (r) return r;
  old_ll_ = ll_;
  if (variant_.sm_alloc_ignores_previous_transaction) begin_ = 0;
  nr_allocated_this_transaction_ = 0;
  return 0;
}

void DiskSpaceMap::copy_root(uint8_t* out) const {
  sm_ll_copy_root(ll_, out);
}

int DiskSpaceMap::storage_blocks(std::vector<uint64_t>* out) {
  return sm_ll_storage_blocks(&ll_, out);
}

int DiskSpaceMap::create(uint64_t nr_blocks) {
  variant_ = pdata_variant::from_knobs();
  begin_ = 0;
  nr_allocated_this_transaction_ = 0;
  int r = sm_ll_new_disk(&ll_, tm_);
  if (!r) r = sm_ll_extend(&ll_, nr_blocks);
  if (!r) r = commit();
  return r;
}

int DiskSpaceMap::open(const uint8_t* root) {
  variant_ = pdata_variant::from_knobs();
  begin_ = 0;
  nr_allocated_this_transaction_ = 0;
  const int r = sm_ll_open_disk(&ll_, tm_, root);
  return r ? r : commit();
}

}  // namespace engines::pd
