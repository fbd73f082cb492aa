// dm-era's metadata object (the "era_metadata" half of drivers/md/dm-era-target.c): the
// superblock, two in-core writesets of which one is current, the writeset tree of archived eras,
// the era array, the metadata snapshot, and digestion as a chain of step functions. Every
// operation changes uncommitted state; metadata_commit makes it durable. Nothing here locks:
// as in the kernel, mutual exclusion comes from the target (the worker, or the metadata mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "engines/era/era_format.hpp"
#include "engines/lib/kmem.hpp"
#include "engines/lib/persistent_data/bitset.hpp"
#include "engines/lib/persistent_data/transaction_manager.hpp"
#include "model/block_device.hpp"

namespace engines::era {

// The historical behaviours a run can switch back on (dmsim knobs "era.*", one row each in
// era_knobs.cpp's table), read once when an instance is constructed. All false is the fixed
// engine.
struct era_variant {
  bool status_in_worker = false;            // status/messages as worker RPCs; bitmaps only from resize
  bool commit_before_worker_stops = false;  // postsuspend: no commit after stop_worker
  bool stop_worker_flush = false;           // stop_worker: flush_workqueue instead of drain
  bool resize_in_worker = false;            // preresume resizes through an RPC to the worker
  bool resize_in_ctr = false;               // the constructor resizes the metadata
  bool no_writeset_recovery = false;        // committed current writeset ignored after a crash
  bool incore_bit_before_commit = false;    // in-core bit set before the commit
  bool digest_stale_bitset_cache = false;   // digest bitset cache set up once per run
  bool no_block_size_check = false;         // the superblock keeps its block size, the table its own
  bool leak_writesets = false;              // in-core bitmaps not freed at close or on resize errors

  static era_variant from_knobs();  // era_knobs.cpp
};

struct writeset {
  writeset_metadata md;
  unsigned long* bits = nullptr;  // in-core copy of the bits, so era_map needs no lookups
};

struct era_metadata {
  model::BlockDevice* bdev = nullptr;
  std::unique_ptr<pd::DmBlockManager> bm;
  std::unique_ptr<pd::DmTransactionManager> tm;

  uint64_t block_size = 0;
  uint32_t nr_blocks = 0;
  uint32_t current_era = 0;

  // Two preallocated writesets: a rollover switches between them, so era_map never allocates.
  writeset writesets[2];
  writeset* current_writeset = &writesets[0];

  uint64_t writeset_tree_root = 0;
  uint64_t era_array_root = 0;

  pd::DmDiskBitset bitset_info;  // one-word cache over the current writeset's on-disk bitset
  pd::DmBtreeInfo writeset_tree_info{};
  pd::DmArrayInfo era_array_info;

  uint64_t metadata_snap = SUPERBLOCK_LOCATION;
  bool formatted = false;                                     // dmsim: this open found a blank device and formatted it
  bool archived_writesets = false;                            // something was archived: digestion should (re)start
  uint8_t metadata_space_map_root[SPACE_MAP_ROOT_SIZE] = {};  // the space map root, zero-padded

  era_variant variant;
  KmemOwner* kmem = nullptr;  // the instance's allocation accounting
  // dmsim instrumentation: called with the superblock's bytes just before each commit's
  // superblock write, for the engine journal.
  std::function<void(const uint8_t* block)> on_commit;
};

// Coroutine state of digestion: `step` is the next step, null when idle.
struct digest;
using digest_step = int (*)(era_metadata* md, digest* d);
struct digest {
  uint32_t era = 0;
  unsigned nr_bits = 0, current_bit = 0;
  writeset_metadata writeset;
  uint32_t value = 0;
  pd::DmDiskBitset info;  // a bitset cache of its own, for archived writesets
  digest_step step = nullptr;
};

struct metadata_stats {
  uint64_t used = 0, total = 0, snap = 0;
  uint32_t era = 0;
};

// Opens (or formats a blank device, when allowed) the metadata; 0 or -errno.
int metadata_open(model::BlockDevice* bdev, uint64_t block_size, bool may_format, const era_variant& v, KmemOwner* kmem,
                  std::unique_ptr<era_metadata>* out);
void metadata_close(std::unique_ptr<era_metadata> md);

bool valid_nr_blocks(uint64_t n);
int metadata_resize(era_metadata* md, uint64_t new_size);
int metadata_era_archive(era_metadata* md);
int metadata_new_era(era_metadata* md);
int metadata_era_rollover(era_metadata* md);
int metadata_checkpoint(era_metadata* md);
int metadata_take_snap(era_metadata* md);
int metadata_drop_snap(era_metadata* md);
int metadata_get_stats(era_metadata* md, metadata_stats* s);
int metadata_commit(era_metadata* md);
bool metadata_current_marked(era_metadata* md, uint64_t block);

// < 0 error, 0: newly marked on disk, 1: already marked in core. `incore_first`: the pre-5.12
// order, which sets the in-core bit here rather than after the commit.
int writeset_test_and_set(pd::DmDiskBitset* info, writeset* ws, uint32_t block, bool incore_first);
bool writeset_marked(const writeset* ws, uint64_t block);
void writeset_set_incore(writeset* ws, uint64_t block);

int metadata_digest_start(era_metadata* md, digest* d);

}  // namespace engines::era
