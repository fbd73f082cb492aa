#include "engines/thin/bio_prison.hpp"

#include <algorithm>

namespace engines::thin {

namespace {

bool keys_overlap(const dm_cell_key& a, const dm_cell_key& b) {
  return a.virt == b.virt && a.dev == b.dev && a.block_begin < b.block_end && b.block_begin < a.block_end;
}

}  // namespace

bool dm_cell_key_has_valid_range(const dm_cell_key& key) {
  if (key.block_end <= key.block_begin) return false;
  if (key.block_end - key.block_begin > BIO_PRISON_MAX_RANGE) return false;
  return key.block_begin / BIO_PRISON_MAX_RANGE == (key.block_end - 1) / BIO_PRISON_MAX_RANGE;
}

DmBioPrison::~DmBioPrison() {
  sim::warn_on(!cells_.empty(), "dm-bio-prison: prison destroyed with cells still held");
}

// dm_bio_detain
int DmBioPrison::detain(const dm_cell_key& key, model::Bio* bio, dm_bio_prison_cell** cell) {
  sim::spin_lock(&lock_);
  for (auto& c : cells_) {
    if (!keys_overlap(c->key, key)) continue;
    if (bio) c->bios.push_back(bio);
    *cell = c.get();
    sim::spin_unlock(&lock_);
    return 1;
  }
  auto c = std::make_unique<dm_bio_prison_cell>();
  c->key = key;
  c->holder = bio;
  *cell = c.get();
  cells_.push_back(std::move(c));
  sim::spin_unlock(&lock_);
  return 0;
}

void DmBioPrison::remove(dm_bio_prison_cell* cell) {
  auto it = std::find_if(cells_.begin(), cells_.end(), [cell](const auto& c) { return c.get() == cell; });
  if (it != cells_.end()) cells_.erase(it);
}

// dm_cell_release
void DmBioPrison::release(dm_bio_prison_cell* cell, std::vector<model::Bio*>* bios) {
  sim::spin_lock(&lock_);
  if (cell->holder) bios->push_back(cell->holder);
  bios->insert(bios->end(), cell->bios.begin(), cell->bios.end());
  remove(cell);
  sim::spin_unlock(&lock_);
}

// dm_cell_release_no_holder
void DmBioPrison::release_no_holder(dm_bio_prison_cell* cell, std::vector<model::Bio*>* bios) {
  sim::spin_lock(&lock_);
  bios->insert(bios->end(), cell->bios.begin(), cell->bios.end());
  remove(cell);
  sim::spin_unlock(&lock_);
}

// dm_cell_visit_release
void DmBioPrison::visit_release(dm_bio_prison_cell* cell, const std::function<void(dm_bio_prison_cell*)>& visit) {
  sim::spin_lock(&lock_);
  visit(cell);
  remove(cell);
  sim::spin_unlock(&lock_);
}

// ---- deferred set ----

unsigned DmDeferredSet::entry_inc() {
  sim::spin_lock(&lock_);
  const unsigned e = current_;
  entries_[e].count++;
  sim::spin_unlock(&lock_);
  return e;
}

// __sweep: epochs drain in order; the current one only when the sweeper has caught up with it.
void DmDeferredSet::sweep(std::vector<Work>* ready) {
  while (sweeper_ != current_ && !entries_[sweeper_].count) {
    for (auto& w : entries_[sweeper_].work) ready->push_back(std::move(w));
    entries_[sweeper_].work.clear();
    sweeper_ = (sweeper_ + 1) % kEntries;
  }
  if (sweeper_ == current_ && !entries_[sweeper_].count) {
    for (auto& w : entries_[sweeper_].work) ready->push_back(std::move(w));
    entries_[sweeper_].work.clear();
  }
}

void DmDeferredSet::entry_dec(unsigned entry, std::vector<Work>* ready) {
  sim::spin_lock(&lock_);
  sim::warn_on(entries_[entry].count == 0, "dm_deferred_entry_dec: count already zero");
  if (entries_[entry].count) entries_[entry].count--;
  sweep(ready);
  sim::spin_unlock(&lock_);
}

int DmDeferredSet::add_work(Work w) {
  sim::spin_lock(&lock_);
  int r = 1;
  if (sweeper_ == current_ && !entries_[current_].count) {
    r = 0;
  } else {
    entries_[current_].work.push_back(std::move(w));
    const unsigned next = (current_ + 1) % kEntries;
    if (!entries_[next].count) current_ = next;
  }
  sim::spin_unlock(&lock_);
  return r;
}

}  // namespace engines::thin
