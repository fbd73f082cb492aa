#include "engines/clone/clone_metadata.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "engines/lib/persistent_data/codec.hpp"
#include "model/dm/dm_target.hpp"
#include "sim/assert.hpp"

namespace engines::clone {

using namespace engines::pd;

namespace {

void DMERR(const std::string& msg) {
  model::dm_log("clone metadata", msg);
}

}  // namespace

// ---- bitmaps ----

RegionBitmap::RegionBitmap(uint64_t nr_bits, const char* what)
    : words_((nr_bits + 63) / 64, 0), nr_bits_(nr_bits), what_(what) {}

void RegionBitmap::check(uint64_t i, const char* fn) const {
  if (i >= nr_bits_)
    sim::bug(std::string("BUG: KASAN: vmalloc-out-of-bounds in ") + fn + " (bit " + std::to_string(i) + " of " + what_ +
             ", " + std::to_string(nr_bits_) + " bits)");
}

bool RegionBitmap::test(uint64_t i) const {
  check(i, "test_bit");
  return words_[i / 64] >> (i % 64) & 1;
}

void RegionBitmap::set(uint64_t i) {
  check(i, "__set_bit");
  words_[i / 64] |= uint64_t{1} << (i % 64);
}

void RegionBitmap::clear(uint64_t i) {
  check(i, "__clear_bit");
  words_[i / 64] &= ~(uint64_t{1} << (i % 64));
}

void RegionBitmap::clear_all() {
  std::fill(words_.begin(), words_.end(), 0);
}

uint64_t RegionBitmap::find_next_zero(uint64_t start, uint64_t size) const {
  size = std::min(size, nr_bits_);
  for (uint64_t i = start; i < size;) {
    const uint64_t w = ~words_[i / 64] >> (i % 64);
    if (w) return std::min(size, i + static_cast<uint64_t>(std::countr_zero(w)));
    i = (i / 64 + 1) * 64;
  }
  return size;
}

uint64_t RegionBitmap::find_next_set(uint64_t start, uint64_t size) const {
  size = std::min(size, nr_bits_);
  for (uint64_t i = start; i < size;) {
    const uint64_t w = words_[i / 64] >> (i % 64);
    if (w) return std::min(size, i + static_cast<uint64_t>(std::countr_zero(w)));
    i = (i / 64 + 1) * 64;
  }
  return size;
}

void RegionBitmap::or_word(uint64_t word64, uint64_t bits) {
  check(std::min(nr_bits_ - 1, word64 * 64 + 63 - static_cast<uint64_t>(std::countl_zero(bits | 1))), "__set_bit");
  words_[word64] |= bits;
}

uint64_t RegionBitmap::weight() const {
  uint64_t n = 0;
  for (uint64_t w : words_) n += static_cast<uint64_t>(std::popcount(w));
  return n;
}

// ---- persistent-data objects ----

namespace {

int superblock_all_zeroes(DmBlockManager* bm, bool* formatted) {
  DmBlock* b;
  int r = bm->read_lock(SUPERBLOCK_LOCATION, nullptr, &b);
  if (r) {
    DMERR("Failed to read_lock superblock");
    return r;
  }
  const uint8_t* d = dm_block_data(b);
  *formatted = !std::all_of(d, d + bm->block_size(), [](uint8_t x) { return x == 0; });
  bm->unlock(b);
  return 0;
}

void copy_sm_root(dm_clone_metadata* cmd) {
  cmd->tm->sm()->copy_root(cmd->metadata_space_map_root);
}

// __prepare_superblock
void prepare_superblock(dm_clone_metadata* cmd, uint8_t* disk) {
  superblock_fields f;
  std::memcpy(f.metadata_space_map_root, cmd->metadata_space_map_root, sizeof(f.metadata_space_map_root));
  f.region_size = cmd->region_size;
  f.target_size = cmd->target_size;
  f.bitset_root = cmd->bitset_root;
  superblock_pack(f, disk);
}

int write_superblock(dm_clone_metadata* cmd) {
  DmBlock* sblock;
  int r = cmd->bm->write_lock_zero(SUPERBLOCK_LOCATION, &sb_validator, &sblock);
  if (r) {
    DMERR("Failed to write_lock superblock");
    return r;
  }
  prepare_superblock(cmd, dm_block_data(sblock));
  if (cmd->on_commit) cmd->on_commit(dm_block_data(sblock), cmd->regions_this_commit);
  r = cmd->tm->commit(sblock);
  if (r) DMERR("Failed to commit superblock");
  return r;
}

// __format_metadata: an empty bitset of nr_regions bits, committed.
int format_metadata(dm_clone_metadata* cmd) {
  int r = DmTransactionManager::create_with_sm(cmd->bm.get(), SUPERBLOCK_LOCATION, &cmd->tm);
  if (r) {
    DMERR("Failed to create transaction manager");
    return r;
  }
  dm_disk_bitset_init(cmd->tm.get(), &cmd->bitset_info);
  r = dm_bitset_empty(&cmd->bitset_info, &cmd->bitset_root);
  if (r) {
    DMERR("Failed to create empty on-disk bitset");
    return r;
  }
  r = dm_bitset_resize(&cmd->bitset_info, cmd->bitset_root, 0, static_cast<uint32_t>(cmd->nr_regions), false,
                       &cmd->bitset_root);
  if (r) {
    DMERR("Failed to resize on-disk bitset to " + std::to_string(cmd->nr_regions) + " entries");
    return r;
  }
  r = cmd->tm->pre_commit();
  if (r) {
    DMERR("dm_tm_pre_commit failed");
    return r;
  }
  copy_sm_root(cmd);
  cmd->regions_this_commit.clear();
  return write_superblock(cmd);
}

int open_metadata(dm_clone_metadata* cmd) {
  DmBlock* sblock;
  int r = cmd->bm->read_lock(SUPERBLOCK_LOCATION, &sb_validator, &sblock);
  if (r) {
    DMERR("Failed to read_lock superblock");
    return r;
  }
  const superblock_fields f = superblock_unpack(dm_block_data(sblock));
  if (cmd->region_size != f.region_size || cmd->target_size != f.target_size) {
    DMERR("Region and/or target size don't match the ones in metadata");
    cmd->bm->unlock(sblock);
    return -EINVAL;
  }
  r = DmTransactionManager::open_with_sm(cmd->bm.get(), SUPERBLOCK_LOCATION, f.metadata_space_map_root, &cmd->tm);
  if (r) DMERR("dm_tm_open_with_sm failed");
  if (!r) {
    dm_disk_bitset_init(cmd->tm.get(), &cmd->bitset_info);
    cmd->bitset_root = f.bitset_root;
  }
  cmd->bm->unlock(sblock);
  return r;
}

int create_persistent_data_structures(dm_clone_metadata* cmd, bool may_format_device) {
  cmd->bm =
      std::make_unique<DmBlockManager>(cmd->bdev, DM_CLONE_METADATA_BLOCK_SIZE << 9, DM_CLONE_MAX_CONCURRENT_LOCKS);
  bool formatted = false;
  int r = superblock_all_zeroes(cmd->bm.get(), &formatted);
  if (!r) {
    if (!formatted)
      r = may_format_device ? format_metadata(cmd) : -EPERM;
    else
      r = open_metadata(cmd);
  }
  if (r) {
    cmd->tm.reset();
    cmd->bm.reset();
  }
  return r;
}

void destroy_persistent_data_structures(dm_clone_metadata* cmd) {
  cmd->tm.reset();
  cmd->bm.reset();
}

// __load_bitset_in_core: the on-disk bitset, word by word, into region_map.
int load_bitset_in_core(dm_clone_metadata* cmd) {
  int r = dm_bitset_flush(&cmd->bitset_info, cmd->bitset_root, &cmd->bitset_root);
  if (r) return r;
  cmd->region_map.clear_all();
  return dm_array_walk(&cmd->bitset_info.array_info, cmd->bitset_root, [cmd](uint32_t index, const uint8_t* v) {
    const uint64_t word = get_le64(v);
    for (unsigned b = 0; b < 64 && word; b++) {
      const uint64_t region = uint64_t{index} * 64 + b;
      if ((word >> b & 1) && region < cmd->nr_regions) cmd->region_map.set(region);
    }
    return 0;
  });
}

// __update_metadata_word: every region of `word` (of BITS_PER_LONG regions) dirty in this map
// (pre-fix: set in the live region map) is set on disk.
int update_metadata_word(dm_clone_metadata* cmd, dirty_map* dmap, uint64_t word) {
  const uint64_t lb = cmd->bits_per_long;
  const uint64_t max_index = std::min(cmd->nr_regions, (word + 1) * lb);
  for (uint64_t index = word * lb; index < max_index; index++) {
    const bool dirty =
        cmd->variant.inexact_dirty_tracking ? cmd->region_map.test(index) : dmap->dirty_regions.test(index);
    if (!dirty) continue;
    bool was_set = false;
    uint64_t root = cmd->bitset_root;
    int r = dm_bitset_test_bit(&cmd->bitset_info, root, static_cast<uint32_t>(index), &root, &was_set);
    if (!r) r = dm_bitset_set_bit(&cmd->bitset_info, root, static_cast<uint32_t>(index), &cmd->bitset_root);
    if (r) {
      DMERR("dm_bitset_set_bit failed");
      return r;
    }
    if (!was_set) cmd->regions_this_commit.push_back(index);  // dmsim: for the journal only
    if (!cmd->variant.inexact_dirty_tracking) dmap->dirty_regions.clear(index);
  }
  return 0;
}

// __metadata_commit
int metadata_commit(dm_clone_metadata* cmd) {
  int r = dm_bitset_flush(&cmd->bitset_info, cmd->bitset_root, &cmd->bitset_root);
  if (r) {
    DMERR("dm_bitset_flush failed");
    return r;
  }
  r = cmd->tm->pre_commit();
  if (r) {
    DMERR("dm_tm_pre_commit failed");
    return r;
  }
  copy_sm_root(cmd);
  r = write_superblock(cmd);
  if (r) return r;
  if (cmd->region_map.full()) cmd->hydration_done = true;
  return 0;
}

// __flush_dmap
int flush_dmap(dm_clone_metadata* cmd, dirty_map* dmap) {
  cmd->regions_this_commit.clear();
  for (uint64_t word = dmap->dirty_words.find_next_set(0, cmd->nr_words); word < cmd->nr_words;
       word = dmap->dirty_words.find_next_set(word + 1, cmd->nr_words)) {
    int r = update_metadata_word(cmd, dmap, word);
    if (r) return r;
    dmap->dirty_words.clear(word);
  }
  int r = metadata_commit(cmd);
  if (r) return r;
  sim::spin_lock_irq(&cmd->bitmap_lock);
  dmap->changed = false;
  sim::spin_unlock_irq(&cmd->bitmap_lock);
  return 0;
}

bool range_ok(const dm_clone_metadata* cmd, uint64_t start, uint64_t nr) {
  return start < cmd->nr_regions && start + nr >= start && start + nr <= cmd->nr_regions;
}

}  // namespace

std::unique_ptr<dm_clone_metadata> dm_clone_metadata_open(model::BlockDevice* bdev, uint64_t target_size,
                                                          uint64_t region_size, unsigned bits_per_long,
                                                          const clone_metadata_variant& v, int* r) {
  auto cmd = std::make_unique<dm_clone_metadata>();
  cmd->bdev = bdev;
  cmd->target_size = target_size;
  cmd->region_size = region_size;
  cmd->bits_per_long = bits_per_long;
  cmd->variant = v;
  // dm_sector_div_up into an unsigned long: truncated on 32-bit kernels (the constructor checks
  // first since "dm clone: Add overflow check for number of regions").
  uint64_t n = (target_size + region_size - 1) / region_size;
  if (bits_per_long == 32) n = static_cast<uint32_t>(n);
  cmd->nr_regions = n;
  cmd->nr_words = (n + bits_per_long - 1) / bits_per_long;
  cmd->region_map = RegionBitmap(n, "region_map");
  *r = create_persistent_data_structures(cmd.get(), true);
  if (*r) return nullptr;
  *r = load_bitset_in_core(cmd.get());
  if (*r) {
    DMERR("Failed to load on-disk region map");
    destroy_persistent_data_structures(cmd.get());
    return nullptr;
  }
  for (dirty_map& d : cmd->dmap) {
    d.dirty_words = RegionBitmap(cmd->nr_words, "dirty_words");
    d.dirty_regions = RegionBitmap(n, "dirty_regions");
  }
  if (cmd->region_map.full()) cmd->hydration_done = true;
  return cmd;
}

void dm_clone_metadata_close(std::unique_ptr<dm_clone_metadata> cmd) {
  if (!cmd->fail_io) destroy_persistent_data_structures(cmd.get());
}

bool dm_clone_is_hydration_done(dm_clone_metadata* cmd) {
  return cmd->hydration_done;
}

bool dm_clone_is_region_hydrated(dm_clone_metadata* cmd, uint64_t region_nr) {
  return dm_clone_is_hydration_done(cmd) || cmd->region_map.test(region_nr);
}

// The sum is unsigned long arithmetic and may wrap: the pre-fix discard path relied on that.
bool dm_clone_is_range_hydrated(dm_clone_metadata* cmd, uint64_t start, uint64_t nr_regions) {
  if (dm_clone_is_hydration_done(cmd)) return true;
  const uint64_t bit = cmd->region_map.find_next_zero(start, cmd->nr_regions);
  uint64_t end = start + nr_regions;
  if (cmd->bits_per_long == 32) end = static_cast<uint32_t>(end);
  return bit >= end;
}

uint64_t dm_clone_nr_of_hydrated_regions(dm_clone_metadata* cmd) {
  const uint64_t w = cmd->region_map.weight();
  // bitmap_weight returns int: 2^31 is negative, and the pre-fix unsigned long return type
  // sign-extended it.
  const auto as_int = static_cast<int32_t>(static_cast<uint32_t>(w));
  if (cmd->variant.hydrated_count_sign_extension)
    return cmd->bits_per_long == 32 ? static_cast<uint32_t>(as_int) : static_cast<uint64_t>(int64_t{as_int});
  return static_cast<uint32_t>(as_int);
}

uint64_t dm_clone_find_next_unhydrated_region(dm_clone_metadata* cmd, uint64_t start) {
  return cmd->region_map.find_next_zero(start, cmd->nr_regions);
}

int dm_clone_set_region_hydrated(dm_clone_metadata* cmd, uint64_t region_nr) {
  if (!cmd->variant.no_range_checks && region_nr >= cmd->nr_regions) {
    DMERR("Region " + std::to_string(region_nr) + " out of range (" + std::to_string(cmd->nr_regions) + " regions)");
    return -ERANGE;
  }
  unsigned long flags = 0;
  sim::spin_lock_irqsave(&cmd->bitmap_lock, flags);
  int r = 0;
  if (cmd->read_only) {
    r = -EPERM;
  } else {
    dirty_map* dmap = cmd->current_dmap;
    dmap->dirty_words.set(region_nr / cmd->bits_per_long);
    if (!cmd->variant.inexact_dirty_tracking) dmap->dirty_regions.set(region_nr);
    cmd->region_map.set(region_nr);
    dmap->changed = true;
  }
  sim::spin_unlock_irqrestore(&cmd->bitmap_lock, flags);
  return r;
}

int dm_clone_cond_set_range(dm_clone_metadata* cmd, uint64_t start, uint64_t nr_regions) {
  if (!cmd->variant.no_range_checks && !range_ok(cmd, start, nr_regions)) {
    DMERR("Invalid region range: start " + std::to_string(start) + ", nr_regions " + std::to_string(nr_regions) +
          " (total number of regions " + std::to_string(cmd->nr_regions) + ")");
    return -ERANGE;
  }
  sim::spin_lock_irq(&cmd->bitmap_lock);
  int r = 0;
  if (cmd->read_only) {
    r = -EPERM;
  } else {
    dirty_map* dmap = cmd->current_dmap;
    // Region by region, as the kernel's loop, but 64 at a time where the range covers a whole
    // 64-bit word: the same bits end up set.
    for (uint64_t region = start; region < start + nr_regions;) {
      const uint64_t w64 = region / 64;
      if (region % 64 == 0 && region + 64 <= start + nr_regions && region + 64 <= cmd->nr_regions) {
        const uint64_t fresh = ~cmd->region_map.word(w64);
        if (fresh) {
          if (cmd->bits_per_long == 64) {
            dmap->dirty_words.set(w64);
          } else {  // two 32-bit longs
            if (fresh & 0xffffffffu) dmap->dirty_words.set(2 * w64);
            if (fresh >> 32) dmap->dirty_words.set(2 * w64 + 1);
          }
          if (!cmd->variant.inexact_dirty_tracking) dmap->dirty_regions.or_word(w64, fresh);
          cmd->region_map.or_word(w64, fresh);
          dmap->changed = true;
        }
        region += 64;
        continue;
      }
      if (!cmd->region_map.test(region)) {
        dmap->dirty_words.set(region / cmd->bits_per_long);
        if (!cmd->variant.inexact_dirty_tracking) dmap->dirty_regions.set(region);
        cmd->region_map.set(region);
        dmap->changed = true;
      }
      region++;
    }
  }
  sim::spin_unlock_irq(&cmd->bitmap_lock);
  return r;
}

bool dm_clone_changed_this_transaction(dm_clone_metadata* cmd) {
  unsigned long flags = 0;
  sim::spin_lock_irqsave(&cmd->bitmap_lock, flags);
  const bool r = cmd->dmap[0].changed || cmd->dmap[1].changed;
  sim::spin_unlock_irqrestore(&cmd->bitmap_lock, flags);
  return r;
}

int dm_clone_metadata_pre_commit(dm_clone_metadata* cmd) {
  if (cmd->variant.single_phase_commit) return 0;  // there was no pre-commit
  sim::down_write(&cmd->lock);
  int r = 0;
  if (cmd->fail_io || cmd->bm->is_read_only()) {
    r = -EPERM;
  } else {
    dirty_map* dmap = cmd->current_dmap;
    dirty_map* next = dmap == &cmd->dmap[0] ? &cmd->dmap[1] : &cmd->dmap[0];
    // The last commit failed: there is no clean map to switch to.
    if (sim::warn_on(next->changed || cmd->committing_dmap, "dm_clone_metadata_pre_commit: no clean dirty map")) {
      r = -EINVAL;
    } else {
      sim::spin_lock_irq(&cmd->bitmap_lock);
      cmd->current_dmap = next;
      sim::spin_unlock_irq(&cmd->bitmap_lock);
      cmd->committing_dmap = dmap;
    }
  }
  sim::up_write(&cmd->lock);
  return r;
}

int dm_clone_metadata_commit(dm_clone_metadata* cmd) {
  sim::down_write(&cmd->lock);
  int r = -EPERM;
  if (!cmd->fail_io && !cmd->bm->is_read_only()) {
    if (cmd->variant.single_phase_commit) {
      // The original commit: swap the maps and write the old one, in one call.
      dirty_map* dmap = cmd->current_dmap;
      dirty_map* next = dmap == &cmd->dmap[0] ? &cmd->dmap[1] : &cmd->dmap[0];
      sim::warn_on(next->changed, "dm_clone_metadata_commit: the other dirty map is changed");
      sim::spin_lock_irq(&cmd->bitmap_lock);
      cmd->current_dmap = next;
      sim::spin_unlock_irq(&cmd->bitmap_lock);
      r = flush_dmap(cmd, dmap);
    } else if (sim::warn_on(!cmd->committing_dmap, "dm_clone_metadata_commit: no committing dirty map")) {
      r = -EINVAL;
    } else {
      r = flush_dmap(cmd, cmd->committing_dmap);
      if (!r) cmd->committing_dmap = nullptr;
    }
  }
  sim::up_write(&cmd->lock);
  return r;
}

int dm_clone_metadata_abort(dm_clone_metadata* cmd) {
  sim::down_write(&cmd->lock);
  int r = -EPERM;
  if (!cmd->fail_io && !cmd->bm->is_read_only()) {
    destroy_persistent_data_structures(cmd);
    r = create_persistent_data_structures(cmd, false);
    if (r) cmd->fail_io = true;  // neither reads nor writes of metadata are possible any more
  }
  sim::up_write(&cmd->lock);
  return r;
}

// Must not race with the update functions: safe once read_only is set.
int dm_clone_reload_in_core_bitset(dm_clone_metadata* cmd) {
  sim::down_write(&cmd->lock);
  const int r = cmd->fail_io ? -EINVAL : load_bitset_in_core(cmd);
  sim::up_write(&cmd->lock);
  return r;
}

void dm_clone_metadata_set_read_only(dm_clone_metadata* cmd) {
  sim::down_write(&cmd->lock);
  sim::spin_lock_irq(&cmd->bitmap_lock);
  cmd->read_only = true;
  sim::spin_unlock_irq(&cmd->bitmap_lock);
  if (!cmd->fail_io) cmd->bm->set_read_only();
  sim::up_write(&cmd->lock);
}

void dm_clone_metadata_set_read_write(dm_clone_metadata* cmd) {
  sim::down_write(&cmd->lock);
  sim::spin_lock_irq(&cmd->bitmap_lock);
  cmd->read_only = false;
  sim::spin_unlock_irq(&cmd->bitmap_lock);
  if (!cmd->fail_io) cmd->bm->set_read_write();
  sim::up_write(&cmd->lock);
}

int dm_clone_get_free_metadata_block_count(dm_clone_metadata* cmd, uint64_t* result) {
  sim::down_read(&cmd->lock);
  int r = -EINVAL;
  if (!cmd->fail_io) {
    *result = cmd->tm->sm()->nr_free();
    r = 0;
  }
  sim::up_read(&cmd->lock);
  return r;
}

int dm_clone_get_metadata_dev_size(dm_clone_metadata* cmd, uint64_t* result) {
  sim::down_read(&cmd->lock);
  int r = -EINVAL;
  if (!cmd->fail_io) {
    *result = cmd->tm->sm()->nr_blocks();
    r = 0;
  }
  sim::up_read(&cmd->lock);
  return r;
}

std::vector<uint64_t> dm_clone_committing_regions(dm_clone_metadata* cmd) {
  std::vector<uint64_t> out;
  const dirty_map* dmap = cmd->committing_dmap ? cmd->committing_dmap : cmd->current_dmap;
  if (cmd->variant.inexact_dirty_tracking) return out;
  for (uint64_t r = dmap->dirty_regions.find_next_set(0, cmd->nr_regions); r < cmd->nr_regions;
       r = dmap->dirty_regions.find_next_set(r + 1, cmd->nr_regions))
    out.push_back(r);
  return out;
}

}  // namespace engines::clone
