// The space-map interface (dm-space-map.h): a reference count per block of a device. Two
// implementations share the kernel's on-disk format (space_map_common.hpp): the metadata space
// map, which counts the metadata device including its own blocks (space_map_metadata.hpp), and
// the disk space map, which counts another device in metadata blocks (space_map_disk.hpp).
//
// Allocation returns a block free both now and in the last committed transaction, so a block
// freed in this transaction is not reused before the commit, and the committed state stays
// intact until the next superblock.
#pragma once

#include <cstdint>
#include <vector>

#include "engines/lib/persistent_data/space_map_layout.hpp"

namespace engines::pd {

class DmSpaceMap {
 public:
  virtual ~DmSpaceMap() = default;

  virtual int extend(uint64_t extra_blocks) = 0;
  virtual uint64_t nr_blocks() const = 0;
  // Free blocks as the kernel reports them: committed free minus this transaction's allocations.
  virtual uint64_t nr_free() const = 0;
  virtual int get_count(uint64_t b, uint32_t* result) = 0;
  // The count, or 0 when the lookup fails (the failure is logged).
  uint32_t get_count(uint64_t b);
  virtual int count_is_more_than_one(uint64_t b, int* result) = 0;
  virtual int set_count(uint64_t b, uint32_t count) = 0;
  virtual int inc_block(uint64_t b) = 0;
  virtual int dec_block(uint64_t b) = 0;
  virtual int new_block(uint64_t* b) = 0;
  // Makes the current counts the committed ones; the root to save changes with it.
  virtual int commit() = 0;
  // The 32-byte `disk_sm_root` of the current state (after commit(): the committed one).
  virtual void copy_root(uint8_t* out) const = 0;
  // Blocks with a non-zero count.
  virtual uint64_t allocated() const = 0;
  // Every metadata block the map's current state holds itself (index, bitmaps, ref-count tree
  // nodes, the disk map's index tree nodes): for checkers counting block references.
  virtual int storage_blocks(std::vector<uint64_t>* out) = 0;
};

}  // namespace engines::pd
