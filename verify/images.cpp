#include "verify/images.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "model/disk_trace.hpp"

namespace verify {

model::DiskImage new_disk_image(const DiskState& d) {
  return model::DiskImage(d.disk_id, d.sectors, d.initial_zero);
}

model::DiskImage image_after(const DiskState& d, const model::DiskImage& start) {
  std::istringstream in(d.trace);
  const model::DiskTrace t = model::DiskTrace::load(in);
  std::vector<const model::IoRecord*> done;
  for (const auto& r : t.records)
    if (r.is_write() && r.sectors && r.complete_ns != model::IoRecord::kInFlight && r.status == model::BLK_STS_OK &&
        !r.dropped)
      done.push_back(&r);
  std::stable_sort(done.begin(), done.end(), [](auto* a, auto* b) { return a->complete_seq < b->complete_seq; });
  model::DiskImage img = start;
  // Sequence numbers above the start's own, so that every write of the phase wins over it.
  uint64_t base = 0;
  for (const auto& [s, w] : start.written()) base = std::max(base, w.seq);
  for (const model::IoRecord* r : done)
    for (uint64_t s = r->sector; s < r->sector + r->sectors && s < img.sectors(); s++)
      img.apply(s, r->content_at(s, d.discard_zeroes, img.read(s)), base + r->complete_seq);
  return img;
}

void append_bytes(const model::DiskImage& img, uint64_t first, uint64_t count, std::string& out) {
  uint8_t buf[512];
  for (uint64_t s = first; s < first + count; s++) {
    img.read(s).to_bytes(buf);
    out.append(reinterpret_cast<const char*>(buf), sizeof buf);
  }
}

void write_image_file(const model::DiskImage& img, const std::string& path) {
  auto fail = [&path](const std::string& why) { return std::runtime_error("cannot write " + path + ": " + why); };
  std::error_code ec;
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) throw fail(ec.message());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw fail(std::strerror(errno));
  bool ok = ::ftruncate(fd, static_cast<off_t>(img.sectors() * 512)) == 0;
  uint8_t buf[512];
  for (uint64_t s = 0; ok && s < img.sectors(); s++) {
    const model::Sector sec = img.read(s);
    if (sec.token == model::kZeroToken && !sec.bytes) continue;  // a hole reads as zeroes
    sec.to_bytes(buf);
    ok = ::pwrite(fd, buf, sizeof buf, static_cast<off_t>(s * 512)) == static_cast<ssize_t>(sizeof buf);
  }
  const int err = errno;
  if (::close(fd) != 0 && ok) throw fail(std::strerror(errno));
  if (!ok) throw fail(std::strerror(err));
}

namespace {
// A path component from free text: what a file name may hold, the rest as '_'.
std::string component(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' ? c : '_';
  return out.empty() || out == "." || out == ".." ? "_" + out : out;
}
}  // namespace

std::string unit_image_dir(const std::string& dir, const std::string& scenario, uint64_t seed,
                           const std::vector<std::string>& knobs) {
  std::string unit = "seed-" + std::to_string(seed);
  for (const auto& k : knobs) unit += "+" + k;
  return (std::filesystem::path(dir) / component(scenario) / component(unit)).string();
}

}  // namespace verify
