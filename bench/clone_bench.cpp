// `dmsim bench clone`: simulated dm-clone figures on the seed's RFC setup (an HDD source, a SATA
// SSD destination and metadata): background hydration bandwidth by region size, batch size and
// kcopyd sub-job size, and the shapes of the RFC's user-I/O tables by region size (random 4 KiB
// write IOPS, random 4 KiB read latency, sequential 1 MiB write bandwidth), each beside the seed.
#include <cstdio>
#include <string>

#include "bench/bench.hpp"
#include "bench/measure.hpp"
#include "engines/engine_registry.hpp"
#include "engines/lib/kcopyd.hpp"
#include "model/dm/dm_ioctl.hpp"
#include "model/sync_io.hpp"
#include "model/world.hpp"
#include "sim/kernel.hpp"

namespace bench {

namespace {

constexpr uint64_t kCloneMiB = 256;  // the seed's LVs are 300 GiB; the rates do not depend on it

// A clone of kCloneMiB over an HDD source, with `args` after the region size.
model::World* clone_world(uint32_t region_kib, const std::string& args) {
  engines::register_engines();
  auto* w = new model::World;
  model::DiskConfig c;
  c.sectors = kCloneMiB << 11;
  c.name = "dest";
  c.profile = "sata-ssd";
  w->add_disk(c);
  c.name = "src";
  c.profile = "hdd";
  w->add_disk(c);
  c.name = "meta";
  c.profile = "sata-ssd";
  c.sectors = 32 << 11;
  c.initial_zero = true;
  w->add_disk(c);
  const std::string table = "0 " + std::to_string(kCloneMiB << 11) + " clone /dev/meta /dev/dest /dev/src " +
                            std::to_string(region_kib * 2) + " " + args;
  const model::DmResult r = w->dm().create("cl", table);
  if (!r.ok()) throw std::runtime_error("bench clone: " + table + ": " + r.error);
  return w;
}

// The status line's hydrated count, without a commit.
uint64_t hydrated(model::World* w) {
  const std::string s = w->dm().status("cl", true).output;
  // "0 L clone 8 u/t R h/n ..."
  unsigned long long h = 0;
  char region[32];
  if (std::sscanf(s.c_str(), "%*s %*s clone %*s %*s %31s %llu/", region, &h) != 2) return 0;
  return h;
}

// Simulated MB/s of hydrating the whole clone in the background.
double hydration_bandwidth(uint32_t region_kib, unsigned threshold, unsigned batch, unsigned subjob_kib) {
  engines::kcopyd_subjob_size_kb = subjob_kib;
  const uint64_t t0 = sim::ktime_get_ns();
  model::World* w = clone_world(region_kib, "0 4 hydration_threshold " + std::to_string(threshold) +
                                                " hydration_batch_size " + std::to_string(batch));
  const uint64_t regions = kCloneMiB * 1024 / region_kib;
  while (hydrated(w) < regions) sim::udelay_sim(0.005);
  return (kCloneMiB << 20) / ((sim::ktime_get_ns() - t0) * 1e-9) / 1e6;
}

// Scattered 4 KiB offsets, one per region at most (QD1, as one fio job of depth 1).
uint64_t scattered_sector(uint32_t region_kib, uint64_t i) {
  const uint64_t regions = kCloneMiB * 1024 / region_kib;
  return (i * 7919 % regions) * region_kib * 2 + (i % (region_kib / 4)) * 8;
}

// Random 4 KiB writes per second to unhydrated regions, without background hydration.
double random_write_iops(uint32_t region_kib) {
  model::World* w = clone_world(region_kib, "1 no_hydration");
  model::BlockDevice* cl = w->lookup("/dev/mapper/cl");
  constexpr uint64_t kWrites = 200;
  const uint64_t t0 = sim::ktime_get_ns();
  for (uint64_t i = 0; i < kWrites; i++) model::blk_write(cl, scattered_sector(region_kib, i), 8, 0, nullptr);
  return kWrites / ((sim::ktime_get_ns() - t0) * 1e-9);
}

// Mean latency in ms of random 4 KiB reads of unhydrated regions.
double random_read_latency_ms(uint32_t region_kib) {
  model::World* w = clone_world(region_kib, "1 no_hydration");
  model::BlockDevice* cl = w->lookup("/dev/mapper/cl");
  constexpr uint64_t kReads = 200;
  const uint64_t t0 = sim::ktime_get_ns();
  for (uint64_t i = 0; i < kReads; i++) model::blk_read(cl, scattered_sector(region_kib, i), 8, nullptr);
  return (sim::ktime_get_ns() - t0) * 1e-6 / kReads;
}

// MB/s of sequential 1 MiB writes over unhydrated regions (whole-region overwrites: no copy).
double sequential_write_bandwidth(uint32_t region_kib) {
  model::World* w = clone_world(region_kib, "1 no_hydration");
  model::BlockDevice* cl = w->lookup("/dev/mapper/cl");
  constexpr uint64_t kMiB = 64;
  const uint64_t t0 = sim::ktime_get_ns();
  for (uint64_t i = 0; i < kMiB; i++) model::blk_write(cl, i * 2048, 2048, 0, nullptr);
  return (kMiB << 20) / ((sim::ktime_get_ns() - t0) * 1e-9) / 1e6;
}

}  // namespace

Table clone(int runs) {
  // Simulated time is deterministic: one run of each (each in a child process) is the figure.
  (void)runs;
  Table t{"clone",
          1,
          "simulated: hdd source, sata-ssd destination and metadata, 256 MiB clone; seed: dm-clone RFC, "
          "2019-07, 300 GiB LVs, fio parameters not in the thread",
          {},
          {}};
  struct Hydration {
    uint32_t region_kib;
    unsigned threshold, batch;
  };
  for (const Hydration& h : {Hydration{4, 1, 1}, Hydration{4, 128, 128}, Hydration{64, 1, 1}, Hydration{64, 16, 16},
                             Hydration{512, 1, 1}, Hydration{1024, 4, 4}}) {
    const std::string cell =
        std::to_string(h.region_kib) + "k_t" + std::to_string(h.threshold) + "_b" + std::to_string(h.batch);
    const std::string label = std::to_string(h.region_kib) + " KiB regions, threshold " + std::to_string(h.threshold) +
                              ", batch " + std::to_string(h.batch) + ", hydration";
    const double old64 = median_of(1, [h] { return hydration_bandwidth(h.region_kib, h.threshold, h.batch, 64); });
    const double new512 = median_of(1, [h] { return hydration_bandwidth(h.region_kib, h.threshold, h.batch, 512); });
    t.medians.push_back({"hydrate_" + cell + "_64k_MBps", label + ", 64 KiB sub-jobs: MB/s", old64, 1});
    t.medians.push_back({"hydrate_" + cell + "_512k_MBps", label + ", 512 KiB sub-jobs: MB/s", new512, 1});
    t.derived.push_back({"hydrate_" + cell + "_ratio", label + ": 512 KiB over 64 KiB", new512 / old64, 2});
  }
  struct UserIo {
    uint32_t region_kib;
    double seed_write_iops, seed_read_ms, seed_seq_write_MBps;
  };
  for (const UserIo& u : {UserIo{4, 62347, 1.5, 389.4}, UserIo{8, 696, 1.5, 390.5}, UserIo{16, 667, 1.5, 390.5},
                          UserIo{32, 614, 1.5, 390.4}, UserIo{64, 531, 1.5, 390.3}, UserIo{128, 417, 1.5, 390.5}}) {
    const std::string k = std::to_string(u.region_kib) + "k";
    const double iops = median_of(1, [u] { return random_write_iops(u.region_kib); });
    const double lat = median_of(1, [u] { return random_read_latency_ms(u.region_kib); });
    const double bw = median_of(1, [u] { return sequential_write_bandwidth(u.region_kib); });
    t.medians.push_back({"randwrite_" + k + "_iops", k + " regions, random 4 KiB writes (QD1): IOPS", iops, 0});
    t.medians.push_back({"randread_" + k + "_ms", k + " regions, random 4 KiB reads (QD1): ms", lat, 2});
    t.medians.push_back({"seqwrite_" + k + "_MBps", k + " regions, sequential 1 MiB writes: MB/s", bw, 1});
    t.derived.push_back(
        {"randwrite_" + k + "_over_seed",
         k + " random write IOPS: model over seed (" + std::to_string(static_cast<long>(u.seed_write_iops)) + ")",
         iops / u.seed_write_iops, 3});
    t.derived.push_back({"randread_" + k + "_over_seed", k + " random read latency: model over seed (1.5 ms)",
                         lat / u.seed_read_ms, 2});
    t.derived.push_back({"seqwrite_" + k + "_over_seed",
                         k + " sequential write MB/s: model over seed (" +
                             std::to_string(static_cast<int>(u.seed_seq_write_MBps)) + ")",
                         bw / u.seed_seq_write_MBps, 2});
  }
  return t;
}

}  // namespace bench
