#include "sim/schedule_explorer.hpp"

namespace sim {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Rng::below(uint64_t n) {
  if (n == 0) return 0;
  // Rejection sampling keeps the draw unbiased.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do v = next();
  while (v >= limit);
  return v % n;
}

double Rng::unit() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

ScheduleExplorer::ScheduleExplorer(uint64_t seed, double rate, uint32_t max_delay_ns)
    : rng_(seed ^ 0x5ced5ced5ced5cedULL), rate_(rate), max_delay_ns_(max_delay_ns ? max_delay_ns : 1) {}

PreemptDecision ScheduleExplorer::decide() {
  PreemptDecision d;
  if (rate_ <= 0) return d;
  decisions_++;
  if (rng_.unit() >= rate_) return d;
  perturbations_++;
  if (rng_.below(2) == 0) {
    d.action = PreemptAction::Yield;
  } else {
    d.action = PreemptAction::Delay;
    d.delay_ns = 1 + static_cast<uint32_t>(rng_.below(max_delay_ns_));
  }
  return d;
}

}  // namespace sim
