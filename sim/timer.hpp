// jiffies and struct timer_list. Callbacks run in softirq context on the "ksoftirqd/0" thread:
// atomic context, so a callback that sleeps is reported.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/wait_object.hpp"

namespace sim {

class Runtime;
class Thread;

class TimerList : public WaitObject {
 public:
  TimerList(std::string name, std::function<void(TimerList*)> fn, const char* fn_name);
  ~TimerList() override;

  std::function<void(TimerList*)> function;
  const char* function_name;
  uint64_t expires = 0;

  bool pending() const { return pending_; }
  void releasers(const Thread& waiter, std::vector<Releaser>& out) const override;

 private:
  friend class TimerBase;
  bool pending_ = false;
  bool running_ = false;
  std::pair<uint64_t, uint64_t> key_{};
  std::vector<Thread*> sync_waiters_;
};

class TimerBase {
 public:
  explicit TimerBase(Runtime& rt) : rt_(rt) {}
  // mod_timer semantics: (re)arm; returns whether it was pending.
  bool arm(TimerList* t, uint64_t expires);
  bool disarm(TimerList* t);
  bool disarm_sync(TimerList* t);
  uint64_t armed() const { return queue_.size(); }
  void forget(TimerList* t);

 private:
  void softirq_main();
  Runtime& rt_;
  std::map<std::pair<uint64_t, uint64_t>, TimerList*> queue_;  // (expires, arm order)
  uint64_t seq_ = 0;
  Thread* softirq_ = nullptr;
};

uint64_t jiffies();
uint64_t ktime_get_ns();  // simulated time since boot
uint64_t msecs_to_jiffies(unsigned ms);
unsigned jiffies_to_msecs(uint64_t j);
unsigned hz();
inline bool time_after(uint64_t a, uint64_t b) {
  return static_cast<int64_t>(b - a) < 0;
}
inline bool time_before(uint64_t a, uint64_t b) {
  return time_after(b, a);
}

bool mod_timer(TimerList* t, uint64_t expires);
void add_timer(TimerList* t);
bool del_timer(TimerList* t);
bool del_timer_sync(TimerList* t);
inline bool timer_pending(const TimerList* t) {
  return t->pending();
}
// schedule_timeout_uninterruptible: a timed sleep of `j` jiffies.
void schedule_timeout_uninterruptible(uint64_t j);

}  // namespace sim
