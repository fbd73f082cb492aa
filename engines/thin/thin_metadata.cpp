#include "engines/thin/thin_metadata.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "engines/lib/persistent_data/btree_internal.hpp"
#include "engines/lib/persistent_data/codec.hpp"
#include "engines/lib/persistent_data/space_map_disk.hpp"
#include "model/dm/dm_target.hpp"
#include "model/errno_text.hpp"
#include "model/sync_io.hpp"

namespace engines::thin {

using namespace engines::pd;
namespace sbl = superblock_layout;

namespace {

void DMERR(const std::string& msg) {
  model::dm_log("thin metadata", msg);
}
void DMWARN(const std::string& msg) {
  model::dm_log_warn("thin metadata", msg);
}

// ---- locking ----

// The low-water check of the metadata space map. The kernel runs it on every metadata block
// allocation; dmsim's space map has no callback, so it runs whenever root_lock is released
// after a write: still edge-triggered, possibly an operation later than the kernel's.
void check_threshold(dm_pool_metadata* pmd) {
  if (!pmd->threshold_fn || !pmd->tm || pmd->fail_io) return;
  const uint64_t nr_free = pmd->tm->sm()->nr_free();
  const bool below = nr_free <= pmd->threshold;
  const bool was_below = pmd->threshold_value_set && pmd->threshold_current <= pmd->threshold;
  pmd->threshold_value_set = true;
  pmd->threshold_current = nr_free;
  if (below && !was_below) pmd->threshold_fn();
}

// pmd_write_lock_in_core: for in-core changes and for what must not put the pool in service
// on its own (commit, close, open/close of thin devices).
void pmd_write_lock_in_core(dm_pool_metadata* pmd) {
  sim::down_write(&pmd->root_lock);
}

// pmd_write_lock: every metadata change; from now on commits write (in_service is never cleared).
void pmd_write_lock(dm_pool_metadata* pmd) {
  pmd_write_lock_in_core(pmd);
  if (!pmd->in_service) pmd->in_service = true;
}

void pmd_write_unlock(dm_pool_metadata* pmd) {
  check_threshold(pmd);
  sim::up_write(&pmd->root_lock);
}

// ---- the btree value types (__setup_btree_details) ----

uint64_t value_data_block(const uint8_t* v) {
  uint64_t b;
  uint32_t t;
  unpack_block_time(get_le64(v), &b, &t);
  return b;
}

void __setup_btree_details(dm_pool_metadata* pmd) {
  DmTransactionManager* tm = pmd->tm.get();
  DmSpaceMap* data_sm = pmd->data_sm.get();

  // data_block_inc / data_block_dec / data_block_equal: a mapping holds its data block; a
  // remap to the same block (another time) is not a change of holder.
  pmd->bl_info = DmBtreeInfo{};
  pmd->bl_info.tm = tm;
  pmd->bl_info.value_type.size = 8;
  pmd->bl_info.value_type.inc = [data_sm](const uint8_t* v) { data_sm->inc_block(value_data_block(v)); };
  pmd->bl_info.value_type.dec = [data_sm](const uint8_t* v) { data_sm->dec_block(value_data_block(v)); };
  pmd->bl_info.value_type.equal = [](const uint8_t* a, const uint8_t* b) {
    return value_data_block(a) == value_data_block(b);
  };

  // subtree_inc / subtree_dec / subtree_equal: a top-level value holds a device's mapping tree;
  // the last holder letting go deletes the tree and with it its data block references.
  pmd->tl_info = DmBtreeInfo{};
  pmd->tl_info.tm = tm;
  pmd->tl_info.value_type.size = 8;
  pmd->tl_info.value_type.inc = [tm](const uint8_t* v) { tm->inc(get_le64(v)); };
  pmd->tl_info.value_type.dec = [pmd](const uint8_t* v) {
    if (dm_btree_del(&pmd->bl_info, get_le64(v))) DMERR("btree delete failed");
  };
  pmd->tl_info.value_type.equal = [](const uint8_t* a, const uint8_t* b) { return get_le64(a) == get_le64(b); };

  pmd->details_info = DmBtreeInfo{};
  pmd->details_info.tm = tm;
  pmd->details_info.value_type.size = DEVICE_DETAILS_SIZE;
}

// ---- superblock ----

int superblock_lock_zero(dm_pool_metadata* pmd, DmBlock** sblock) {
  return pmd->bm->write_lock_zero(THIN_SUPERBLOCK_LOCATION, &sb_validator, sblock);
}

int superblock_lock(dm_pool_metadata* pmd, DmBlock** sblock) {
  return pmd->bm->write_lock(THIN_SUPERBLOCK_LOCATION, &sb_validator, sblock);
}

// No validator: a blank device's block 0 is all zeroes.
int __superblock_all_zeroes(DmBlockManager* bm, bool* result) {
  DmBlock* b;
  int r = bm->read_lock(THIN_SUPERBLOCK_LOCATION, nullptr, &b);
  if (r) return r;
  const uint8_t* d = dm_block_data(b);
  *result = std::all_of(d, d + bm->block_size(), [](uint8_t x) { return x == 0; });
  bm->unlock(b);
  return 0;
}

struct sm_roots {
  uint8_t data[SPACE_MAP_ROOT_SIZE] = {};
  uint8_t metadata[SPACE_MAP_ROOT_SIZE] = {};
};

// save_sm_roots: read before the superblock is locked (in the kernel this can fail).
void save_sm_roots(dm_pool_metadata* pmd, sm_roots* roots) {
  pmd->tm->sm()->copy_root(roots->metadata);
  pmd->data_sm->copy_root(roots->data);
}

void copy_sm_roots(const sm_roots& roots, uint8_t* disk) {
  std::memcpy(disk + sbl::kMetadataSpaceMapRoot, roots.metadata, SPACE_MAP_ROOT_SIZE);
  std::memcpy(disk + sbl::kDataSpaceMapRoot, roots.data, SPACE_MAP_ROOT_SIZE);
}

int __write_initial_superblock(dm_pool_metadata* pmd) {
  const uint64_t bdev_size = std::min(pmd->bdev->capacity(), THIN_METADATA_MAX_SECTORS);
  int r = pmd->data_sm->commit();
  if (r < 0) return r;
  r = pmd->tm->pre_commit();
  if (r < 0) return r;
  sm_roots roots;
  save_sm_roots(pmd, &roots);
  DmBlock* sblock;
  r = superblock_lock_zero(pmd, &sblock);
  if (r) return r;
  thin_superblock_fields f;  // flags, uuid, time, trans_id and held_root all zero
  std::memcpy(f.data_space_map_root, roots.data, SPACE_MAP_ROOT_SIZE);
  std::memcpy(f.metadata_space_map_root, roots.metadata, SPACE_MAP_ROOT_SIZE);
  f.data_mapping_root = pmd->root;
  f.device_details_root = pmd->details_root;
  f.metadata_block_size = THIN_METADATA_BLOCK_SECTORS;
  f.metadata_nr_blocks = bdev_size / THIN_METADATA_BLOCK_SECTORS;
  f.data_block_size = pmd->data_block_size;
  superblock_pack(f, dm_block_data(sblock));
  if (pmd->on_commit) pmd->on_commit(dm_block_data(sblock), {}, std::exchange(pmd->data_ops_uncommitted, {}));
  return pmd->tm->commit(sblock);
}

// dmsim: the data blocks each transaction allocates and frees, in order, for on_commit.
void watch_data_sm(dm_pool_metadata* pmd, DiskSpaceMap* sm) {
  sm->on_event = [pmd](AllocationEvent ev, uint64_t b) {
    pmd->data_ops_uncommitted.push_back({b, ev == AllocationEvent::kAlloc});
  };
}

void __destroy_persistent_data_objects(dm_pool_metadata* pmd) {
  // The data space map and the btrees use the transaction manager, which uses the block
  // manager; the block manager's bufio client writes back what is dirty and waits for it.
  pmd->data_sm.reset();
  pmd->tm.reset();
  pmd->bm.reset();
}

int __format_metadata(dm_pool_metadata* pmd) {
  int r = DmTransactionManager::create_with_sm(pmd->bm.get(), THIN_SUPERBLOCK_LOCATION, &pmd->tm);
  if (r < 0) {
    DMERR("tm_create_with_sm failed");
    return r;
  }
  auto data_sm = std::make_unique<DiskSpaceMap>(pmd->tm.get());
  r = data_sm->create(0);  // the pool's preresume grows it to the data device
  if (r) {
    DMERR("sm_disk_create failed");
    pmd->tm.reset();
    return r;
  }
  watch_data_sm(pmd, data_sm.get());
  pmd->data_sm = std::move(data_sm);
  __setup_btree_details(pmd);
  r = dm_btree_empty(&pmd->tl_info, &pmd->root);
  if (!r) {
    r = dm_btree_empty(&pmd->details_info, &pmd->details_root);
    if (r) DMERR("couldn't create devices root");
  }
  if (!r) r = __write_initial_superblock(pmd);
  if (r) {
    pmd->data_sm.reset();
    pmd->tm.reset();
  }
  return r;
}

// The metadata device's read-only state is not modelled: the compat_ro check always applies.
int __check_incompat_features(const thin_superblock_fields& f) {
  uint32_t features = f.incompat_flags & ~THIN_FEATURE_INCOMPAT_SUPP;
  if (features) {
    DMERR("could not access metadata due to unsupported optional features (" + std::to_string(features) + ").");
    return -EINVAL;
  }
  features = f.compat_ro_flags & ~THIN_FEATURE_COMPAT_RO_SUPP;
  if (features) {
    DMERR("could not access metadata RDWR due to unsupported optional features (" + std::to_string(features) + ").");
    return -EINVAL;
  }
  return 0;
}

int __open_metadata(dm_pool_metadata* pmd) {
  DmBlock* sblock;
  int r = pmd->bm->read_lock(THIN_SUPERBLOCK_LOCATION, &sb_validator, &sblock);
  if (r < 0) {
    DMERR("couldn't read superblock");
    return r;
  }
  const thin_superblock_fields f = superblock_unpack(dm_block_data(sblock));
  pmd->bm->unlock(sblock);
  if (f.data_block_size != pmd->data_block_size) {
    DMERR("changing the data block size (from " + std::to_string(f.data_block_size) + " to " +
          std::to_string(pmd->data_block_size) + ") is not supported");
    return -EINVAL;
  }
  r = __check_incompat_features(f);
  if (r < 0) return r;
  r = DmTransactionManager::open_with_sm(pmd->bm.get(), THIN_SUPERBLOCK_LOCATION, f.metadata_space_map_root, &pmd->tm);
  if (r < 0) {
    DMERR("tm_open_with_sm failed");
    return r;
  }
  auto data_sm = std::make_unique<DiskSpaceMap>(pmd->tm.get());
  r = data_sm->open(f.data_space_map_root);
  if (r) {
    DMERR("sm_disk_open failed");
    pmd->tm.reset();
    return r;
  }
  watch_data_sm(pmd, data_sm.get());
  pmd->data_sm = std::move(data_sm);
  __setup_btree_details(pmd);
  return 0;
}

int __open_or_format_metadata(dm_pool_metadata* pmd, bool format_device) {
  bool unformatted = false;
  int r = __superblock_all_zeroes(pmd->bm.get(), &unformatted);
  if (r) return r;
  if (unformatted) {
    if (!format_device) return -EPERM;
    r = __format_metadata(pmd);
    pmd->formatted = !r;
    return r;
  }
  return __open_metadata(pmd);
}

int __create_persistent_data_objects(dm_pool_metadata* pmd, bool format_device) {
  pmd->bm = std::make_unique<DmBlockManager>(pmd->bdev, THIN_METADATA_BLOCK_SIZE, THIN_MAX_CONCURRENT_LOCKS);
  if (pmd->read_only) pmd->bm->set_read_only();
  int r = __open_or_format_metadata(pmd, format_device);
  if (r) pmd->bm.reset();
  return r;
}

// Re-reads the in-core state from the superblock buffer (a no-op in effect after a commit).
int __begin_transaction(dm_pool_metadata* pmd) {
  DmBlock* sblock;
  int r = pmd->bm->read_lock(THIN_SUPERBLOCK_LOCATION, &sb_validator, &sblock);
  if (r) return r;
  const thin_superblock_fields f = superblock_unpack(dm_block_data(sblock));
  pmd->time = f.time;
  pmd->root = f.data_mapping_root;
  pmd->details_root = f.device_details_root;
  pmd->trans_id = f.trans_id;
  pmd->flags = f.flags;
  pmd->data_block_size = f.data_block_size;
  pmd->bm->unlock(sblock);
  return 0;
}

// Insert each changed device's details; a closed device's record is dropped once written.
int __write_changed_details(dm_pool_metadata* pmd) {
  for (auto it = pmd->thin_devices.begin(); it != pmd->thin_devices.end();) {
    dm_thin_device* td = it->get();
    if (!td->changed) {
      ++it;
      continue;
    }
    uint8_t details[DEVICE_DETAILS_SIZE];
    device_details_pack({td->mapped_blocks, td->transaction_id, td->creation_time, td->snapshotted_time}, details);
    int r = dm_btree_insert(&pmd->details_info, pmd->details_root, td->id, details, &pmd->details_root);
    if (r) return r;
    if (td->open_count) {
      td->changed = false;
      ++it;
    } else {
      it = pmd->thin_devices.erase(it);
    }
  }
  return 0;
}

// Steps T1..T8 of the reference (A.11.3).
int __commit_transaction(dm_pool_metadata* pmd) {
  // T1: a pool no change has touched since it was opened writes nothing, flushes nothing.
  if (!pmd->in_service && !pmd->variant.no_in_service_gate) return 0;
  if (pmd->pre_commit_fn) {  // T2: dm-thin flushes the data device here
    int r = pmd->pre_commit_fn();
    if (r < 0) {
      DMERR("pre-commit callback failed");
      return r;
    }
  }
  int r = __write_changed_details(pmd);  // T3
  if (r < 0) return r;
  r = pmd->data_sm->commit();  // T4
  if (r < 0) return r;
  r = pmd->tm->pre_commit();  // T5: every block but the superblock written and flushed
  if (r < 0) return r;
  sm_roots roots;
  save_sm_roots(pmd, &roots);  // T6
  DmBlock* sblock;
  r = superblock_lock(pmd, &sblock);  // T7: only the fields the kernel sets; held_root etc. stay
  if (r) return r;
  uint8_t* disk = dm_block_data(sblock);
  sbl::time.put(disk, pmd->time);
  sbl::data_mapping_root.put(disk, pmd->root);
  sbl::device_details_root.put(disk, pmd->details_root);
  sbl::trans_id.put(disk, pmd->trans_id);
  sbl::flags.put(disk, pmd->flags);
  copy_sm_roots(roots, disk);
  if (pmd->on_commit)
    pmd->on_commit(disk, std::exchange(pmd->mapped_uncommitted, {}), std::exchange(pmd->data_ops_uncommitted, {}));
  return pmd->tm->commit(sblock);  // T8: the superblock, then a flush
}

void __set_metadata_reserve(dm_pool_metadata* pmd) {
  const uint64_t max_blocks = 4096;  // 16 MiB
  pmd->metadata_reserve = std::min(max_blocks, pmd->tm->sm()->nr_blocks() / 10);
}

// ---- devices ----

// __open_device: the in-core record of `dev`, created from its details (or, with `create`, as a
// new device of the current transaction and time); its open count is raised.
int __open_device(dm_pool_metadata* pmd, uint64_t dev, bool create, dm_thin_device** td) {
  for (auto& t : pmd->thin_devices)
    if (t->id == dev) {
      if (create) return -EEXIST;
      t->open_count++;
      *td = t.get();
      return 0;
    }
  bool changed = false;
  disk_device_details details;
  uint8_t details_le[DEVICE_DETAILS_SIZE];
  int r = dm_btree_lookup(&pmd->details_info, pmd->details_root, dev, details_le);
  if (r) {
    if (r != -ENODATA || !create) return r;
    changed = true;
    details.transaction_id = pmd->trans_id;
    details.creation_time = pmd->time;
    details.snapshotted_time = pmd->time;
  } else {
    details = device_details_unpack(details_le);
  }
  auto n = std::make_unique<dm_thin_device>();
  n->pmd = pmd;
  n->id = dev;
  n->open_count = 1;
  n->changed = changed;
  n->aborted_with_changes = false;
  n->mapped_blocks = details.mapped_blocks;
  n->transaction_id = details.transaction_id;
  n->creation_time = details.creation_time;
  n->snapshotted_time = details.snapshotted_time;
  *td = n.get();
  pmd->thin_devices.push_front(std::move(n));
  return 0;
}

void __close_device(dm_thin_device* td) {
  --td->open_count;
}

void put_root(uint8_t* v, uint64_t root) {
  put_le64(v, root);
}

int __create_thin(dm_pool_metadata* pmd, uint64_t dev) {
  if (!dm_btree_lookup(&pmd->details_info, pmd->details_root, dev, nullptr)) return -EEXIST;
  uint64_t dev_root;
  int r = dm_btree_empty(&pmd->bl_info, &dev_root);
  if (r) return r;
  uint8_t value[8];
  put_root(value, dev_root);
  r = dm_btree_insert(&pmd->tl_info, pmd->root, dev, value, &pmd->root);
  if (r) {
    dm_btree_del(&pmd->bl_info, dev_root);
    return r;
  }
  dm_thin_device* td;
  r = __open_device(pmd, dev, true, &td);
  if (r) {
    dm_btree_remove(&pmd->tl_info, pmd->root, dev, &pmd->root);
    dm_btree_del(&pmd->bl_info, dev_root);
    return r;
  }
  __close_device(td);
  return r;
}

int __set_snapshot_details(dm_pool_metadata* pmd, dm_thin_device* snap, uint64_t origin, uint32_t time) {
  dm_thin_device* td;
  int r = __open_device(pmd, origin, false, &td);
  if (r) return r;
  td->changed = true;
  td->snapshotted_time = time;
  snap->mapped_blocks = td->mapped_blocks;
  snap->snapshotted_time = time;
  __close_device(td);
  return 0;
}

// The snapshot shares the origin's mapping tree by reference: one more holder of its root.
int __create_snap(dm_pool_metadata* pmd, uint64_t dev, uint64_t origin) {
  if (!dm_btree_lookup(&pmd->details_info, pmd->details_root, dev, nullptr)) return -EEXIST;
  uint8_t value[8];
  int r = dm_btree_lookup(&pmd->tl_info, pmd->root, origin, value);
  if (r) return r;
  const uint64_t origin_root = get_le64(value);
  pmd->tm->inc(origin_root);
  r = dm_btree_insert(&pmd->tl_info, pmd->root, dev, value, &pmd->root);
  if (r) {
    pmd->tm->dec(origin_root);
    return r;
  }
  pmd->time++;
  dm_thin_device* td;
  r = __open_device(pmd, dev, true, &td);
  if (!r) {
    r = __set_snapshot_details(pmd, td, origin, pmd->time);
    __close_device(td);
  }
  if (r) {
    dm_btree_remove(&pmd->tl_info, pmd->root, dev, &pmd->root);
    dm_btree_remove(&pmd->details_info, pmd->details_root, dev, &pmd->details_root);
  }
  return r;
}

// Removing the top-level entry drops the device's mapping tree (subtree_dec). A device created
// in this transaction has no details entry yet, so its delete fails with -ENODATA, as in the kernel.
int __delete_device(dm_pool_metadata* pmd, uint64_t dev) {
  dm_thin_device* td;
  int r = __open_device(pmd, dev, false, &td);
  if (r) return r;
  if (td->open_count > 1) {
    __close_device(td);
    return -EBUSY;
  }
  pmd->thin_devices.remove_if([td](const std::unique_ptr<dm_thin_device>& p) { return p.get() == td; });
  r = dm_btree_remove(&pmd->details_info, pmd->details_root, dev, &pmd->details_root);
  if (r) return r;
  return dm_btree_remove(&pmd->tl_info, pmd->root, dev, &pmd->root);
}

// ---- metadata snapshots ----

int __reserve_metadata_snap(dm_pool_metadata* pmd) {
  // Commit first, so that the roots the copy pins are the ones on the disk.
  int r = __commit_transaction(pmd);
  if (r < 0) {
    DMWARN("__reserve_metadata_snap: __commit_transaction() failed, error = " + std::to_string(r));
    return r;
  }
  // With a second holder, shadowing the superblock copies it to a new block.
  pmd->tm->sm()->inc_block(THIN_SUPERBLOCK_LOCATION);
  DmBlock* copy;
  int inc;
  r = pmd->tm->shadow_block(THIN_SUPERBLOCK_LOCATION, &sb_validator, &copy, &inc);
  if (r) return r;
  BUG_ON(!inc);
  const uint64_t held_root = dm_block_location(copy);
  uint8_t* disk = dm_block_data(copy);
  if (sbl::held_root.get(disk)) {
    DMWARN("Pool metadata snapshot already exists: release this before taking another.");
    pmd->tm->dec(held_root);
    pmd->tm->unlock(copy);
    return -EBUSY;
  }
  // The copy is never opened as a pool: its space map roots are wiped.
  std::memset(disk + sbl::kDataSpaceMapRoot, 0, SPACE_MAP_ROOT_SIZE);
  std::memset(disk + sbl::kMetadataSpaceMapRoot, 0, SPACE_MAP_ROOT_SIZE);
  pmd->tm->inc(sbl::data_mapping_root.get(disk));
  pmd->tm->inc(sbl::device_details_root.get(disk));
  pmd->tm->unlock(copy);

  DmBlock* sblock;
  r = superblock_lock(pmd, &sblock);
  if (r) {
    pmd->tm->dec(held_root);
    return r;
  }
  // Durable at the next commit, which the message path runs at once.
  sbl::held_root.put(dm_block_data(sblock), held_root);
  pmd->bm->unlock(sblock);
  return 0;
}

int __release_metadata_snap(dm_pool_metadata* pmd) {
  DmBlock* sblock;
  int r = superblock_lock(pmd, &sblock);
  if (r) return r;
  const uint64_t held_root = sbl::held_root.get(dm_block_data(sblock));
  sbl::held_root.put(dm_block_data(sblock), 0);
  pmd->bm->unlock(sblock);
  if (!held_root) {
    DMWARN("No pool metadata snapshot found: nothing to release.");
    return -EINVAL;
  }
  DmBlock* copy;
  r = pmd->tm->read_lock(held_root, &sb_validator, &copy);
  if (r) return r;
  const thin_superblock_fields f = superblock_unpack(dm_block_data(copy));
  pmd->tm->unlock(copy);
  // The kernel drops the copy's trees with the two-level info; tl_info's dec drops each subtree.
  dm_btree_del(&pmd->tl_info, f.data_mapping_root);
  dm_btree_del(&pmd->details_info, f.device_details_root);
  pmd->tm->sm()->dec_block(held_root);
  return 0;
}

int __get_metadata_snap(dm_pool_metadata* pmd, uint64_t* result) {
  DmBlock* sblock;
  int r = pmd->bm->read_lock(THIN_SUPERBLOCK_LOCATION, &sb_validator, &sblock);
  if (r) return r;
  *result = sbl::held_root.get(dm_block_data(sblock));
  pmd->bm->unlock(sblock);
  return 0;
}

// ---- mappings ----

// __snapshotted_since: a mapping older than the device's last snapshot may be shared with it.
void unpack_lookup_result(dm_thin_device* td, const uint8_t* value, dm_thin_lookup_result* result) {
  uint64_t b;
  uint32_t t;
  unpack_block_time(get_le64(value), &b, &t);
  result->block = b;
  result->shared = td->snapshotted_time > t;
}

// A lookup that reads no block: the kernel's non-blocking transaction-manager clone, whose
// read_lock is dm_bm_read_try_lock (-EWOULDBLOCK when a node is not cached or is write-locked).
int nb_btree_lookup(DmBlockManager* bm, uint64_t root, uint64_t key, uint8_t* value) {
  uint64_t block = root;
  for (int depth = 0;; depth++) {
    if (depth > btree_internal::kMaxDepth) return btree_internal::too_deep(block);
    DmBlock* blk;
    int r = bm->read_try_lock(block, &kBtreeNodeValidator, &blk);
    if (r) return r;
    btree_internal::Node n(blk);
    const int i = n.lower(key);
    if (i < 0) {
      bm->unlock(blk);
      return -ENODATA;
    }
    const auto idx = static_cast<uint32_t>(i);
    if (n.leaf()) {
      const bool hit = n.key(idx) == key;
      if (hit) std::memcpy(value, n.value(idx), n.vs());
      bm->unlock(blk);
      return hit ? 0 : -ENODATA;
    }
    block = n.child(idx);
    bm->unlock(blk);
  }
}

// The two-level lookup {td->id, block} of the kernel's info (levels = 2).
int __find_block(dm_thin_device* td, uint64_t block, bool can_issue_io, dm_thin_lookup_result* result) {
  dm_pool_metadata* pmd = td->pmd;
  uint8_t v[8];
  int r = can_issue_io ? dm_btree_lookup(&pmd->tl_info, pmd->root, td->id, v)
                       : nb_btree_lookup(pmd->bm.get(), pmd->root, td->id, v);
  if (r) return r;
  const uint64_t sub = get_le64(v);
  r = can_issue_io ? dm_btree_lookup(&pmd->bl_info, sub, block, v) : nb_btree_lookup(pmd->bm.get(), sub, block, v);
  if (!r) unpack_lookup_result(td, v, result);
  return r;
}

int __find_next_mapped_block(dm_thin_device* td, uint64_t block, uint64_t* vblock, dm_thin_lookup_result* result) {
  dm_pool_metadata* pmd = td->pmd;
  uint8_t v[8];
  int r = dm_btree_lookup(&pmd->tl_info, pmd->root, td->id, v);
  if (r) return r;
  r = dm_btree_lookup_next(&pmd->bl_info, get_le64(v), block, vblock, v);
  if (!r) unpack_lookup_result(td, v, result);
  return r;
}

int __find_mapped_range(dm_thin_device* td, uint64_t begin, uint64_t end, uint64_t* thin_begin, uint64_t* thin_end,
                        uint64_t* pool_begin, bool* maybe_shared) {
  if (end < begin) return -ENODATA;
  dm_thin_lookup_result lookup;
  int r = __find_next_mapped_block(td, begin, &begin, &lookup);
  if (r) return r;
  if (begin >= end) return -ENODATA;
  *thin_begin = begin;
  *pool_begin = lookup.block;
  *maybe_shared = lookup.shared;
  begin++;
  uint64_t pool_end = *pool_begin + 1;
  while (begin != end) {
    r = __find_block(td, begin, true, &lookup);
    if (r) {
      if (r == -ENODATA) break;
      return r;
    }
    if (lookup.block != pool_end || lookup.shared != *maybe_shared) break;
    pool_end++;
    begin++;
  }
  *thin_end = begin;
  return 0;
}

// The kernel inserts and removes {id, vblock} in one pass down both levels: the top-level path
// is shadowed first (a shared top-level leaf adds a reference to every subtree root it holds),
// then the device's tree, whose new root replaces the top-level value with no dec (shadowing the
// old root already dropped that reference). dmsim's btree has one level, so we re-insert the
// current root with dec_old=false to shadow the top path, change the bottom tree, then store
// its new root with dec_old=false: the same blocks shadowed and the same counts.
int shadow_top_path(dm_pool_metadata* pmd, uint64_t dev, uint64_t* sub) {
  uint8_t v[8];
  int r = dm_btree_lookup(&pmd->tl_info, pmd->root, dev, v);
  if (r == -ENODATA) {
    // The one-pass insert gives a missing device an empty tree on its way down.
    r = dm_btree_empty(&pmd->bl_info, sub);
    if (r) return r;
    put_root(v, *sub);
  } else if (r) {
    return r;
  } else {
    *sub = get_le64(v);
  }
  return dm_btree_insert(&pmd->tl_info, pmd->root, dev, v, &pmd->root, nullptr, false);
}

int store_subtree_root(dm_pool_metadata* pmd, uint64_t dev, uint64_t sub) {
  uint8_t v[8];
  put_root(v, sub);
  return dm_btree_insert(&pmd->tl_info, pmd->root, dev, v, &pmd->root, nullptr, false);
}

int __insert(dm_thin_device* td, uint64_t block, uint64_t data_block) {
  dm_pool_metadata* pmd = td->pmd;
  uint8_t value[8];
  put_le64(value, pack_block_time(data_block, pmd->time));
  uint64_t sub;
  int r = shadow_top_path(pmd, td->id, &sub);
  if (r) return r;
  int inserted = 0;
  r = dm_btree_insert(&pmd->bl_info, sub, block, value, &sub, &inserted);
  if (r) return r;
  r = store_subtree_root(pmd, td->id, sub);
  if (r) return r;
  td->changed = true;
  if (inserted) td->mapped_blocks++;
  pmd->mapped_uncommitted.push_back(data_block);
  return 0;
}

int __remove(dm_thin_device* td, uint64_t block) {
  dm_pool_metadata* pmd = td->pmd;
  uint64_t sub;
  int r = shadow_top_path(pmd, td->id, &sub);
  if (r) return r;
  r = dm_btree_remove(&pmd->bl_info, sub, block, &sub);
  if (r) return r;
  r = store_subtree_root(pmd, td->id, sub);
  if (r) return r;
  td->mapped_blocks--;
  td->changed = true;
  return 0;
}

// As the kernel: the device's tree is taken out of the top level (with an extra reference so
// the removal does not delete it), its mappings in [begin, end) removed, and it is put back.
// dmsim's btree has no dm_btree_remove_leaves, so the mappings go one key at a time: the same
// result, with more shadowing and rebalancing steps than the kernel's leaf-wise removal.
int __remove_range(dm_thin_device* td, uint64_t begin, uint64_t end) {
  dm_pool_metadata* pmd = td->pmd;
  uint8_t value[8];
  int r = dm_btree_lookup(&pmd->tl_info, pmd->root, td->id, value);
  if (r) return r;
  uint64_t mapping_root = get_le64(value);
  pmd->tm->inc(mapping_root);
  r = dm_btree_remove(&pmd->tl_info, pmd->root, td->id, &pmd->root);
  if (r) return r;
  uint64_t total_count = 0;
  while (begin < end) {
    r = dm_btree_lookup_next(&pmd->bl_info, mapping_root, begin, &begin, value);
    if (r == -ENODATA) break;
    if (r) return r;
    if (begin >= end) break;
    r = dm_btree_remove(&pmd->bl_info, mapping_root, begin, &mapping_root);
    if (r) return r;
    total_count++;
    begin++;
  }
  td->mapped_blocks -= total_count;
  td->changed = true;
  put_root(value, mapping_root);
  return dm_btree_insert(&pmd->tl_info, pmd->root, td->id, value, &pmd->root);
}

int __highest_block(dm_thin_device* td, uint64_t* result) {
  dm_pool_metadata* pmd = td->pmd;
  uint8_t v[8];
  int r = dm_btree_lookup(&pmd->tl_info, pmd->root, td->id, v);
  if (r) return r;
  return dm_btree_find_highest_key(&pmd->bl_info, get_le64(v), result);
}

int __resize_space_map(DmSpaceMap* sm, uint64_t new_count) {
  const uint64_t old_count = sm->nr_blocks();
  if (new_count == old_count) return 0;
  if (new_count < old_count) {
    DMERR("cannot reduce size of space map");
    return -EINVAL;
  }
  return sm->extend(new_count - old_count);
}

void __set_abort_with_changes_flags(dm_pool_metadata* pmd) {
  for (auto& td : pmd->thin_devices) td->aborted_with_changes = td->changed;
}

}  // namespace

// ---- open, close ----

int dm_pool_metadata_open(model::BlockDevice* bdev, uint32_t data_block_size, bool format_device,
                          const thin_metadata_variant& v, KmemOwner* kmem, std::unique_ptr<dm_pool_metadata>* out) {
  auto pmd = std::make_unique<dm_pool_metadata>();
  pmd->bdev = bdev;
  pmd->data_block_size = data_block_size;
  pmd->variant = v;
  pmd->kmem = kmem;
  int r = __create_persistent_data_objects(pmd.get(), format_device);
  if (r) return r;
  r = __begin_transaction(pmd.get());
  if (r < 0) {
    if (dm_pool_metadata_close(pmd) < 0) DMWARN("dm_pool_metadata_open: dm_pool_metadata_close() failed.");
    return r;
  }
  __set_metadata_reserve(pmd.get());
  *out = std::move(pmd);
  return 0;
}

int dm_pool_metadata_close(std::unique_ptr<dm_pool_metadata>& pmd) {
  unsigned open_devices = 0;
  sim::down_read(&pmd->root_lock);
  for (auto it = pmd->thin_devices.begin(); it != pmd->thin_devices.end();) {
    if ((*it)->open_count) {
      open_devices++;
      ++it;
    } else {
      it = pmd->thin_devices.erase(it);
    }
  }
  sim::up_read(&pmd->root_lock);
  if (open_devices) {
    DMERR("attempt to close pmd when " + std::to_string(open_devices) + " device(s) are still open");
    return -EBUSY;
  }
  pmd_write_lock_in_core(pmd.get());
  if (!pmd->fail_io && pmd->bm && !pmd->bm->is_read_only()) {
    int r = __commit_transaction(pmd.get());
    if (r < 0) DMWARN("dm_pool_metadata_close: __commit_transaction() failed, error = " + std::to_string(r));
  }
  sim::up_write(&pmd->root_lock);
  __destroy_persistent_data_objects(pmd.get());
  pmd.reset();
  return 0;
}

// ---- devices ----

int dm_pool_create_thin(dm_pool_metadata* pmd, uint64_t dev) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) r = __create_thin(pmd, dev);
  pmd_write_unlock(pmd);
  return r;
}

