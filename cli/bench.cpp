// dmsim bench: performance figures measured as medians of several runs, each run in its own
// process. Benchmarks live here rather than in timed tests.
#include <sys/mman.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "cli/cli.hpp"
#include "engines/lib/kcopyd.hpp"
#include "model/crash_states.hpp"
#include "model/sync_io.hpp"
#include "model/world.hpp"
#include "scenarios/parser_fuzz.hpp"
#include "scenarios/scenario.hpp"
#include "sim/kernel.hpp"
#include "sim/schedule_explorer.hpp"
#include "sim/simulation.hpp"
#include "verify/results.hpp"
#include "verify/runner.hpp"

namespace dmsim::cli {

namespace {

const char* kHelp =
    "usage: dmsim bench runtime|io|kcopyd|crash-search [--json] [--runs N]\n"
    "       dmsim bench fuzz-parser [--execs N] [--seed S] [--corpus DIR] [--findings DIR] [--json]\n"
    "\n"
    "runtime: context switches per second (two threads yielding, and a completion ping-pong),\n"
    "         mutex lock/unlock pairs per second (uncontended, lockdep and trace on),\n"
    "         queue_work + wait_for_completion round trips per second, and the bare SimGrid\n"
    "         yield cost as a yardstick. Figures are medians over N runs (default 5).\n"
    "fuzz-parser: N (default 1000000) inputs mutated from the scenario files under DIR (default\n"
    "         ./scenarios) with seed S (default 1), each parsed; every input must parse within\n"
    "         the language's limits or be refused with FILE:LINE:COL messages. Batches run in\n"
    "         child processes, so a crash or a hang (5 s per input) is a finding too. Prints\n"
    "         executions, executions/s, distinct error messages and the findings, each input\n"
    "         saved under the findings DIR (default ./fuzz-findings). Exit 1 on any finding.\n";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Runs `workload` inside a fresh simulation in a child process; it returns operations per
// second measured with the wall clock around its own loop (the simulation itself never reads
// the wall clock).
double measure(const std::function<double()>& workload) {
  sim::SimConfig cfg;
  cfg.hung_task_timeout_secs = 0;
  auto out = sim::run_in_child(
      [&] {
        double ops = 0;
        sim::simulate(cfg, [&] { ops = workload(); });
        return std::to_string(ops);
      },
      600);
  if (!out.ok) throw std::runtime_error("benchmark run failed: " + out.error + "\n" + out.stderr_text);
  return std::stod(out.bytes);
}

using Clock = std::chrono::steady_clock;
double per_second(long ops, Clock::time_point t0) {
  return ops / std::chrono::duration<double>(Clock::now() - t0).count();
}

double yield_switches() {
  const long n = 200000;
  auto t0 = Clock::now();
  sim::Thread& a = sim::kthread_run(
      [n] {
        for (long i = 0; i < n; i++) sim::schedule();
      },
      "yield-a");
  sim::Thread& b = sim::kthread_run(
      [n] {
        for (long i = 0; i < n; i++) sim::schedule();
      },
      "yield-b");
  sim::join(a);
  sim::join(b);
  return per_second(2 * n, t0);
}

double completion_pingpong_switches() {
  const long n = 100000;
  auto* ping = new sim::Completion("ping");
  auto* pong = new sim::Completion("pong");
  auto t0 = Clock::now();
  sim::Thread& peer = sim::kthread_run(
      [=] {
        for (long i = 0; i < n; i++) {
          sim::wait_for_completion(ping);
          sim::complete(pong);
        }
      },
      "pong");
  for (long i = 0; i < n; i++) {
    sim::complete(ping);
    sim::wait_for_completion(pong);
  }
  sim::join(peer);
  return per_second(2 * n, t0);
}

double lock_pairs() {
  const long n = 500000;
  auto* m = new sim::Mutex("bench_lock");
  auto t0 = Clock::now();
  for (long i = 0; i < n; i++) {
    sim::mutex_lock(m);
    sim::mutex_unlock(m);
  }
  return per_second(n, t0);
}

double work_round_trips() {
  const long n = 50000;
  auto* wq = sim::alloc_workqueue("bench", sim::WQ_UNBOUND, 1);
  auto* done = new sim::Completion("work_done");
  auto* work = new sim::WorkStruct(
      "bench_work", [done](sim::WorkStruct*) { sim::complete(done); }, "bench_fn");
  auto t0 = Clock::now();
  for (long i = 0; i < n; i++) {
    sim::queue_work(wq, work);
    sim::wait_for_completion(done);
  }
  return per_second(n, t0);
}

// 4 KiB writes through linear over a cached disk, `threads` writers, `total` writes.
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
  model::Disk& d = w->add_disk(c);
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

int print_metrics(const char* name, bool json, int runs,
                  const std::vector<std::tuple<const char*, const char*, std::function<double()>>>& metrics,
                  const std::vector<std::pair<std::string, double>>& extra = {}) {
  std::map<std::string, double> med;
  for (const auto& [key, label, fn] : metrics) {
    std::vector<double> v;
    for (int i = 0; i < runs; i++) v.push_back(measure(fn));
    med[key] = median(v);
  }
  if (json) {
    std::printf("{\"benchmark\": \"%s\", \"runs\": %d, \"median\": {", name, runs);
    bool first = true;
    for (const auto& [key, label, fn] : metrics) {
      std::printf("%s\"%s\": %.0f", first ? "" : ", ", key, med[key]);
      first = false;
    }
    std::printf("}");
    for (const auto& [k, v] : extra) std::printf(", \"%s\": %.2f", k.c_str(), v);
    std::printf("}\n");
  } else {
    std::printf("dmsim bench %s (median of %d runs)\n", name, runs);
    for (const auto& [key, label, fn] : metrics) std::printf("  %-52s %14.0f\n", label, med[key]);
    for (const auto& [k, v] : extra) std::printf("  %-52s %14.2f\n", k.c_str(), v);
  }
  return kExitOk;
}

int bench_io(bool json, int runs) {
  return print_metrics("io", json, runs,
                       {{"linear_4k_writes_per_sec_instant", "4 KiB writes/s through linear (instant disk)",
                         [] { return linear_writes("instant"); }},
                        {"linear_4k_writes_per_sec_sata_ssd", "4 KiB writes/s through linear (sata-ssd disk)",
                         [] { return linear_writes("sata-ssd"); }},
                        {"crash_images_per_sec", "crash images/s from a 10,000-write trace", crash_images}});
}

// Simulated MB/s of copying 1 GiB, 4 MiB region after region, with one kcopyd client.
double kcopyd_copy_bandwidth(const std::string& profile, uint32_t sub_job_sectors) {
  auto* w = new model::World;
  model::DiskConfig c;
  c.sectors = 1 << 22;  // 2 GiB each
  c.profile = profile;
  c.name = "src";
  model::Disk& src = w->add_disk(c);
  c.name = "dst";
  model::Disk& dst = w->add_disk(c);
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

int bench_kcopyd(bool json, int runs) {
  std::vector<std::tuple<const char*, const char*, std::function<double()>>> metrics = {
      {"sata_ssd_64k_MBps", "sata-ssd, 64 KiB sub-jobs: simulated MB/s",
       [] { return kcopyd_copy_bandwidth("sata-ssd", 128); }},
      {"sata_ssd_512k_MBps", "sata-ssd, 512 KiB sub-jobs: simulated MB/s",
       [] { return kcopyd_copy_bandwidth("sata-ssd", 1024); }},
      {"nvme_64k_MBps", "nvme, 64 KiB sub-jobs: simulated MB/s", [] { return kcopyd_copy_bandwidth("nvme", 128); }},
      {"nvme_512k_MBps", "nvme, 512 KiB sub-jobs: simulated MB/s", [] { return kcopyd_copy_bandwidth("nvme", 1024); }},
  };
  // Simulated bandwidth is deterministic, so the ratios need one measurement each.
  const double s64 = measure(std::get<2>(metrics[0])), s512 = measure(std::get<2>(metrics[1]));
  const double n64 = measure(std::get<2>(metrics[2])), n512 = measure(std::get<2>(metrics[3]));
  return print_metrics("kcopyd", json, runs, metrics,
                       {{"sata_ssd_512k_over_64k", s512 / s64}, {"nvme_512k_over_64k", n512 / n64}});
}

// A planted violation that only some crash states expose: a caching target writes a stale copy
// back over a FUA write, which a crash shows only where that write-out reached the media.
const char* kPlanted = R"(name: planted-stale-writeback
disks:
  sda: {size: 16MiB, profile: nvme, logical_block_size: 4096}
steps:
  - dmsetup create c --table "0 32768 test-writeback-cache /dev/sda 0"
  - dd if=/dev/urandom of=/dev/mapper/c bs=4k count=48 oflag=direct
  - dd if=/dev/urandom of=/dev/mapper/c bs=4k count=1 seek=37 oflag=direct,dsync
  - sleep 0.2
  - power-cut
  - dmsetup create c --table "0 32768 test-writeback-cache /dev/sda 0"
explore:
  crash-states: CRASH_STATES
)";

int bench_crash_search(bool json, int runs) {
  struct Mode {
    const char* key;
    const char* states;
  };
  const std::vector<Mode> modes = {
      {"z3", "z3"}, {"exhaustive", "all<=5000"}, {"random", "random:5000"}, {"prefix", "prefix"}};
  struct Row {
    std::string mode;
    uint64_t recoveries = 0;
    bool found = false;
    double ms = 0;
  };
  std::vector<Row> rows;
  for (const auto& m : modes) {
    std::string yaml = kPlanted;
    yaml.replace(yaml.find("CRASH_STATES"), 12, m.states);
    const scenarios::Scenario s = scenarios::parse_scenario(yaml, "planted.yaml");
    verify::RunOptions opt;
    opt.stop_at_first_failure = true;
    std::vector<double> times;
    Row row;
    row.mode = m.key;
    for (int i = 0; i < runs; i++) {
      const auto t0 = Clock::now();
      verify::UnitResult u = verify::run_exploration(s, 0, {"test.cache_stale_writeback"}, opt);
      times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      row.found = !u.passed;
      row.recoveries = u.passed ? u.recoveries : u.recoveries_to_first_failure;
    }
    row.ms = median(times);
    rows.push_back(row);
  }
  if (json) {
    std::printf("{\"benchmark\": \"crash-search\", \"runs\": %d, \"modes\": {", runs);
    for (size_t i = 0; i < rows.size(); i++)
      std::printf("%s\"%s\": {\"found\": %s, \"recoveries\": %llu, \"median_ms\": %.1f}", i ? ", " : "",
                  rows[i].mode.c_str(), rows[i].found ? "true" : "false",
                  static_cast<unsigned long long>(rows[i].recoveries), rows[i].ms);
    std::printf("}}\n");
  } else {
    std::printf("dmsim bench crash-search: recoveries to the first confirmed violation (median of %d runs)\n", runs);
    for (const auto& r : rows)
      std::printf("  %-12s %-9s %8llu recoveries %10.1f ms\n", r.mode.c_str(), r.found ? "found" : "NOT FOUND",
                  static_cast<unsigned long long>(r.recoveries), r.ms);
  }
  return kExitOk;
}

int bench_runtime(bool json, int runs) {
  struct Metric {
    const char* key;
    const char* label;
    std::function<double()> fn;
  };
  const std::vector<Metric> metrics = {
      {"context_switches_per_sec", "context switches/s (schedule, 2 threads)", yield_switches},
      {"wakeup_switches_per_sec", "context switches/s (completion ping-pong)", completion_pingpong_switches},
      {"lock_unlock_pairs_per_sec", "mutex lock/unlock pairs/s", lock_pairs},
      {"queue_work_round_trips_per_sec", "queue_work+completion round trips/s", work_round_trips},
  };
  std::map<std::string, double> med;
  for (const auto& m : metrics) {
    std::vector<double> v;
    for (int i = 0; i < runs; i++) v.push_back(measure(m.fn));
    med[m.key] = median(v);
  }
  std::vector<double> bare;
  for (int i = 0; i < runs; i++) {
    auto out = sim::run_in_child([] { return std::to_string(sim::measure_bare_simgrid_yield_ns(200000)); }, 600);
    if (!out.ok) throw std::runtime_error("bare SimGrid measurement failed: " + out.error);
    bare.push_back(std::stod(out.bytes));
  }
  const double bare_ns = median(bare);
  const double ours_ns = 1e9 / med["context_switches_per_sec"];
  if (json) {
    std::printf("{\"benchmark\": \"runtime\", \"runs\": %d, \"median\": {", runs);
    bool first = true;
    for (const auto& m : metrics) {
      std::printf("%s\"%s\": %.0f", first ? "" : ", ", m.key, med[m.key]);
      first = false;
    }
    std::printf("}, \"bare_simgrid_yield_ns\": %.1f, \"runtime_switch_ns\": %.1f, \"overhead_ratio\": %.2f}\n", bare_ns,
                ours_ns, ours_ns / bare_ns);
  } else {
    std::printf("dmsim bench runtime (median of %d runs, trace and lockdep on)\n", runs);
    for (const auto& m : metrics) std::printf("  %-44s %14.0f\n", m.label, med[m.key]);
    std::printf("  %-44s %14.1f ns\n", "bare SimGrid yield", bare_ns);
    std::printf("  %-44s %14.1f ns (%.2fx bare)\n", "runtime context switch", ours_ns, ours_ns / bare_ns);
  }
  return kExitOk;
}

// The input a batch's child is parsing, in memory shared with the parent: when the child dies
// or hangs, the parent knows which input did it.
struct FuzzSlot {
  uint64_t execution;
  uint64_t size;
  char bytes[scenarios::fuzz::kMaxInputBytes];
};

constexpr int kFuzzInputSeconds = 5;

int bench_fuzz_parser(Args& args, bool json) {
  namespace fz = scenarios::fuzz;
  const uint64_t execs = static_cast<uint64_t>(
      parse_count(take_option(args, "--execs", "1000000", "bench"), "--execs", "bench", 1, 1000000000000L));
  const uint64_t seed =
      static_cast<uint64_t>(parse_count(take_option(args, "--seed", "1", "bench"), "--seed", "bench", 0, 1L << 62));
  const std::string corpus = take_option(args, "--corpus", "scenarios", "bench");
  const std::string findings_dir = take_option(args, "--findings", "fuzz-findings", "bench");
  reject_leftovers(args, "bench");
  const fz::Mutator mutator(fz::load_corpus(corpus));
  void* mem = ::mmap(nullptr, sizeof(FuzzSlot), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
  auto* slot = static_cast<FuzzSlot*>(mem);
  const uint64_t batch = 50000;
  fz::Report total;
  const auto t0 = Clock::now();
  uint64_t next = 0;
  while (next < execs) {
    const uint64_t first = next, end = std::min(execs, next + batch);
    slot->execution = UINT64_MAX;
    auto out = sim::run_in_child(
        [&] {
          fz::Report rep;
          for (uint64_t i = first; i < end; i++) {
            const std::string input = mutator.input(seed, i);
            slot->execution = i;
            slot->size = input.size();
            std::memcpy(slot->bytes, input.data(), input.size());
            // SIGALRM's default action ends the child: a parse that does not return is a hang.
            itimerval limit{{0, 0}, {kFuzzInputSeconds, 0}}, off{};
            ::setitimer(ITIMER_REAL, &limit, nullptr);
            fz::Outcome o = fz::check_input(input);
            ::setitimer(ITIMER_REAL, &off, nullptr);
            if (o.finding) o.finding->execution = i;
            rep.add(o);
          }
          return rep.serialize();
        },
        24 * 3600);
    if (out.ok) {
      total.merge(fz::Report::deserialize(out.bytes));
      next = end;
      continue;
    }
    // The child died or hung at slot->execution: rerun the inputs before it (deterministic, they
    // passed), record the one that did it, go on after it.
    const uint64_t bad = slot->execution;
    if (bad < first || bad >= end) throw std::runtime_error("fuzz batch failed outside an input: " + out.error);
    fz::Finding f;
    f.execution = bad;
    f.kind = out.error.find("signal 14") != std::string::npos ? "hang" : "crash";
    f.detail = "the parsing process " + out.error;
    f.input.assign(slot->bytes, slot->size);
    if (bad > first) {
      auto redo = sim::run_in_child([&] { return fz::run(mutator, seed, first, bad).serialize(); }, 24 * 3600);
      if (!redo.ok) throw std::runtime_error("fuzz batch is not deterministic: " + redo.error);
      total.merge(fz::Report::deserialize(redo.bytes));
    }
    total.executions++;
    total.findings.push_back(f);
    next = bad + 1;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  ::munmap(mem, sizeof(FuzzSlot));
  std::vector<std::string> saved;
  if (!total.findings.empty()) {
    std::filesystem::create_directories(findings_dir);
    for (const auto& f : total.findings) {
      const std::string path = findings_dir + "/finding-" + std::to_string(seed) + "-" + std::to_string(f.execution) +
                               "-" + f.kind + ".yaml";
      std::ofstream(path, std::ios::binary) << f.input;
      saved.push_back(path);
    }
  }
  const double rate = total.executions / std::max(secs, 1e-9);
  if (json) {
    std::printf(
        "{\"benchmark\": \"fuzz-parser\", \"seed\": %llu, \"seeds_in_corpus\": %zu, \"executions\": %llu, "
        "\"executions_per_sec\": %.0f, \"seconds\": %.1f, \"parsed\": %llu, \"refused\": %llu, "
        "\"distinct_messages\": %zu, \"findings\": [",
        static_cast<unsigned long long>(seed), mutator.seeds().size(),
        static_cast<unsigned long long>(total.executions), rate, secs, static_cast<unsigned long long>(total.parsed),
        static_cast<unsigned long long>(total.refused), total.messages.size());
    for (size_t i = 0; i < total.findings.size(); i++)
      std::printf("%s{\"execution\": %llu, \"kind\": \"%s\", \"detail\": \"%s\", \"input\": \"%s\"}", i ? ", " : "",
                  static_cast<unsigned long long>(total.findings[i].execution),
                  verify::json_escape(total.findings[i].kind).c_str(),
                  verify::json_escape(total.findings[i].detail).c_str(), verify::json_escape(saved[i]).c_str());
    std::printf("]}\n");
  } else {
    std::printf("dmsim bench fuzz-parser (seed %llu, %zu seed file(s))\n", static_cast<unsigned long long>(seed),
                mutator.seeds().size());
    std::printf("  %-40s %14llu\n", "executions", static_cast<unsigned long long>(total.executions));
    std::printf("  %-40s %14.0f\n", "executions/s", rate);
    std::printf("  %-40s %14.1f\n", "seconds", secs);
    std::printf("  %-40s %14llu\n", "parsed", static_cast<unsigned long long>(total.parsed));
    std::printf("  %-40s %14llu\n", "refused with FILE:LINE:COL errors",
                static_cast<unsigned long long>(total.refused));
    std::printf("  %-40s %14zu\n", "distinct error messages", total.messages.size());
    std::printf("  %-40s %14zu\n", "findings", total.findings.size());
    for (size_t i = 0; i < total.findings.size(); i++)
      std::printf("  finding %llu [%s] %s\n    input: %s\n",
                  static_cast<unsigned long long>(total.findings[i].execution), total.findings[i].kind.c_str(),
                  total.findings[i].detail.c_str(), saved[i].c_str());
  }
  return total.findings.empty() ? kExitOk : kExitViolation;
}

}  // namespace

int cmd_bench(const Args& in) {
  Args args = in;
  if (take_flag(args, "--help") || take_flag(args, "-h") || args.empty()) {
    std::fputs(kHelp, args.empty() && in.empty() ? stderr : stdout);
    return in.empty() ? kExitUsage : kExitOk;
  }
  const std::string what = args.front();
  args.erase(args.begin());
  const bool json = take_flag(args, "--json");
  if (what == "fuzz-parser") return bench_fuzz_parser(args, json);
  const int runs = static_cast<int>(parse_count(take_option(args, "--runs", "5", "bench"), "--runs", "bench", 1, 101));
  reject_leftovers(args, "bench");
  if (what == "runtime") return bench_runtime(json, runs);
  if (what == "io") return bench_io(json, runs);
  if (what == "kcopyd") return bench_kcopyd(json, runs);
  if (what == "crash-search") return bench_crash_search(json, runs);
  throw UsageError("unknown benchmark '" + what + "'", "see 'dmsim bench --help'");
}

}  // namespace dmsim::cli
