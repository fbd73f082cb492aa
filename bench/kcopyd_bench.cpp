// `dmsim bench kcopyd`: simulated copy bandwidth of one kcopyd client by sub-job size, the shape
// behind the seed's "64 KiB vs 512 KiB" table.
#include <string>

#include "bench/bench.hpp"
#include "bench/measure.hpp"
#include "engines/lib/kcopyd.hpp"
#include "model/world.hpp"
#include "sim/kernel.hpp"

namespace bench {

namespace {

// Simulated MB/s of copying 1 GiB, 4 MiB region after region.
double kcopyd_copy_bandwidth(const std::string& profile, uint32_t sub_job_sectors) {
  auto* w = new model::World;
  model::DiskConfig c;
  c.sectors = 1 << 22;  // 2 GiB each
  c.profile = profile;
  c.name = "src";
  model::VolatileCacheDisk& src = w->add_disk(c);
  c.name = "dst";
  model::VolatileCacheDisk& dst = w->add_disk(c);
  engines::DmKcopydClient kc(nullptr, sub_job_sectors);
  const uint64_t region = 8192, total = 1ull << 21;  // sectors: 4 MiB regions, 1 GiB
  const uint64_t t0 = sim::ktime_get_ns();
  for (uint64_t s = 0; s < total; s += region) {
    sim::Completion done("region copied");
    kc.copy({&src, s, region}, {{&dst, s, region}}, 0, [&](int, unsigned long) { sim::complete(&done); });
    sim::wait_for_completion(&done);
  }
  const double secs = (sim::ktime_get_ns() - t0) * 1e-9;
  return total * 512 / secs / 1e6;
}

}  // namespace

Table kcopyd(int runs) {
  Table t{"kcopyd", runs, "", {}, {}};
  struct Case {
    const char* key;
    const char* label;
    const char* profile;
    uint32_t sub_job_sectors;
  };
  const Case cases[] = {{"sata_ssd_64k_MBps", "sata-ssd, 64 KiB sub-jobs: simulated MB/s", "sata-ssd", 128},
                        {"sata_ssd_512k_MBps", "sata-ssd, 512 KiB sub-jobs: simulated MB/s", "sata-ssd", 1024},
                        {"nvme_64k_MBps", "nvme, 64 KiB sub-jobs: simulated MB/s", "nvme", 128},
                        {"nvme_512k_MBps", "nvme, 512 KiB sub-jobs: simulated MB/s", "nvme", 1024}};
  // Simulated bandwidth is deterministic: the median of any number of runs is the one value.
  for (const Case& k : cases)
    t.medians.push_back(
        {k.key, k.label, median_of(runs, [k] { return kcopyd_copy_bandwidth(k.profile, k.sub_job_sectors); })});
  t.derived = {{"sata_ssd_512k_over_64k", "sata-ssd: 512 KiB over 64 KiB", t.medians[1].value / t.medians[0].value, 2},
               {"nvme_512k_over_64k", "nvme: 512 KiB over 64 KiB", t.medians[3].value / t.medians[2].value, 2}};
  return t;
}

}  // namespace bench
