// The bio prison (dm-bio-prison-v1.c) and deferred sets, as dm-thin uses them. A cell holds one
// key range exclusively: the first bio detained is its holder, later ones wait inside it until
// the holder's work releases the cell. A deferred set tags I/O with the current epoch; work
// added to it runs only once every I/O tagged before it has completed.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <vector>

#include "model/bio.hpp"
#include "sim/kernel.hpp"

namespace engines::thin {

struct dm_cell_key {
  bool virt = false;  // virtual (thin block) or data (pool block) address space
  uint64_t dev = 0;
  uint64_t block_begin = 0, block_end = 0;  // [begin, end)
};

struct dm_bio_prison_cell {
  dm_cell_key key;
  model::Bio* holder = nullptr;
  std::vector<model::Bio*> bios;  // inmates, in arrival order
};

constexpr uint64_t BIO_PRISON_MAX_RANGE = 1024;

// A range key may not exceed BIO_PRISON_MAX_RANGE blocks nor cross a multiple of it.
bool dm_cell_key_has_valid_range(const dm_cell_key& key);

class DmBioPrison {
 public:
  DmBioPrison() = default;
  ~DmBioPrison();
  DmBioPrison(const DmBioPrison&) = delete;
  DmBioPrison& operator=(const DmBioPrison&) = delete;

  // dm_bio_detain: 1 when an overlapping cell exists (the bio, if any, joined it), 0 when a new
  // cell was made with `bio` as holder. *cell is the cell either way.
  int detain(const dm_cell_key& key, model::Bio* bio, dm_bio_prison_cell** cell);
  // dm_cell_release: holder and inmates, in that order; the cell is freed.
  void release(dm_bio_prison_cell* cell, std::vector<model::Bio*>* bios);
  // dm_cell_release_no_holder: inmates only.
  void release_no_holder(dm_bio_prison_cell* cell, std::vector<model::Bio*>* bios);
  // dm_cell_visit_release: `visit` runs under the prison lock, then the cell is freed.
  void visit_release(dm_bio_prison_cell* cell, const std::function<void(dm_bio_prison_cell*)>& visit);
  size_t cells() const { return cells_.size(); }

 private:
  void remove(dm_bio_prison_cell* cell);
  sim::Spinlock lock_{"prison->lock"};
  std::list<std::unique_ptr<dm_bio_prison_cell>> cells_;
};

// dm_deferred_set: a ring of epochs, each with an I/O count and the work waiting for it.
class DmDeferredSet {
 public:
  using Work = std::function<void()>;
  // dm_deferred_entry_inc: tags an I/O with the current epoch; returns the epoch.
  unsigned entry_inc();
  // dm_deferred_entry_dec: the I/O tagged with `entry` completed; appends to `ready` the work
  // whose epochs (and every earlier one) have drained.
  void entry_dec(unsigned entry, std::vector<Work>* ready);
  // dm_deferred_set_add_work: 0 when nothing older is in flight (run `w` now, it is not kept),
  // 1 when `w` was attached to the current epoch.
  int add_work(Work w);

 private:
  static constexpr unsigned kEntries = 64;
  void sweep(std::vector<Work>* ready);
  struct Entry {
    unsigned count = 0;
    std::vector<Work> work;
  };
  sim::Spinlock lock_{"ds->lock"};
  Entry entries_[kEntries];
  unsigned current_ = 0, sweeper_ = 0;
};

}  // namespace engines::thin
