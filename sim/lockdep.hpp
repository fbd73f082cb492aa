// Lock-order validator in the manner of lockdep: a graph of lock classes where an edge A -> B
// means "B was taken while A was held". An acquisition that would close a cycle is reported
// as a possible circular locking dependency with both chains, whether or not the run hung.
// It also reports AA recursion and sleeping in atomic context.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace sim {

class Runtime;
class Thread;
class WaitObject;

enum class AcquireMode : uint8_t {
  Write,          // exclusive (mutex, spinlock, down_write, synchronize_srcu, flush_workqueue)
  Read,           // shared but not recursive (down_read: a queued writer blocks it)
  RecursiveRead,  // srcu_read_lock: never blocks on a writer, so read-read cycles are harmless
};

class Lockdep {
 public:
  explicit Lockdep(Runtime& rt) : rt_(rt) {}

  // Checks an acquisition of `lock_class` by `t` against the locks it holds and records the new
  // dependencies. Call before blocking. `hold` says whether it will be held (a real lock) or is
  // only a wait (flush_workqueue, synchronize_srcu: lock_map_acquire + release).
  void acquire(Thread& t, uint32_t lock_class, const WaitObject* obj, AcquireMode mode, bool trylock);
  void acquired(Thread& t, uint32_t lock_class, const WaitObject* obj, AcquireMode mode);
  // Returns false when `t` does not hold `obj` (the caller reports the misuse).
  bool release(Thread& t, const WaitObject* obj);

  // might_sleep(): BUG when in atomic context.
  void check_might_sleep(Thread& t, const char* where);

  // "N locks held by NAME/PID:" and one line per lock, as lockdep prints them.
  std::string held_locks_text(const Thread& t) const;

  size_t classes() const { return edges_.size(); }
  size_t dependencies() const { return dep_count_; }

 private:
  struct Dep {
    uint32_t to;
    AcquireMode from_mode;  // how the source was held
    AcquireMode to_mode;    // how the target was taken
    std::string where;      // thread and call trace when the dependency was first seen
  };
  bool find_path(uint32_t from, uint32_t to, AcquireMode arrive_mode, AcquireMode leave_mode,
                 std::vector<const Dep*>& path) const;
  std::string class_name(uint32_t c) const;

  Runtime& rt_;
  std::unordered_map<uint32_t, std::vector<Dep>> edges_;
  std::set<std::pair<uint32_t, uint32_t>> known_;
  std::set<std::pair<uint32_t, uint32_t>> reported_;
  std::set<std::string> reported_sites_;
  size_t dep_count_ = 0;
};

}  // namespace sim
