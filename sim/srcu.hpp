// struct srcu_struct (sleepable RCU), as dm core uses it for md->io_barrier. Readers may block
// inside their read-side section; synchronize_srcu waits for every reader that was already
// inside when it started and for none that entered later. That asymmetry is what lets a status
// ioctl blocked under dm_get_live_table() hang a table swap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/wait_object.hpp"

namespace sim {

class Srcu : public WaitObject {
 public:
  explicit Srcu(std::string name);

  int read_lock();
  void read_unlock(int idx);
  void synchronize();

  size_t active_readers() const { return readers_.size(); }
  void releasers(const Thread& waiter, std::vector<Releaser>& out) const override;

 private:
  struct Reader {
    uint64_t seq;
    Thread* t;
    int idx;
  };
  struct Syncer {
    Thread* t;
    uint64_t before;  // waits for readers with seq < before
  };
  void wake_syncers();

  int idx_ = 0;
  uint64_t next_seq_ = 1;
  std::vector<Reader> readers_;
  std::vector<Syncer*> syncers_;
  uint32_t class_ = 0;
};

}  // namespace sim
