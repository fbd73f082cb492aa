// The device-mapper control interface with dmsetup's vocabulary (dm-ioctl.c): create, load,
// clear, suspend, resume, status, table, info, message, remove. Each call runs in the calling
// simulated thread, as an ioctl runs in its caller, taking the same locks in the same order.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/dm/mapped_device.hpp"

namespace model {

struct DmResult {
  int err = 0;         // 0 or -errno
  std::string output;  // what dmsetup prints on stdout
  std::string error;   // what dmsetup prints on stderr
  bool ok() const { return err == 0; }
};

class DmControl {
 public:
  DmControl();
  ~DmControl();

  // A table is one or more lines "START LENGTH TYPE ARGS...".
  DmResult create(const std::string& name, const std::string& table);
  DmResult load(const std::string& name, const std::string& table);
  DmResult clear(const std::string& name);
  DmResult suspend(const std::string& name, bool noflush = false);
  DmResult resume(const std::string& name, bool noflush = false);
  DmResult status(const std::string& name, bool noflush = false, bool inactive = false);
  DmResult table(const std::string& name, bool inactive = false);
  DmResult info(const std::string& name);
  DmResult message(const std::string& name, uint64_t sector, const std::string& msg);
  DmResult remove(const std::string& name);

  MappedDevice* device(const std::string& name) const;
  std::vector<std::string> names() const;
  // Every block device a live or an inactive table holds open: devices a target owns now.
  std::vector<BlockDevice*> devices_in_use() const;
  // One line per target of every live and inactive table: "TYPE live|inactive [suspended] SIG"
  // with the target's state_signature; reads only, for the explorer's coverage.
  std::vector<std::string> state_signatures() const;

 private:
  struct HashCell {
    std::unique_ptr<MappedDevice> md;
    DmTable* new_map = nullptr;  // the inactive slot
  };
  HashCell* find(const std::string& name, const char* ioctl, DmResult& res);
  DmResult populate(HashCell& hc, const std::string& table, DmTable** out);
  // Puts `t` (or nothing) in the inactive slot, destroying the table that was staged there.
  void replace_staged(HashCell& hc, DmTable* t);
  // The cell that names `md`, or null once it was removed (dm_get_mdptr); under hash_lock_.
  const HashCell* cell_of(const MappedDevice* md) const;
  DmResult retrieve_status(MappedDevice* md, StatusType type, unsigned flags, bool inactive);
  static DmResult fail(const std::string& ioctl, const std::string& name, int err);

  sim::RwSemaphore hash_lock_{"_hash_lock"};
  std::map<std::string, HashCell> cells_;
  std::vector<std::unique_ptr<MappedDevice>> removed_;  // kept: late bios may still name them
  uint32_t next_minor_ = 0;
};

}  // namespace model
