#include "sim/io_channel.hpp"

#include <simgrid/s4u.hpp>

#include "sim/runtime.hpp"

namespace sg4 = simgrid::s4u;

namespace sim {

struct IoChannelImpl {
  sg4::Disk* disk = nullptr;
};

IoChannel::IoChannel(std::string name, double read_bw, double write_bw)
    : WaitObject("disk", std::move(name)),
      read_bw_(read_bw),
      write_bw_(write_bw),
      impl_(std::make_unique<IoChannelImpl>()) {
  if (read_bw_ > 0 || write_bw_ > 0) {
    // SimGrid needs finite bandwidths; an infinite side just never gets a transfer.
    impl_->disk = Runtime::get().engine_host_create_disk(this->name(), read_bw_ > 0 ? read_bw_ : 1e18,
                                                         write_bw_ > 0 ? write_bw_ : 1e18);
  }
  irq_ = &Runtime::get().spawn(
      "irq/" + this->name(), [this] { completion_main(); }, ThreadKind::Softirq);
}

IoChannel::~IoChannel() = default;

void IoChannel::releasers(const Thread&, std::vector<Releaser>& out) const {
  // The transfer itself always ends; its completion is delivered by the irq thread, which only
  // matters while that thread is stuck in an end_io.
  out.push_back({irq_, nullptr, "delivers its completions"});
}

void IoChannel::submit(bool write, uint64_t bytes, double latency_s, std::function<void()> done) {
  Runtime& rt = Runtime::get();
  in_flight_++;
  rt.activity_begin();
  const double bw = write ? write_bw_ : read_bw_;
  sg4::Disk* disk = bw > 0 && bytes > 0 ? impl_->disk : nullptr;
  if (!disk && latency_s <= 0) {
    // Nothing to time: complete through the irq thread at once. (SimGrid frees finished actors
    // only when simulated time advances, so a burst of zero-time actors would pile up.)
    completed_.push_back(std::move(done));
    rt.unpark(*irq_);
    return;
  }
  // One short-lived SimGrid actor per transfer does the timing; it is not a simulated thread,
  // so it hands the completion to the irq thread instead of running engine code itself.
  rt.start_raw_actor("io/" + name() + "/" + std::to_string(seq_++), [this, write, bytes, latency_s, disk, done] {
    if (latency_s > 0) sg4::this_actor::sleep_for(latency_s);
    if (disk) (write ? disk->write_async(bytes) : disk->read_async(bytes))->wait();
    deliver(done);
  });
}

void IoChannel::deliver(std::function<void()> done) {
  Runtime& rt = Runtime::get();
  completed_.push_back(std::move(done));
  rt.unpark_from_outside(*irq_);
}

void IoChannel::completion_main() {
  Runtime& rt = Runtime::get();
  KFRAME_NAMED("blk_done_softirq");
  Thread& self = rt.current();
  for (;;) {
    if (completed_.empty()) {
      rt.park(TaskState::Idle, nullptr, "irq");
      continue;
    }
    std::function<void()> done = std::move(completed_.front());
    completed_.pop_front();
    rt.preempt_point(PreemptionPoint::io_complete);
    // end_io runs in softirq context (blk_done_softirq): atomic, except on PREEMPT_RT, where
    // softirqs run in preemptible task context and a spinlock_t may be taken.
    const int softirq = softirq_offset(rt.config());
    self.preempt_count += softirq;
    done();
    self.preempt_count -= softirq;
    in_flight_--;
    rt.activity_end();
  }
}

}  // namespace sim
