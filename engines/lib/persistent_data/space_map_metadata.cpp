#include "engines/lib/persistent_data/space_map_metadata.hpp"

#include "sim/assert.hpp"

namespace engines::pd {

namespace {
void log_err(const std::string& msg) {
  pd_log("device-mapper: space map metadata: " + msg);
}
}  // namespace

// ---- block ops and the recursion counter ----

int MetadataSpaceMap::add_bop(BopType type, uint64_t b, uint64_t e) {
  if (uncommitted_.size() >= kMaxRecursiveAllocations) {
    log_err("too many recursive allocations");
    return -ENOMEM;
  }
  uncommitted_.push_back(BlockOp{type, b, e});
  return 0;
}

// Applies the queued ops in order; the changes they make may queue more, which the same loop
// drains. An op leaves the queue block by block, so that a count asked for meanwhile is counted
// once, from the bitmap or from the queue.
int MetadataSpaceMap::apply_bops() {
  while (!uncommitted_.empty()) {
    const BlockOp op = uncommitted_.front();
    if (op.b == op.e) {
      uncommitted_.pop_front();
      continue;
    }
    AllocationEvent ev;
    const int r = op.type == BopType::kInc ? sm_ll_inc(&ll_, op.b, &ev) : sm_ll_dec(&ll_, op.b, &ev);
    if (r) return r;  // the op stays queued, as the kernel leaves it in its ring
    // References into a deque survive push_back, so the front is still this op.
    uncommitted_.front().b++;
  }
  return 0;
}

int MetadataSpaceMap::out() {
  DMSIM_ASSERT(recursion_count_ > 0, "space map metadata: lost track of recursion depth");
  int r = 0;
  if (recursion_count_ == 1) r = apply_bops();
  recursion_count_--;
  return r;
}

int32_t MetadataSpaceMap::pending_adjustment(uint64_t b) const {
  int32_t adjustment = 0;
  for (const BlockOp& op : uncommitted_)
    if (b >= op.b && b < op.e) adjustment += op.type == BopType::kInc ? 1 : -1;
  return adjustment;
}

// ---- the space map ----

uint64_t MetadataSpaceMap::nr_blocks() const {
  return ll_.nr_blocks;
}

uint64_t MetadataSpaceMap::nr_free() const {
  if (bootstrap_) return ll_.nr_blocks - begin_;
  return old_ll_.nr_blocks - old_ll_.nr_allocated - allocated_this_transaction_;
}

int MetadataSpaceMap::get_count(uint64_t b, uint32_t* result) {
  if (bootstrap_) {
    *result = b < begin_ ? 1 : 0;
    return 0;
  }
  const int r = sm_ll_lookup(&ll_, b, result);
  if (r) return r;
  *result += static_cast<uint32_t>(pending_adjustment(b));
  return 0;
}

// Errs towards "shared": a count in the ref-count tree is not looked up.
int MetadataSpaceMap::count_is_more_than_one(uint64_t b, int* result) {
  if (bootstrap_) {
    *result = 0;
    return 0;
  }
  const int32_t adjustment = pending_adjustment(b);
  if (adjustment > 1) {
    *result = 1;
    return 0;
  }
  uint32_t rc;
  const int r = sm_ll_lookup_bitmap(&ll_, b, &rc);
  if (r) return r;
  *result = rc == 3 ? 1 : static_cast<int32_t>(rc) + adjustment > 1;
  return 0;
}

int MetadataSpaceMap::set_count(uint64_t b, uint32_t count) {
  if (bootstrap_) {
    log_err("bootstrap doesn't support set_count");
    return -EINVAL;
  }
  if (recursing()) {
    log_err("cannot recurse set_count()");
    return -EINVAL;
  }
  AllocationEvent ev;
  in();
  const int r = sm_ll_insert(&ll_, b, count, &ev);
  const int r2 = out();
  return r ? r : r2;
}

int MetadataSpaceMap::inc_block(uint64_t b) {
  if (bootstrap_ || recursing()) return add_bop(BopType::kInc, b, b + 1);
  AllocationEvent ev;
  in();
  const int r = sm_ll_inc(&ll_, b, &ev);
  const int r2 = out();
  return r ? r : r2;
}

int MetadataSpaceMap::dec_block(uint64_t b) {
  if (bootstrap_ || recursing()) return add_bop(BopType::kDec, b, b + 1);
  AllocationEvent ev;
  in();
  const int r = sm_ll_dec(&ll_, b, &ev);
  const int r2 = out();
  return r ? r : r2;
}

// sm_metadata_new_block_.
int MetadataSpaceMap::new_block_(uint64_t* b) {
  int r;
  if (variant_.sm_alloc_ignores_previous_transaction) {
    // Before 4feaef830de7: free in the committed map, from the cursor, no wrap, no check of this
    // transaction's counts (and no BUG_ON here: a reused block is silently shared).
    r = sm_ll_find_free_block(&old_ll_, begin_, old_ll_.nr_blocks, b);
  } else {
    r = sm_ll_find_common_free_block(&old_ll_, &ll_, begin_, ll_.nr_blocks, b);
    // Nothing free up to the end of the device: something before the cursor may have been freed.
    if (r == -ENOSPC) r = sm_ll_find_common_free_block(&old_ll_, &ll_, 0, begin_, b);
  }
  if (r) return r;
  begin_ = *b + 1;
  int r2 = 0;
  if (recursing()) {
    r = add_bop(BopType::kInc, *b, *b + 1);
  } else {
    AllocationEvent ev;
    in();
    r = sm_ll_inc(&ll_, *b, &ev);
    r2 = out();
  }
  if (!r) allocated_this_transaction_++;
  return r ? r : r2;
}

int MetadataSpaceMap::new_block(uint64_t* b) {
  if (bootstrap_) {
    // The bootstrap allocator: the whole area from begin_ on is known to be unused.
    if (begin_ == ll_.nr_blocks) return -ENOSPC;
    *b = begin_++;
    return 0;
  }
  const int r = new_block_(b);
  if (r) log_err("unable to allocate new metadata block");
  return r;
}

int MetadataSpaceMap::commit() {
  if (bootstrap_) return 0;
  const int r = sm_ll_commit(&ll_);
  if (r) return r;
  old_ll_ = ll_;
  if (variant_.sm_alloc_ignores_previous_transaction) begin_ = 0;
  allocated_this_transaction_ = 0;
  return 0;
}

void MetadataSpaceMap::copy_root(uint8_t* out) const {
  DMSIM_ASSERT(!bootstrap_, "space map metadata: bootstrap doesn't support copy_root");
  sm_ll_copy_root(ll_, out);
}

int MetadataSpaceMap::storage_blocks(std::vector<uint64_t>* out) {
  return sm_ll_storage_blocks(&ll_, out);
}

// New bitmaps come from the new area, through the bootstrap allocator; counting them may shadow
// more blocks (the index, a bitmap of the old area), so count and write the index again until
// nothing new was allocated.
int MetadataSpaceMap::extend(uint64_t extra_blocks) {
  if (bootstrap_) {
    log_err("bootstrap doesn't support extend");
    return -EINVAL;
  }
  uint64_t old_len = ll_.nr_blocks;
  begin_ = old_len;
  bootstrap_ = true;
  int r = sm_ll_extend(&ll_, extra_blocks);
  while (!r) {
    r = add_bop(BopType::kInc, old_len, begin_);
    if (r) break;
    old_len = begin_;
    r = apply_bops();
    if (r) {
      log_err("sm_metadata_extend: apply_bops failed");
      break;
    }
    r = sm_ll_commit(&ll_);
    if (r || old_len == begin_) break;
  }
  bootstrap_ = false;
  return r;
}

int MetadataSpaceMap::create(DmTransactionManager* tm, uint64_t nr_blocks, uint64_t superblock) {
  variant_ = pdata_variant::from_knobs();
  begin_ = superblock + 1;
  recursion_count_ = 0;
  allocated_this_transaction_ = 0;
  uncommitted_.clear();
  bootstrap_ = true;
  int r = sm_ll_new_metadata(&ll_, tm);
  if (!r) r = sm_ll_extend(&ll_, std::min(nr_blocks, kSmMetadataMaxBlocks));
  bootstrap_ = false;
  if (r) return r;
  // The structures just built count the blocks they were built from, the superblock included.
  r = add_bop(BopType::kInc, superblock, begin_);
  if (r) return r;
  r = apply_bops();
  if (r) {
    log_err("dm_sm_metadata_create: apply_bops failed");
    return r;
  }
  return commit();
}

int MetadataSpaceMap::open(DmTransactionManager* tm, const uint8_t* root) {
  variant_ = pdata_variant::from_knobs();
  const int r = sm_ll_open_metadata(&ll_, tm, root);
  if (r) return r;
  begin_ = 0;
  recursion_count_ = 0;
  allocated_this_transaction_ = 0;
  uncommitted_.clear();
  old_ll_ = ll_;
  return 0;
}

}  // namespace engines::pd
