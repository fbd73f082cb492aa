// Simulated kernel threads: a pid, a name, a state as ps would show it, and a stack of frames
// that engines push per function (KFRAME()), so reports read like kernel call traces.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/config.hpp"
#include "sim/result.hpp"
#include "sim/wait_object.hpp"

namespace sim {

enum class TaskState : uint8_t {
  Running,          // R: runnable or running
  Uninterruptible,  // D: what the hung-task watchdog looks at
  Interruptible,    // S
  Idle,             // I: a worker waiting for work
  Spinning,         // R, spinning on a spinlock (non-RT)
  Sleeping,         // a timed sleep (msleep, schedule_timeout): it ends by itself
  Dead,
};
char task_state_letter(TaskState s);

enum class ThreadKind : uint8_t {
  User,     // scenario threads; the run ends when all of them have exited
  Kworker,  // workqueue workers
  Softirq,  // timer callbacks
  Internal  // the runtime's own (not traced)
};

struct HeldLock {
  const WaitObject* obj;
  uint32_t lock_class;
  const char* at;  // frame that took it
  bool read;
  bool recursive_read;
};

struct ThreadImpl;  // SimGrid side, private to sim/

// SOFTIRQ_OFFSET of include/linux/preempt.h: what serving a softirq adds to preempt_count.
constexpr int kSoftirqOffset = 0x100;
// What serving a softirq adds under `cfg`: nothing on PREEMPT_RT, whose softirqs run in
// preemptible task context (softirq_disable_cnt, not preempt_count).
inline int softirq_offset(const SimConfig& cfg) {
  return cfg.preempt_rt ? 0 : kSoftirqOffset;
}

class Thread : public WaitObject {
 public:
  Thread(int pid, std::string name, ThreadKind kind);
  ~Thread() override;

  const int pid;
  const ThreadKind kind;
  const std::string& comm() const { return name(); }

  TaskState state = TaskState::Running;
  std::vector<const char*> frames;  // outermost first

  // What the thread is blocked on, while it is.
  const WaitObject* waiting_on = nullptr;
  const char* wait_how = nullptr;
  uint64_t wait_arg = 0;
  uint64_t blocked_since_ns = 0;
  bool wait_timed = false;  // the wait ends by itself (a timeout was given)
  bool hung_reported = false;
  // When the thread last began to run after giving up the CPU (it blocked or slept). Computing
  // (cpu_busy), spinning, yielding or being preempted does not give it up: a worker doing so
  // keeps its worker pool from starting other work, which is what the workqueue watchdog sees.
  uint64_t oncpu_since_ns = 0;

  // TIF_SIGPENDING: a signal was sent to the thread. Nothing delivers it in the simulation, so
  // it stays pending and ends every interruptible sleep from then on (-ERESTARTSYS).
  bool sigpending = false;

  std::vector<HeldLock> held;
  // The kernel's preempt_count: spinning locks held (one each), plus kSoftirqOffset while a
  // softirq (timer, I/O completion) runs. Non-zero is atomic context.
  int preempt_count = 0;
  std::string workqueue;                 // "dm-era do_work" while a worker runs an item
  std::vector<const char*> oops_frames;  // frames when an exception escaped

  // What the thread's WaitingFor scopes say its sleep waits for (innermost last).
  struct WaitsFor {
    uint64_t id;      // a Holder's id, or an object's
    const char* why;  // for an object
    bool holder;
  };
  std::vector<WaitsFor> waits_for;

  // Joining: waiting on a thread ends when it exits.
  void releasers(const Thread& waiter, std::vector<Releaser>& out) const override;
  const Thread* as_thread() const override { return this; }
  std::vector<Thread*> joiners;

  std::string call_trace(const std::string& indent = " ") const;  // innermost first
  // For a blocked thread, the trace starts with schedule() and the primitive it sleeps in.
  std::string blocked_call_trace(const std::string& indent = " ") const;
  // Parked in a wait that only another thread can end.
  bool blocked() const;
  std::string ident() const { return name() + ":" + std::to_string(pid); }

