// The interface between device-mapper core and its targets, mirroring struct target_type and
// struct dm_target in include/linux/device-mapper.h: engines fill a TargetType with their
// callbacks (era_ctr, era_map, ...) and see each table line as a DmTarget.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/bio.hpp"
#include "model/block_device.hpp"

namespace sim {
class Mutex;
}

namespace model {

class DmTable;
class MappedDevice;
struct DmTarget;

enum MapResult : int {
  DM_MAPIO_SUBMITTED = 0,
  DM_MAPIO_REMAPPED = 1,
  DM_MAPIO_REQUEUE = 2,
  DM_MAPIO_DELAY_REQUEUE = 3,
  DM_MAPIO_KILL = 4,
};

enum EndioResult : int {
  DM_ENDIO_DONE = 0,
  DM_ENDIO_INCOMPLETE = 1,
  DM_ENDIO_REQUEUE = 2,
};

enum StatusType { STATUSTYPE_INFO, STATUSTYPE_TABLE };
constexpr unsigned DM_STATUS_NOFLUSH_FLAG = 1u << 0;

using DmArgs = std::vector<std::string>;

// A device a target opened with dm_get_device.
struct DmDev {
  BlockDevice* bdev = nullptr;
  std::string name;  // as given in the table line
};

using IterateFn = std::function<int(DmTarget* ti, DmDev* dev, uint64_t start, uint64_t len)>;

struct TargetType {
  const char* name;
  unsigned version[3];
  int (*ctr)(DmTarget* ti, const DmArgs& argv) = nullptr;
  void (*dtr)(DmTarget* ti) = nullptr;
  int (*map)(DmTarget* ti, Bio* bio) = nullptr;
  int (*end_io)(DmTarget* ti, Bio* bio, BlkStatus* error) = nullptr;
  void (*presuspend)(DmTarget* ti) = nullptr;
  void (*presuspend_undo)(DmTarget* ti) = nullptr;
  void (*postsuspend)(DmTarget* ti) = nullptr;
  int (*preresume)(DmTarget* ti) = nullptr;
  void (*resume)(DmTarget* ti) = nullptr;
  void (*status)(DmTarget* ti, StatusType type, unsigned status_flags, std::string& result) = nullptr;
  int (*message)(DmTarget* ti, const DmArgs& argv, std::string& result) = nullptr;
  int (*iterate_devices)(DmTarget* ti, const IterateFn& fn) = nullptr;
  void (*io_hints)(DmTarget* ti, QueueLimits* limits) = nullptr;
  // dmsim addition, not in the kernel: where a target whose mapping is fixed at construction
  // keeps `sector` (the device and sector below). The Z3 crash search uses it to relate data on
  // the disks to what the top of the stack must read. Targets whose mapping lives in their
  // metadata leave it unset and describe their commits instead.
  int (*locate)(DmTarget* ti, uint64_t sector, BlockDevice** bdev, uint64_t* out) = nullptr;
  // dmsim addition: a block never written through the target reads zeroes (dm-zero; dm-thin's
  // unprovisioned blocks), which is what the block-device oracle allows for it before a write.
  bool reads_zeroes_unless_written = false;
  // dmsim addition: a short, bounded summary of the instance's state ("era=3 digest snap"),
  // read between steps for `dmsim explore`'s coverage. Must only read: no locks, no I/O.
  std::string (*state_signature)(DmTarget* ti) = nullptr;
};

struct DmTarget {
  DmTable* table = nullptr;
  const TargetType* type = nullptr;
  uint64_t begin = 0, len = 0;  // sectors
  void* private_ = nullptr;
  std::string error;        // set by a failing ctr
  uint32_t max_io_len = 0;  // 0: no limit
  unsigned num_flush_bios = 0;
  unsigned num_discard_bios = 0;
  unsigned num_write_zeroes_bios = 0;
  bool flush_supported = false;
  bool discards_supported = false;
  // Discards are split at multiples of the device's max_discard_sectors, not only capped by it.
  bool max_discard_granularity = false;
  std::string params;  // the table line's arguments, as loaded
  // dmsim addition: this instance's never-written blocks read another device (dm-thin over an
  // external origin, or a pool's stale data when it skips block zeroing), whatever its type's
  // reads_zeroes_unless_written says.
  bool unwritten_reads_elsewhere = false;
};

// Target registration (dm_register_target); the simple targets register themselves.
void dm_register_target(const TargetType* tt);
const TargetType* dm_get_target_type(const std::string& name);
std::vector<std::string> dm_target_type_names();

// Helpers targets call, with the kernel's names.
int dm_get_device(DmTarget* ti, const std::string& path, DmDev** result);
void dm_put_device(DmTarget* ti, DmDev* d);
inline uint64_t dm_target_offset(const DmTarget* ti, uint64_t sector) {
  return sector - ti->begin;
}
MappedDevice* dm_table_get_md(DmTable* t);
void dm_internal_suspend_noflush(MappedDevice* md);
void dm_internal_resume(MappedDevice* md);
bool dm_suspended(const DmTarget* ti);
bool dm_noflush_suspending(const DmTarget* ti);
const std::string& dm_device_name(const MappedDevice* md);
// md->suspend_lock of the device a target belongs to: resume runs under it, which is what a
// target waiting for its own resume must declare to the deadlock detector.
sim::Mutex& dm_suspend_lock(DmTarget* ti);
// Storage for per-bio data of a target (dm_per_bio_data), created on first use.
template <class T>
T* dm_per_bio_data(Bio* bio) {
  if (!bio->per_bio_data) bio->per_bio_data = std::make_shared<T>();
  return static_cast<T*>(bio->per_bio_data.get());
}
// Parses an unsigned number the way the kernel's sscanf-based ctrs accept it.
bool dm_parse_u64(const std::string& s, uint64_t* out);

// DMERR / DMWARN / DMINFO: "device-mapper: <prefix>: <message>" in the kernel log, at KERN_ERR,
// KERN_WARNING or KERN_INFO; only errors count as the `errors` finding.
void dm_log(const std::string& prefix, const std::string& msg);
void dm_log_warn(const std::string& prefix, const std::string& msg);
void dm_log_info(const std::string& prefix, const std::string& msg);

}  // namespace model
