// struct mapped_device and the bio path of dm.c: live table under SRCU (md->io_barrier), bios
// parked while suspended, PREFLUSH handled as empty flushes to every target followed by the
// data part, clones split per target and max_io_len, map/end_io results, in-flight accounting;
// and the suspend, swap and resume sequences in the kernel's order.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "model/block_device.hpp"
#include "model/dm/dm_table.hpp"
#include "sim/kernel.hpp"

namespace model {

enum DmFlags : unsigned {
  DMF_BLOCK_IO_FOR_SUSPEND = 0,
  DMF_SUSPENDED = 1,
  DMF_NOFLUSH_SUSPENDING = 2,
  DMF_POST_SUSPENDING = 3,
  DMF_FREEING = 4,
  DMF_SUSPENDED_INTERNALLY = 5,
};

class MappedDevice : public BlockDevice {
 public:
  MappedDevice(std::string name, uint32_t minor);
  ~MappedDevice() override;

  void submit(Bio* bio) override;  // dm_submit_bio
  bool bio_based() const override { return true; }

  // dm_get_live_table / dm_put_live_table.
  DmTable* get_live_table(int* srcu_idx);
  void put_live_table(int srcu_idx);
  DmTable* live_table() const { return map_; }

  // dm_suspend / dm_resume / dm_swap_table / __dm_destroy. 0 or -errno (suspend: -EINTR when a
  // signal interrupted the wait for in-flight I/O). Both wait while the device is suspended
  // internally, until the internal resume.
  int suspend(bool noflush);
  int resume();
  // dm_internal_suspend_noflush / dm_internal_resume: a target suspending another device (a
  // thin-pool its thins). Nested calls count; on a device the user suspended, only the flag.
  void internal_suspend_noflush();
  void internal_resume();
  DmTable* swap_table(DmTable* new_map);
  void destroy_live_table();

  bool suspended() const { return test_flag(DMF_SUSPENDED); }
  bool suspended_internally() const { return test_flag(DMF_SUSPENDED_INTERNALLY); }
  bool noflush_suspending() const { return test_flag(DMF_NOFLUSH_SUSPENDING); }
  bool test_flag(DmFlags f) const { return sim::test_bit(f, &flags_); }
  uint64_t in_flight() const { return in_flight_; }
  uint64_t deferred_count() const { return deferred_.size(); }
  uint64_t event_nr() const { return event_nr_; }

  sim::Srcu io_barrier;
  sim::Mutex suspend_lock;
  sim::Mutex type_lock;

 private:
  friend struct DmIoOps;
  void queue_io(Bio* bio);
  // Where a bio on md->deferred waits: for dm_wq_work, or while suspended for dm_resume.
  void set_deferred_where(Bio* bio);
  void retarget_deferred();
  void dm_wq_work();
  void split_and_process_bio(DmTable* map, Bio* bio);
  void start_io_acct();
  void end_io_acct();
  // __dm_suspend: presuspend, block and drain I/O, then `suspend_flag`; 0, or -EINTR (an
  // interruptible wait a signal ended: presuspend is undone).
  int __suspend(DmTable* map, bool noflush, bool interruptible, DmFlags suspend_flag);
  // Waits, without suspend_lock, for the internal resume: 0, or -EINTR (wait_on_bit).
  int wait_for_internal_resume();
  int wait_for_completion(bool interruptible);  // 0, or -EINTR when a signal ended the wait
  void dm_queue_flush();                        // clear BLOCK_IO_FOR_SUSPEND and resubmit the parked bios
  void set_flag(DmFlags f) { sim::set_bit(f, &flags_); }
  void clear_flag(DmFlags f) { sim::clear_bit(f, &flags_); }

  DmTable* map_ = nullptr;
  unsigned long flags_ = 0;
  sim::Spinlock deferred_lock;
  std::deque<Bio*> deferred_;
  sim::Workqueue* wq_;
  sim::WorkStruct work_;
  sim::WaitQueueHead wait_;
  uint64_t in_flight_ = 0;
  sim::Holder in_flight_where_;  // the bios counted in in_flight_, for dm_wait_for_completion
  uint64_t event_nr_ = 0;
  unsigned internal_suspend_count_ = 0;
  sim::WaitQueueHead internal_resume_wait_;  // wake_up_bit(DMF_SUSPENDED_INTERNALLY)
};

}  // namespace model
