// Timing of a simulated storage device: SimGrid's disk model (bandwidth shared by concurrent
// transfers) plus a fixed latency per operation. Completions are delivered on the channel's
// own completion thread ("irq/NAME") in atomic context, as a bio's end_io runs in the kernel;
// the content semantics (caches, flushes, crash states) live above, in model/.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/wait_object.hpp"

namespace sim {

class Thread;
struct IoChannelImpl;

// As a wait object it is the device's queue: a bio in flight there (Holder) ends by itself,
// unless its completion thread is stuck.
class IoChannel : public WaitObject {
 public:
  // Bandwidths in bytes per second; 0 means infinite (the transfer takes no time).
  IoChannel(std::string name, double read_bw, double write_bw);
  ~IoChannel();
  IoChannel(const IoChannel&) = delete;
  IoChannel& operator=(const IoChannel&) = delete;

  // Transfers `bytes` after `latency_s`, then runs `done` on the completion thread.
  void submit(bool write, uint64_t bytes, double latency_s, std::function<void()> done);
  uint64_t in_flight() const { return in_flight_; }
  void releasers(const Thread& waiter, std::vector<Releaser>& out) const override;

 private:
  friend struct IoChannelImpl;
  void completion_main();
  void deliver(std::function<void()> done);

  double read_bw_, write_bw_;
  std::unique_ptr<IoChannelImpl> impl_;
  std::deque<std::function<void()>> completed_;
  Thread* irq_ = nullptr;
  uint64_t in_flight_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace sim
