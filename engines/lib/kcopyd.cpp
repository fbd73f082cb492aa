#include "engines/lib/kcopyd.hpp"

#include <algorithm>

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

DmKcopydClient::DmKcopydClient(DmKcopydThrottle* throttle, uint32_t sub_job_size)
    : throttle_(throttle),
      sub_job_size_(sub_job_size ? sub_job_size : kcopyd_subjob_size_kb * 2),
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

void DmKcopydClient::dispatch_job(Job* job) {
  sim::atomic_inc(&nr_jobs_);
  if (job != job->master) sub_jobs_dispatched_++;
  if (job->source.count == 0)
    push(callback_jobs_, job);
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

void DmKcopydClient::do_work() {
  KFRAME();
  // Order matters: completions free pages for page jobs, which feed the io jobs.
  sim::spin_lock_irq(&job_lock_);
  complete_jobs_.insert(complete_jobs_.end(), callback_jobs_.begin(), callback_jobs_.end());
  callback_jobs_.clear();
  sim::spin_unlock_irq(&job_lock_);
  auto process = [this](std::deque<Job*>& list, int (DmKcopydClient::*fn)(Job*)) {
    for (;;) {
      sim::spin_lock_irq(&job_lock_);
      Job* job = nullptr;
      if (!list.empty()) {
        job = list.front();
        list.pop_front();
      }
      sim::spin_unlock_irq(&job_lock_);
      if (!job) break;
      (this->*fn)(job);
    }
  };
  process(complete_jobs_, &DmKcopydClient::run_complete_job);
  process(pages_jobs_, &DmKcopydClient::run_pages_job);
  process(io_jobs_, &DmKcopydClient::run_io_job);
}

}  // namespace engines
