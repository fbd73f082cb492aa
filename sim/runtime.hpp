// The simulated kernel: one per process (SimGrid allows a single engine), owning the threads,
// the clock, the seeded schedule explorer, the trace and the detectors. Primitives in sim/ call
// it; engines use the kernel-like functions in sim/kernel.hpp instead.
#pragma once

#include <bitset>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/config.hpp"
#include "sim/lockdep.hpp"
#include "sim/preemption_point.hpp"
#include "sim/result.hpp"
#include "sim/schedule_explorer.hpp"
#include "sim/thread.hpp"
#include "sim/trace.hpp"

namespace sim {

class TimerBase;
class Holder;
struct EngineHandle;
}  // namespace sim
namespace simgrid::s4u {
class Disk;
}
namespace sim {

class Runtime {
 public:
  explicit Runtime(const SimConfig& cfg);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  static Runtime& get();
  static bool active();

  const SimConfig& config() const { return cfg_; }
  uint64_t now_ns() const;
  double now() const;
  uint64_t jiffies() const;

  Thread& current() { return *current_; }
  Thread* current_or_null() { return current_; }
  // do_exit after an oops (bug()): the thread ends without unwinding and never runs again.
  [[noreturn]] void oops_exit(Thread& t);
  Thread& spawn(std::string name, std::function<void()> fn, ThreadKind kind);
  const std::vector<std::unique_ptr<Thread>>& threads() const { return threads_; }
  Thread* thread_by_pid(int pid) const;

  // The blocking core. park() returns true when woken by unpark(), false on timeout. Callers
  // loop on their own condition, so a spurious return is harmless.
  bool park(TaskState st, const WaitObject* on, const char* how, uint64_t arg = 0, double timeout_s = -1);
  void unpark(Thread& t);
  // For code that runs outside any simulated thread (a raw timing actor): wakes `t` at once.
  void unpark_from_outside(Thread& t);
  // A SimGrid actor that is not a simulated thread: timing only, it must not call the
  // kernel-like API except unpark_from_outside().
  void start_raw_actor(const std::string& name, std::function<void()> fn);
  // A SimGrid disk on the simulation host (bandwidths in bytes/s), for IoChannel.
  simgrid::s4u::Disk* engine_host_create_disk(const std::string& name, double read_bw, double write_bw);
  // A timed wait of `seconds`. A sleep gives up the CPU (msleep); a preempted thread (the
  // explorer's delays) and a computing one (cpu_busy) keep it, as the workqueue watchdog sees.
  enum class TimedWait { Sleep, Preempted, Busy };
  void sleep_for(double seconds, TimedWait how = TimedWait::Sleep);
  void yield();
  // A place where the real kernel could be preempted; the explorer may yield or delay here.
  void preempt_point(PreemptionPoint where);
  // A seeded coin for background activity other than scheduling (write-back, jitter): true
  // with probability p. Its own random stream, so it does not disturb the schedule's.
  bool chance(double p);

  void event(const char* what, const WaitObject* obj = nullptr, std::string detail = {});
  void report(FindingKind kind, std::string title, std::string body = {});
  void note(const std::string& text);
  // Ends the run at the next slice boundary (a power cut); what happens after now is moot.
  void request_stop() { stop_requested_ = true; }
  size_t dmesg_lines() const { return dmesg_.size(); }
  void set_payload(std::string p) { payload_ = std::move(p); }
  void set_payload_provider(std::function<std::string()> fn) { payload_provider_ = std::move(fn); }
  // printk: the kernel log, returned as SimResult::dmesg ("[time] text").
  void printk(const std::string& text, uint8_t level);
  uint32_t intern(std::string_view s) { return names_.intern(s); }
  const std::string& name_of(uint32_t id) const { return names_.str(id); }
  Lockdep& lockdep() { return lockdep_; }
  TimerBase& timers();

  // Object registry, for annotations that name another object.
  uint64_t register_object(WaitObject* o);
  void unregister_object(uint64_t id);
  const WaitObject* object_by_id(uint64_t id) const;
  // Holders that something refers to (WaitingFor, a part of another holder).
  uint64_t register_holder(const Holder* h);
  void unregister_holder(uint64_t id);
  const Holder* holder_by_id(uint64_t id) const;

  // An annotated signal (complete, up, ...) on `o` by `t`, who is not among `names`.
  void report_annotation(const WaitObject& o, const Thread& t, const char* op, const std::string& names);
  // __schedule_bug: the current thread gives up the CPU (blocks, sleeps, yields) in atomic
  // context. Reported, and the thread goes on as the kernel's does.
  void schedule_debug(const char* how);

  // Activity outside threads (I/O in flight on a simulated device): while any is pending the
  // system is not stalled even if every thread is blocked.
  void activity_begin() { activities_++; }
  void activity_end() { activities_--; }

  // Runs `main` as the first user thread until every user thread has exited, a deadlock has
  // been reported, or a budget is exhausted.
  SimResult run(std::function<void()> main);

  // Used by the detectors.
  uint64_t timers_armed() const;
  uint64_t activities() const { return activities_; }
  bool deadlock_reported() const { return deadlock_reported_; }
  // `since_ns`: when the reported wait began, which is when the hung-task watchdog's clock
  // started too; the run stops once that watchdog has had its say.
  void set_deadlock_reported(uint64_t since_ns);
  std::string format_event(const TraceEvent& e) const;
  void thread_main(Thread& t);  // body wrapper run by each actor

 private:
  void check_budget();
  // Wake-ups and thread starts issued by a running thread take effect at its next scheduling
  // point (block, sleep, yield, exit): a kernel waker keeps the CPU until then, and the
  // primitives' own bookkeeping stays atomic. SimGrid would otherwise switch at every call.
  void flush_deferred();
  void start_actor(Thread* t);
  std::vector<Thread*> deferred_wakes_;
  std::vector<Thread*> deferred_starts_;
  std::vector<std::pair<std::string, std::function<void()>>> deferred_raw_;
  void create_raw_actor(const std::string& name, std::function<void()> fn);
  void finish_thread(Thread& t);
  void run_detectors(bool final_pass);

  SimConfig cfg_;
  std::unique_ptr<EngineHandle> engine_;
  ScheduleExplorer explorer_;
  std::bitset<kPreemptionPoints> preempt_at_;  // the points the explorer may perturb
  Rng background_rng_;
  Lockdep lockdep_;
  Interner names_;
  Trace trace_;
  std::vector<std::unique_ptr<Thread>> threads_;
  std::vector<Thread*> by_actor_;  // SimGrid actor id -> thread
  Thread* current_ = nullptr;
  std::unique_ptr<TimerBase> timers_;
  std::unordered_map<uint64_t, WaitObject*> objects_;
  std::unordered_map<uint64_t, const Holder*> holders_;
  std::set<std::string> reported_sites_;  // annotation and scheduling-while-atomic sites
  uint64_t next_object_id_ = 1;
  uint64_t activities_ = 0;
  uint64_t events_ = 0;
  uint64_t context_switches_ = 0;
  int user_threads_alive_ = 0;
  bool budget_exceeded_ = false;
  bool deadlock_reported_ = false;
  uint64_t deadlock_time_ns_ = UINT64_MAX;
  std::vector<Finding> findings_;
  std::vector<std::string> notes_;
  std::vector<std::string> dmesg_;
  std::vector<uint8_t> dmesg_levels_;
  std::string payload_;
  std::function<std::string()> payload_provider_;
  bool stop_requested_ = false;
  friend class HungTaskWatchdog;
};

}  // namespace sim
