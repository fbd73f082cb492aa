// atomic_t and bit operations with the kernel's names. The simulation is cooperative, so the
// value itself needs no protection; what matters is that each operation can be a preemption
// point, so that races on flags (era->suspended, say) are explored.
#pragma once

#include <cstdint>

#include "sim/preemption_point.hpp"

namespace sim {

void atomic_preempt_point(PreemptionPoint op);

class Atomic {
 public:
  explicit Atomic(long v = 0) : v_(v) {}
  long read() const { return v_; }
  void set(long v) {
    atomic_preempt_point(PreemptionPoint::atomic_set);
    v_ = v;
  }
  long add_return(long d) {
    atomic_preempt_point(PreemptionPoint::atomic_add_return);
    v_ += d;
    return v_;
  }
  long fetch_add(long d) {
    atomic_preempt_point(PreemptionPoint::atomic_fetch_add);
    long old = v_;
    v_ += d;
    return old;
  }
  long cmpxchg(long expected, long desired) {
    atomic_preempt_point(PreemptionPoint::atomic_cmpxchg);
    long old = v_;
    if (old == expected) v_ = desired;
    return old;
  }
  long xchg(long v) {
    atomic_preempt_point(PreemptionPoint::atomic_xchg);
    long old = v_;
    v_ = v;
    return old;
  }

 private:
  long v_;
};

// The value read may be stale by the time it is used, as when another CPU writes it just
// after: the preemption point is after the load.
inline long atomic_read(const Atomic* a) {
  const long v = a->read();
  atomic_preempt_point(PreemptionPoint::atomic_read);
  return v;
}
inline void atomic_set(Atomic* a, long v) {
  a->set(v);
}
inline void atomic_inc(Atomic* a) {
  a->add_return(1);
}
inline void atomic_dec(Atomic* a) {
  a->add_return(-1);
}
inline long atomic_inc_return(Atomic* a) {
  return a->add_return(1);
}
inline long atomic_dec_return(Atomic* a) {
  return a->add_return(-1);
}
inline bool atomic_dec_and_test(Atomic* a) {
  return a->add_return(-1) == 0;
}
inline void atomic_add(long d, Atomic* a) {
  a->add_return(d);
}
inline void atomic_sub(long d, Atomic* a) {
  a->add_return(-d);
}
inline long atomic_cmpxchg(Atomic* a, long expected, long desired) {
  return a->cmpxchg(expected, desired);
}
inline long atomic_xchg(Atomic* a, long v) {
  return a->xchg(v);
}

// Bit operations on an unsigned long word.
inline bool test_bit(unsigned nr, const unsigned long* w) {
  return (*w >> nr) & 1UL;
}
inline void set_bit(unsigned nr, unsigned long* w) {
  atomic_preempt_point(PreemptionPoint::set_bit);
  *w |= 1UL << nr;
}
inline void clear_bit(unsigned nr, unsigned long* w) {
  atomic_preempt_point(PreemptionPoint::clear_bit);
  *w &= ~(1UL << nr);
}
inline bool test_and_set_bit(unsigned nr, unsigned long* w) {
  atomic_preempt_point(PreemptionPoint::test_and_set_bit);
  bool old = test_bit(nr, w);
  *w |= 1UL << nr;
  return old;
}
inline bool test_and_clear_bit(unsigned nr, unsigned long* w) {
  atomic_preempt_point(PreemptionPoint::test_and_clear_bit);
  bool old = test_bit(nr, w);
  *w &= ~(1UL << nr);
  return old;
}

}  // namespace sim