int dm_pool_create_snap(dm_pool_metadata* pmd, uint64_t dev, uint64_t origin) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) r = __create_snap(pmd, dev, origin);
  pmd_write_unlock(pmd);
  return r;
}

int dm_pool_delete_thin_device(dm_pool_metadata* pmd, uint64_t dev) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) r = __delete_device(pmd, dev);
  pmd_write_unlock(pmd);
  return r;
}

int dm_pool_set_metadata_transaction_id(dm_pool_metadata* pmd, uint64_t current_id, uint64_t new_id) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) {
    if (pmd->trans_id != current_id) {
      DMERR("mismatched transaction id");
    } else {
      pmd->trans_id = new_id;
      r = 0;
    }
  }
  pmd_write_unlock(pmd);
  return r;
}

int dm_pool_get_metadata_transaction_id(dm_pool_metadata* pmd, uint64_t* result) {
  int r = -EINVAL;
  sim::down_read(&pmd->root_lock);
  if (!pmd->fail_io) {
    *result = pmd->trans_id;
    r = 0;
  }
  sim::up_read(&pmd->root_lock);
  return r;
}

int dm_pool_reserve_metadata_snap(dm_pool_metadata* pmd) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) r = __reserve_metadata_snap(pmd);
  pmd_write_unlock(pmd);
  return r;
}

