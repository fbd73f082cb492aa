// The places where the real kernel could be preempted and the schedule explorer may yield or
// delay. One list: the enum, the names a scenario's `preempt-at:` uses and the trace's words all
// come from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sim {

// clang-format off
#define DMSIM_PREEMPTION_POINTS(X) \
  X(atomic_add_return) X(atomic_cmpxchg) X(atomic_fetch_add) X(atomic_read) X(atomic_set) X(atomic_xchg) \
  X(clear_bit) X(complete) X(down) X(down_read) X(down_write) X(flush_workqueue) \
  X(io_complete) X(kthread_run) X(mutex_lock) X(mutex_trylock) X(mutex_unlock) X(process_one_work) \
  X(queue_work) X(set_bit) X(spin_lock) X(spin_unlock) X(srcu_read_lock) X(srcu_read_unlock) \
  X(synchronize_rcu) X(synchronize_srcu) X(test_and_clear_bit) X(test_and_set_bit) X(up) X(up_read) \
  X(up_write) X(wake_up)
// clang-format on

enum class PreemptionPoint : uint8_t {
#define DMSIM_PREEMPTION_POINT_ENUM(name) name,
  DMSIM_PREEMPTION_POINTS(DMSIM_PREEMPTION_POINT_ENUM)
#undef DMSIM_PREEMPTION_POINT_ENUM
};

inline constexpr size_t kPreemptionPoints = 0
#define DMSIM_PREEMPTION_POINT_COUNT(name) +1
    DMSIM_PREEMPTION_POINTS(DMSIM_PREEMPTION_POINT_COUNT);
#undef DMSIM_PREEMPTION_POINT_COUNT

const char* preemption_point_name(PreemptionPoint p);
std::optional<PreemptionPoint> find_preemption_point(std::string_view name);
// Every name, in the list's (alphabetical) order: what SimConfig::preempt_only may list.
const std::vector<std::string>& preemption_point_names();

}  // namespace sim
