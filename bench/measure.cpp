#include "bench/measure.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "sim/config.hpp"
#include "sim/simulation.hpp"

namespace bench {

double median(std::vector<double> v) {
  if (v.empty()) throw std::logic_error("median of no measurements");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double per_second(long ops, Clock::time_point t0) {
  return ops / std::chrono::duration<double>(Clock::now() - t0).count();
}

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

double median_of(int runs, const std::function<double()>& workload) {
  std::vector<double> v;
  for (int i = 0; i < runs; i++) v.push_back(measure(workload));
  return median(v);
}

}  // namespace bench
