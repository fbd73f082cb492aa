// `dmsim bench io`: the I/O path through device-mapper over a cached disk, and how fast crash
// images are built from a disk's trace.
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench.hpp"
#include "bench/measure.hpp"
#include "model/crash_states.hpp"
#include "model/sync_io.hpp"
#include "model/world.hpp"
#include "sim/kernel.hpp"
#include "sim/schedule_explorer.hpp"

namespace bench {

namespace {

// 4 KiB writes through linear over a cached disk: `threads` writers, `total` writes.
double linear_writes(const std::string& profile) {
  const long total = 40000, threads = 4;
  auto* w = new model::World;
  model::DiskConfig c;
  c.name = "sda";
  c.sectors = 1 << 21;  // 1 GiB
  c.profile = profile;
  w->add_disk(c);
  w->dm().create("lin", "0 2097152 linear /dev/sda 0");
  model::BlockDevice* dev = w->lookup("/dev/mapper/lin");
  auto t0 = Clock::now();
  std::vector<sim::Thread*> ts;
  for (long t = 0; t < threads; t++)
    ts.push_back(&sim::kthread_run(
        [dev, t, total, threads] {
          for (long i = 0; i < total / threads; i++)
            model::blk_write(dev, static_cast<uint64_t>((t * 7919 + i * 104729) % 262144) * 8, 8);
        },
        "dd"));
  for (auto* t : ts) sim::join(*t);
  return per_second(total, t0);
}

// Crash images per second: a 10,000-write trace with a flush every 1,000 writes and none at
// the end, so the last 1,000 writes may persist; sampled states are built from it.
double crash_images() {
  auto* w = new model::World;
  model::DiskConfig c;
  c.name = "sda";
  c.sectors = 1 << 21;
  c.logical_block_size = 4096;
  model::VolatileCacheDisk& d = w->add_disk(c);
  sim::Rng rng(7);
  for (int i = 0; i < 10000; i++) {
    model::blk_write(&d, rng.below(262144) * 8, 8);
    if (i % 1000 == 999 && i < 9000) model::blkdev_issue_flush(&d);
  }
  auto t0 = Clock::now();
  model::CrashStateSpace cs(d.trace(), d.initial_media(), 4096, true, sim::ktime_get_ns());
  const long n = 2000;
  size_t sink = 0;
  cs.sample(1, n, [&](const std::vector<bool>& choice) { sink += cs.image(choice).overlay().size(); });
  if (sink == 0) throw std::runtime_error("no crash image had any persisted write");
  return per_second(n, t0);
}

}  // namespace

Table io(int runs) {
  Table t{"io", runs, "", {}, {}};
  t.medians = {{"linear_4k_writes_per_sec_instant", "4 KiB writes/s through linear (instant disk)",
                median_of(runs, [] { return linear_writes("instant"); })},
               {"linear_4k_writes_per_sec_sata_ssd", "4 KiB writes/s through linear (sata-ssd disk)",
                median_of(runs, [] { return linear_writes("sata-ssd"); })},
               {"crash_images_per_sec", "crash images/s from a 10,000-write trace", median_of(runs, crash_images)}};
  return t;
}

}  // namespace bench
