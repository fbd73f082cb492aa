// dm-era in dmsim: the target, its variant knobs, its userland tools and its checks.
#pragma once

#include <string>

namespace engines::era {

// Registers everything below with dm core and the harness (once per process).
void register_era();

void register_era_knobs();
void register_era_tools();
void register_era_checks();

// Why thin-provisioning-tools 0.9.0's era_check rejects this metadata image although the kernel
// writes it, or "": an era array of 0 blocks (between format and the first preresume resize)
// fails its array walk's "highest index == nr_entries - 1" test as "missing blocks".
std::string era_check_misjudges(const std::string& image);

}  // namespace engines::era
