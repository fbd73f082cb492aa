// `dmsim bench crash-search`: how many recoveries each crash-state mode runs before it confirms
// a planted violation that only some crash states expose.
#include <chrono>
#include <string>
#include <vector>

#include "bench/bench.hpp"
#include "bench/measure.hpp"
#include "language/scenario.hpp"
#include "verify/runner.hpp"

namespace bench {

namespace {

// A caching target writes a stale copy back over a FUA write, which a crash shows only where
// that write-out reached the media.
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

CrashSearchMode search_with(const char* mode, const char* states, int runs) {
  std::string yaml = kPlanted;
  yaml.replace(yaml.find("CRASH_STATES"), 12, states);
  const scenarios::Scenario s = scenarios::parse_scenario(yaml, "planted.yaml");
  verify::RunOptions opt;
  opt.stop_at_first_failure = true;
  CrashSearchMode row{mode};
  std::vector<double> times;
  for (int i = 0; i < runs; i++) {
    const auto t0 = Clock::now();
    verify::UnitResult u = verify::run_exploration(s, 0, {"test.cache_stale_writeback"}, opt);
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    row.found = !u.passed;
    row.recoveries = u.passed ? u.recoveries : u.recoveries_to_first_failure;
  }
  row.median_ms = median(times);
  return row;
}

}  // namespace

std::vector<CrashSearchMode> crash_search(int runs) {
  return {search_with("z3", "z3", runs), search_with("exhaustive", "all<=5000", runs),
          search_with("random", "random:5000", runs), search_with("prefix", "prefix", runs)};
}

}  // namespace bench
