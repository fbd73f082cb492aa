// dm-snapshot's exception stores (dm-exception-store.h): where a snapshot keeps its table of
// exceptions, "origin chunk `old_chunk` is preserved at COW chunk `new_chunk`". Two types: the
// persistent store ("P", "PO"; snapshot_persistent_store.cpp) in the kernel's on-disk format,
// and the transient store ("N"; snapshot_transient_store.cpp), which keeps nothing on disk.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/block_device.hpp"

namespace engines::snapshot {

using chunk_t = uint64_t;

// struct dm_exception as the store sees it: a single chunk (the target's table keeps the
// consecutive counts, the store never does).
struct dm_exception {
  chunk_t old_chunk = 0;
  chunk_t new_chunk = 0;
};

// What a store knows of the snapshot it serves (dm_snap_cow and the target's length).
struct StoreContext {
  model::BlockDevice* cow = nullptr;  // the COW device
  std::string cow_name;               // as the table names it
  std::string snapshot_name;          // the mapped device, for log lines
  // The origin device, when known: the chunk size must also be a multiple of its logical block
  // size (dm_exception_store_set_chunk_size checks both devices).
  model::BlockDevice* origin = nullptr;
};

// The historical store behaviours a snapshot can switch back on (from snapshot_variant).
struct store_variant {
  // B10: a failed copy is completed without passing through commit_exception, so the store's
  // count of prepared exceptions never returns to zero and batched callbacks of other
  // exceptions wait forever.
  bool copy_error_bypasses_store = false;
};

class DmExceptionStore {
 public:
  virtual ~DmExceptionStore() = default;

  // "P", "PO" or "N": the table's store argument, as status TABLE prints it.
  virtual const char* type_name() const = 0;
  // Whether snapshot-merge can use it (prepare_merge/commit_merge).
  virtual bool supports_merge() const = 0;

  // read_metadata: calls `callback(old, new)` for every committed exception, in on-disk order;
  // returns <0 on an error, 1 when the snapshot is marked invalid on disk, 0 otherwise. A new
  // (zeroed) COW device is initialised here (header and first area written).
  virtual int read_metadata(const std::function<int(chunk_t old_chunk, chunk_t new_chunk)>& callback) = 0;
  // prepare_exception: chooses e->new_chunk; non-zero when the COW device is full (-ENOSPC from
  // the persistent store, -1 from the transient one, as in the kernel).
  virtual int prepare_exception(dm_exception* e) = 0;
  // commit_exception: records `e`; `callback(success)` runs once the entry is durable (maybe
  // later, from another call: commits are batched while other exceptions are in flight).
  // `valid` false marks the store invalid (a failed copy); the callback still runs. The kernel
  // relies on never being called concurrently for one store.
  virtual void commit_exception(const dm_exception& e, bool valid, std::function<void(bool success)> callback) = 0;
  // prepare_merge: the number of consecutive exceptions, ending with the last one committed, whose
  // old and new chunks both decrease by one going backwards; their last one's chunks in *last_*.
  // 0: nothing left to merge; <0: error.
  virtual int prepare_merge(chunk_t* /*last_old_chunk*/, chunk_t* /*last_new_chunk*/) { return -22; }
  // commit_merge: the last `nr_merged` exceptions are forgotten, durably.
  virtual int commit_merge(int /*nr_merged*/) { return -22; }
  // drop_snapshot: the store is marked invalid (on disk for the persistent store).
  virtual void drop_snapshot() = 0;
  // usage: in sectors.
  virtual void usage(uint64_t* total_sectors, uint64_t* sectors_allocated, uint64_t* metadata_sectors) const = 0;

  uint32_t chunk_size = 0;  // sectors, a power of two
  uint32_t chunk_mask = 0;
  uint32_t chunk_shift = 0;
  bool userspace_supports_overflow = false;  // "PO"
  // dmsim: read_metadata found no snapshot there and began a new one (always, for a transient
  // store): what the snapshot holds starts now.
  bool new_snapshot = false;
  StoreContext ctx;
};

// dm_exception_store_create: parses `<store> <chunk_sectors>` (argv[0..1]) for a snapshot whose
// COW device is ctx.cow; sets *error to the kernel's ti->error text on failure.
int dm_exception_store_create(const std::string& store_arg, const std::string& chunk_arg, const StoreContext& ctx,
                              const store_variant& variant, std::unique_ptr<DmExceptionStore>* out, std::string* error);

// dm_exception_store_set_chunk_size: checks and sets the chunk size (a power of two, a multiple
// of the devices' logical block size, at most INT_MAX >> SECTOR_SHIFT). A table chunk size of 0
// never gets here: dm_exception_store_create keeps it 0, the persistent store then takes the
// header's (or the default) and the target refuses 0 for a transient store ("Chunk size not set").
int dm_exception_store_set_chunk_size(DmExceptionStore* store, uint32_t chunk_size, std::string* error);

std::unique_ptr<DmExceptionStore> make_persistent_store(const StoreContext& ctx, bool overflow_aware,
                                                        const store_variant& v);
std::unique_ptr<DmExceptionStore> make_transient_store(const StoreContext& ctx);

// ---- the on-disk format, for checks and tools (snapshot_persistent_store.cpp) ----

constexpr uint32_t SNAP_MAGIC = 0x70416e53;  // "SnAp"
constexpr uint32_t SNAPSHOT_DISK_VERSION = 1;
constexpr uint32_t DM_CHUNK_SIZE_DEFAULT_SECTORS = 32;  // 16 KiB

// What a userland reader finds on a persistent COW device: the header and every exception up to
// the end marker, in on-disk order.
struct PersistentCowContents {
  bool formatted = false;  // the magic is there
  bool valid = false;
  uint32_t version = 0;
  uint32_t chunk_size = 0;  // sectors
  std::vector<dm_exception> exceptions;
  uint64_t areas_read = 0;
  std::string error;  // set when the device cannot be read as a COW device
};
// Reads `bdev` (outside any simulated thread is fine: it submits and expects immediate
// completion, as the checks' content views give).
PersistentCowContents read_persistent_cow(model::BlockDevice* bdev);
// Where area i's metadata chunk lives, for a chunk of `chunk_size` sectors.
uint64_t area_location(uint32_t chunk_size, uint64_t area);
uint64_t exceptions_per_area(uint32_t chunk_size);

}  // namespace engines::snapshot
