#include "engines/lib/persistent_data/space_map.hpp"

#include "engines/lib/persistent_data/codec.hpp"

namespace engines::pd {

namespace {
constexpr uint32_t kRootMagic = 0x31524d53;  // "SMR1"
constexpr size_t kIndexEntries = (4096 - 32) / 8;
constexpr size_t kCountsPerBlock = (4096 - 40) / 4;

const DmBlockValidator kIndexValidator{"sm_index", 0x58494d53 /* SMIX */, 160478, 1};
const DmBlockValidator kCountValidator{"sm_counts", 0x54434d53 /* SMCT */, 240779, 1};

void log_err(const std::string& msg) {
  pd_log("device-mapper: space map common: " + msg);
}
}  // namespace

uint64_t DmSpaceMap::allocated() const {
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

int DmSpaceMap::dec_block(uint64_t b) {
  if (b >= nr_blocks_ || counts_[b] == 0) {
    log_err("unable to decrement block " + std::to_string(b));
    return -EINVAL;
  }
  counts_[b]--;
  return 0;
}

int DmSpaceMap::new_block(uint64_t* result) {
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
    put_le64(d + 24, first);
    put_le32(d + 32, nr);
    for (uint32_t k = 0; k < nr; k++) put_le32(d + 40 + 4 * k, counts_[first + k]);
    bm_->unlock(blk);
  }
  DmBlock* idx;
  int r = bm_->write_lock_zero(fresh[0], &kIndexValidator, &idx);
  if (r) return r;
  uint8_t* d = dm_block_data(idx);
  put_le32(d + 24, static_cast<uint32_t>(n_counts));
  for (size_t i = 0; i < n_counts; i++) put_le64(d + 32 + 8 * i, fresh[i + 1]);
  bm_->unlock(idx);
  index_block_ = fresh[0];
  storage_ = fresh;
  old_counts_ = counts_;
  old_nr_blocks_ = nr_blocks_;
  allocated_this_transaction_ = 0;
  return 0;
}

void DmSpaceMap::copy_root(uint8_t* out) const {
  put_le32(out, kRootMagic);
  put_le32(out + 4, 0);
  put_le64(out + 8, nr_blocks_);
  put_le64(out + 16, allocated());
  put_le64(out + 24, index_block_);
}

int DmSpaceMap::load(const uint8_t* root) {
  if (get_le32(root) != kRootMagic) {
    log_err("bad space map root");
    return -EILSEQ;
  }
  const uint64_t nr = get_le64(root + 8);
  index_block_ = get_le64(root + 24);
  if (nr == 0 || nr > kIndexEntries * kCountsPerBlock || (metadata_ && nr > bm_->nr_blocks())) {
    log_err("space map root claims " + std::to_string(nr) + " blocks");
    return -EILSEQ;
  }
  init(nr);
  DmBlock* idx;
  int r = bm_->read_lock(index_block_, &kIndexValidator, &idx);
  if (r) return r;
  const uint8_t* d = dm_block_data(idx);
  const uint32_t n_counts = get_le32(d + 24);
  std::vector<uint64_t> blocks;
  if (n_counts != (nr + kCountsPerBlock - 1) / kCountsPerBlock) {
    bm_->unlock(idx);
    log_err("space map index of block " + std::to_string(index_block_) + " lists " + std::to_string(n_counts) +
            " count blocks for " + std::to_string(nr) + " blocks");
    return -EILSEQ;
  }
  for (uint32_t i = 0; i < n_counts; i++) blocks.push_back(get_le64(d + 32 + 8 * i));
  bm_->unlock(idx);
  for (uint32_t i = 0; i < n_counts; i++) {
    DmBlock* cb;
    r = bm_->read_lock(blocks[i], &kCountValidator, &cb);
    if (r) return r;
    const uint8_t* c = dm_block_data(cb);
    const uint64_t first = get_le64(c + 24);
    const uint32_t n = get_le32(c + 32);
    if (first != i * kCountsPerBlock || n > kCountsPerBlock || first + n > nr) {
      bm_->unlock(cb);
      log_err("space map count block " + std::to_string(blocks[i]) + " is inconsistent");
      return -EILSEQ;
    }
    for (uint32_t k = 0; k < n; k++) counts_[first + k] = get_le32(c + 40 + 4 * k);
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
