// Wall-clock measurement for the benchmarks: the simulation itself never reads the wall clock,
// so a workload times its own loop and reports operations per second.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v);
double per_second(long ops, Clock::time_point t0);
// Runs `workload` inside a fresh simulation in a child process and returns what it measured.
double measure(const std::function<double()>& workload);
// Medians of `runs` measurements of `workload`.
double median_of(int runs, const std::function<double()>& workload);

}  // namespace bench