int dm_pool_release_metadata_snap(dm_pool_metadata* pmd) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) r = __release_metadata_snap(pmd);
  pmd_write_unlock(pmd);
  return r;
}

int dm_pool_get_metadata_snap(dm_pool_metadata* pmd, uint64_t* result) {
  int r = -EINVAL;
  sim::down_read(&pmd->root_lock);
  if (!pmd->fail_io) r = __get_metadata_snap(pmd, result);
  sim::up_read(&pmd->root_lock);
  return r;
}

int dm_pool_open_thin_device(dm_pool_metadata* pmd, uint64_t dev, dm_thin_device** td) {
  int r = -EINVAL;
  pmd_write_lock_in_core(pmd);
  if (!pmd->fail_io) r = __open_device(pmd, dev, false, td);
  pmd_write_unlock(pmd);
  return r;
}

int dm_pool_close_thin_device(dm_thin_device* td) {
  dm_pool_metadata* pmd = td->pmd;
  pmd_write_lock_in_core(pmd);
  __close_device(td);
  pmd_write_unlock(pmd);
  return 0;
}

uint64_t dm_thin_dev_id(const dm_thin_device* td) {
  return td->id;
}

// ---- mappings ----

int dm_thin_find_block(dm_thin_device* td, uint64_t block, bool can_issue_io, dm_thin_lookup_result* result) {
  dm_pool_metadata* pmd = td->pmd;
  sim::down_read(&pmd->root_lock);
  if (pmd->fail_io) {
    sim::up_read(&pmd->root_lock);
    return -EINVAL;
  }
  const int r = __find_block(td, block, can_issue_io, result);
  sim::up_read(&pmd->root_lock);
  return r;
}