  std::function<void()> fn;
  std::unique_ptr<ThreadImpl> impl;
  bool parked = false;
};

// Innermost frame first, one per line, as a kernel call trace reads.
std::string format_call_trace(const std::vector<const char*>& frames, const std::string& indent);

// RAII frame: KFRAME() at the top of a function names it in call traces.
class FrameGuard {
 public:
  explicit FrameGuard(const char* fn);
  ~FrameGuard();
  FrameGuard(const FrameGuard&) = delete;
  FrameGuard& operator=(const FrameGuard&) = delete;

 private:
  Thread* t_;
};
#define SIM_FRAME_CAT2(a, b) a##b
#define SIM_FRAME_CAT(a, b) SIM_FRAME_CAT2(a, b)
#define KFRAME() ::sim::FrameGuard SIM_FRAME_CAT(sim_frame_guard_, __LINE__)(__func__)
#define KFRAME_NAMED(name) ::sim::FrameGuard SIM_FRAME_CAT(sim_frame_guard_, __LINE__)(name)

// The calling simulated thread.
Thread& current();
// The calling simulated thread, or nullptr outside any (maestro, a timing actor, no runtime).
Thread* current_or_null();

// kthread_run: start a named thread. The run ends when every User thread has exited.
Thread& kthread_run(std::function<void()> fn, std::string name, ThreadKind kind = ThreadKind::User);
// Wait until `t` has exited: state D, like kthread_stop's wait, or S for a shell waiting for its
// child (wait4 sleeps interruptibly, so the hung-task watchdog ignores it).
void join(Thread& t, bool interruptible = false);

// Sends a signal to `t` (as kill(2) to a dmsetup process would): it becomes pending, and an
// interruptible sleep of `t` ends at once.
void send_signal(Thread& t);
// signal_pending(current).
bool signal_pending();

void msleep(unsigned ms);
void ssleep(unsigned s);
void udelay_sim(double seconds);  // a timed sleep of an exact simulated duration
// The calling thread computes for `seconds` of simulated time without giving up the CPU (the
// cost of a callback, or mdelay's busy wait): unlike a sleep it keeps a worker's pool busy.
void cpu_busy(double seconds);
void schedule();  // yield to other ready threads
void might_sleep(const char* where);

// Reports memory an instance did not free, as kmemleak would.
void report_leak(const std::string& title, const std::string& detail);

// RCU with readers that never block: a read-side section cannot be preempted in the simulation,
// so a grace period is only a scheduling point.
inline void rcu_read_lock() {}
inline void rcu_read_unlock() {}
void synchronize_rcu();

// A seeded coin for background activity (see Runtime::chance).
bool background_chance(double p);
// The running simulation's settings, and an event of one's own in its trace.
const struct SimConfig& sim_config();
void trace_event(const char* what, const std::string& detail);
// Lines in the kernel log so far.
size_t dmesg_lines();
// Ends the simulation at the next slice boundary (a power cut).
void request_stop();
// Structured data handed back in SimResult::payload.
void set_payload(std::string p);
// What to hand back if the run ends before set_payload() was called (a hang stopped it): called
// once, outside any simulated thread, so it may only read data.
void set_payload_provider(std::function<std::string()> fn);

// Observations a scenario or test records; they come back in SimResult::notes.
void note(const std::string& text);
// printk into the simulated kernel log, at a log level (KERN_ERR unless said otherwise).
void printk(const std::string& text, uint8_t level = KERN_ERR);

// WARN_ON / BUG_ON equivalents: recorded as findings with the current call trace. BUG kills the
// calling thread (it never returns), as an oops would, leaving its locks held.
bool warn_on(bool cond, const char* what);
[[noreturn]] void bug(const std::string& what);
#define WARN_ON(cond) ::sim::warn_on(static_cast<bool>(cond), #cond)
#define BUG_ON(cond)                                       \
  do {                                                     \
    if (cond) ::sim::bug("kernel BUG: BUG_ON(" #cond ")"); \
  } while (0)

}  // namespace sim
