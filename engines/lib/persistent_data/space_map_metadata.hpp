// The metadata space map (dm-space-map-metadata.c): counts the metadata device's blocks, its own
// included, in the format of space_map_common.hpp. Changing a count may shadow a bitmap or change
// the ref-count tree, which allocates and frees metadata blocks through this same map: those
// nested calls are queued as block ops while a change is in progress (the recursion counter) and
// applied when the outermost call leaves. A fresh map is built by a bootstrap allocator that hands
// out blocks from just after the superblock, so a fresh device holds: the superblock, the index
// block, the ref-count tree root, then one bitmap per 16320 blocks.
//
// Allocation (this mirrors the 6.x kernels): a block free in the current and the committed state,
// searched from a cursor `begin` that starts at 0 when the map is opened (just past the bootstrap
// blocks when it is created), moves past each allocation, is not reset at commit, and wraps
// around to search [0, begin) when the end of the device is reached. The knob
// pdata.sm_alloc_ignores_previous_transaction brings back the pre-4feaef830de7 allocator.
#pragma once

#include <deque>

#include "engines/lib/persistent_data/pdata_variant.hpp"
#include "engines/lib/persistent_data/space_map.hpp"
#include "engines/lib/persistent_data/space_map_common.hpp"

namespace engines::pd {

class MetadataSpaceMap final : public DmSpaceMap {
 public:
  // MAX_RECURSIVE_ALLOCATIONS: queued block ops beyond this fail with -ENOMEM.
  static constexpr size_t kMaxRecursiveAllocations = 1024;

  MetadataSpaceMap() = default;  // dm_sm_metadata_init; then create or open, given the tm
  // dm_sm_metadata_create: covers min(nr_blocks, DM_SM_METADATA_MAX_BLOCKS) blocks, blocks
  // [superblock, first free) counted once.
  int create(DmTransactionManager* tm, uint64_t nr_blocks, uint64_t superblock);
  // dm_sm_metadata_open, from the root a client saved.
  int open(DmTransactionManager* tm, const uint8_t* root);

  int extend(uint64_t extra_blocks) override;
  uint64_t nr_blocks() const override;
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

  // For tests: the block ops waiting to be applied, and the recursion depth.
  size_t pending_ops() const { return uncommitted_.size(); }
  unsigned recursion_count() const { return recursion_count_; }

 private:
  enum class BopType { kInc, kDec };
  // Blocks [b, e), to be incremented or decremented once each.
  struct BlockOp {
    BopType type;
    uint64_t b, e;
  };

  int add_bop(BopType type, uint64_t b, uint64_t e);
  int apply_bops();
  void in() { recursion_count_++; }
  int out();
  bool recursing() const { return recursion_count_ > 0; }
  // The net of the queued ops on `b`.
  int32_t pending_adjustment(uint64_t b) const;
  int new_block_(uint64_t* b);

  LlDisk ll_, old_ll_;
  uint64_t begin_ = 0;
  unsigned recursion_count_ = 0;
  uint64_t allocated_this_transaction_ = 0;
  std::deque<BlockOp> uncommitted_;
  // The bootstrap allocator's mode (creation and extension): blocks come from begin_++ and every
  // count change is queued.
  bool bootstrap_ = false;
  pdata_variant variant_;
};

}  // namespace engines::pd