int dm_thin_find_mapped_range(dm_thin_device* td, uint64_t begin, uint64_t end, uint64_t* thin_begin,
                              uint64_t* thin_end, uint64_t* pool_begin, bool* maybe_shared) {
  int r = -EINVAL;
  dm_pool_metadata* pmd = td->pmd;
  sim::down_read(&pmd->root_lock);
  if (!pmd->fail_io) r = __find_mapped_range(td, begin, end, thin_begin, thin_end, pool_begin, maybe_shared);
  sim::up_read(&pmd->root_lock);
  return r;
}

int dm_thin_insert_block(dm_thin_device* td, uint64_t block, uint64_t data_block) {
  int r = -EINVAL;
  pmd_write_lock(td->pmd);
  if (!td->pmd->fail_io) r = __insert(td, block, data_block);
  pmd_write_unlock(td->pmd);
  return r;
}

int dm_thin_remove_block(dm_thin_device* td, uint64_t block) {
  int r = -EINVAL;
  pmd_write_lock(td->pmd);
  if (!td->pmd->fail_io) r = __remove(td, block);
  pmd_write_unlock(td->pmd);
  return r;
}

int dm_thin_remove_range(dm_thin_device* td, uint64_t begin, uint64_t end) {
  int r = -EINVAL;
  pmd_write_lock(td->pmd);
  if (!td->pmd->fail_io) r = __remove_range(td, begin, end);
  pmd_write_unlock(td->pmd);
  return r;
}

