// dm-thin's metadata object (drivers/md/dm-thin-metadata.c): the superblock, the two-level
// mapping tree (thin id -> vblock -> {data block, time}), the device-details tree, the data and
// metadata space maps, metadata snapshots, and the commit with its pre-commit callback and the
// `in_service` gate. Every function takes pmd->root_lock as the kernel does (read for lookups,
// write for changes), so the target may call them from the worker, messages and status at once.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "engines/journal.hpp"
#include "engines/lib/kmem.hpp"
#include "engines/lib/persistent_data/btree.hpp"
#include "engines/lib/persistent_data/space_map.hpp"
#include "engines/lib/persistent_data/transaction_manager.hpp"
#include "engines/thin/thin_format.hpp"
#include "model/block_device.hpp"
#include "sim/kernel.hpp"

namespace engines::thin {

// The historical behaviours of the metadata half (dmsim knobs "thin.*"), read once per pool.
struct thin_metadata_variant {
  bool no_in_service_gate = false;  // pre-873f258becca: every commit writes, even on a pristine pool
};

struct dm_pool_metadata;

// An open thin device's in-core details (struct dm_thin_device).
struct dm_thin_device {
  dm_pool_metadata* pmd = nullptr;
  uint64_t id = 0;
  int open_count = 0;
  bool changed = false;
  bool aborted_with_changes = false;
  uint64_t mapped_blocks = 0;
  uint64_t transaction_id = 0;
  uint32_t creation_time = 0;
  uint32_t snapshotted_time = 0;
};

struct dm_thin_lookup_result {
  uint64_t block = 0;  // data block
  bool shared = false;
};

using dm_pool_pre_commit_fn = std::function<int()>;
using dm_sm_threshold_fn = std::function<void()>;

struct dm_pool_metadata {
  model::BlockDevice* bdev = nullptr;
  std::unique_ptr<pd::DmBlockManager> bm;
  std::unique_ptr<pd::DmSpaceMap> data_sm;
  std::unique_ptr<pd::DmTransactionManager> tm;

  pd::DmBtreeInfo tl_info{};       // top level: thin id -> mapping root (dec deletes the subtree)
  pd::DmBtreeInfo bl_info{};       // bottom level: vblock -> block_time (inc/dec the data sm)
  pd::DmBtreeInfo details_info{};  // thin id -> disk_device_details

  sim::RwSemaphore root_lock{"pmd->root_lock"};
  uint32_t time = 0;
  uint64_t root = 0;          // top-level mapping tree
  uint64_t details_root = 0;  // device details tree
  std::list<std::unique_ptr<dm_thin_device>> thin_devices;
  uint64_t trans_id = 0;
  uint32_t flags = 0;  // THIN_METADATA_NEEDS_CHECK_FLAG
  uint32_t data_block_size = 0;
  uint64_t metadata_reserve = 0;

  bool fail_io = false;
  bool in_service = false;
  bool read_only = false;  // block manager read-only
  bool formatted = false;  // dmsim: this open found a blank device and formatted it

  dm_pool_pre_commit_fn pre_commit_fn;  // called with root_lock held for writing, before T3
  thin_metadata_variant variant;
  KmemOwner* kmem = nullptr;

  // dmsim instrumentation: called with the superblock's bytes just before each commit's
  // superblock write, the data blocks mapped since the last commit (the journal's commit
  // records and the Z3 crash search use them) and the data blocks the transaction allocated
  // and freed, in order (the reuse rule of thin-mappings-durable).
  std::function<void(const uint8_t* block, std::vector<uint64_t> newly_mapped, std::vector<DataSmOp> data_ops)>
      on_commit;
  std::vector<uint64_t> mapped_uncommitted;
  std::vector<DataSmOp> data_ops_uncommitted;

