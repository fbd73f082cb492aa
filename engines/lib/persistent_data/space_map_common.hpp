// What both space maps share (dm-space-map-common.c): the low-level disk `ll_disk` of 2-bit
// bitmaps, their index entries and the ref-count btree for counts above 2, and the sm_ll_*
// operations on it. The metadata flavour keeps its index in one block with an in-core copy; the
// disk flavour keeps it in a btree keyed by bitmap number. Bitmaps are changed through the
// transaction manager's shadowing, so the committed map is never written over.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "engines/lib/persistent_data/btree.hpp"
#include "engines/lib/persistent_data/space_map_layout.hpp"

namespace engines::pd {

extern const DmBlockValidator kSmBitmapValidator;
extern const DmBlockValidator kSmIndexValidator;

// struct disk_index_entry, decoded.
struct DiskIndexEntry {
  uint64_t blocknr = 0;
  uint32_t nr_free = 0;
  uint32_t none_free_before = 0;
  bool operator==(const DiskIndexEntry&) const = default;
};
void index_entry_pack(const DiskIndexEntry& ie, uint8_t* out);
DiskIndexEntry index_entry_unpack(const uint8_t* in);

// A bitmap's 2-bit entries (sm_lookup_bitmap, sm_set_bitmap): 0 free, 1 and 2 the count, 3 the
// count is in the ref-count tree. `words` is the bitmap after its 16-byte header.
uint32_t sm_lookup_bitmap(const uint8_t* words, uint32_t e);
void sm_set_bitmap(uint8_t* words, uint32_t e, uint32_t value);

enum class LlKind { kMetadata, kDisk };

// struct ll_disk. A plain value: a space map keeps the current one and a copy of the last
// committed one (old_ll), whose bitmaps and index the shadowing keeps intact.
struct LlDisk {
  LlKind kind = LlKind::kMetadata;
  DmTransactionManager* tm = nullptr;
  DmBtreeInfo bitmap_info{};     // the disk flavour's index tree
  DmBtreeInfo ref_count_info{};  // block -> u32 count, for counts > 2
  uint32_t block_size = 0;
  uint32_t entries_per_block = 0;
  uint64_t nr_blocks = 0;
  uint64_t nr_allocated = 0;
  uint64_t bitmap_root = 0;  // the metadata index block, or the disk index tree's root
  uint64_t ref_count_root = 0;
  // The metadata flavour's in-core index block (mi_le), written back at commit when changed.
  std::array<DiskIndexEntry, sm_metadata_index_layout::kMaxMetadataBitmaps> mi{};
  bool bitmap_index_changed = false;
};

enum class AllocationEvent { kNone, kAlloc, kFree };

int sm_ll_new_metadata(LlDisk* ll, DmTransactionManager* tm);
int sm_ll_open_metadata(LlDisk* ll, DmTransactionManager* tm, const uint8_t* root);
int sm_ll_new_disk(LlDisk* ll, DmTransactionManager* tm);
int sm_ll_open_disk(LlDisk* ll, DmTransactionManager* tm, const uint8_t* root);

int sm_ll_extend(LlDisk* ll, uint64_t extra_blocks);
int sm_ll_load_ie(LlDisk* ll, uint64_t index, DiskIndexEntry* ie);
int sm_ll_lookup_bitmap(LlDisk* ll, uint64_t b, uint32_t* result);
int sm_ll_lookup(LlDisk* ll, uint64_t b, uint32_t* result);
int sm_ll_find_free_block(LlDisk* ll, uint64_t begin, uint64_t end, uint64_t* result);
// A block in [begin, end) free in `new_ll` and in `old_ll` (the last committed state).
int sm_ll_find_common_free_block(LlDisk* old_ll, LlDisk* new_ll, uint64_t begin, uint64_t end, uint64_t* result);
int sm_ll_insert(LlDisk* ll, uint64_t b, uint32_t ref_count, AllocationEvent* ev);
int sm_ll_inc(LlDisk* ll, uint64_t b, AllocationEvent* ev);
int sm_ll_dec(LlDisk* ll, uint64_t b, AllocationEvent* ev);
// Writes the index if it changed (metadata flavour: shadows the index block).
int sm_ll_commit(LlDisk* ll);

void sm_ll_copy_root(const LlDisk& ll, uint8_t* out);
// The blocks `ll` holds itself (see DmSpaceMap::storage_blocks).
int sm_ll_storage_blocks(LlDisk* ll, std::vector<uint64_t>* out);

}  // namespace engines::pd