bool dm_thin_changed_this_transaction(dm_thin_device* td) {
  sim::down_read(&td->pmd->root_lock);
  const bool r = td->changed;
  sim::up_read(&td->pmd->root_lock);
  return r;
}

bool dm_pool_changed_this_transaction(dm_pool_metadata* pmd) {
  sim::down_read(&pmd->root_lock);
  const bool r = std::any_of(pmd->thin_devices.begin(), pmd->thin_devices.end(),
                             [](const std::unique_ptr<dm_thin_device>& td) { return td->changed; });
  sim::up_read(&pmd->root_lock);
  return r;
}

bool dm_thin_aborted_changes(dm_thin_device* td) {
  sim::down_read(&td->pmd->root_lock);
  const bool r = td->aborted_with_changes;
  sim::up_read(&td->pmd->root_lock);
  return r;
}

int dm_thin_get_highest_mapped_block(dm_thin_device* td, uint64_t* result) {
  int r = -EINVAL;
  dm_pool_metadata* pmd = td->pmd;
  sim::down_read(&pmd->root_lock);
  if (!pmd->fail_io) r = __highest_block(td, result);
  sim::up_read(&pmd->root_lock);
  return r;
}

int dm_thin_get_mapped_count(dm_thin_device* td, uint64_t* result) {
  int r = -EINVAL;
  dm_pool_metadata* pmd = td->pmd;
  sim::down_read(&pmd->root_lock);
  if (!pmd->fail_io) {
    *result = td->mapped_blocks;
    r = 0;
  }
  sim::up_read(&pmd->root_lock);
  return r;
}

