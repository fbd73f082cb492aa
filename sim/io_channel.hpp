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

namespace sim {

class Thread;
struct IoChannelImpl;

class IoChannel {
 public:
  // Bandwidths in bytes per second; 0 means infinite (the transfer takes no time).
  IoChannel(std::string name, double read_bw, double write_bw);
  ~IoChannel();
  IoChannel(const IoChannel&) = delete;
  IoChannel& operator=(const IoChannel&) = delete;

  // Transfers `bytes` after `latency_s`, then runs `done` on the completion thread.
  void submit(bool write, uint64_t bytes, double latency_s, std::function<void()> done);
  uint64_t in_flight() const { return in_flight_; }
  const std::string& name() const { return name_; }

 private:
  friend struct IoChannelImpl;
  void completion_main();
  void deliver(std::function<void()> done);

  std::string name_;
  double read_bw_, write_bw_;
  std::unique_ptr<IoChannelImpl> impl_;
  std::deque<std::function<void()>> completed_;
  Thread* irq_ = nullptr;
  uint64_t in_flight_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace sim
