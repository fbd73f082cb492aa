// dm-kcopyd (dm-kcopyd.c): copies a region to up to eight destinations, or zeroes them. A job
// larger than the sub-job size is split: SPLIT_COUNT (8) sub-jobs each take the next chunk when
// they finish, so at most eight are in flight per job. One work item runs the client's job
// lists (complete, pages, io, in that order) and every completion callback, so callbacks are
// serialised; a caller may also queue a bare callback to run there (prepare_callback and
// do_callback, dm-snapshot's way of completing from interrupt context). An optional throttle
// limits the share of time spent doing I/O. Two historical bugs can be switched back on
// (kcopyd_variant, the kcopyd.* knobs of kcopyd_knobs.cpp), read when a client is created.
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

enum KcopydFlags : unsigned {
  DM_KCOPYD_IGNORE_ERROR = 1u << 0,
  // Issue the writes of a split job in order (a host-managed zoned destination's sequential
  // zone); once one has failed, the job's remaining sub-jobs fail without I/O. Cancels
  // IGNORE_ERROR. The kernel also turns it on for a host-managed destination; dmsim has none.
  DM_KCOPYD_WRITE_SEQ = 1u << 1,
};

// kcopyd's historical bugs as variant knobs ("kcopyd.*", one row each in kcopyd_knobs.cpp); all
// false is the fixed library. A client reads them when it is created.
struct kcopyd_variant {
  // Before "dm kcopyd: Fix bug causing workqueue stalls" (5.0): callback-only jobs go straight
  // onto complete_jobs, which a do_work pass drains with no bound, so producers that keep
  // queueing callbacks keep one pass (and its CPU's worker pool) busy for as long as they run.
  bool callback_list_stall = false;
  // Before d1fef41465f0 "dm kcopyd: always complete failed jobs" (5.3): a job that process_jobs
  // fails is put on complete_jobs without waking the worker; with nothing else to wake it, its
  // callback never runs.
  bool no_wake_on_failed_job = false;

  static kcopyd_variant from_knobs();
};

// Registers the kcopyd.* knobs and the test-kcopyd target (kcopyd_test_target.cpp), once.
void register_kcopyd();
void register_kcopyd_test_target();

// A percentage of time kcopyd may spend doing I/O (100: unthrottled), as the
// DECLARE_DM_KCOPYD_THROTTLE_WITH_MODULE_PARM throttles.
struct DmKcopydThrottle {
  unsigned throttle = 100;
  unsigned num_io_jobs = 0;
  uint64_t io_period = 0, total_period = 0, last_jiffies = 0;
};

using KcopydNotifyFn = std::function<void(int read_err, unsigned long write_err)>;

// The module parameter dm_mod.kcopyd_subjob_size_kb (512 since 5.3, which added it; 64 before):
// the sub-job size of clients that do not ask for their own. Set before clients are created;
// creating one turns 0 into 512 and caps it at 1024, as the kernel's reader does.
extern unsigned kcopyd_subjob_size_kb;

class DmKcopydClient {
 public:
  struct Job;
  // `sub_job_size` in sectors; 0: kcopyd_subjob_size_kb.
  explicit DmKcopydClient(DmKcopydThrottle* throttle = nullptr, uint32_t sub_job_size = 0);
  // Waits for every job, then frees the client.
  ~DmKcopydClient();
  DmKcopydClient(const DmKcopydClient&) = delete;
  DmKcopydClient& operator=(const DmKcopydClient&) = delete;

  void copy(const DmIoRegion& from, const std::vector<DmIoRegion>& dests, unsigned flags, KcopydNotifyFn fn);
  void zero(const std::vector<DmIoRegion>& dests, unsigned flags, KcopydNotifyFn fn);
  // dm_kcopyd_prepare_callback: a job that carries only `fn`, counted as outstanding from now
  // on. It allocates, so it is called where sleeping is allowed (the map path), never from
  // interrupt context.
  Job* prepare_callback(KcopydNotifyFn fn);
  // dm_kcopyd_do_callback: queues the prepared job's callback, with these errors, to run in the
  // client's worker like any completion. Callable from any context (a bio's end_io).
  static void do_callback(Job* job, int read_err, unsigned long write_err);

  uint32_t sub_job_size() const { return sub_job_size_; }
  // Where every job not yet notified is: a caller sleeping until its notify function runs
  // waits for these (sim::WaitingFor).
  const sim::Holder& jobs() const { return jobs_where_; }
  // The work item that runs every completion: what a semaphore up()ed only from a callback
  // waits for (dm-snapshot's cow_count), for the deadlock detector's annotations.
  const sim::WorkStruct& work() const { return kcopyd_work_; }
  // For tests and benchmarks: sub-jobs dispatched, and the most I/O jobs in flight at once for
  // any one master job.
  uint64_t sub_jobs_dispatched() const { return sub_jobs_dispatched_; }
  unsigned max_in_flight_per_job() const { return max_in_flight_per_job_; }
  // For tests: do_work passes so far, and the most callbacks (of callback-only jobs) one pass ran.
  uint64_t passes() const { return passes_; }
  uint64_t max_callbacks_per_pass() const { return max_callbacks_per_pass_; }

 private:
  void dispatch_job(Job* job);
  void split_job(Job* master);
  void segment_complete(Job* sub, int read_err, unsigned long write_err);
  void push(std::deque<Job*>& list, Job* job);
  void push_head(std::deque<Job*>& list, Job* job);
  Job* pop(std::deque<Job*>& list);
  Job* pop_io_job();
  void wake();
  void do_work();
  int process_jobs(std::deque<Job*>& list, int (DmKcopydClient::*fn)(Job*));
  int run_complete_job(Job* job);
  int run_pages_job(Job* job);
  int run_io_job(Job* job);
  void complete_io(Job* job, unsigned long error);
  void io_job_start();
  void io_job_finish();

  DmKcopydThrottle* throttle_;
  uint32_t sub_job_size_;
  const kcopyd_variant variant_;
  sim::Spinlock job_lock_{"kc->job_lock"};
  std::deque<Job*> callback_jobs_, complete_jobs_, io_jobs_, pages_jobs_;
  sim::Workqueue* wq_;
  sim::WorkStruct kcopyd_work_;
  sim::WaitQueueHead destroyq_{"kc->destroyq"};
  sim::Holder jobs_where_;
  sim::Atomic nr_jobs_{0};
  uint64_t sub_jobs_dispatched_ = 0;
  unsigned max_in_flight_per_job_ = 0;
  uint64_t passes_ = 0, callbacks_this_pass_ = 0, max_callbacks_per_pass_ = 0;
};

}  // namespace engines
