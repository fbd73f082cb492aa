#include "engines/lib/persistent_data/space_map.hpp"

#include "engines/lib/persistent_data/codec.hpp"
#include "sim/assert.hpp"

namespace engines::pd {

namespace {
namespace root_layout = sm_root_layout;
namespace index_layout = sm_index_layout;
namespace counts_layout = sm_counts_layout;
constexpr size_t kIndexEntries = index_layout::kMaxEntries;
constexpr size_t kCountsPerBlock = counts_layout::kMaxEntries;

const DmBlockValidator kIndexValidator{"sm_index", index_layout::kFormat};
const DmBlockValidator kCountValidator{"sm_counts", counts_layout::kFormat};

void log_err(const std::string& msg) {
  pd_log("device-mapper: space map common: " + msg);
}
}  // namespace

uint64_t DmSpaceMap::allocated() const {
  // One count per block of the map.
  DMSIM_ASSERT(counts_.size() == nr_blocks_, "space map: counts and nr_blocks disagree");
  uint64_t n = 0;
  for (uint64_t b = 0; b < nr_blocks_; b++) n += counts_[b] != 0;
  return n;
}

uint64_t DmSpaceMap::nr_free() const {
  uint64_t old_alloc = 0;
  for (uint64_t b = 0; b < old_nr_blocks_ && b < old_counts_.size(); b++) old_alloc += old_counts_[b] != 0;
  const uint64_t base = old_nr_blocks_ - old_alloc;
  return base > allocated_this_transaction_ ? base - allocated_this_transaction_ : 0;
}

void DmSpaceMap::init(uint64_t nr_blocks) {
  nr_blocks_ = old_nr_blocks_ = nr_blocks;
  counts_.assign(nr_blocks, 0);
  old_counts_ = counts_;
  begin_ = 0;
  allocated_this_transaction_ = 0;
}

int DmSpaceMap::set_count(uint64_t b, uint32_t count) {
  if (b >= nr_blocks_) return -EINVAL;
  counts_[b] = count;
  return 0;
}

int DmSpaceMap::inc_block(uint64_t b) {
  if (b >= nr_blocks_) {
    log_err("unable to increment block " + std::to_string(b) + ": beyond the space map");
    return -EINVAL;
  }
  counts_[b]++;
  return 0;
}

// A count never goes below zero: decrementing a free block is refused (the metadata is corrupt).
int DmSpaceMap::dec_block(uint64_t b) {
  if (b >= nr_blocks_ || counts_[b] == 0) {
    log_err("unable to decrement block " + std::to_string(b));
    return -EINVAL;
  }
  counts_[b]--;
  return 0;
}

int DmSpaceMap::new_block(uint64_t* result) {
  DMSIM_ASSERT(counts_.size() == nr_blocks_, "space map: counts and nr_blocks disagree");
  // Free now and in the committed state: committed blocks stay intact until the next commit.
  auto free_in_both = [this](uint64_t b) { return counts_[b] == 0 && (b >= old_nr_blocks_ || old_counts_[b] == 0); };
  for (uint64_t pass = 0; pass < 2; pass++) {
    const uint64_t from = pass == 0 ? begin_ : 0, to = pass == 0 ? nr_blocks_ : begin_;
    for (uint64_t b = from; b < to; b++) {
      if (!free_in_both(b)) continue;
      counts_[b] = 1;
      begin_ = b + 1;
      allocated_this_transaction_++;
      *result = b;
      return 0;
    }
  }
  return -ENOSPC;
}

int DmSpaceMap::extend(uint64_t extra) {
  nr_blocks_ += extra;
  counts_.resize(nr_blocks_, 0);
  return 0;
}

int DmSpaceMap::commit() {
  KFRAME_NAMED("sm_commit");
  const size_t n_counts = (nr_blocks_ + kCountsPerBlock - 1) / kCountsPerBlock;
  if (n_counts > kIndexEntries) {
    log_err("space map of " + std::to_string(nr_blocks_) + " blocks does not fit one index block");
    return -ENOSPC;
  }
  // Free the previous copy (still protected by the committed counts), then write a new one.
  for (uint64_t b : storage_) free_storage(b);
  std::vector<uint64_t> fresh(n_counts + 1);
  for (auto& b : fresh) {
    const int r = alloc_storage(&b);
    if (r) return r;
  }
  for (size_t i = 0; i < n_counts; i++) {
    DmBlock* blk;
    int r = bm_->write_lock_zero(fresh[i + 1], &kCountValidator, &blk);
    if (r) return r;
    uint8_t* d = dm_block_data(blk);
    const uint64_t first = i * kCountsPerBlock;
    const uint32_t nr = static_cast<uint32_t>(std::min<uint64_t>(kCountsPerBlock, nr_blocks_ - first));
    counts_layout::first_block.put(d, first);
    counts_layout::nr_entries.put(d, nr);
    for (uint32_t k = 0; k < nr; k++) counts_layout::counts.put(d, k, counts_[first + k]);
    bm_->unlock(blk);
  }
  DmBlock* idx;
  int r = bm_->write_lock_zero(fresh[0], &kIndexValidator, &idx);
  if (r) return r;
  uint8_t* d = dm_block_data(idx);
  index_layout::nr_entries.put(d, static_cast<uint32_t>(n_counts));
  for (size_t i = 0; i < n_counts; i++) index_layout::count_blocks.put(d, i, fresh[i + 1]);
  bm_->unlock(idx);
  index_block_ = fresh[0];
  storage_ = fresh;
  old_counts_ = counts_;
  old_nr_blocks_ = nr_blocks_;
  allocated_this_transaction_ = 0;
  return 0;
}

void DmSpaceMap::copy_root(uint8_t* out) const {
  root_layout::magic.put(out, root_layout::kMagic);
  root_layout::reserved.put(out, 0);
  root_layout::nr_blocks.put(out, nr_blocks_);
  root_layout::nr_allocated.put(out, allocated());
  root_layout::index_block.put(out, index_block_);
}

int DmSpaceMap::load(const uint8_t* root) {
  if (root_layout::magic.get(root) != root_layout::kMagic) {
    log_err("bad space map root");
    return -EILSEQ;
  }
  const uint64_t nr = root_layout::nr_blocks.get(root);
  index_block_ = root_layout::index_block.get(root);
  if (nr == 0 || nr > kIndexEntries * kCountsPerBlock || (metadata_ && nr > bm_->nr_blocks())) {
    log_err("space map root claims " + std::to_string(nr) + " blocks");
    return -EILSEQ;
  }
  init(nr);
  DmBlock* idx;
  int r = bm_->read_lock(index_block_, &kIndexValidator, &idx);
  if (r) return r;
  const uint8_t* d = dm_block_data(idx);
  const uint32_t n_counts = index_layout::nr_entries.get(d);
  std::vector<uint64_t> blocks;
  if (n_counts != (nr + kCountsPerBlock - 1) / kCountsPerBlock) {
    bm_->unlock(idx);
    log_err("space map index of block " + std::to_string(index_block_) + " lists " + std::to_string(n_counts) +
            " count blocks for " + std::to_string(nr) + " blocks");
    return -EILSEQ;
  }
  for (uint32_t i = 0; i < n_counts; i++) blocks.push_back(index_layout::count_blocks.get(d, i));
  bm_->unlock(idx);
  for (uint32_t i = 0; i < n_counts; i++) {
    DmBlock* cb;
    r = bm_->read_lock(blocks[i], &kCountValidator, &cb);
    if (r) return r;
    const uint8_t* c = dm_block_data(cb);
    const uint64_t first = counts_layout::first_block.get(c);
    const uint32_t n = counts_layout::nr_entries.get(c);
    if (first != i * kCountsPerBlock || n > kCountsPerBlock || first + n > nr) {
      bm_->unlock(cb);
      log_err("space map count block " + std::to_string(blocks[i]) + " is inconsistent");
      return -EILSEQ;
    }
    for (uint32_t k = 0; k < n; k++) counts_[first + k] = counts_layout::counts.get(c, k);
    bm_->unlock(cb);
  }
  old_counts_ = counts_;
  storage_ = {index_block_};
  storage_.insert(storage_.end(), blocks.begin(), blocks.end());
  return 0;
}

int MetadataSpaceMap::create(uint64_t nr_blocks, uint64_t reserved_below) {
  init(std::min<uint64_t>(nr_blocks, kIndexEntries * kCountsPerBlock));
  for (uint64_t b = 0; b < reserved_below && b < nr_blocks_; b++) counts_[b] = 1;
  old_counts_ = counts_;
  return 0;
}

int MetadataSpaceMap::open(const uint8_t* root) {
  return load(root);
}

int DiskSpaceMap::create(uint64_t nr_blocks) {
  init(nr_blocks);
  return 0;
}

int DiskSpaceMap::open(const uint8_t* root) {
  return load(root);
}

}  // namespace engines::pd
