// Where a top device's sectors live below the stack now: followed through the live tables of
// dm devices down to a disk, to a target that reads zeroes where nothing was written, or to a
// target whose mapping lives in its metadata (unknown). The executor places every write when it
// is submitted; a first phase ends with the data map of every device it used.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "model/world.hpp"
#include "verify/phase_output.hpp"

namespace verify {

// Sectors [sector, sector + len) of `b`, as placements of the top device's sectors from
// `top_sector` on, appended to `out`.
void place(const model::World& world, model::BlockDevice* b, uint64_t top_sector, uint64_t sector, uint64_t len,
           std::vector<Placement>& out);

// Every sector of each of `devices` that exists now.
std::vector<Extent> data_map(const model::World& world, const std::set<std::string>& devices);

}  // namespace verify
