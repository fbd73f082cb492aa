// A minimal persistent-data client for tests: a superblock at block 0 holding the space-map
// root, a btree root (u64 keys to u64 values) and a generation, committed with the two-phase
// protocol exactly as the engines commit theirs.
#pragma once

#include <map>
#include <memory>

#include "engines/lib/persistent_data/btree.hpp"
#include "engines/lib/persistent_data/codec.hpp"

namespace kvtest {

using namespace engines::pd;

// The test clients' superblock header (24 bytes): @0 csum u32, @4 magic u32, @8 blocknr u64,
// @16 version u32, @20 reserved u32.
inline constexpr BlockHeaderLayout kTestSuperblockHeader{
    .csum = {0}, .blocknr = {8}, .magic = Le32{4}, .version = Le32{16}};
constexpr size_t kBlockHeaderSize = 24;

inline const DmBlockValidator kKvSuperblockValidator{
    "kv_superblock",
    {.header = &kTestSuperblockHeader, .magic = 0x53564b54 /* TKVS */, .csum_xor = 160774, .version = 1}};

// The superblock, after its header: @24 space-map root, @56 btree root u64,
// @64 generation u64.
namespace kv_superblock_layout {
constexpr size_t kSpaceMapRoot = kBlockHeaderSize;
constexpr Le64 btree_root{56}, generation{64};
static_assert(kSpaceMapRoot + kSpaceMapRootSize <= btree_root.offset);
}  // namespace kv_superblock_layout
namespace kvsb = kv_superblock_layout;

struct KvStore {
  std::unique_ptr<DmBlockManager> bm;
  std::unique_ptr<DmTransactionManager> tm;
  DmBtreeInfo info{};
  uint64_t root = 0;
  uint64_t generation = 0;

  static DmBtreeValueType value_type() {
    DmBtreeValueType vt;
    vt.size = 8;
    return vt;
  }

  static int format(model::BlockDevice* dev, std::unique_ptr<KvStore>* out) {
    auto kv = std::make_unique<KvStore>();
    kv->bm = std::make_unique<DmBlockManager>(dev, 4096, 5);
    int r = DmTransactionManager::create_with_sm(kv->bm.get(), 0, &kv->tm);
    if (r) return r;
    kv->info = DmBtreeInfo{kv->tm.get(), value_type()};
    r = dm_btree_empty(&kv->info, &kv->root);
    if (r) return r;
    r = kv->commit(true);
    if (r) return r;
    *out = std::move(kv);
    return 0;
  }

  static int open(model::BlockDevice* dev, std::unique_ptr<KvStore>* out) {
    auto kv = std::make_unique<KvStore>();
    kv->bm = std::make_unique<DmBlockManager>(dev, 4096, 5);
    DmBlock* sb;
    int r = kv->bm->read_lock(0, &kKvSuperblockValidator, &sb);
    if (r) return r;
    const uint8_t* d = dm_block_data(sb);
    uint8_t sm_root[kSpaceMapRootSize];
    std::memcpy(sm_root, d + kvsb::kSpaceMapRoot, kSpaceMapRootSize);
    kv->root = kvsb::btree_root.get(d);
    kv->generation = kvsb::generation.get(d);
    kv->bm->unlock(sb);
    r = DmTransactionManager::open_with_sm(kv->bm.get(), 0, sm_root, &kv->tm);
    if (r) return r;
    kv->info = DmBtreeInfo{kv->tm.get(), value_type()};
    *out = std::move(kv);
    return 0;
  }

  int put(uint64_t k, uint64_t v) {
    uint8_t b[8];
    put_le64(b, v);
    return dm_btree_insert(&info, root, k, b, &root);
  }
  int del(uint64_t k) { return dm_btree_remove(&info, root, k, &root); }
  int get(uint64_t k, uint64_t* v) {
    uint8_t b[8];
    const int r = dm_btree_lookup(&info, root, k, b);
    if (!r) *v = get_le64(b);
    return r;
  }
  int dump(std::map<uint64_t, uint64_t>* out) {
    out->clear();
    return dm_btree_walk(&info, root, [out](uint64_t k, const uint8_t* v) {
      (*out)[k] = get_le64(v);
      return 0;
    });
  }

  int commit(bool first = false) {
    int r = tm->pre_commit();
    if (r) return r;
    DmBlock* sb;
    r = first ? bm->write_lock_zero(0, &kKvSuperblockValidator, &sb) : bm->write_lock(0, &kKvSuperblockValidator, &sb);
    if (r) return r;
    uint8_t* d = dm_block_data(sb);
    tm->sm()->copy_root(d + kvsb::kSpaceMapRoot);
    kvsb::btree_root.put(d, root);
    kvsb::generation.put(d, ++generation);
    return tm->commit(sb);
  }
};

}  // namespace kvtest
