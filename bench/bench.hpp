// The benchmark workloads behind `dmsim bench`: each returns its figures; the CLI parses options
// and prints. Speed is measured here, never in timed tests: wall-clock figures are medians over
// runs, each run in a fresh child simulation, so one run's heap or caches do not carry over.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/parser_fuzz.hpp"

namespace bench {

struct Figure {
  Figure(std::string key, std::string label, double value, int decimals = 0, std::string unit = "")
      : key(std::move(key)), label(std::move(label)), value(value), decimals(decimals), unit(std::move(unit)) {}
  std::string key;    // the JSON name ("context_switches_per_sec")
  std::string label;  // the text table's label
  double value;
  int decimals;
  std::string unit;  // printed after the value in the text table ("ns")
};

// Medians over `runs` runs of each workload, and the figures derived from them (ratios).
struct Table {
  std::string name;
  int runs = 0;
  std::string condition;  // how the figures were taken, for the title ("trace and lockdep on")
  std::vector<Figure> medians;
  std::vector<Figure> derived;
};

// Context switches, lock pairs and work round trips per second, against bare SimGrid yields.
Table runtime(int runs);
// 4 KiB writes through linear, and crash images built per second.
Table io(int runs);
// Simulated kcopyd bandwidth with 64 KiB and 512 KiB sub-jobs.
Table kcopyd(int runs);
// Btree operations per second, and metadata blocks a commit writes against the counts changed.
Table pdata(int runs);
// dm-thin: simulated MB/s of breaking sharing by pool block size and kcopyd sub-job size, beside
// the seed's table, and of provisioning with zeroing.
Table thin(int runs);
// dm-clone: simulated hydration MB/s by region, batch and kcopyd sub-job size, and the RFC's
// user-I/O tables by region size beside the seed's figures.
Table clone(int runs);

// Recoveries each crash-state mode needs to confirm a planted violation.
struct CrashSearchMode {
  std::string mode;
  bool found = false;
  uint64_t recoveries = 0;
  double median_ms = 0;
};
std::vector<CrashSearchMode> crash_search(int runs);

struct FuzzOptions {
  uint64_t execs = 1000000;
  uint64_t seed = 1;
  std::string corpus = "scenarios";            // the seed scenario files
  std::string findings_dir = "fuzz-findings";  // where inputs behind findings are saved
};
struct FuzzCampaign {
  uint64_t seed = 0;
  size_t seeds_in_corpus = 0;
  fuzz::Report total;
  double seconds = 0;
  std::vector<std::string> saved;  // a path per finding, in the order of total.findings
};
// A seeded campaign against the scenario parser in batches of child processes, so that a crash
// or a hang is a finding too.
FuzzCampaign fuzz_parser(const FuzzOptions& opt);

}  // namespace bench
