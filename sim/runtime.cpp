// The only file besides simulation.cpp that talks to SimGrid: actors are simulated threads,
// one semaphore per thread is the park/unpark primitive, and the engine is driven in slices so
// that our detectors run between them (SimGrid's own deadlock check is blind while any actor
// sleeps periodically, and it exits 0).
#include "sim/runtime.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <simgrid/Exception.hpp>
#include <simgrid/s4u.hpp>
#include <xbt/config.hpp>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#include <stdexcept>
#include <unordered_map>

#include "sim/assert.hpp"
#include "sim/compiler_false_positives.hpp"
#include "sim/deadlock_detector.hpp"
#include "sim/hung_task.hpp"
#include "sim/timer.hpp"
#include "sim/wq_watchdog.hpp"

namespace sg4 = simgrid::s4u;

namespace sim {

struct ThreadImpl {
  sg4::SemaphorePtr sem;
  sg4::ActorPtr actor;
};

// Defined here, where ThreadImpl is complete.
Thread::Thread(int pid_, std::string name_, ThreadKind kind_)
    : WaitObject("thread", std::move(name_)), pid(pid_), kind(kind_) {}
Thread::~Thread() = default;

// Thrown by bug() to end the calling thread like an oops; never escapes thread_main.
struct ThreadKilled {};

struct EngineHandle {
  int argc;
  std::vector<char*> argv;
  std::unique_ptr<sg4::Engine> engine;
  sg4::Host* host = nullptr;
  sg4::SemaphorePtr forever;  // never released: where a thread parks once a budget is exhausted

