// `dmsim bench thin`: simulated throughput of writes that make dm-thin call kcopyd, by pool block
// size and kcopyd sub-job size: breaking sharing after a snapshot (device-mapper-test-suite's
// snap_breaking_throughput, the seed's "dm kcopyd: Increase sub-job size to 512KiB" table), and
// provisioning fresh blocks with zeroing.
#include <string>

#include "bench/bench.hpp"
#include "engines/engine_registry.hpp"
#include "language/scenario.hpp"
#include "verify/phase.hpp"
#include "verify/runner.hpp"

namespace bench {

namespace {

constexpr uint64_t kThinMiB = 256;  // the seed's LV is 1 GiB; a quarter keeps the bench quick

// Simulated MB/s of the dd that writes the whole thin device in `io_kib` writes: after a snapshot
// (every block copied first) or on fresh blocks (every block zeroed first, unless the write
// covers it).
double thin_dd_bandwidth(uint32_t block_kib, uint32_t io_kib, unsigned subjob_kib, bool breaking) {
  const uint64_t thin_sectors = kThinMiB << 11;
  // Set as on a real machine: a phase starts with every module parameter at its default.
  const std::string pool = "  - echo " + std::to_string(subjob_kib) +
                           " > /sys/module/dm_mod/parameters/kcopyd_subjob_size_kb\n"
                           "  - dmsetup create pool --table \"0 " +
                           std::to_string(2 * thin_sectors) + " thin-pool /dev/meta /dev/data " +
                           std::to_string(block_kib * 2) + " 0\"\n";
  const std::string dd_whole = "  - dd if=/dev/zero of=/dev/mapper/thin oflag=direct bs=" + std::to_string(io_kib) +
                               "k count=" + std::to_string(kThinMiB * 1024 / io_kib) + "\n";
  std::string steps = pool +
                      "  - dmsetup message pool 0 create_thin 0\n"
                      "  - dmsetup create thin --table \"0 " +
                      std::to_string(thin_sectors) + " thin /dev/mapper/pool 0\"\n";
  if (breaking)
    steps += "  - dd if=/dev/zero of=/dev/mapper/thin oflag=direct bs=" + std::to_string(block_kib) +
             "k count=" + std::to_string(kThinMiB * 1024 / block_kib) +
             "\n  - dmsetup suspend thin\n  - dmsetup message pool 0 create_snap 1 0\n  - dmsetup resume thin\n";
  steps += dd_whole;
  const std::string yaml =
      "name: bench-thin\ndisks:\n  meta: {size: 64MiB, profile: nvme, initial: zero}\n"
      "  data: {size: " +
      std::to_string(2 * kThinMiB) + "MiB, profile: nvme}\nsteps:\n" + steps + "expect: [no-deadlock, no-errors]\n";
  engines::register_engines();
  const scenarios::Scenario s = scenarios::parse_scenario(yaml, "bench-thin.yaml");
  verify::PhaseInput in;
  in.scenario = &s;
  in.end_step = s.steps.size();
  in.config = verify::seed_config(s, 0);
  const verify::PhaseRun run = verify::run_phase(in);
  const verify::StepRecord& dd = run.out.steps.back();
  if (!run.out.finished || !dd.finished || dd.exit_code != 0 || dd.end_ns <= dd.start_ns) return 0;
  return (kThinMiB << 20) / ((dd.end_ns - dd.start_ns) * 1e-9) / 1e6;
}

}  // namespace

Table thin(int runs) {
  // Simulated time is deterministic: one run of each phase (each in its own process) is the figure.
  Table t{"thin", 1, "simulated, nvme profile, 256 MiB thin device; seed: Nikos Tsironis, 2019-06, 1 GiB LV", {}, {}};
  (void)runs;
  struct Case {
    uint32_t block_kib, io_kib;
    double seed_before, seed_after;  // MB/s, the seed's table (64 KiB / 512 KiB sub-jobs)
  };
  const Case cases[] = {{1024, 256, 242, 280}, {2048, 512, 241, 380}, {4096, 1024, 251, 474}, {8192, 2048, 264, 502}};
  for (const Case& c : cases) {
    const std::string cell = std::to_string(c.block_kib / 1024) + "M_" + std::to_string(c.io_kib) + "k";
    const std::string label = std::to_string(c.block_kib / 1024) + " MiB blocks, " + std::to_string(c.io_kib) +
                              " KiB writes, breaking sharing";
    const double before = thin_dd_bandwidth(c.block_kib, c.io_kib, 64, true);
    const double after = thin_dd_bandwidth(c.block_kib, c.io_kib, 512, true);
    t.medians.push_back({"break_" + cell + "_64k_MBps", label + ", 64 KiB sub-jobs: MB/s", before, 0});
    t.medians.push_back({"break_" + cell + "_512k_MBps", label + ", 512 KiB sub-jobs: MB/s", after, 0});
    t.derived.push_back(
        {"break_" + cell + "_ratio",
         label + ": 512 KiB over 64 KiB (seed " + std::to_string(c.seed_after / c.seed_before).substr(0, 4) + ")",
         after / before, 2});
    t.derived.push_back(
        {"break_" + cell + "_64k_over_seed",
         label + ", 64 KiB: model over seed (" + std::to_string(static_cast<int>(c.seed_before)) + " MB/s)",
         before / c.seed_before, 2});
    t.derived.push_back(
        {"break_" + cell + "_512k_over_seed",
         label + ", 512 KiB: model over seed (" + std::to_string(static_cast<int>(c.seed_after)) + " MB/s)",
         after / c.seed_after, 2});
  }
  for (uint32_t block_kib : {64u, 1024u}) {
    const std::string label = std::to_string(block_kib) + " KiB blocks, 4 KiB writes, provisioning (zeroing)";
    const double v = thin_dd_bandwidth(block_kib, 4, 512, false);
    t.medians.push_back({"provision_" + std::to_string(block_kib) + "k_MBps", label + ": MB/s", v, 1});
  }
  return t;
}

}  // namespace bench