// ---- data space ----

int dm_pool_alloc_data_block(dm_pool_metadata* pmd, uint64_t* result) {
  KFRAME();
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) r = pmd->data_sm->new_block(result);
  pmd_write_unlock(pmd);
  return r;
}

// inc/dec_data_range refuse a failed pool as the later kernels do ("check fail_io before using
// data_sm"): after a failed abort there is no data space map.
int dm_pool_inc_data_range(dm_pool_metadata* pmd, uint64_t b, uint64_t e) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) {
    r = 0;
    for (; b != e; b++) {
      r = pmd->data_sm->inc_block(b);
      if (r) break;
    }
  }
  pmd_write_unlock(pmd);
  return r;
}

int dm_pool_dec_data_range(dm_pool_metadata* pmd, uint64_t b, uint64_t e) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) {
    r = 0;
    for (; b != e; b++) {
      r = pmd->data_sm->dec_block(b);
      if (r) break;
    }
  }
  pmd_write_unlock(pmd);
  return r;
}

int dm_pool_block_is_shared(dm_pool_metadata* pmd, uint64_t b, bool* result) {
  int r = -EINVAL;
  sim::down_read(&pmd->root_lock);
  if (!pmd->fail_io) {
    uint32_t ref_count = 0;
    r = pmd->data_sm->get_count(b, &ref_count);
    if (!r) *result = ref_count > 1;
  }
  sim::up_read(&pmd->root_lock);
  return r;
}

