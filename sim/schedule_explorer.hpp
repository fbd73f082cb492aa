// Seeded choices at preemption points: the seed selects an interleaving. SimGrid itself always
// resolves ties the same way, so every bit of schedule diversity comes from here.
#pragma once

#include <cstdint>

namespace sim {

// xoshiro256** seeded through splitmix64: exact and identical on every platform, unlike the
// standard library's distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  uint64_t below(uint64_t n);  // uniform in [0, n)
  double unit();               // uniform in [0, 1)

 private:
  uint64_t s_[4];
};

enum class PreemptAction { None, Yield, Delay };

struct PreemptDecision {
  PreemptAction action = PreemptAction::None;
  uint32_t delay_ns = 0;
};

class ScheduleExplorer {
 public:
  ScheduleExplorer(uint64_t seed, double rate, uint32_t max_delay_ns);
  PreemptDecision decide();
  uint64_t decisions() const { return decisions_; }
  uint64_t perturbations() const { return perturbations_; }
  bool enabled() const { return rate_ > 0; }

 private:
  Rng rng_;
  double rate_;
  uint32_t max_delay_ns_;
  uint64_t decisions_ = 0;
  uint64_t perturbations_ = 0;
};

}  // namespace sim
