// Obligations for the Z3 crash search taken from the engines' commit records (engines/journal.hpp)
// rather than from the block-device oracle: what a surviving metadata superblock promises.
#pragma once

#include <cstdint>
#include <vector>

#include "verify/block_device_oracle.hpp"
#include "verify/crash_explorer.hpp"
#include "verify/phase_output.hpp"

namespace verify {

// Era: for every write acknowledged before the crash, the superblock that survives on the
// metadata device must be one of the commits that record the write's block, or a later one.
// One obligation per metadata device: the strictest.
std::vector<BlockDeviceOracle::Obligation> commit_obligations(const PhaseOutput& p1, uint64_t crash_ns);

// Thin: if a commit's superblock survives, every data block it newly maps holds on the data
// disk what was written there before the superblock write, or something written since (no
// committed mapping points at data that never reached the media). Sectors nothing wrote before
// the commit (a pool that skips block zeroing) promise nothing.
std::vector<BlockDeviceOracle::Obligation> mapping_obligations(const PhaseOutput& p1, const MultiDiskCrashSpace& space,
                                                               uint64_t crash_ns);

}  // namespace verify
