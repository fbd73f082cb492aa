// `dmsim bench runtime`: what the simulated kernel costs per primitive, with trace and lockdep
// on, against SimGrid's own bare yield as the yardstick.
#include <stdexcept>
#include <string>

#include "bench/bench.hpp"
#include "bench/measure.hpp"
#include "sim/kernel.hpp"
#include "sim/simulation.hpp"

namespace bench {

namespace {

double yield_switches() {
  const long n = 200000;
  auto t0 = Clock::now();
  auto yielder = [n] {
    for (long i = 0; i < n; i++) sim::schedule();
  };
  sim::Thread& a = sim::kthread_run(yielder, "yield-a");
  sim::Thread& b = sim::kthread_run(yielder, "yield-b");
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

double bare_simgrid_yield_ns(int runs) {
  std::vector<double> v;
  for (int i = 0; i < runs; i++) {
    auto out = sim::run_in_child([] { return std::to_string(sim::measure_bare_simgrid_yield_ns(200000)); }, 600);
    if (!out.ok) throw std::runtime_error("bare SimGrid measurement failed: " + out.error);
    v.push_back(std::stod(out.bytes));
  }
  return median(v);
}

}  // namespace

Table runtime(int runs) {
  Table t{"runtime", runs, "trace and lockdep on", {}, {}};
  t.medians = {
      {"context_switches_per_sec", "context switches/s (schedule, 2 threads)", median_of(runs, yield_switches)},
      {"wakeup_switches_per_sec", "context switches/s (completion ping-pong)",
       median_of(runs, completion_pingpong_switches)},
      {"lock_unlock_pairs_per_sec", "mutex lock/unlock pairs/s", median_of(runs, lock_pairs)},
      {"queue_work_round_trips_per_sec", "queue_work+completion round trips/s", median_of(runs, work_round_trips)},
  };
  const double bare_ns = bare_simgrid_yield_ns(runs);
  const double ours_ns = 1e9 / t.medians[0].value;
  t.derived = {{"bare_simgrid_yield_ns", "bare SimGrid yield", bare_ns, 1, "ns"},
               {"runtime_switch_ns", "runtime context switch", ours_ns, 1, "ns"},
               {"overhead_ratio", "runtime switch over bare yield", ours_ns / bare_ns, 2, "x"}};
  return t;
}

}  // namespace bench
