#include "verify/read_back.hpp"

#include <map>
#include <set>

#include "model/sync_io.hpp"
#include "sim/kernel.hpp"

namespace verify {

namespace {

constexpr uint64_t kMaxSectorsPerDevice = 1 << 20;
constexpr size_t kMaxSectorsPerRead = 256;

OracleRead read_device(const model::World& world, const std::string& dev, const std::vector<uint64_t>& sectors) {
  OracleRead rd;
  rd.device = dev;
  model::BlockDevice* b = world.lookup(dev);
  rd.present = b != nullptr;
  size_t i = 0;
  while (b && i < sectors.size()) {
    // One read per run of consecutive sectors, at most kMaxSectorsPerRead at a time.
    size_t j = i + 1;
    while (j < sectors.size() && sectors[j] == sectors[j - 1] + 1 && j - i < kMaxSectorsPerRead) j++;
    std::vector<model::Sector> data;
    const uint64_t first = sectors[i];
    const uint32_t n = static_cast<uint32_t>(j - i);
    if (first + n > b->capacity() || model::blk_read(b, first, n, &data) != model::BLK_STS_OK) {
      for (size_t k = i; k < j; k++) rd.failed.push_back(sectors[k]);
    } else {
      for (uint32_t k = 0; k < n; k++) rd.values.emplace_back(first + k, data[k].token);
    }
    i = j;
  }
  return rd;
}

}  // namespace

std::vector<std::pair<std::string, std::vector<uint64_t>>> sectors_to_check(const TopIoLog& log, uint64_t crash_ns,
                                                                            uint64_t limit) {
  std::map<std::string, std::set<uint64_t>> by_dev;
  for (const auto& io : log.ios) {
    if (io.kind == TopIo::Flush || io.submit_ns > crash_ns) continue;
    auto& set = by_dev[io.device];
    for (uint64_t s = io.sector; s < io.sector + io.sectors && set.size() < limit; s++) set.insert(s);
  }
  std::vector<std::pair<std::string, std::vector<uint64_t>>> out;
  for (auto& [d, set] : by_dev) out.emplace_back(d, std::vector<uint64_t>(set.begin(), set.end()));
  return out;
}

std::vector<OracleRead> read_back(const model::World& world, const TopIoLog& before_crash, uint64_t crash_ns,
                                  const engines::Journal* before_crash_journal) {
  KFRAME_NAMED("oracle_read_back");
  const auto deleted =
      before_crash_journal ? engines::deleted_devices(before_crash_journal->events) : std::set<std::string>{};
  std::vector<OracleRead> out;
  for (const auto& [dev, sectors] : sectors_to_check(before_crash, crash_ns, kMaxSectorsPerDevice))
    if (!deleted.count(dev)) out.push_back(read_device(world, dev, sectors));
  return out;
}

}  // namespace verify
