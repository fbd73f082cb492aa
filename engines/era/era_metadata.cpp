#include "engines/era/era_metadata.hpp"

#include <algorithm>
#include <cstring>

#include "engines/lib/persistent_data/codec.hpp"
#include "model/dm/dm_target.hpp"
#include "sim/kernel.hpp"

namespace engines::era {

using namespace engines::pd;

namespace {

void DMERR(const std::string& msg) {
  model::dm_log("era", msg);
}

size_t bitset_words(uint64_t nr_bits) {
  return (nr_bits + 63) / 64;
}

// ---- writesets ----

// writeset_free: the on-disk bitset stays; it is dropped once digested. (Pre-5.12 left the
// pointer dangling; no path of that code used it after a free, so clearing it changes nothing.)
void writeset_free(era_metadata* md, writeset* ws) {
  md->kmem->vfree(reinterpret_cast<uint64_t*>(ws->bits));
  ws->bits = nullptr;
}

int setup_on_disk_bitset(DmDiskBitset* info, unsigned nr_bits, uint64_t* root) {
  int r = dm_bitset_empty(info, root);
  if (r) return r;
  return dm_bitset_resize(info, *root, 0, nr_bits, false, root);
}

// writeset_alloc: only the in-core bitmap. Pre-5.12 it also reset the on-disk root, which
// threw away a current writeset loaded after a crash.
int writeset_alloc(era_metadata* md, writeset* ws, uint64_t nr_blocks) {
  ws->bits = reinterpret_cast<unsigned long*>(md->kmem->vzalloc_words(bitset_words(nr_blocks), "writeset_alloc"));
  if (md->variant.no_writeset_recovery) {
    ws->md.nr_bits = static_cast<uint32_t>(nr_blocks);
    ws->md.root = INVALID_WRITESET_ROOT;
  }
  return 0;
}

// writeset_init: wipes the in-core bits and creates a new, empty on-disk bitset. With no
// blocks (metadata never resized) the wipe is a memset of zero bytes: no bitmap is needed.
int writeset_init(DmDiskBitset* info, writeset* ws, uint64_t nr_blocks) {
  if (nr_blocks && !ws->bits)
    sim::bug("BUG: kernel NULL pointer dereference in writeset_init (in-core writeset not allocated)");
  if (nr_blocks) std::memset(ws->bits, 0, bitset_words(nr_blocks) * 8);
  ws->md.nr_bits = static_cast<uint32_t>(nr_blocks);
  int r = setup_on_disk_bitset(info, ws->md.nr_bits, &ws->md.root);
  if (r) DMERR("writeset_init: setup_on_disk_bitset failed");
  return r;
}

int writeset_marked_on_disk(DmDiskBitset* info, writeset_metadata* m, uint64_t block, bool* result) {
  const uint64_t old = m->root;
  // Archived bitsets were flushed, so a test never changes the root.
  int r = dm_bitset_test_bit(info, m->root, static_cast<uint32_t>(block), &m->root, result);
  if (r) {
    DMERR("writeset_marked_on_disk: dm_bitset_test_bit failed");
    return r;
  }
  BUG_ON(m->root != old);
  return 0;
}

// ---- the writeset tree's value type ----

void setup_infos(era_metadata* md) {
  dm_disk_bitset_init(md->tm.get(), &md->bitset_info);
  DmBtreeValueType vt;
  vt.size = WRITESET_DISK_SIZE;
  vt.inc = [md](const uint8_t* v) { md->tm->inc(ws_unpack(v).root); };
  vt.dec = [md](const uint8_t* v) { dm_bitset_del(&md->bitset_info, ws_unpack(v).root); };
  vt.equal = [](const uint8_t* a, const uint8_t* b) { return std::memcmp(a, b, WRITESET_DISK_SIZE) == 0; };
  md->writeset_tree_info.tm = md->tm.get();
  md->writeset_tree_info.value_type = vt;
  DmBtreeValueType era_vt;
  era_vt.size = 4;
  dm_array_info_init(&md->era_array_info, md->tm.get(), era_vt);
}

// ---- superblock ----

int superblock_all_zeroes(DmBlockManager* bm, bool* result) {
  DmBlock* b;
  int r = bm->read_lock(SUPERBLOCK_LOCATION, nullptr, &b);
  if (r) return r;
  const uint8_t* d = dm_block_data(b);
  *result = std::all_of(d, d + bm->block_size(), [](uint8_t x) { return x == 0; });
  bm->unlock(b);
  return 0;
}

int save_sm_root(era_metadata* md) {
  md->tm->sm()->copy_root(md->metadata_space_map_root);
  return 0;
}

void prepare_superblock(era_metadata* md, uint8_t* disk) {
  superblock_fields f;
  f.data_block_size = static_cast<uint32_t>(md->block_size);
  f.nr_blocks = md->nr_blocks;
  f.current_era = md->current_era;
  f.current_writeset = md->current_writeset->md;
  f.writeset_tree_root = md->writeset_tree_root;
  f.era_array_root = md->era_array_root;
  f.metadata_snap = md->metadata_snap;
  std::memcpy(f.metadata_space_map_root, md->metadata_space_map_root, SPACE_MAP_ROOT_SIZE);
  superblock_pack(f, disk);
}

int create_fresh_metadata(era_metadata* md) {
  int r = DmTransactionManager::create_with_sm(md->bm.get(), SUPERBLOCK_LOCATION, &md->tm);
  if (r < 0) {
    DMERR("dm_tm_create_with_sm failed");
    return r;
  }
  setup_infos(md);
  r = dm_btree_empty(&md->writeset_tree_info, &md->writeset_tree_root);
  if (r) {
    DMERR("couldn't create new writeset tree");
    return r;
  }
  r = dm_array_empty(&md->era_array_info, &md->era_array_root);
  if (r) DMERR("couldn't create era array");
  return r;
}

int write_superblock(era_metadata* md) {
  save_sm_root(md);
  DmBlock* sblock;
  int r = md->bm->write_lock_zero(SUPERBLOCK_LOCATION, &sb_validator, &sblock);
  if (r) return r;
  prepare_superblock(md, dm_block_data(sblock));
  if (md->on_commit) md->on_commit(dm_block_data(sblock));
  return md->tm->commit(sblock);
}

int format_metadata(era_metadata* md) {
  int r = create_fresh_metadata(md);
  if (r) return r;
  // The kernel relies on dm_tm_commit writing every dirty block; dmsim's space map is only
  // persisted by a pre-commit, so format does one before the first superblock.
  r = md->tm->pre_commit();
  if (r) return r;
  return write_superblock(md);
}

int open_metadata(era_metadata* md) {
  DmBlock* sblock;
  int r = md->bm->read_lock(SUPERBLOCK_LOCATION, &sb_validator, &sblock);
  if (r) {
    DMERR("couldn't read_lock superblock");
    return r;
  }
  const superblock_fields f = superblock_unpack(dm_block_data(sblock));
  if (f.data_block_size != md->block_size) {
    if (!md->variant.no_block_size_check) {
      DMERR("changing the data block size (from " + std::to_string(f.data_block_size) + " to " +
            std::to_string(md->block_size) + ") is not supported");
      md->bm->unlock(sblock);
      return -EINVAL;
    }
    md->block_size = f.data_block_size;  // pre-5.12: the on-disk size silently wins
  }
  r = DmTransactionManager::open_with_sm(md->bm.get(), SUPERBLOCK_LOCATION, f.metadata_space_map_root, &md->tm);
  if (r) {
    DMERR("dm_tm_open_with_sm failed");
    md->bm->unlock(sblock);
    return r;
  }
  setup_infos(md);
  md->nr_blocks = f.nr_blocks;
  md->current_era = f.current_era;
  if (!md->variant.no_writeset_recovery) md->current_writeset->md = f.current_writeset;
  md->writeset_tree_root = f.writeset_tree_root;
  md->era_array_root = f.era_array_root;
  md->metadata_snap = f.metadata_snap;
  md->archived_writesets = true;
  md->bm->unlock(sblock);
  return 0;
}

// ---- digestion steps ----

int metadata_digest_lookup_writeset(era_metadata* md, digest* d);

int metadata_digest_remove_writeset(era_metadata* md, digest* d) {
  int r = dm_btree_remove(&md->writeset_tree_info, md->writeset_tree_root, d->era, &md->writeset_tree_root);
  if (r) {
    DMERR("metadata_digest_remove_writeset: dm_btree_remove failed");
    return r;
  }
  d->step = metadata_digest_lookup_writeset;
  return 0;
}

int metadata_digest_transcribe_writeset(era_metadata* md, digest* d) {
  const unsigned e = std::min(d->current_bit + INSERTS_PER_STEP, d->nr_bits);
  unsigned b;
  for (b = d->current_bit; b < e; b++) {
    bool marked;
    int r = writeset_marked_on_disk(&d->info, &d->writeset, b, &marked);
    if (r) {
      DMERR("metadata_digest_transcribe_writeset: writeset_marked_on_disk failed");
      return r;
    }
    if (!marked) continue;
    uint8_t v[4];
    put_le32(v, d->value);
    r = dm_array_set_value(&md->era_array_info, md->era_array_root, b, v, &md->era_array_root);
    if (r) {
      DMERR("metadata_digest_transcribe_writeset: dm_array_set_value failed");
      return r;
    }
  }
  if (b == d->nr_bits)
    d->step = metadata_digest_remove_writeset;
  else
    d->current_bit = b;
  return 0;
}

int metadata_digest_lookup_writeset(era_metadata* md, digest* d) {
  uint64_t key;
  int r = dm_btree_find_lowest_key(&md->writeset_tree_info, md->writeset_tree_root, &key);
  if (r == -ENODATA) {
    d->step = nullptr;  // nothing left to digest
    return 0;
  }
  if (r < 0) return r;
  d->era = static_cast<uint32_t>(key);
  uint8_t disk[WRITESET_DISK_SIZE];
  r = dm_btree_lookup(&md->writeset_tree_info, md->writeset_tree_root, key, disk);
  if (r) {
    if (r == -ENODATA) {
      d->step = nullptr;
      return 0;
    }
    DMERR("metadata_digest_lookup_writeset: dm_btree_lookup failed");
    return r;
  }
  d->writeset = ws_unpack(disk);
  d->value = static_cast<uint32_t>(key);
  // A fresh cache per writeset: a word cached from the previous one must not answer for it.
  if (!md->variant.digest_stale_bitset_cache) dm_disk_bitset_init(md->tm.get(), &d->info);
  d->nr_bits = std::min(d->writeset.nr_bits, md->nr_blocks);
  d->current_bit = 0;
  d->step = metadata_digest_transcribe_writeset;
  return 0;
}

}  // namespace

// ---- writesets, used by the target ----

bool writeset_marked(const writeset* ws, uint64_t block) {
  return sim::test_bit(block & 63, &ws->bits[block >> 6]);
}

void writeset_set_incore(writeset* ws, uint64_t block) {
  sim::set_bit(block & 63, &ws->bits[block >> 6]);
}

int writeset_test_and_set(DmDiskBitset* info, writeset* ws, uint32_t block, bool incore_first) {
  if (!ws->bits) sim::bug("BUG: kernel NULL pointer dereference in writeset_test_and_set (no in-core writeset)");
  unsigned long* word = &ws->bits[block >> 6];
  // Pre-5.12 the in-core bit was set here, before the commit that makes it true on disk.
  const bool was_set = incore_first ? sim::test_and_set_bit(block & 63, word) : sim::test_bit(block & 63, word);
  if (was_set) return 1;
  return dm_bitset_set_bit(info, ws->md.root, block, &ws->md.root);
}

// ---- open and close ----

int metadata_open(model::BlockDevice* bdev, uint64_t block_size, bool may_format, const era_variant& v, KmemOwner* kmem,
                  std::unique_ptr<era_metadata>* out) {
  auto md = std::make_unique<era_metadata>();
  md->bdev = bdev;
  md->block_size = block_size;
  md->variant = v;
  md->kmem = kmem;
  md->writesets[0].md.root = INVALID_WRITESET_ROOT;
  md->writesets[1].md.root = INVALID_WRITESET_ROOT;
  md->current_writeset = &md->writesets[0];
  md->bm = std::make_unique<DmBlockManager>(bdev, DM_ERA_METADATA_BLOCK_SIZE, ERA_MAX_CONCURRENT_LOCKS);
  bool unformatted = false;
  int r = superblock_all_zeroes(md->bm.get(), &unformatted);
  if (!r) r = unformatted ? (may_format ? format_metadata(md.get()) : -EPERM) : open_metadata(md.get());
  md->formatted = !r && unformatted;
  if (r) {
    md->tm.reset();
    md->bm.reset();
    return r;
  }
  // The fix of the table-swap deadlock (posted 2023, unmerged) allocates the in-core bitmaps
  // here, so status and messages work before the first preresume.
  if (!v.status_in_worker && md->nr_blocks) {
    writeset_alloc(md.get(), &md->writesets[0], md->nr_blocks);
    writeset_alloc(md.get(), &md->writesets[1], md->nr_blocks);
  }
  *out = std::move(md);
  return 0;
}

void metadata_close(std::unique_ptr<era_metadata> md) {
  if (!md->variant.leak_writesets) {  // pre-5.12 close freed neither bitmap
    writeset_free(md.get(), &md->writesets[0]);
    writeset_free(md.get(), &md->writesets[1]);
  }
  // destroy_persistent_data_objects: the bufio client writes back whatever is still dirty.
  md->tm.reset();
  md->bm.reset();
}

// ---- operations ----

bool valid_nr_blocks(uint64_t n) {
  return n < (1ull << 31);
}

int metadata_resize(era_metadata* md, uint64_t new_size) {
  if (!valid_nr_blocks(new_size)) {
    DMERR("Invalid number of origin blocks " + std::to_string(new_size));
    return -EINVAL;
  }
  writeset_free(md, &md->writesets[0]);
  writeset_free(md, &md->writesets[1]);
  writeset_alloc(md, &md->writesets[0], new_size);
  writeset_alloc(md, &md->writesets[1], new_size);
  uint8_t zero[4] = {0, 0, 0, 0};
  int r = dm_array_resize(&md->era_array_info, md->era_array_root, md->nr_blocks, static_cast<uint32_t>(new_size), zero,
                          &md->era_array_root);
  if (r) {
    DMERR("metadata_resize: dm_array_resize failed");
    if (!md->variant.leak_writesets) {  // pre-5.12 kept both until close, which did not free them
      writeset_free(md, &md->writesets[0]);
      writeset_free(md, &md->writesets[1]);
    }
    return r;
  }
  md->nr_blocks = static_cast<uint32_t>(new_size);
  return 0;
}

int metadata_era_archive(era_metadata* md) {
  writeset* ws = md->current_writeset;
  int r = dm_bitset_flush(&md->bitset_info, ws->md.root, &ws->md.root);
  if (r) {
    DMERR("metadata_era_archive: dm_bitset_flush failed");
    return r;
  }
  uint8_t value[WRITESET_DISK_SIZE];
  ws_pack(ws->md, value);
  r = dm_btree_insert(&md->writeset_tree_info, md->writeset_tree_root, md->current_era, value, &md->writeset_tree_root);
  if (r) {
    DMERR("metadata_era_archive: couldn't insert writeset into btree");
    return r;
  }
  ws->md.root = INVALID_WRITESET_ROOT;
  md->archived_writesets = true;
  return 0;
}

namespace {
writeset* next_writeset(era_metadata* md) {
  return md->current_writeset == &md->writesets[0] ? &md->writesets[1] : &md->writesets[0];
}

// swap_writeset: publish, then wait until no era_map still looks at the old bitmap.
void swap_writeset(era_metadata* md, writeset* new_writeset) {
  md->current_writeset = new_writeset;
  sim::synchronize_rcu();
}
}  // namespace

int metadata_new_era(era_metadata* md) {
  writeset* new_writeset = next_writeset(md);
  int r = writeset_init(&md->bitset_info, new_writeset, md->nr_blocks);
  if (r) {
    DMERR("metadata_new_era: writeset_init failed");
    return r;
  }
  swap_writeset(md, new_writeset);
  md->current_era++;
  return 0;
}

int metadata_era_rollover(era_metadata* md) {
  if (md->current_writeset->md.root != INVALID_WRITESET_ROOT) {
    int r = metadata_era_archive(md);
    if (r) {
      DMERR("metadata_era_rollover: metadata_archive_era failed");
      return r;
    }
  }
  int r = metadata_new_era(md);
  if (r) DMERR("metadata_era_rollover: new era failed");
  return r;
}

bool metadata_current_marked(era_metadata* md, uint64_t block) {
  sim::rcu_read_lock();
  const writeset* ws = md->current_writeset;
  const bool r = writeset_marked(ws, block);
  sim::rcu_read_unlock();
  return r;
}

int metadata_commit(era_metadata* md) {
  KFRAME();
  writeset* ws = md->current_writeset;
  if (ws->md.root != INVALID_WRITESET_ROOT) {
    int r = dm_bitset_flush(&md->bitset_info, ws->md.root, &ws->md.root);
    if (r) {
      DMERR("metadata_commit: bitset flush failed");
      return r;
    }
  }
  int r = md->tm->pre_commit();
  if (r) {
    DMERR("metadata_commit: pre commit failed");
    return r;
  }
  save_sm_root(md);
  DmBlock* sblock;
  r = md->bm->write_lock(SUPERBLOCK_LOCATION, &sb_validator, &sblock);
  if (r) {
    DMERR("metadata_commit: superblock lock failed");
    return r;
  }
  prepare_superblock(md, dm_block_data(sblock));
  if (md->on_commit) md->on_commit(dm_block_data(sblock));
  return md->tm->commit(sblock);
}

int metadata_checkpoint(era_metadata* md) {
  return metadata_era_rollover(md);
}

int metadata_take_snap(era_metadata* md) {
  if (md->metadata_snap != SUPERBLOCK_LOCATION) {
    DMERR("metadata_take_snap: metadata snapshot already exists");
    return -EINVAL;
  }
  int r = metadata_era_rollover(md);
  if (r) {
    DMERR("metadata_take_snap: era rollover failed");
    return r;
  }
  r = metadata_commit(md);
  if (r) {
    DMERR("metadata_take_snap: pre commit failed");
    return r;
  }
  // The superblock now has two holders, so shadowing it copies it to a new block.
  md->tm->inc(SUPERBLOCK_LOCATION);
  DmBlock* clone;
  int inc;
  r = md->tm->shadow_block(SUPERBLOCK_LOCATION, &sb_validator, &clone, &inc);
  if (r) {
    DMERR("metadata_take_snap: couldn't shadow superblock");
    md->tm->dec(SUPERBLOCK_LOCATION);
    return r;
  }
  BUG_ON(!inc);
  md->tm->inc(md->writeset_tree_root);
  md->tm->inc(md->era_array_root);
  md->metadata_snap = dm_block_location(clone);
  md->tm->unlock(clone);
  return 0;
}

int metadata_drop_snap(era_metadata* md) {
  if (md->metadata_snap == SUPERBLOCK_LOCATION) {
    DMERR("metadata_drop_snap: no snap to drop");
    return -EINVAL;
  }
  DmBlock* clone;
  int r = md->tm->read_lock(md->metadata_snap, &sb_validator, &clone);
  if (r) {
    DMERR("metadata_drop_snap: couldn't read lock superblock clone");
    return r;
  }
  // Whatever happens now, the next commit has no record of the snapshot.
  md->metadata_snap = SUPERBLOCK_LOCATION;
  const superblock_fields f = superblock_unpack(dm_block_data(clone));
  const uint64_t location = dm_block_location(clone);
  md->tm->unlock(clone);
  r = dm_btree_del(&md->writeset_tree_info, f.writeset_tree_root);
  if (r) {
    DMERR("metadata_drop_snap: error deleting writeset tree clone");
    return r;
  }
  r = dm_array_del(&md->era_array_info, f.era_array_root);
  if (r) {
    DMERR("metadata_drop_snap: error deleting era array clone");
    return r;
  }
  md->tm->dec(location);
  return 0;
}

int metadata_get_stats(era_metadata* md, metadata_stats* s) {
  const uint64_t nr_free = md->tm->sm()->nr_free();
  const uint64_t nr_total = md->tm->sm()->nr_blocks();
  s->used = nr_total - nr_free;
  s->total = nr_total;
  s->snap = md->metadata_snap;
  s->era = md->current_era;
  return 0;
}

int metadata_digest_start(era_metadata* md, digest* d) {
  if (d->step) return 0;
  *d = digest{};
  // Pre-5.12 the digest's bitset cache was set up here, once per run, not per writeset.
  if (md->variant.digest_stale_bitset_cache) dm_disk_bitset_init(md->tm.get(), &d->info);
  d->step = metadata_digest_lookup_writeset;
  return 0;
}

}  // namespace engines::era
