// Space maps: a reference count per block (dm-space-map-*.c). Allocation returns a block that
// is free both now and in the last committed transaction, searching from a cursor that starts
// at 0 when a map is opened; so a block freed in this transaction is not reused before the
// commit, and two instances opened from the same committed state hand out the same blocks.
//
// Persistence (dmsim's own encoding, space_map_layout.hpp): a space-map root of 32 bytes that the
// client keeps in its superblock, an index block listing the count blocks, and count blocks.
// Each commit writes a fresh set of blocks and frees the previous set, so the committed map is
// never overwritten before the next superblock.
#pragma once

#include <cstdint>
#include <vector>

#include "engines/lib/persistent_data/block_manager.hpp"
#include "engines/lib/persistent_data/space_map_layout.hpp"

namespace engines::pd {

class DmSpaceMap {
 public:
  explicit DmSpaceMap(DmBlockManager* bm) : bm_(bm) {}
  virtual ~DmSpaceMap() = default;

  uint64_t nr_blocks() const { return nr_blocks_; }
  // Free blocks as the kernel reports them: committed free minus this transaction's allocations.
  uint64_t nr_free() const;
  uint32_t get_count(uint64_t b) const { return b < counts_.size() ? counts_[b] : 0; }
  bool count_is_more_than_one(uint64_t b) const { return get_count(b) > 1; }
  int set_count(uint64_t b, uint32_t count);
  int inc_block(uint64_t b);
  int dec_block(uint64_t b);
  int new_block(uint64_t* b);
  int extend(uint64_t extra);
  // Writes the map and makes the current counts the committed ones.
  int commit();
  void copy_root(uint8_t* out) const;
  uint64_t allocated() const;
  // The index and count blocks of the last commit (or of the map as opened).
  const std::vector<uint64_t>& storage_blocks() const { return storage_; }

 protected:
  // Where the map's own blocks come from and go back to.
  virtual int alloc_storage(uint64_t* b) = 0;
  virtual void free_storage(uint64_t b) = 0;
  int load(const uint8_t* root);
  void init(uint64_t nr_blocks);

  DmBlockManager* bm_;
  std::vector<uint32_t> counts_, old_counts_;
  uint64_t nr_blocks_ = 0, old_nr_blocks_ = 0;
  uint64_t begin_ = 0;
  uint64_t allocated_this_transaction_ = 0;
  uint64_t index_block_ = 0;
  std::vector<uint64_t> storage_;  // index block and count blocks of the last commit
  bool metadata_ = false;          // counts the metadata device itself
};

// The metadata space map: its own blocks come from itself.
class MetadataSpaceMap : public DmSpaceMap {
 public:
  explicit MetadataSpaceMap(DmBlockManager* bm) : DmSpaceMap(bm) { metadata_ = true; }
  // dm_sm_metadata_create: every block free but [0, reserved_below) (the superblock).
  int create(uint64_t nr_blocks, uint64_t reserved_below);
  // dm_sm_metadata_open.
  int open(const uint8_t* root);

 protected:
  int alloc_storage(uint64_t* b) override { return new_block(b); }
  void free_storage(uint64_t b) override { dec_block(b); }
};

// A space map of another device (the data device of thin or clone): its blocks are metadata
// blocks, allocated from the metadata space map.
class DiskSpaceMap : public DmSpaceMap {
 public:
  DiskSpaceMap(DmBlockManager* bm, DmSpaceMap* metadata_sm) : DmSpaceMap(bm), metadata_sm_(metadata_sm) {}
  int create(uint64_t nr_blocks);
  int open(const uint8_t* root);

 protected:
  int alloc_storage(uint64_t* b) override { return metadata_sm_->new_block(b); }
  void free_storage(uint64_t b) override { metadata_sm_->dec_block(b); }

 private:
  DmSpaceMap* metadata_sm_;
};

}  // namespace engines::pd
