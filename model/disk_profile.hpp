// Timing profiles of simulated disks: per-operation latency and bandwidth (shared by concurrent
// transfers through SimGrid's disk model), and the latency of a cache flush.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace model {

struct DiskProfile {
  std::string name;
  double read_latency_s = 0, write_latency_s = 0, flush_latency_s = 0;
  double read_bw = 0, write_bw = 0;  // bytes/s, 0 = infinite
};

// hdd, sata-ssd (a slow cache flush of 8 ms, as the dm-clone RFC reports for SSDs that sustain
// hundreds of thousands of write IOPS), nvme, instant.
std::optional<DiskProfile> disk_profile(const std::string& name);
std::vector<std::string> disk_profile_names();

}  // namespace model
