#include "model/disk_profile.hpp"

namespace model {

namespace {
const std::vector<DiskProfile>& profiles() {
  static const std::vector<DiskProfile> p = {
      // A 7200 rpm disk: seek plus half a rotation per operation.
      {"hdd", 8e-3, 8e-3, 15e-3, 180e6, 170e6},
      {"sata-ssd", 90e-6, 30e-6, 8e-3, 540e6, 500e6},
      {"nvme", 15e-6, 10e-6, 0.5e-3, 3.2e9, 2.8e9},
      {"instant", 0, 0, 0, 0, 0},
  };
  return p;
}
}  // namespace

std::optional<DiskProfile> disk_profile(const std::string& name) {
  for (const auto& p : profiles())
    if (p.name == name) return p;
  return std::nullopt;
}

std::vector<std::string> disk_profile_names() {
  std::vector<std::string> n;
  for (const auto& p : profiles()) n.push_back(p.name);
  return n;
}

}  // namespace model
