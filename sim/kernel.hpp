// The kernel-like API engines are written against: the names of include/linux, taking
// pointers as the kernel does, so that `mutex_lock(&md->suspend_lock)` reads as in drivers/md.
#pragma once

#include "sim/atomic.hpp"
#include "sim/completion.hpp"
#include "sim/mutex.hpp"
#include "sim/rw_semaphore.hpp"
#include "sim/semaphore.hpp"
#include "sim/spinlock.hpp"
#include "sim/srcu.hpp"
#include "sim/thread.hpp"
#include "sim/timer.hpp"
#include "sim/wait_queue.hpp"
#include "sim/workqueue.hpp"

namespace sim {

inline void mutex_lock(Mutex* m) {
  m->lock();
}
inline void mutex_lock_nested(Mutex* m, unsigned subclass) {
  m->lock_nested(subclass);
}
inline int mutex_trylock(Mutex* m) {
  return m->trylock() ? 1 : 0;
}
inline void mutex_unlock(Mutex* m) {
  m->unlock();
}
inline bool mutex_is_locked(const Mutex* m) {
  return m->is_locked();
}

inline void spin_lock(Spinlock* l) {
  l->lock();
}
inline void spin_unlock(Spinlock* l) {
  l->unlock();
}
inline int spin_trylock(Spinlock* l) {
  return l->trylock() ? 1 : 0;
}
inline void spin_lock_irq(Spinlock* l) {
  l->lock();
}
inline void spin_unlock_irq(Spinlock* l) {
  l->unlock();
}
inline void spin_lock_irqsave(Spinlock* l, unsigned long& flags) {
  flags = 0;
  l->lock();
}
inline void spin_unlock_irqrestore(Spinlock* l, unsigned long) {
  l->unlock();
}
inline void raw_spin_lock(RawSpinlock* l) {
  l->lock();
}
inline void raw_spin_unlock(RawSpinlock* l) {
  l->unlock();
}
inline void raw_spin_lock_irqsave(RawSpinlock* l, unsigned long& flags) {
  flags = 0;
  l->lock();
}
inline void raw_spin_unlock_irqrestore(RawSpinlock* l, unsigned long) {
  l->unlock();
}

inline void down_read(RwSemaphore* s) {
  s->down_read();
}
inline void up_read(RwSemaphore* s) {
  s->up_read();
}
inline void down_write(RwSemaphore* s) {
  s->down_write();
}
inline void down_write_nested(RwSemaphore* s, unsigned subclass) {
  s->down_write_nested(subclass);
}
constexpr unsigned SINGLE_DEPTH_NESTING = 1;
inline void up_write(RwSemaphore* s) {
  s->up_write();
}
inline int down_read_trylock(RwSemaphore* s) {
  return s->down_read_trylock() ? 1 : 0;
}
inline int down_write_trylock(RwSemaphore* s) {
  return s->down_write_trylock() ? 1 : 0;
}
inline void downgrade_write(RwSemaphore* s) {
  s->downgrade_write();
}

inline void down(Semaphore* s) {
  s->down();
}
inline int down_trylock(Semaphore* s) {
  return s->down_trylock() ? 1 : 0;
}
inline void up(Semaphore* s) {
  s->up();
}

inline void wait_for_completion(Completion* c) {
  c->wait();
}
inline uint64_t wait_for_completion_timeout(Completion* c, uint64_t j) {
  return c->wait_timeout(j);
}
inline bool try_wait_for_completion(Completion* c) {
  return c->try_wait();
}
inline void complete(Completion* c) {
  c->complete();
}
inline void complete_all(Completion* c) {
  c->complete_all();
}
inline void reinit_completion(Completion* c) {
  c->reinit();
}
inline bool completion_done(const Completion* c) {
  return c->done();
}

inline void wake_up(WaitQueueHead* wq) {
  wq->wake_up();
}
inline void wake_up_all(WaitQueueHead* wq) {
  wq->wake_up_all();
}
inline void wake_up_locked(WaitQueueHead* wq) {
  wq->wake_up_locked();
}
inline bool waitqueue_active(const WaitQueueHead* wq) {
  return wq->active();
}

inline int srcu_read_lock(Srcu* s) {
  return s->read_lock();
}
inline void srcu_read_unlock(Srcu* s, int idx) {
  s->read_unlock(idx);
}
inline void synchronize_srcu(Srcu* s) {
  s->synchronize();
}

inline bool queue_work(Workqueue* wq, WorkStruct* w) {
  return wq->queue(w);
}
inline void flush_workqueue(Workqueue* wq) {
  wq->flush();
}
inline void drain_workqueue(Workqueue* wq) {
  wq->drain();
}
inline bool flush_work(WorkStruct* w, Workqueue* wq) {
  return wq->flush_work(w);
}
inline bool cancel_work_sync(WorkStruct* w, Workqueue* wq) {
  return wq->cancel_work_sync(w);
}
inline bool work_pending(const WorkStruct* w) {
  return w->pending();
}
inline bool queue_delayed_work(Workqueue* wq, DelayedWork* dw, uint64_t delay) {
  return wq->queue_delayed(dw, delay);
}
inline bool mod_delayed_work(Workqueue* wq, DelayedWork* dw, uint64_t delay) {
  return wq->mod_delayed(dw, delay);
}
inline bool cancel_delayed_work(DelayedWork* dw) {
  return dw->wq ? dw->wq->cancel_delayed(dw) : false;
}
inline bool cancel_delayed_work_sync(DelayedWork* dw) {
  return dw->wq ? dw->wq->cancel_delayed_sync(dw) : false;
}
inline bool flush_delayed_work(DelayedWork* dw) {
  return dw->wq ? dw->wq->flush_delayed(dw) : false;
}
inline bool delayed_work_pending(const DelayedWork* dw) {
  return dw->work.pending();
}

}  // namespace sim
