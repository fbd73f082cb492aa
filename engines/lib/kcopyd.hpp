// dm-kcopyd (dm-kcopyd.c): copies a region to up to eight destinations, or zeroes them. A job
// larger than the sub-job size is split: SPLIT_COUNT (8) sub-jobs each take the next chunk when
// they finish, so at most eight are in flight per job. One work item runs the client's job
// lists (complete, pages, io, in that order) and every completion callback, so callbacks are
// serialised. An optional throttle limits the share of time spent doing I/O.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "engines/lib/dm_io.hpp"
#include "sim/kernel.hpp"

namespace engines {

constexpr unsigned kKcopydMaxRegions = 8;
constexpr unsigned kSplitCount = 8;
constexpr uint32_t kSubJobSizeDefault = 1024;  // sectors: 512 KiB (since 5.3)
constexpr uint32_t kSubJobSizeOld = 128;       // sectors: 64 KiB (before)

enum KcopydFlags : unsigned { DM_KCOPYD_IGNORE_ERROR = 1u << 0 };

// A percentage of time kcopyd may spend doing I/O (100: unthrottled), as the
// DECLARE_DM_KCOPYD_THROTTLE_WITH_MODULE_PARM throttles.
struct DmKcopydThrottle {
  unsigned throttle = 100;
  unsigned num_io_jobs = 0;
  uint64_t io_period = 0, total_period = 0, last_jiffies = 0;
};

using KcopydNotifyFn = std::function<void(int read_err, unsigned long write_err)>;

// The module parameter dm_mod.kcopyd_subjob_size_kb (512 since 5.3, which added it; 64 before):
// the sub-job size of clients that do not ask for their own. Set before clients are created.
extern unsigned kcopyd_subjob_size_kb;

class DmKcopydClient {
 public:
  // `sub_job_size` in sectors; 0: kcopyd_subjob_size_kb.
  explicit DmKcopydClient(DmKcopydThrottle* throttle = nullptr, uint32_t sub_job_size = 0);
  // Waits for every job, then frees the client.
  ~DmKcopydClient();
  DmKcopydClient(const DmKcopydClient&) = delete;
  DmKcopydClient& operator=(const DmKcopydClient&) = delete;

  void copy(const DmIoRegion& from, const std::vector<DmIoRegion>& dests, unsigned flags, KcopydNotifyFn fn);
  void zero(const std::vector<DmIoRegion>& dests, unsigned flags, KcopydNotifyFn fn);

  uint32_t sub_job_size() const { return sub_job_size_; }
  // Where every job not yet notified is: a caller sleeping until its notify function runs
  // waits for these (sim::WaitingFor).
  const sim::Holder& jobs() const { return jobs_where_; }
  // For tests and benchmarks: sub-jobs dispatched, and the most I/O jobs in flight at once for
  // any one master job.
  uint64_t sub_jobs_dispatched() const { return sub_jobs_dispatched_; }
  unsigned max_in_flight_per_job() const { return max_in_flight_per_job_; }

 private:
  struct Job;
  void dispatch_job(Job* job);
  void split_job(Job* master);
  void segment_complete(Job* sub, int read_err, unsigned long write_err);
  void push(std::deque<Job*>& list, Job* job);
  void wake();
  void do_work();
  int run_complete_job(Job* job);
  int run_pages_job(Job* job);
  int run_io_job(Job* job);
  void complete_io(Job* job, unsigned long error);
  void io_job_start();
  void io_job_finish();

  DmKcopydThrottle* throttle_;
  uint32_t sub_job_size_;
  sim::Spinlock job_lock_{"kc->job_lock"};
  std::deque<Job*> callback_jobs_, complete_jobs_, io_jobs_, pages_jobs_;
  sim::Workqueue* wq_;
  sim::WorkStruct kcopyd_work_;
  sim::WaitQueueHead destroyq_{"kc->destroyq"};
  sim::Holder jobs_where_;
  sim::Atomic nr_jobs_{0};
  uint64_t sub_jobs_dispatched_ = 0;
  unsigned max_in_flight_per_job_ = 0;
};

}  // namespace engines