int dm_pool_get_free_block_count(dm_pool_metadata* pmd, uint64_t* result) {
  int r = -EINVAL;
  sim::down_read(&pmd->root_lock);
  if (!pmd->fail_io) {
    *result = pmd->data_sm->nr_free();
    r = 0;
  }
  sim::up_read(&pmd->root_lock);
  return r;
}

int dm_pool_get_free_metadata_block_count(dm_pool_metadata* pmd, uint64_t* result) {
  int r = -EINVAL;
  sim::down_read(&pmd->root_lock);
  if (!pmd->fail_io) {
    const uint64_t nr_free = pmd->tm->sm()->nr_free();
    *result = nr_free < pmd->metadata_reserve ? 0 : nr_free - pmd->metadata_reserve;
    r = 0;
  }
  sim::up_read(&pmd->root_lock);
  return r;
}

int dm_pool_get_metadata_dev_size(dm_pool_metadata* pmd, uint64_t* result) {
  int r = -EINVAL;
  sim::down_read(&pmd->root_lock);
  if (!pmd->fail_io) {
    *result = pmd->tm->sm()->nr_blocks();
    r = 0;
  }
  sim::up_read(&pmd->root_lock);
  return r;
}

int dm_pool_get_data_dev_size(dm_pool_metadata* pmd, uint64_t* result) {
  int r = -EINVAL;
  sim::down_read(&pmd->root_lock);
  if (!pmd->fail_io) {
    *result = pmd->data_sm->nr_blocks();
    r = 0;
  }
  sim::up_read(&pmd->root_lock);
  return r;
}

int dm_pool_resize_data_dev(dm_pool_metadata* pmd, uint64_t new_size) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) r = __resize_space_map(pmd->data_sm.get(), new_size);
  pmd_write_unlock(pmd);
  return r;
}

int dm_pool_resize_metadata_dev(dm_pool_metadata* pmd, uint64_t new_size) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) {
    r = __resize_space_map(pmd->tm->sm(), new_size);
    if (!r) __set_metadata_reserve(pmd);
  }
  pmd_write_unlock(pmd);
  return r;
}

// ---- transactions ----

int dm_pool_commit_metadata(dm_pool_metadata* pmd) {
  int r = -EINVAL;
  // A commit must not be what puts the pool in service.
  pmd_write_lock_in_core(pmd);
  if (!pmd->fail_io) {
    r = __commit_transaction(pmd);
    if (r >= 0) r = __begin_transaction(pmd);
  }
  pmd_write_unlock(pmd);
  return r;
}

