// dm-era in dmsim: the target, its variant knobs, its userland tools and its checks.
#pragma once

namespace engines::era {

// Registers everything below with dm core and the harness (once per process).
void register_era();

void register_era_knobs();
void register_era_tools();
void register_era_checks();

}  // namespace engines::era