  EngineHandle() {
    static char a0[] = "dmsim", a1[] = "--log=root.thresh:critical", a2[] = "--log=xbt_cfg.thresh:critical";
    argv = {a0, a1, a2, nullptr};
    argc = 3;
    engine = std::make_unique<sg4::Engine>(&argc, argv.data());
    auto* zone = sg4::create_full_zone("dmsim");
    host = zone->create_host("cpu0", 1e9);
    zone->seal();
    forever = sg4::Semaphore::create(0);
  }
};

namespace {
Runtime* g_runtime = nullptr;
}

Runtime& Runtime::get() {
  if (!g_runtime) throw std::logic_error("no simulation is running in this process");
  return *g_runtime;
}
bool Runtime::active() {
  return g_runtime != nullptr;
}

Runtime::Runtime(const SimConfig& cfg)
    : cfg_(cfg),
      explorer_(cfg.seed, cfg.preempt_rate, cfg.max_delay_ns),
      background_rng_(cfg.seed ^ 0xb0c6b0c6b0c6b0c6ULL),
      lockdep_(*this) {
  if (g_runtime) throw std::logic_error("SimGrid allows one engine per process: one Runtime only");
  if (cfg.preempt_only.empty()) preempt_at_.set();
  for (const std::string& name : cfg.preempt_only) {
    const auto point = find_preemption_point(name);
    // The scenario parser accepts only listed names: an unknown one here is a harness bug.
    if (!point) throw std::logic_error("preempt_only names no preemption point: '" + name + "'");
    preempt_at_.set(static_cast<size_t>(*point));
  }
  g_runtime = this;
  engine_ = std::make_unique<EngineHandle>();
}

Runtime::~Runtime() {
  g_runtime = nullptr;
}

uint64_t Runtime::now_ns() const {
  return static_cast<uint64_t>(std::llround(sg4::Engine::get_clock() * 1e9));
}
double Runtime::now() const {
  return sg4::Engine::get_clock();
}
uint64_t Runtime::jiffies() const {
  return static_cast<uint64_t>(std::floor(sg4::Engine::get_clock() * cfg_.hz + 1e-6));
}

TimerBase& Runtime::timers() {
  if (!timers_) timers_ = std::make_unique<TimerBase>(*this);
  return *timers_;
}
uint64_t Runtime::timers_armed() const {
  return timers_ ? timers_->armed() : 0;
}

Thread* Runtime::thread_by_pid(int pid) const {
  if (pid <= 0 || static_cast<size_t>(pid) > threads_.size()) return nullptr;
  return threads_[pid - 1].get();
}

Thread& Runtime::spawn(std::string name, std::function<void()> fn, ThreadKind kind) {
  const int pid = static_cast<int>(threads_.size()) + 1;
  threads_.push_back(std::make_unique<Thread>(pid, std::move(name), kind));
  Thread* t = threads_.back().get();
  t->fn = std::move(fn);
  t->impl = std::make_unique<ThreadImpl>();
  t->impl->sem = sg4::Semaphore::create(0);
  if (kind == ThreadKind::User) user_threads_alive_++;
  if (current_)
    deferred_starts_.push_back(t);
  else
    start_actor(t);
  if (current_ && kind != ThreadKind::Internal) event("spawn", t, t->ident());
  return *t;
}

void Runtime::start_actor(Thread* t) {
  t->impl->actor = sg4::Actor::create(t->name(), engine_->host, [this, t] { thread_main(*t); });
  const auto aid = static_cast<size_t>(t->impl->actor->get_pid());
  if (by_actor_.size() <= aid) by_actor_.resize(aid + 1, nullptr);
  by_actor_[aid] = t;
}

void Runtime::flush_deferred() {
  if (deferred_starts_.empty() && deferred_wakes_.empty() && deferred_raw_.empty()) return;
  // Any SimGrid call may let other actors run before it returns: restore `current_` after.
  Thread* const self = current_;
  std::vector<Thread*> starts, wakes;
  std::vector<std::pair<std::string, std::function<void()>>> raws;
  starts.swap(deferred_starts_);
  wakes.swap(deferred_wakes_);
  raws.swap(deferred_raw_);
  for (Thread* t : starts) start_actor(t);
  for (auto& [name, fn] : raws) create_raw_actor(name, std::move(fn));
  for (Thread* t : wakes) t->impl->sem->release();
  current_ = self;
}

namespace {

// An exception unwound the frames below `frame` (thread_main's) on a SimGrid context stack,
// which ASan does not know ("ASan is ignoring requested __asan_handle_no_return"): their
// redzones stay poisoned and would read as overflows in whatever runs there next. Clears the
// shadow of the stack below `frame`, which sits within a few KiB of the stack's top
// (thread_main is the actor's first frame of ours).
// Each thread's thread_main frame: the top of what its code uses of its stack.
std::unordered_map<const Thread*, const void*>& stack_tops() {
  static std::unordered_map<const Thread*, const void*> tops;
  return tops;
}

// No locals of its own: its frame is in the poisoned part. `stack` is the actors' stack size.
[[maybe_unused]] void unpoison_unwound_frames([[maybe_unused]] const void* frame, [[maybe_unused]] size_t stack) {
#if defined(__SANITIZE_ADDRESS__)
  constexpr size_t kMargin = 64 * 1024;  // thread_main's distance from the top, with room to spare
  if (stack > kMargin)
    __asan_unpoison_memory_region(static_cast<const char*>(frame) - (stack - kMargin), stack - kMargin);
#endif
}

}  // namespace

void Runtime::thread_main(Thread& t) {
  current_ = &t;
  t.oncpu_since_ns = now_ns();
  static const size_t stack_bytes = static_cast<size_t>(simgrid::config::get_value<int>("contexts/stack-size")) * 1024;
  stack_tops()[&t] = __builtin_frame_address(0);
  try {
    t.fn();
  } catch (const ThreadKilled&) {
    // bug() already reported the oops.
    unpoison_unwound_frames(__builtin_frame_address(0), stack_bytes);
  } catch (const simgrid::ForcefulKillException&) {
    throw;  // SimGrid is tearing the actor down; let it.
  } catch (const std::exception& e) {
    unpoison_unwound_frames(__builtin_frame_address(0), stack_bytes);
    report(FindingKind::Bug, "Oops: uncaught exception in " + t.ident() + ": " + e.what(),
           "Call Trace:\n" + format_call_trace(t.oops_frames, " "));
  } catch (...) {
    unpoison_unwound_frames(__builtin_frame_address(0), stack_bytes);
    report(FindingKind::Bug, "Oops: uncaught non-standard exception in " + t.ident());
  }
  current_ = &t;
  finish_thread(t);
}

void Runtime::finish_thread(Thread& t) {
  if (!t.held.empty()) {
    std::string body = std::to_string(t.held.size()) + " lock(s) held by " + t.ident() + ":\n";
    for (size_t i = 0; i < t.held.size(); i++)
      body += " #" + std::to_string(i) + ": " + t.held[i].obj->describe() + ", at: " + t.held[i].at + "\n";
    report(FindingKind::LockMisuse, "BUG: " + t.name() + "/" + std::to_string(t.pid) + " still has locks held!", body);
  }
  if (t.kind != ThreadKind::Internal) event("exit", &t);
  t.state = TaskState::Dead;
  if (t.kind == ThreadKind::User) user_threads_alive_--;
  for (Thread* j : t.joiners) unpark(*j);
  t.joiners.clear();
  flush_deferred();
  current_ = nullptr;
}

void Runtime::oops_exit(Thread& t) {
  finish_thread(t);
  engine_->forever->acquire();  // never returns; SimGrid tears the actor down at the end
  std::abort();
}

bool Runtime::park(TaskState st, const WaitObject* on, const char* how, uint64_t arg, double timeout_s) {
  // REQUIRES: a simulated thread parks itself, from its running state.
  DMSIM_ASSERT(current_ != nullptr, "park outside a simulated thread");
  Thread& t = *current_;
  DMSIM_ASSERT(!t.parked && t.state != TaskState::Dead, "a thread parks while parked or dead");
  if (budget_exceeded_) {
    flush_deferred();
    t.state = TaskState::Sleeping;
    engine_->forever->acquire();
  }
  // Spinning on a spinlock is not scheduling.
  if (t.preempt_count > 0 && st != TaskState::Spinning) schedule_debug(how);
  t.state = st;
  t.waiting_on = on;
  t.wait_how = how;
  t.wait_arg = arg;
  t.blocked_since_ns = now_ns();
  t.hung_reported = false;
  t.wait_timed = timeout_s >= 0;
  t.parked = true;
  if (t.kind != ThreadKind::Internal) event("block", on, how);
  flush_deferred();
  bool woken = true;
  if (timeout_s < 0)
    t.impl->sem->acquire();
  else
    woken = !t.impl->sem->acquire_timeout(timeout_s);
  current_ = &t;
  context_switches_++;
  t.parked = false;
  // A spinning thread never left the CPU; any other wait gave it up.
  if (st != TaskState::Spinning) t.oncpu_since_ns = now_ns();
  t.state = TaskState::Running;
  t.waiting_on = nullptr;
  t.wait_how = nullptr;
  return woken;
}

void Runtime::unpark(Thread& t) {
  if (!t.parked) return;
  t.parked = false;
  if (t.kind != ThreadKind::Internal) event("wake", &t);
  if (current_) {
    deferred_wakes_.push_back(&t);
  } else {
    t.impl->sem->release();
  }
}

void Runtime::unpark_from_outside(Thread& t) {
  if (!t.parked) return;
  t.parked = false;
  Thread* const saved = current_;
  current_ = nullptr;
  event("wake", &t);
  t.impl->sem->release();
  current_ = saved;
}

void Runtime::start_raw_actor(const std::string& name, std::function<void()> fn) {
  if (current_) {
    deferred_raw_.emplace_back(name, std::move(fn));
    return;
  }
  create_raw_actor(name, std::move(fn));
}

void Runtime::create_raw_actor(const std::string& name, std::function<void()> fn) {
  sg4::Actor::create(name, engine_->host, [this, fn = std::move(fn)] {
    current_ = nullptr;
    fn();
    current_ = nullptr;
  });
}

sg4::Disk* Runtime::engine_host_create_disk(const std::string& name, double read_bw, double write_bw) {
  sg4::Disk* d = engine_->host->create_disk(name, read_bw, write_bw);
  d->seal();
  return d;
}

void Runtime::sleep_for(double seconds, TimedWait how) {
  // REQUIRES: called by the simulated thread that sleeps.
  DMSIM_ASSERT(current_ != nullptr, "sleep_for outside a simulated thread");
  Thread& t = *current_;
  flush_deferred();
  // A computing thread is running (R) all along; the others are in a wait that ends by itself.
  t.state = how == TimedWait::Busy ? TaskState::Running : TaskState::Sleeping;
  sg4::this_actor::sleep_for(seconds);
  current_ = &t;
  context_switches_++;
  t.state = TaskState::Running;
  if (how == TimedWait::Sleep) t.oncpu_since_ns = now_ns();
}

void Runtime::yield() {
  check_budget();
  if (budget_exceeded_) park(TaskState::Sleeping, nullptr, "budget");
  // REQUIRES: called by the simulated thread that yields.
  DMSIM_ASSERT(current_ != nullptr, "yield outside a simulated thread");
  Thread& t = *current_;
  flush_deferred();
  sg4::this_actor::yield();
  current_ = &t;
  context_switches_++;
}

void Runtime::check_budget() {
  if (budget_exceeded_ || events_ <= cfg_.event_limit) return;
  budget_exceeded_ = true;
  report(FindingKind::Budget, "event budget exceeded: more than " + std::to_string(cfg_.event_limit) + " events");
}

void Runtime::preempt_point(PreemptionPoint point) {
  check_budget();
  if (budget_exceeded_ && current_) park(TaskState::Sleeping, nullptr, "budget");
  if (!explorer_.enabled() || !current_) return;
  if (!preempt_at_[static_cast<size_t>(point)]) return;
  const char* where = preemption_point_name(point);
  const PreemptDecision d = explorer_.decide();
  switch (d.action) {
    case PreemptAction::None:
      return;
    case PreemptAction::Yield:
      event("preempt", nullptr, std::string("yield at ") + where);
      yield();
      return;
    case PreemptAction::Delay:
      event("preempt", nullptr, "delay " + std::to_string(d.delay_ns) + "ns at " + where);
      sleep_for(d.delay_ns * 1e-9, TimedWait::Preempted);
      return;
  }
}

bool Runtime::chance(double p) {
  if (p <= 0) return false;
  return background_rng_.unit() < p;
}

void Runtime::event(const char* what, const WaitObject* obj, std::string detail) {
  events_++;
  if (!cfg_.trace) return;
  Thread* t = current_;
  trace_.add(TraceEvent{now_ns(), t ? t->pid : 0, t && !t->frames.empty() ? t->frames.back() : nullptr, what,
                        obj ? obj->name_id() : 0, std::move(detail)});
}

void Runtime::report(FindingKind kind, std::string title, std::string body) {
  Finding f;
  f.kind = kind;
  f.time_ns = now_ns();
  f.title = title;
  f.text = body.empty() ? title : title + "\n" + body;
  if (cfg_.trace) {
    Thread* t = current_;
    trace_.add(TraceEvent{f.time_ns, t ? t->pid : 0, nullptr, "finding", 0,
                          std::string(finding_kind_name(kind)) + ": " + title});
  }
  findings_.push_back(std::move(f));
}

void Runtime::printk(const std::string& text, uint8_t level) {
  DMSIM_GCC_BUG_105651(dmesg_.push_back("[" + format_time(now_ns()) + "] " + text);)
  dmesg_levels_.push_back(level);
  event("printk", nullptr, text);
}

void Runtime::note(const std::string& text) {
  notes_.push_back(text);
  event("note", nullptr, text);
}

uint64_t Runtime::register_object(WaitObject* o) {
  const uint64_t id = next_object_id_++;
  objects_[id] = o;
  return id;
}
void Runtime::unregister_object(uint64_t id) {
  objects_.erase(id);
}
const WaitObject* Runtime::object_by_id(uint64_t id) const {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : it->second;
}

uint64_t Runtime::register_holder(const Holder* h) {
  const uint64_t id = next_object_id_++;
  holders_[id] = h;
  return id;
}
void Runtime::unregister_holder(uint64_t id) {
  holders_.erase(id);
}
const Holder* Runtime::holder_by_id(uint64_t id) const {
  auto it = holders_.find(id);
  return it == holders_.end() ? nullptr : it->second;
}

void Runtime::report_annotation(const WaitObject& o, const Thread& t, const char* op, const std::string& names) {
  if (!reported_sites_.insert("annotation " + o.describe() + " " + t.name()).second) return;
  report(FindingKind::Annotation, "annotation names " + names + ", completed by " + t.ident(),
         "the annotation on " + o.describe() + " names " + names + " as what ends its waits, but " + op +
             " was called by " + t.ident() + ", which is none of them: a wait-for graph built on it is wrong.\n" +
             (t.workqueue.empty() ? "" : "Workqueue: " + t.workqueue + "\n") + "Call Trace:\n" + t.call_trace());
}

void Runtime::set_deadlock_reported(uint64_t since_ns) {
  deadlock_reported_ = true;
  deadlock_time_ns_ = std::min(deadlock_time_ns_, since_ns);
}

void Runtime::schedule_debug(const char* how) {
  Thread& t = *current_;
  const char* frame = t.frames.empty() ? "(no frame)" : t.frames.back();
  if (!reported_sites_.insert(std::string("sched ") + how + " " + frame + " " + t.name()).second) return;
  // schedule() runs __schedule with preemption disabled: the count printed includes that.
  char count[16];
  std::snprintf(count, sizeof count, "0x%08x", static_cast<unsigned>(t.preempt_count + 1));
  report(FindingKind::Bug, "BUG: scheduling while atomic: " + t.name() + "/" + std::to_string(t.pid) + "/" + count,
         lockdep_.held_locks_text(t) + "CPU: 0 PID: " + std::to_string(t.pid) + " Comm: " + t.name() +
             "\nCall Trace:\n __schedule_bug\n __schedule\n schedule\n " + how + "\n" + t.call_trace());
}

std::string Runtime::format_event(const TraceEvent& e) const {
  DMSIM_GCC_BUG_105651(std::string s = "[" + format_time(e.t_ns) + "] ";)
  if (e.pid > 0) {
    const Thread* t = thread_by_pid(e.pid);
    s += std::to_string(e.pid) + " " + (t ? t->name() : "?");
  } else {
    s += "- -";
  }
  if (e.frame) s += std::string(" ") + e.frame;
  s += ": ";
  s += e.what;
  if (e.obj) s += " " + names_.str(e.obj);
  if (!e.detail.empty()) s += " " + e.detail;
  return s;
}

void Runtime::run_detectors(bool final_pass) {
  current_ = nullptr;
  detect_deadlocks(*this, final_pass);
  check_hung_tasks(*this);
  check_workqueue_lockups(*this);
}

SimResult Runtime::run(std::function<void()> main) {
  spawn(cfg_.main_thread_name, std::move(main), ThreadKind::User);
  // The ticker keeps simulated time moving, so SimGrid never declares its own global deadlock
  // (which would kill every actor); our detector judges stalls instead.
  const double interval = cfg_.check_interval_secs > 0 ? cfg_.check_interval_secs : 1.0;
  sg4::Actor::create("ticker", engine_->host, [interval] {
    for (;;) sg4::this_actor::sleep_for(interval);
  });
  // Safety net: the ticker should keep SimGrid from ever declaring its own global deadlock.
  sg4::Engine::on_deadlock_cb([this] {
    report(FindingKind::Deadlock, "deadlock: SimGrid found no runnable actor and no pending event");
    set_deadlock_reported(now_ns());
  });
  SimResult res;
  double until = 0;
  for (;;) {
    until += interval;
    engine_->engine->run_until(until);
    current_ = nullptr;
    run_detectors(false);
    if (user_threads_alive_ == 0) break;
    if (budget_exceeded_ || stop_requested_) break;
    if (deadlock_reported_ && cfg_.stop_on_deadlock) {
      // Once the hung-task watchdog has seen the stuck threads too, as on a real machine.
      const double wait = cfg_.hung_task_timeout_secs > 0 ? cfg_.hung_task_timeout_secs + interval : 0;
      if (now_ns() >= deadlock_time_ns_ + static_cast<uint64_t>(wait * 1e9)) break;
    }
    if (now() >= cfg_.time_limit_secs) {
      report(FindingKind::Budget, "time limit exceeded: simulated time reached " +
                                      std::to_string(static_cast<long long>(cfg_.time_limit_secs)) + " s");
      break;
    }
  }
  run_detectors(true);
  current_ = nullptr;
  if (payload_.empty() && payload_provider_) payload_ = payload_provider_();
  res.end_time_ns = now_ns();
  res.findings = findings_;
  res.notes = notes_;
  res.dmesg = dmesg_;
  res.dmesg_levels = dmesg_levels_;
  res.payload = payload_;
  if (cfg_.trace) {
    res.trace.reserve(trace_.size());
    for (const auto& e : trace_.events()) res.trace.push_back(format_event(e));
  }
  bool deadlock = false, budget = false;
  for (const auto& f : findings_) {
    deadlock |= f.kind == FindingKind::Deadlock;
    budget |= f.kind == FindingKind::Budget;
  }
  res.status = deadlock ? RunStatus::Deadlocked : budget ? RunStatus::Budget : RunStatus::Completed;
  res.stats["events"] = static_cast<double>(events_);
  res.stats["context_switches"] = static_cast<double>(context_switches_);
  res.stats["threads"] = static_cast<double>(threads_.size());
  res.stats["schedule_decisions"] = static_cast<double>(explorer_.decisions());
  res.stats["schedule_perturbations"] = static_cast<double>(explorer_.perturbations());
  res.stats["lockdep_classes"] = static_cast<double>(lockdep_.classes());
  res.stats["lockdep_dependencies"] = static_cast<double>(lockdep_.dependencies());
  return res;
}

// ---- thread-level API (thread.hpp) that needs the runtime ----

Thread& current() {
  return Runtime::get().current();
}
Thread* current_or_null() {
  return Runtime::active() ? Runtime::get().current_or_null() : nullptr;
}
void report_leak(const std::string& title, const std::string& detail) {
  Runtime::get().report(FindingKind::Leak, title, detail);
}
void synchronize_rcu() {
  Runtime& rt = Runtime::get();
  might_sleep("synchronize_rcu");
  rt.event("synchronize_rcu");
  rt.preempt_point(PreemptionPoint::synchronize_rcu);
}
bool background_chance(double p) {
  return Runtime::get().chance(p);
}
const SimConfig& sim_config() {
  return Runtime::get().config();
}
void trace_event(const char* what, const std::string& detail) {
  Runtime::get().event(what, nullptr, detail);
}
void request_stop() {
  Runtime::get().request_stop();
}
size_t dmesg_lines() {
  return Runtime::get().dmesg_lines();
}
void set_payload(std::string p) {
  Runtime::get().set_payload(std::move(p));
}

void set_payload_provider(std::function<std::string()> fn) {
  Runtime::get().set_payload_provider(std::move(fn));
}

Thread& kthread_run(std::function<void()> fn, std::string name, ThreadKind kind) {
  Runtime& rt = Runtime::get();
  Thread& t = rt.spawn(std::move(name), std::move(fn), kind);
  rt.preempt_point(PreemptionPoint::kthread_run);
  return t;
}

void join(Thread& t, bool interruptible) {
  Runtime& rt = Runtime::get();
  Thread& self = rt.current();
  might_sleep("join");
  while (t.state != TaskState::Dead) {
    t.joiners.push_back(&self);
    rt.park(interruptible ? TaskState::Interruptible : TaskState::Uninterruptible, &t,
            interruptible ? "wait4" : "join");
  }
}

void send_signal(Thread& t) {
  Runtime& rt = Runtime::get();
  t.sigpending = true;
  rt.event("signal", &t);
  if (t.parked && t.state == TaskState::Interruptible) rt.unpark(t);
}

bool signal_pending() {
  return Runtime::get().current().sigpending;
}

void might_sleep(const char* where) {
  Runtime& rt = Runtime::get();
  rt.lockdep().check_might_sleep(rt.current(), where);
}

void msleep(unsigned ms) {
  Runtime& rt = Runtime::get();
  might_sleep("msleep");
  if (rt.current().preempt_count > 0) rt.schedule_debug("msleep");
  // msleep sleeps at least msecs_to_jiffies(ms) + 1 jiffies, as in kernel/time/timer.c.
  const double hz = rt.config().hz;
  const double jiffies = std::ceil(ms * hz / 1000.0) + 1;
  const uint64_t target = rt.jiffies() + static_cast<uint64_t>(jiffies);
  rt.event("msleep", nullptr, std::to_string(ms) + " ms");
  rt.sleep_for(std::max(0.0, target / hz - rt.now()));
}

void ssleep(unsigned s) {
  msleep(s * 1000);
}

void udelay_sim(double seconds) {
  Runtime& rt = Runtime::get();
  rt.sleep_for(seconds);
}

void cpu_busy(double seconds) {
  Runtime& rt = Runtime::get();
  rt.event("cpu_busy", nullptr, std::to_string(static_cast<long long>(seconds * 1e6)) + " us");
  rt.sleep_for(seconds, Runtime::TimedWait::Busy);
}

void schedule() {
  Runtime& rt = Runtime::get();
  if (rt.current().preempt_count > 0) rt.schedule_debug("schedule");
  rt.event("schedule");
  rt.yield();
}

void note(const std::string& text) {
  Runtime::get().note(text);
}
void printk(const std::string& text, uint8_t level) {
  Runtime::get().printk(text, level);
}

bool warn_on(bool cond, const char* what) {
  if (!cond) return false;
  Runtime& rt = Runtime::get();
  Thread* t = rt.current_or_null();
  rt.report(FindingKind::Warning, std::string("WARNING: ") + what,
            t ? "CPU: 0 PID: " + std::to_string(t->pid) + " Comm: " + t->name() + "\nCall Trace:\n" + t->call_trace()
              : std::string());
  return true;
}

void bug(const std::string& what) {
  Runtime& rt = Runtime::get();
  Thread* t = rt.current_or_null();
  rt.report(FindingKind::Bug, what,
            t ? "CPU: 0 PID: " + std::to_string(t->pid) + " Comm: " + t->name() + "\nCall Trace:\n" + t->call_trace()
              : std::string());
  // As an oops'd task exits: its locks stay held and nothing it owned is freed, so the thread
  // stops where it is instead of unwinding (destructors would free what other threads still use).
  if (t && t->kind != ThreadKind::Internal) rt.oops_exit(*t);
#if defined(__SANITIZE_ADDRESS__)
  // The frames this throw unwinds keep their redzones on a stack ASan does not know, where every
  // landing pad's __asan_handle_no_return then writes: clear the thread's stack from below this
  // frame to thread_main's before throwing (see unpoison_unwound_frames).
  if (auto it = t ? stack_tops().find(t) : stack_tops().end(); it != stack_tops().end()) {
    const char* top = static_cast<const char*>(it->second);
    const char* low = static_cast<const char*>(__builtin_frame_address(0)) - 64 * 1024;
    if (low < top) __asan_unpoison_memory_region(low, static_cast<size_t>(top - low));
  }
#endif
  throw ThreadKilled{};
}

}  // namespace sim
