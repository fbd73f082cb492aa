// Disk images as files, for `--save-images` and the real tools: what a disk holds at the end of
// a phase, rebuilt from where it started and its trace, and its sectors as the bytes a read
// returns (zeroes, real bytes, or the deterministic expansion of a token: Sector::to_bytes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/disk_image.hpp"
#include "verify/phase_output.hpp"

namespace verify {

// A new disk as the phase that recorded `d` made it (its initial content, nothing written).
model::DiskImage new_disk_image(const DiskState& d);

// What the disk of `d` holds at the end of the phase that started it from `start`: every write
// of its trace that completed, applied in completion order (what a read returned then, cached
// writes included; writes still in flight at a power cut are not).
model::DiskImage image_after(const DiskState& d, const model::DiskImage& start);

// Sectors [first, first + count) of `img` as the bytes a read returns, appended to `out`.
void append_bytes(const model::DiskImage& img, uint64_t first, uint64_t count, std::string& out);

// Writes the whole of `img` to `path` (its directories created; zero sectors become holes).
// Throws std::runtime_error naming the path when it cannot be written.
void write_image_file(const model::DiskImage& img, const std::string& path);

// DIR/<scenario name>/seed-<N>[+<knob>...]: where `--save-images DIR` puts one run's images.
std::string unit_image_dir(const std::string& dir, const std::string& scenario, uint64_t seed,
                           const std::vector<std::string>& knobs);

}  // namespace verify