// dm_block_manager_reset is a write-back of every dirty buffer and a drop of the cache: in
// dmsim, destroying the block manager (its bufio client writes back and waits) and making a new
// one. Departure: the kernel's re-open does not reload the in-core roots (only a later
// __begin_transaction would); dmsim reloads root and details_root from the superblock, as the
// reference's B.9.3 has it, so that lookups after an abort see the committed trees. time,
// trans_id and the in-core device records are not reloaded.
int dm_pool_abort_metadata(dm_pool_metadata* pmd) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) {
    __set_abort_with_changes_flags(pmd);
    pmd->mapped_uncommitted.clear();
    pmd->data_ops_uncommitted.clear();
    __destroy_persistent_data_objects(pmd);
    r = __create_persistent_data_objects(pmd, false);
    if (!r) {
      DmBlock* sblock;
      r = pmd->bm->read_lock(THIN_SUPERBLOCK_LOCATION, &sb_validator, &sblock);
      if (!r) {
        pmd->root = sbl::data_mapping_root.get(dm_block_data(sblock));
        pmd->details_root = sbl::device_details_root.get(dm_block_data(sblock));
        pmd->bm->unlock(sblock);
      }
    }
    if (r) {
      pmd->fail_io = true;
      __destroy_persistent_data_objects(pmd);
    }
  }
  pmd_write_unlock(pmd);
  return r;
}

void dm_pool_metadata_read_only(dm_pool_metadata* pmd) {
  pmd_write_lock_in_core(pmd);
  pmd->read_only = true;
  if (pmd->bm) pmd->bm->set_read_only();
  pmd_write_unlock(pmd);
}

void dm_pool_metadata_read_write(dm_pool_metadata* pmd) {
  pmd_write_lock_in_core(pmd);
  pmd->read_only = false;
  if (pmd->bm) pmd->bm->set_read_write();
  pmd_write_unlock(pmd);
}

// Sets the flag in core and in the superblock buffer: no commit, no flush; it reaches the disk
// with the next commit or a write-back of the buffer.
int dm_pool_metadata_set_needs_check(dm_pool_metadata* pmd) {
  int r = -EINVAL;
  pmd_write_lock(pmd);
  if (!pmd->fail_io) {
    pmd->flags |= THIN_METADATA_NEEDS_CHECK_FLAG;
    DmBlock* sblock;
    r = superblock_lock(pmd, &sblock);
    if (r) {
      DMERR("couldn't lock superblock");
    } else {
      sbl::flags.put(dm_block_data(sblock), pmd->flags);
      pmd->bm->unlock(sblock);
    }
  }
  pmd_write_unlock(pmd);
  return r;
}

bool dm_pool_metadata_needs_check(dm_pool_metadata* pmd) {
  sim::down_read(&pmd->root_lock);
  const bool needs_check = pmd->flags & THIN_METADATA_NEEDS_CHECK_FLAG;
  sim::up_read(&pmd->root_lock);
  return needs_check;
}

void dm_pool_register_pre_commit_callback(dm_pool_metadata* pmd, dm_pool_pre_commit_fn fn) {
  pmd_write_lock_in_core(pmd);
  pmd->pre_commit_fn = std::move(fn);
  pmd_write_unlock(pmd);
}

int dm_pool_register_metadata_threshold(dm_pool_metadata* pmd, uint64_t threshold, dm_sm_threshold_fn fn) {
  pmd_write_lock_in_core(pmd);
  pmd->threshold = threshold;
  pmd->threshold_fn = std::move(fn);
  pmd->threshold_value_set = false;
  pmd_write_unlock(pmd);
  return 0;
}

// ---- thin_restore ----

namespace {

int __restore_device(dm_pool_metadata* pmd, const restore_device& d) {
  int r = __create_thin(pmd, d.dev_id);
  if (r) return r;
  dm_thin_device* td;
  r = __open_device(pmd, d.dev_id, false, &td);
  if (r) return r;
  for (const restore_mapping& m : d.mappings) {
    pmd->time = m.time;  // __insert stamps the mapping with the pool's time
    r = __insert(td, m.vblock, m.data_block);
    if (!r) r = pmd->data_sm->inc_block(m.data_block);
    if (r) break;
  }
  pmd->mapped_uncommitted.clear();  // no pool is running: nothing for the crash search
  pmd->data_ops_uncommitted.clear();
  td->transaction_id = d.transaction_id;
  td->creation_time = d.creation_time;
  td->snapshotted_time = d.snapshotted_time;
  td->changed = true;
  __close_device(td);
  return r;
}

}  // namespace

int dm_pool_restore_metadata(model::BlockDevice* bdev, const restore_metadata& m, std::string* error) {
  auto fail = [&](int r) {
    *error = r == -ENOSPC ? "transaction_manager::new_block() couldn't allocate new block"
                          : "restore failed: " + model::errno_name(r);
    model::blkdev_issue_zeroout(bdev, 0, THIN_METADATA_BLOCK_SECTORS);
    return r;
  };
  if (model::blkdev_issue_zeroout(bdev, 0, THIN_METADATA_BLOCK_SECTORS) != model::BLK_STS_OK) return fail(-EIO);
  std::unique_ptr<dm_pool_metadata> pmd;
  int r = dm_pool_metadata_open(bdev, m.data_block_size, true, {}, nullptr, &pmd);
  if (r) return fail(r);
  pmd_write_lock(pmd.get());
  r = __resize_space_map(pmd->data_sm.get(), m.nr_data_blocks);
  for (size_t i = 0; !r && i < m.devices.size(); i++) r = __restore_device(pmd.get(), m.devices[i]);
  pmd->time = m.time;
  pmd->trans_id = m.trans_id;
  pmd->flags = 0;
  if (!r && m.version != THIN_VERSION) {
    // The kernel only ever writes its own version, the tool the file's: put it in the
    // superblock's buffer, whose other fields the commit sets.
    DmBlock* sblock;
    r = superblock_lock(pmd.get(), &sblock);
    if (!r) {
      sbl::version.put(dm_block_data(sblock), m.version);
      pmd->bm->unlock(sblock);
    }
  }
  if (!r) r = __commit_transaction(pmd.get());
  pmd->fail_io = true;  // the tool commits once; nothing half restored is committed on close
  pmd_write_unlock(pmd.get());
  dm_pool_metadata_close(pmd);
  return r ? fail(r) : 0;
}

}  // namespace engines::thin
