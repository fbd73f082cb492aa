// Settings of one simulation run. Everything that can change an outcome is here, so a
// (config, seed) pair names a run exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sim {

struct SimConfig {
  // Seed of every random choice in the run (schedule exploration, later disk and crash choices).
  uint64_t seed = 0;
  // Probability that a preemption point perturbs the schedule (yield or tiny delay). 0 keeps
  // SimGrid's fixed order, so a run with rate 0 is the same for every seed.
  double preempt_rate = 0.0;
  // Upper bound of an injected delay, in simulated nanoseconds.
  uint32_t max_delay_ns = 5000;
  // Also make atomic_t operations preemption points (races on flags such as era->suspended).
  bool preempt_on_atomics = true;
  // When not empty: only these preemption points perturb the schedule ("atomic_read",
  // "queue_work", ...), to focus a search on the accesses a race is suspected around.
  std::vector<std::string> preempt_only;
  // Probability that a cache (dm-bufio) writes a buffer back at a point where the kernel may
  // do so in the background; drawn from the seed, like the schedule.
  double background_writeback_rate = 0.0;
  // CONFIG_PREEMPT_RT: spinlock_t becomes a sleeping lock, raw_spinlock_t stays a spinning one.
  bool preempt_rt = false;
  // BITS_PER_LONG of the simulated kernel: the width of unsigned long in engines that model
  // 32-bit arithmetic (dm-clone's region numbers).
  unsigned bits_per_long = 64;
  unsigned hz = 250;
  // /proc/sys/kernel/hung_task_timeout_secs; 0 disables the watchdog. Also how long a wait
  // cycle must persist to be reported as a deadlock (120 s when the watchdog is off).
  double hung_task_timeout_secs = 120;
  // workqueue.watchdog_thresh: a per-CPU worker pool that has work pending while one of its
  // workers keeps the CPU, and starts nothing for this long, is a workqueue lockup; 0 disables.
  double wq_watchdog_thresh_secs = 30;
  // Detectors run between slices of this many simulated seconds.
  double check_interval_secs = 1.0;
  // Budgets: a run that exceeds one ends with a finding of its own kind.
  double time_limit_secs = 4 * 3600.0;
  uint64_t event_limit = 200'000'000;
  // After a deadlock is found, keep running until the hung-task watchdog has reported the
  // blocked threads (as the kernel would), then stop.
  bool stop_on_deadlock = true;
  // Name of the first thread (a scenario's shell is "sh").
  const char* main_thread_name = "main";
  // Record the event trace (the determinism and report material).
  bool trace = true;
};

}  // namespace sim
