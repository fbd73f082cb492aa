// dm-clone's metadata object (dm-clone-metadata.c): the superblock and on-disk region bitset, the
// in-core region map, and two dirty maps. Hydration completions mark a region in the current
// dirty map (without blocking, from any context); a commit swaps the maps (pre_commit), and after
// the target has flushed the destination writes exactly the swapped map's regions (commit). On-disk
// bits are only ever set. The historical single-phase commit and word-granular dirty tracking are
// variants of the same object.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engines/clone/clone_format.hpp"
#include "engines/lib/persistent_data/bitset.hpp"
#include "engines/lib/persistent_data/transaction_manager.hpp"
#include "model/block_device.hpp"
#include "sim/kernel.hpp"

namespace engines::clone {

// The metadata-layer halves of the historical behaviours (clone_variant in clone.hpp has all).
struct clone_metadata_variant {
  bool single_phase_commit = false;            // one commit call swaps and writes; no committing map
  bool inexact_dirty_tracking = false;         // dirty words only: a commit writes the live map's bits
  bool no_range_checks = false;                // set_region_hydrated / cond_set_range accept any index
  bool hydrated_count_sign_extension = false;  // the count as int, sign-extended to unsigned long
};

// A plain bitmap of unsigned long words of `bits_per_long` bits each (32 or 64), as the kernel's
// bitmap helpers see it. Indices past the end are a BUG (KASAN's report), since the kernel's
// helpers would read or write beyond the allocation.
class RegionBitmap {
 public:
  RegionBitmap() = default;
  RegionBitmap(uint64_t nr_bits, const char* what);
  uint64_t size() const { return nr_bits_; }
  bool test(uint64_t i) const;
  void set(uint64_t i);
  void clear(uint64_t i);
  void clear_all();
  // find_next_zero_bit / find_next_bit: the first at or after `start` below `size`, or `size`.
  uint64_t find_next_zero(uint64_t start, uint64_t size) const;
  uint64_t find_next_set(uint64_t start, uint64_t size) const;
  uint64_t weight() const;  // bitmap_weight
  // The 64 bits from `word64` * 64 (zero-padded past the end), and an OR into them.
  uint64_t word(uint64_t word64) const { return words_[word64]; }
  void or_word(uint64_t word64, uint64_t bits);
  bool full() const { return weight() == nr_bits_; }

 private:
  void check(uint64_t i, const char* fn) const;
  std::vector<uint64_t> words_;
  uint64_t nr_bits_ = 0;
  const char* what_ = "";
};

struct dirty_map {
  RegionBitmap dirty_words;    // word w of dirty_regions (pre-fix: of region_map) has a change
  RegionBitmap dirty_regions;  // the exact regions of this transaction (not in the pre-fix code)
  bool changed = false;
};

struct dm_clone_metadata {
  model::BlockDevice* bdev = nullptr;
  uint64_t target_size = 0, region_size = 0;
  uint64_t nr_regions = 0;  // unsigned long: already truncated to BITS_PER_LONG by the caller
  uint64_t nr_words = 0;
  unsigned bits_per_long = 64;

  sim::Spinlock bitmap_lock{"cmd->bitmap_lock"};
  dirty_map dmap[2];
  dirty_map* current_dmap = &dmap[0];
  dirty_map* committing_dmap = nullptr;  // under `lock`
  RegionBitmap region_map;
  bool read_only = false;  // under bitmap_lock

  std::unique_ptr<pd::DmBlockManager> bm;
  std::unique_ptr<pd::DmTransactionManager> tm;
  sim::RwSemaphore lock{"cmd->lock"};
  pd::DmDiskBitset bitset_info;
  uint64_t bitset_root = 0;
  uint8_t metadata_space_map_root[superblock_layout::kSpaceMapRootSize] = {};
  bool hydration_done = false;
  bool fail_io = false;

  clone_metadata_variant variant;
  // dmsim instrumentation: the superblock's bytes just before each commit's superblock write,
  // with the regions this commit sets on disk for the first time (for the engine journal).
  std::function<void(const uint8_t* block, const std::vector<uint64_t>& regions)> on_commit;
  std::vector<uint64_t> regions_this_commit;
};

// dm_clone_metadata_open: formats a blank device; nullptr and *r on failure.
std::unique_ptr<dm_clone_metadata> dm_clone_metadata_open(model::BlockDevice* bdev, uint64_t target_size,
                                                          uint64_t region_size, unsigned bits_per_long,
                                                          const clone_metadata_variant& v, int* r);
void dm_clone_metadata_close(std::unique_ptr<dm_clone_metadata> cmd);

bool dm_clone_is_hydration_done(dm_clone_metadata* cmd);
bool dm_clone_is_region_hydrated(dm_clone_metadata* cmd, uint64_t region_nr);
bool dm_clone_is_range_hydrated(dm_clone_metadata* cmd, uint64_t start, uint64_t nr_regions);
// The count as the status line prints it: unsigned int (fixed), or the pre-fix int sign-extended
// to a 64-bit unsigned long.
uint64_t dm_clone_nr_of_hydrated_regions(dm_clone_metadata* cmd);
uint64_t dm_clone_find_next_unhydrated_region(dm_clone_metadata* cmd, uint64_t start);
int dm_clone_set_region_hydrated(dm_clone_metadata* cmd, uint64_t region_nr);
int dm_clone_cond_set_range(dm_clone_metadata* cmd, uint64_t start, uint64_t nr_regions);
bool dm_clone_changed_this_transaction(dm_clone_metadata* cmd);
// The two-phase commit: pre_commit swaps the dirty maps, commit writes the swapped one. The
// pre-fix single-phase commit swaps and writes in dm_clone_metadata_commit alone.
int dm_clone_metadata_pre_commit(dm_clone_metadata* cmd);
int dm_clone_metadata_commit(dm_clone_metadata* cmd);
int dm_clone_metadata_abort(dm_clone_metadata* cmd);
int dm_clone_reload_in_core_bitset(dm_clone_metadata* cmd);
void dm_clone_metadata_set_read_only(dm_clone_metadata* cmd);
void dm_clone_metadata_set_read_write(dm_clone_metadata* cmd);
int dm_clone_get_free_metadata_block_count(dm_clone_metadata* cmd, uint64_t* result);
int dm_clone_get_metadata_dev_size(dm_clone_metadata* cmd, uint64_t* result);

// The regions the committing (or, single-phase, current) dirty map will write: what a commit
// about to start records. For discard_rw_src's after-commit discards.
std::vector<uint64_t> dm_clone_committing_regions(dm_clone_metadata* cmd);

}  // namespace engines::clone
