// The disk space map (dm-space-map-disk.c): counts the blocks of another device (thin's data
// device) in metadata blocks, with the format of space_map_common.hpp and the index in a btree.
// Its metadata blocks come from the transaction manager's metadata space map.
//
// Allocation mirrors the 6.x kernels as the metadata map does: free in the current and the
// committed state, from a cursor that starts at 0, is not reset at commit, and wraps around. The
// knob pdata.sm_alloc_ignores_previous_transaction brings back the pre-4feaef830de7 allocator.
#pragma once

#include <functional>

#include "engines/lib/persistent_data/pdata_variant.hpp"
#include "engines/lib/persistent_data/space_map.hpp"
#include "engines/lib/persistent_data/space_map_common.hpp"

namespace engines::pd {

class DiskSpaceMap final : public DmSpaceMap {
 public:
  explicit DiskSpaceMap(DmTransactionManager* tm) : tm_(tm) {}
  // dm_sm_disk_create: every block free.
  int create(uint64_t nr_blocks);
  // dm_sm_disk_open, from the root a client saved.
  int open(const uint8_t* root);

  int extend(uint64_t extra_blocks) override;
  // The committed size, as sm_disk_get_nr_blocks reports it.
  uint64_t nr_blocks() const override { return old_ll_.nr_blocks; }
  uint64_t nr_free() const override;
  using DmSpaceMap::get_count;
  int get_count(uint64_t b, uint32_t* result) override;
  int count_is_more_than_one(uint64_t b, int* result) override;
  int set_count(uint64_t b, uint32_t count) override;
  int inc_block(uint64_t b) override;
  int dec_block(uint64_t b) override;
  int new_block(uint64_t* b) override;
  int commit() override;
  void copy_root(uint8_t* out) const override;
  uint64_t allocated() const override { return ll_.nr_allocated; }
  int storage_blocks(std::vector<uint64_t>* out) override;

  // dmsim instrumentation: told, in order, of each block new_block hands out (kAlloc) and each
  // whose count falls to zero (kFree): a client's record of what each transaction allocated and
  // freed. It changes nothing.
  std::function<void(AllocationEvent, uint64_t b)> on_event;

 private:
  // Counts this transaction's allocations net of its frees; tells on_event.
  void account(int r, AllocationEvent ev, uint64_t b, bool new_block = false);
  // sm_disk_new_block before 4feaef830de7: free in the committed map, from the cursor, no wrap;
  // BUG_ON(ev != SM_ALLOC) when the block already had a count in this transaction.
  int new_block_committed_only(uint64_t* b);

  DmTransactionManager* tm_;
  LlDisk ll_, old_ll_;
  uint64_t begin_ = 0;
  int64_t nr_allocated_this_transaction_ = 0;
  pdata_variant variant_;
};

}  // namespace engines::pd