  // The metadata low-water event (dm_sm_register_threshold_callback's state): `threshold_fn`
  // runs once each time free metadata falls to `threshold` blocks or below.
  uint64_t threshold = 0;
  dm_sm_threshold_fn threshold_fn;
  bool threshold_value_set = false;
  uint64_t threshold_current = 0;  // free metadata blocks when last checked
};

// ---- open, close ----

// dm_pool_metadata_open: formats a blank device when `format_device`, else fails with -EPERM;
// checks the data block size against the superblock's ("changing the data block size ...").
int dm_pool_metadata_open(model::BlockDevice* bdev, uint32_t data_block_size, bool format_device,
                          const thin_metadata_variant& v, KmemOwner* kmem, std::unique_ptr<dm_pool_metadata>* out);
// dm_pool_metadata_close: -EBUSY while a thin device is open (the metadata is then kept);
// otherwise commits (unless read-only or fail_io) and frees everything (bufio writes what is
// still dirty, without a flush).
int dm_pool_metadata_close(std::unique_ptr<dm_pool_metadata>& pmd);

// ---- devices (pool messages) ----

int dm_pool_create_thin(dm_pool_metadata* pmd, uint64_t dev);
int dm_pool_create_snap(dm_pool_metadata* pmd, uint64_t dev, uint64_t origin);
int dm_pool_delete_thin_device(dm_pool_metadata* pmd, uint64_t dev);
int dm_pool_set_metadata_transaction_id(dm_pool_metadata* pmd, uint64_t current_id, uint64_t new_id);
int dm_pool_get_metadata_transaction_id(dm_pool_metadata* pmd, uint64_t* result);
int dm_pool_reserve_metadata_snap(dm_pool_metadata* pmd);
int dm_pool_release_metadata_snap(dm_pool_metadata* pmd);
int dm_pool_get_metadata_snap(dm_pool_metadata* pmd, uint64_t* result);  // 0 when none is held

int dm_pool_open_thin_device(dm_pool_metadata* pmd, uint64_t dev, dm_thin_device** td);
int dm_pool_close_thin_device(dm_thin_device* td);
uint64_t dm_thin_dev_id(const dm_thin_device* td);

// ---- mappings ----

// 0 and *result, -ENODATA when unmapped, -EWOULDBLOCK when !can_issue_io and a block on the path
// is not in the cache (the map path's non-blocking lookup).
int dm_thin_find_block(dm_thin_device* td, uint64_t block, bool can_issue_io, dm_thin_lookup_result* result);
// The next run of mapped vblocks in [begin, end) whose data blocks are contiguous and share one
// `shared` flag; -ENODATA when none.
int dm_thin_find_mapped_range(dm_thin_device* td, uint64_t begin, uint64_t end, uint64_t* thin_begin,
                              uint64_t* thin_end, uint64_t* pool_begin, bool* maybe_shared);
int dm_thin_insert_block(dm_thin_device* td, uint64_t block, uint64_t data_block);
// One mapping; -ENODATA when unmapped.
int dm_thin_remove_block(dm_thin_device* td, uint64_t block);
int dm_thin_remove_range(dm_thin_device* td, uint64_t begin, uint64_t end);
bool dm_thin_changed_this_transaction(dm_thin_device* td);
bool dm_pool_changed_this_transaction(dm_pool_metadata* pmd);
bool dm_thin_aborted_changes(dm_thin_device* td);
int dm_thin_get_highest_mapped_block(dm_thin_device* td, uint64_t* result);  // -ENODATA when none
int dm_thin_get_mapped_count(dm_thin_device* td, uint64_t* result);

// ---- data space ----

int dm_pool_alloc_data_block(dm_pool_metadata* pmd, uint64_t* result);
int dm_pool_inc_data_range(dm_pool_metadata* pmd, uint64_t b, uint64_t e);
int dm_pool_dec_data_range(dm_pool_metadata* pmd, uint64_t b, uint64_t e);
int dm_pool_block_is_shared(dm_pool_metadata* pmd, uint64_t b, bool* result);
int dm_pool_get_free_block_count(dm_pool_metadata* pmd, uint64_t* result);
int dm_pool_get_free_metadata_block_count(dm_pool_metadata* pmd, uint64_t* result);  // minus the reserve
int dm_pool_get_metadata_dev_size(dm_pool_metadata* pmd, uint64_t* result);
int dm_pool_get_data_dev_size(dm_pool_metadata* pmd, uint64_t* result);
int dm_pool_resize_data_dev(dm_pool_metadata* pmd, uint64_t new_size);
int dm_pool_resize_metadata_dev(dm_pool_metadata* pmd, uint64_t new_size);

// ---- transactions ----

// dm_pool_commit_metadata / __commit_transaction, steps T1..T8 of the reference (A.11.3).
int dm_pool_commit_metadata(dm_pool_metadata* pmd);
// dm_pool_abort_metadata: drops the transaction and reopens from the disk; fail_io on failure.
int dm_pool_abort_metadata(dm_pool_metadata* pmd);
void dm_pool_metadata_read_only(dm_pool_metadata* pmd);
void dm_pool_metadata_read_write(dm_pool_metadata* pmd);
int dm_pool_metadata_set_needs_check(dm_pool_metadata* pmd);
bool dm_pool_metadata_needs_check(dm_pool_metadata* pmd);
// One callback; registering does not put the pool in service.
void dm_pool_register_pre_commit_callback(dm_pool_metadata* pmd, dm_pool_pre_commit_fn fn);
// The metadata low-water event: `fn` runs when free metadata falls to `threshold` blocks.
int dm_pool_register_metadata_threshold(dm_pool_metadata* pmd, uint64_t threshold, dm_sm_threshold_fn fn);

// ---- thin_restore (dmsim: what thin-provisioning-tools' restore_emitter writes, on this library) ----

struct restore_mapping {
  uint64_t vblock = 0, data_block = 0;
  uint32_t time = 0;
};
struct restore_device {
  uint64_t dev_id = 0, transaction_id = 0;
  uint32_t creation_time = 0, snapshotted_time = 0;
  std::vector<restore_mapping> mappings;  // in the file's order; a later one for a vblock wins
};
struct restore_metadata {
  uint32_t time = 0, version = 1, data_block_size = 0;
  uint64_t trans_id = 0, nr_data_blocks = 0;
  std::vector<restore_device> devices;
};

// Writes `m` as new metadata on `bdev`, as thin_restore does: the superblock is zeroed first and
// written last, so a failure leaves no superblock; flags are cleared, no metadata snapshot is
// held, each device's mapped_blocks counts its distinct vblocks and each mapping takes a data
// space map reference. 0, or -errno with `error` in the tool's words. The caller has checked
// what the tool checks while parsing (known devices, mappings inside the data device).
int dm_pool_restore_metadata(model::BlockDevice* bdev, const restore_metadata& m, std::string* error);

}  // namespace engines::thin
