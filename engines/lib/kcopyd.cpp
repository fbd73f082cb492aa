#include "engines/lib/kcopyd.hpp"

#include <algorithm>

#include "model/errno.hpp"

namespace engines {

struct DmKcopydClient::Job {
  DmKcopydClient* kc;
  unsigned flags = 0;
  int read_err = 0;
  unsigned long write_err = 0;
  model::ReqOp op = model::ReqOp::Read;
  DmIoRegion source;
  std::vector<DmIoRegion> dests;
  std::shared_ptr<model::SectorBuffer> pages;
  KcopydNotifyFn fn;
  Job* master = nullptr;
  // WRITE_SEQ: a sub-job's offset in its master; a master's, the offset of the next write due.
  uint64_t write_offset = 0;
  // Master jobs only:
  sim::Mutex* lock = nullptr;
  uint64_t progress = 0;
  sim::Atomic sub_jobs{0};
  unsigned in_flight = 0;
  std::vector<std::unique_ptr<Job>> subs;
  // On a job list (kcopyd's worker), in dm-io (its bios), or split (its sub-jobs).
  sim::Holder where;
};

unsigned kcopyd_subjob_size_kb = kSubJobSizeDefault / 2;

namespace {

constexpr unsigned MAX_SUB_JOB_SIZE_KB = 1024;

// dm_get_kcopyd_subjob_size: the parameter takes any unsigned; a reader turns 0 into the default
// and caps it at 1 MiB, writing the result back as __dm_get_module_param does (so `cat` shows it).
uint32_t dm_get_kcopyd_subjob_size() {
  if (kcopyd_subjob_size_kb == 0)
    kcopyd_subjob_size_kb = kSubJobSizeDefault / 2;
  else if (kcopyd_subjob_size_kb > MAX_SUB_JOB_SIZE_KB)
    kcopyd_subjob_size_kb = MAX_SUB_JOB_SIZE_KB;
  return kcopyd_subjob_size_kb << 1;
}

}  // namespace

DmKcopydClient::DmKcopydClient(DmKcopydThrottle* throttle, uint32_t sub_job_size)
    : throttle_(throttle),
      sub_job_size_(sub_job_size ? sub_job_size : dm_get_kcopyd_subjob_size()),
      variant_(kcopyd_variant::from_knobs()),
      wq_(sim::alloc_workqueue("kcopyd", sim::WQ_MEM_RECLAIM, 0)),
      kcopyd_work_(
          "kc->kcopyd_work", [this](sim::WorkStruct*) { do_work(); }, "do_work") {}

DmKcopydClient::~DmKcopydClient() {
  KFRAME_NAMED("dm_kcopyd_client_destroy");
  sim::WaitingFor wf(jobs_where_);
  sim::wait_event(destroyq_, [this] { return sim::atomic_read(&nr_jobs_) == 0; });
  BUG_ON(!callback_jobs_.empty() || !complete_jobs_.empty() || !io_jobs_.empty() || !pages_jobs_.empty());
  sim::destroy_workqueue(wq_);
}

void DmKcopydClient::push(std::deque<Job*>& list, Job* job) {
  unsigned long flags;
  job->where.set(kcopyd_work_, "on kcopyd's job lists, for do_work");
  sim::spin_lock_irqsave(&job_lock_, flags);
  list.push_back(job);
  sim::spin_unlock_irqrestore(&job_lock_, flags);
}

void DmKcopydClient::push_head(std::deque<Job*>& list, Job* job) {
  job->where.set(kcopyd_work_, "on kcopyd's job lists, for do_work");
  sim::spin_lock_irq(&job_lock_);
  list.push_front(job);
  sim::spin_unlock_irq(&job_lock_);
}

// pop_io_job: any read, any write without the sequential constraint, and a sequential write
// only when it is the next one due for its master (which then moves on past it). Called with
// job_lock held.
DmKcopydClient::Job* DmKcopydClient::pop_io_job() {
  for (auto it = io_jobs_.begin(); it != io_jobs_.end(); ++it) {
    Job* job = *it;
    if (job->op == model::ReqOp::Read || !(job->flags & DM_KCOPYD_WRITE_SEQ)) {
      io_jobs_.erase(it);
      return job;
    }
    if (job->write_offset == job->master->write_offset) {
      job->master->write_offset += job->source.count;
      io_jobs_.erase(it);
      return job;
    }
  }
  return nullptr;
}

DmKcopydClient::Job* DmKcopydClient::pop(std::deque<Job*>& list) {
  Job* job = nullptr;
  sim::spin_lock_irq(&job_lock_);
  if (&list == &io_jobs_) {
    job = pop_io_job();
  } else if (!list.empty()) {
    job = list.front();
    list.pop_front();
  }
  sim::spin_unlock_irq(&job_lock_);
  return job;
}

void DmKcopydClient::wake() {
  sim::queue_work(wq_, &kcopyd_work_);
}

void DmKcopydClient::io_job_start() {
  DmKcopydThrottle* t = throttle_;
  if (!t) return;
  // Sleep (100 ms at a time, at most 10 times) while the share of time with I/O in flight
  // exceeds the throttle, measured in jiffies over a decaying window.
  for (int slept = 0;; slept++) {
    if (t->throttle >= 100) break;
    const uint64_t now = sim::jiffies();
    const uint64_t difference = now - t->last_jiffies;
    t->last_jiffies = now;
    if (t->num_io_jobs) t->io_period += difference;
    t->total_period += difference;
    if (t->io_period > t->total_period) t->io_period = t->total_period;
    const uint64_t interval = 1ull << 8;  // ACCOUNT_INTERVAL_SHIFT for HZ=250
    while (t->total_period >= interval) {
      t->total_period >>= 1;
      t->io_period >>= 1;
    }
    const int64_t skew = static_cast<int64_t>(t->io_period) - static_cast<int64_t>(t->throttle * t->total_period / 100);
    if (skew <= 0 || slept >= 10) break;
    sim::udelay_sim(0.1);
  }
  t->num_io_jobs++;
}

void DmKcopydClient::io_job_finish() {
  if (!throttle_) return;
  if (throttle_->num_io_jobs) throttle_->num_io_jobs--;
  if (throttle_->throttle >= 100) return;
  const uint64_t now = sim::jiffies();
  const uint64_t difference = now - throttle_->last_jiffies;
  throttle_->last_jiffies = now;
  throttle_->io_period += difference;
  throttle_->total_period += difference;
}

void DmKcopydClient::copy(const DmIoRegion& from, const std::vector<DmIoRegion>& dests, unsigned flags,
                          KcopydNotifyFn fn) {
  KFRAME_NAMED("dm_kcopyd_copy");
  BUG_ON(dests.empty() || dests.size() > kKcopydMaxRegions);
  auto* job = new Job;
  job->kc = this;
  // Writes that must go in order cannot skip a failed one.
  if ((flags & DM_KCOPYD_WRITE_SEQ) && (flags & DM_KCOPYD_IGNORE_ERROR)) flags &= ~DM_KCOPYD_IGNORE_ERROR;
  job->flags = flags;
  job->dests = dests;
  job->fn = std::move(fn);
  job->master = job;
  jobs_where_.add_part(job->where);
  if (from.bdev) {
    job->source = from;
    job->op = model::ReqOp::Read;
  } else {
    // Zeroing: WRITE_ZEROES if every destination supports it.
    job->source.count = dests[0].count;
    job->op = model::ReqOp::WriteZeroes;
    for (const auto& d : dests)
      if (!d.bdev->limits.max_write_zeroes_sectors) job->op = model::ReqOp::Write;
  }
  if (job->source.count <= sub_job_size_) {
    dispatch_job(job);
  } else {
    job->progress = 0;
    split_job(job);
  }
}

void DmKcopydClient::zero(const std::vector<DmIoRegion>& dests, unsigned flags, KcopydNotifyFn fn) {
  copy(DmIoRegion{}, dests, flags, std::move(fn));
}

DmKcopydClient::Job* DmKcopydClient::prepare_callback(KcopydNotifyFn fn) {
  KFRAME_NAMED("dm_kcopyd_prepare_callback");
  sim::might_sleep("dm_kcopyd_prepare_callback");  // mempool_alloc(GFP_NOIO)
  auto* job = new Job;
  job->kc = this;
  job->fn = std::move(fn);
  job->master = job;
  jobs_where_.add_part(job->where);
  sim::atomic_inc(&nr_jobs_);
  return job;
}

void DmKcopydClient::do_callback(Job* job, int read_err, unsigned long write_err) {
  KFRAME_NAMED("dm_kcopyd_do_callback");
  DmKcopydClient* kc = job->kc;
  job->read_err = read_err;
  job->write_err = write_err;
  // Fixed: callback_jobs, which do_work takes over once per pass. Before the fix they went
  // straight onto complete_jobs, which a pass drains until it finds it empty.
  kc->push(kc->variant_.callback_list_stall ? kc->complete_jobs_ : kc->callback_jobs_, job);
  kc->wake();
}

void DmKcopydClient::dispatch_job(Job* job) {
  sim::atomic_inc(&nr_jobs_);
  if (job != job->master) sub_jobs_dispatched_++;
  if (job->source.count == 0)
    push(variant_.callback_list_stall ? complete_jobs_ : callback_jobs_, job);  // as do_callback
  else if (!job->source.bdev)
    push(io_jobs_, job);  // zeroing needs no pages
  else
    push(pages_jobs_, job);
  wake();
}

void DmKcopydClient::split_job(Job* master) {
  sim::atomic_inc(&nr_jobs_);
  master->lock = new sim::Mutex("job->lock");
  sim::atomic_set(&master->sub_jobs, kSplitCount);
  master->where.clear();  // wherever its sub-jobs are
  for (unsigned i = 0; i < kSplitCount; i++) {
    auto sub = std::make_unique<Job>();
    sub->kc = this;
    sub->master = master;
    Job* s = sub.get();
    master->subs.push_back(std::move(sub));
    master->where.add_part(s->where);
    segment_complete(s, 0, 0);
  }
}

void DmKcopydClient::segment_complete(Job* sub, int read_err, unsigned long write_err) {
  KFRAME_NAMED("segment_complete");
  Job* job = sub->master;
  uint64_t progress = 0, count = 0;
  sim::mutex_lock(job->lock);
  if (read_err) job->read_err = 1;
  if (write_err) job->write_err |= write_err;
  // More work only while there is no error (unless errors are ignored).
  if ((!job->read_err && !job->write_err) || (job->flags & DM_KCOPYD_IGNORE_ERROR)) {
    progress = job->progress;
    count = std::min<uint64_t>(job->source.count - progress, sub_job_size_);
    job->progress += count;
  }
  sim::mutex_unlock(job->lock);
  if (count) {
    sub->flags = job->flags;
    sub->op = job->op;
    sub->read_err = 0;
    sub->write_err = 0;
    sub->source = job->source;
    if (sub->source.bdev) sub->source.sector += progress;
    sub->source.count = count;
    sub->write_offset = progress;
    sub->dests = job->dests;
    for (auto& d : sub->dests) {
      d.sector += progress;
      d.count = count;
    }
    sub->fn = [this, sub](int r, unsigned long w) { segment_complete(sub, r, w); };
    dispatch_job(sub);
  } else if (sim::atomic_dec_and_test(&job->sub_jobs)) {
    // Every chunk is done: the master's callback goes to the kcopyd thread, never run here.
    push(complete_jobs_, job);
    wake();
  }
}

int DmKcopydClient::run_complete_job(Job* job) {
  KFRAME_NAMED("run_complete_job");
  const int read_err = job->read_err;
  const unsigned long write_err = job->write_err;
  KcopydNotifyFn fn = std::move(job->fn);
  if (job->source.count == 0)
    max_callbacks_per_pass_ = std::max(max_callbacks_per_pass_, ++callbacks_this_pass_);  // no I/O: a bare callback
  if (job == job->master) {
    jobs_where_.drop_part(job->where);
    delete job->lock;
    delete job;
  }
  fn(read_err, write_err);
  if (sim::atomic_dec_and_test(&nr_jobs_)) sim::wake_up(&destroyq_);
  return 0;
}

int DmKcopydClient::run_pages_job(Job* job) {
  job->pages = std::make_shared<model::SectorBuffer>(job->dests[0].count);
  push(io_jobs_, job);
  return 0;
}

void DmKcopydClient::complete_io(Job* job, unsigned long error) {
  io_job_finish();
  job->master->in_flight--;
  if (error) {
    if (op_is_write(job->op))
      job->write_err |= error;
    else
      job->read_err = 1;
    if (!(job->flags & DM_KCOPYD_IGNORE_ERROR)) {
      push(complete_jobs_, job);
      wake();
      return;
    }
  }
  if (op_is_write(job->op)) {
    push(complete_jobs_, job);
  } else {
    job->op = model::ReqOp::Write;
    push(io_jobs_, job);
  }
  wake();
}

int DmKcopydClient::run_io_job(Job* job) {
  KFRAME_NAMED("run_io_job");
  // Sequential writes after a failed one are pointless: fail this (sub-)job without I/O. The
  // fix that added the wake in process_jobs also made it carry its master's error bits.
  if ((job->flags & DM_KCOPYD_WRITE_SEQ) && job->master->write_err) {
    if (!variant_.no_wake_on_failed_job) job->write_err = job->master->write_err;
    return -EIO;
  }
  io_job_start();
  job->master->in_flight++;
  max_in_flight_per_job_ = std::max(max_in_flight_per_job_, job->master->in_flight);
  DmIoRequest req;
  req.op = job->op;
  req.buf = job->pages;
  req.notify = [this, job](unsigned long error) { complete_io(job, error); };
  req.where = &job->where;
  if (job->op == model::ReqOp::Read) return dm_io(req, {job->source});
  if (job->op == model::ReqOp::Write && !job->pages)
    req.buf = std::make_shared<model::SectorBuffer>(job->source.count);  // the zero page
  return dm_io(req, job->dests);
}

// Runs `fn` on the jobs of `list` until it is empty, a job must wait (> 0: back at the head) or
// one fails (< 0: completed with an error, as the rogue job it is). Returns the jobs run.
int DmKcopydClient::process_jobs(std::deque<Job*>& list, int (DmKcopydClient::*fn)(Job*)) {
  int count = 0;
  while (Job* job = pop(list)) {
    const int r = (this->*fn)(job);
    if (r < 0) {
      if (op_is_write(job->op))
        job->write_err = ~0UL;
      else
        job->read_err = 1;
      push(complete_jobs_, job);
      // complete_jobs was processed earlier in this pass: without a wake nothing runs it until
      // some other kcopyd activity does (the pre-d1fef41465f0 hang).
      if (!variant_.no_wake_on_failed_job) wake();
      break;
    }
    if (r > 0) {
      push_head(list, job);
      break;
    }
    count++;
  }
  return count;
}

void DmKcopydClient::do_work() {
  KFRAME();
  passes_++;
  callbacks_this_pass_ = 0;
  // A pass runs only the bare callbacks queued before it began (none are queued here with
  // kcopyd.callback_list_stall: they are on complete_jobs already, and arrivals during the pass
  // keep it going). Order matters: completions free pages for page jobs, which feed the io jobs.
  sim::spin_lock_irq(&job_lock_);
  complete_jobs_.insert(complete_jobs_.end(), callback_jobs_.begin(), callback_jobs_.end());
  callback_jobs_.clear();
  sim::spin_unlock_irq(&job_lock_);
  process_jobs(complete_jobs_, &DmKcopydClient::run_complete_job);
  process_jobs(pages_jobs_, &DmKcopydClient::run_pages_job);
  process_jobs(io_jobs_, &DmKcopydClient::run_io_job);
}

}  // namespace engines
