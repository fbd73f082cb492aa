// Demonstrations of the detectors, built from runtime primitives alone: the seed's three hang
// shapes (each with its fix), a lock-order inversion that did not hang, and atomic-context
// sleeping on PREEMPT_RT. `dmsim selftest` runs them; the tests assert their details.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sim/config.hpp"
#include "sim/result.hpp"

namespace selftest {

struct DetectorDemo {
  std::string name;
  std::string about;
  sim::SimConfig config;
  std::function<void()> body;
  // Empty when the result shows what the demonstration claims, else what is wrong. It reads
  // only the findings and notes of a real run.
  std::function<std::string(const sim::SimResult&)> judge;
};

// (1) dm-era: status blocked on a stopped worker under the SRCU read lock, resume with a new
// table in synchronize_srcu. `fixed`: status served in the caller under a mutex.
DetectorDemo demo_srcu_status_vs_swap(bool fixed);
// (2) dm-snapshot COW throttling: readers of a writer-preferring rwsem wait on a semaphore that
// only the kcopyd worker ups, while kcopyd needs the read lock. `fixed`: wait without the lock.
DetectorDemo demo_rwsem_cow_throttle(bool fixed);
// (3) dm-era stop_worker: flush_workqueue misses a self-requeueing work item; drain does not.
DetectorDemo demo_stop_worker(bool use_drain);
// AB-BA order in two threads whose timing never overlaps: no hang, lockdep still reports.
DetectorDemo demo_abba_no_hang();
// A spinlock_t taken under a raw spinlock: a BUG on PREEMPT_RT only.
DetectorDemo demo_rt_sleeping_lock(bool preempt_rt);
// A thread blocked for 130 s on a completion that is eventually completed: hung task, no deadlock.
DetectorDemo demo_hung_not_deadlocked();

std::vector<DetectorDemo> all_detector_demos();

}  // namespace selftest
