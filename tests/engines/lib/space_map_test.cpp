// The space maps in the kernel's format (dm-space-map-common.c, -metadata.c, -disk.c): byte
// fixtures of a fresh map, the ref-count tree for counts above 2, the metadata map's recursion,
// allocation, extension, and a seeded fuzz with reopens and crashes against a model of the
// committed counts.
#include <map>
#include <set>
#include <sstream>

#include "engines/lib/persistent_data/space_map_disk.hpp"
#include "engines/lib/persistent_data/space_map_metadata.hpp"
#include "sim/schedule_explorer.hpp"
#include "tests/engines/lib/kv_store.hpp"
#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace model;
using namespace engines::pd;
using sim::note;

namespace {

constexpr uint64_t kMetaSectors = 8 * 2048;  // 8 MiB: 2048 metadata blocks

VolatileCacheDisk& meta_disk(World& w, const std::string& name = "meta", uint64_t sectors = kMetaSectors) {
  return disk(w, name, sectors, true, "nvme");
}

std::string hex(uint64_t v) {
  std::ostringstream o;
  o << std::hex << v;
  return o.str();
}

// The bytes of a metadata block as the block manager holds them now.
std::vector<uint8_t> block_bytes(DmTransactionManager* tm, uint64_t b, const DmBlockValidator* v) {
  DmBlock* blk;
  if (tm->read_lock(b, v, &blk)) return {};
  std::vector<uint8_t> out(dm_block_data(blk), dm_block_data(blk) + tm->bm()->block_size());
  tm->unlock(blk);
  return out;
}

struct Root {
  uint64_t nr_blocks, nr_allocated, bitmap_root, ref_count_root;
};
Root root_of(const DmSpaceMap* sm) {
  uint8_t r[kSpaceMapRootSize];
  sm->copy_root(r);
  return Root{get_le64(r), get_le64(r + 8), get_le64(r + 16), get_le64(r + 24)};
}

// Where the metadata map's first bitmap is now (the index block on disk is rewritten only at
// commit): the map lists its index block, then its bitmaps.
uint64_t first_bitmap(DmTransactionManager* tm) {
  std::vector<uint64_t> own;
  tm->sm()->storage_blocks(&own);
  return own.at(1);
}

// A client of both space maps: a superblock at block 0 with the metadata map's root @24, a data
// space map's root @56 and a generation @88, committed as thin commits its two maps.
const DmBlockValidator kClientSuperblockValidator{
    "sm_client_superblock",
    {.header = &kvtest::kTestSuperblockHeader, .magic = 0x4c434d53 /* SMCL */, .csum_xor = 160774, .version = 1}};
constexpr size_t kMetaRootAt = 24, kDataRootAt = 56;
constexpr Le64 kGeneration{88};

struct SmClient {
  std::unique_ptr<DmBlockManager> bm;
  std::unique_ptr<DmTransactionManager> tm;
  std::unique_ptr<DiskSpaceMap> data;
  uint64_t generation = 0;

  static int format(BlockDevice* dev, uint64_t data_blocks, std::unique_ptr<SmClient>* out) {
    auto c = std::make_unique<SmClient>();
    c->bm = std::make_unique<DmBlockManager>(dev, 4096, 16);
    int r = DmTransactionManager::create_with_sm(c->bm.get(), 0, &c->tm);
    if (r) return r;
    c->data = std::make_unique<DiskSpaceMap>(c->tm.get());
    r = c->data->create(data_blocks);
    if (!r) r = c->commit(true);
    if (!r) *out = std::move(c);
    return r;
  }

  static int open(BlockDevice* dev, std::unique_ptr<SmClient>* out) {
    auto c = std::make_unique<SmClient>();
    c->bm = std::make_unique<DmBlockManager>(dev, 4096, 16);
    DmBlock* sb;
    int r = c->bm->read_lock(0, &kClientSuperblockValidator, &sb);
    if (r) return r;
    uint8_t meta_root[kSpaceMapRootSize], data_root[kSpaceMapRootSize];
    std::memcpy(meta_root, dm_block_data(sb) + kMetaRootAt, kSpaceMapRootSize);
    std::memcpy(data_root, dm_block_data(sb) + kDataRootAt, kSpaceMapRootSize);
    c->generation = kGeneration.get(dm_block_data(sb));
    c->bm->unlock(sb);
    r = DmTransactionManager::open_with_sm(c->bm.get(), 0, meta_root, &c->tm);
    if (r) return r;
    c->data = std::make_unique<DiskSpaceMap>(c->tm.get());
    r = c->data->open(data_root);
    if (!r) *out = std::move(c);
    return r;
  }

  // The data map first (its changes are metadata changes), then the metadata map, then the roots.
  int commit(bool first = false) {
    int r = data->commit();
    if (!r) r = tm->pre_commit();
    if (r) return r;
    if (before_superblock) before_superblock();
    DmBlock* sb;
    r = first ? bm->write_lock_zero(0, &kClientSuperblockValidator, &sb)
              : bm->write_lock(0, &kClientSuperblockValidator, &sb);
    if (r) return r;
    tm->sm()->copy_root(dm_block_data(sb) + kMetaRootAt);
    data->copy_root(dm_block_data(sb) + kDataRootAt);
    kGeneration.put(dm_block_data(sb), ++generation);
    return tm->commit(sb);
  }
  std::function<void()> before_superblock;
};

// Counts the metadata map must hold: the superblock, each block both maps hold themselves, and
// the client's own blocks; every other block is free.
std::map<uint64_t, uint32_t> expected_metadata_counts(SmClient* c, const std::map<uint64_t, uint32_t>& client) {
  std::map<uint64_t, uint32_t> want = client;
  want[0]++;
  std::vector<uint64_t> own;
  c->tm->sm()->storage_blocks(&own);
  c->data->storage_blocks(&own);
  for (uint64_t b : own) want[b]++;
  return want;
}

// "" when every count of the metadata map is `want`'s (0 where absent), else the first few
// differences.
std::string metadata_count_differences(DmSpaceMap* sm, const std::map<uint64_t, uint32_t>& want) {
  std::string diff;
  int shown = 0;
  for (uint64_t b = 0; b < sm->nr_blocks(); b++) {
    auto it = want.find(b);
    const uint32_t w = it == want.end() ? 0 : it->second;
    uint32_t have = 0;
    const int r = sm->get_count(b, &have);
    if ((r || have != w) && shown++ < 4)
      diff += "block " + std::to_string(b) + " has " + (r ? "error " + std::to_string(r) : std::to_string(have)) +
              ", want " + std::to_string(w) + "; ";
  }
  return diff;
}

}  // namespace

TEST_CASE("a fresh metadata space map holds the superblock, index, ref-count root and bitmap in blocks 0 to 3") {
  SimResult r = run_world([](World& w) {
    DmBlockManager bm(&meta_disk(w), 4096, 16);
    std::unique_ptr<DmTransactionManager> tm;
    if (DmTransactionManager::create_with_sm(&bm, 0, &tm)) return;
    DmSpaceMap* sm = tm->sm();
    const Root root = root_of(sm);
    note("root: nr_blocks " + std::to_string(root.nr_blocks) + ", nr_allocated " + std::to_string(root.nr_allocated) +
         ", index " + std::to_string(root.bitmap_root) + ", ref-count root " + std::to_string(root.ref_count_root));
    std::string counts;
    for (uint64_t b = 0; b < 6; b++) counts += std::to_string(sm->get_count(b));
    note("counts of blocks 0-5: " + counts + ", nr_free " + std::to_string(sm->nr_free()));
    bm.flush();  // the validators write each block's blocknr and checksum
    const std::vector<uint8_t> idx = block_bytes(tm.get(), 1, &kSmIndexValidator);
    note("index entry 0: bitmap " + std::to_string(get_le64(&idx[16])) + ", nr_free " +
         std::to_string(get_le32(&idx[24])) + ", none_free_before " + std::to_string(get_le32(&idx[28])) +
         ", entry 1 blocknr " + std::to_string(get_le64(&idx[32])));
    note("index header: csum " +
         std::string(get_le32(&idx[0]) == dm_bm_checksum(&idx[4], 4092, 160478) ? "ok" : "wrong") + ", padding " +
         std::to_string(get_le32(&idx[4])) + ", blocknr " + std::to_string(get_le64(&idx[8])));
    const std::vector<uint8_t> bmp = block_bytes(tm.get(), 3, &kSmBitmapValidator);
    note("bitmap header: csum " +
         std::string(get_le32(&bmp[0]) == dm_bm_checksum(&bmp[4], 4092, 240779) ? "ok" : "wrong") + ", not_used " +
         std::to_string(get_le32(&bmp[4])) + ", blocknr " + std::to_string(get_le64(&bmp[8])) + ", byte 16 0x" +
         hex(bmp[16]) + ", byte 17 0x" + hex(bmp[17]));
    // The ref-count tree's root is an empty leaf.
    DmBtreeInfo rc{tm.get(), {}};
    rc.value_type.size = 4;
    uint64_t k;
    note("ref-count tree lowest key: " + std::to_string(dm_btree_find_lowest_key(&rc, 2, &k)));
    uint64_t first = 0;
    sm->new_block(&first);
    note("first client block " + std::to_string(first));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"root: nr_blocks 2048, nr_allocated 4, index 1, ref-count root 2",
                           "counts of blocks 0-5: 111100, nr_free 2044",
                           "index entry 0: bitmap 3, nr_free 16316, none_free_before 4, entry 1 blocknr 0",
                           "index header: csum ok, padding 0, blocknr 1",
                           "bitmap header: csum ok, not_used 0, blocknr 3, byte 16 0xaa, byte 17 0x0",
                           "ref-count tree lowest key: -61", "first client block 4"});
}

TEST_CASE("copy_root writes the 32-byte disk_sm_root and nothing after it") {
  SimResult r = run_world([](World& w) {
    DmBlockManager bm(&meta_disk(w), 4096, 16);
    std::unique_ptr<DmTransactionManager> tm;
    DmTransactionManager::create_with_sm(&bm, 0, &tm);
    uint8_t field[128];
    std::memset(field, 0xee, sizeof field);
    tm->sm()->copy_root(field);
    size_t untouched = 0;
    for (size_t i = kSpaceMapRootSize; i < sizeof field; i++) untouched += field[i] == 0xee;
    note(std::to_string(get_le64(field)) + " " + std::to_string(get_le64(field + 8)) + " " +
         std::to_string(get_le64(field + 16)) + " " + std::to_string(get_le64(field + 24)) + ", " +
         std::to_string(untouched) + " bytes after it untouched");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"2048 4 1 2, 96 bytes after it untouched"});
}

TEST_CASE("a bitmap entry holds counts 1 and 2 itself (high bit first) and 3 for a count kept in the ref-count tree") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<kvtest::KvStore> kv;  // block 4 is its btree root, count 1
    if (kvtest::KvStore::format(&d, &kv)) return;
    DmSpaceMap* sm = kv->tm->sm();
    DmBtreeInfo rc{kv->tm.get(), {}};
    rc.value_type.size = 4;
    for (int step = 0; step < 6; step++) {
      if (step > 0 && step <= 3) sm->inc_block(4);
      if (step > 3) sm->dec_block(4);
      const std::vector<uint8_t> bmp = block_bytes(kv->tm.get(), first_bitmap(kv->tm.get()), &kSmBitmapValidator);
      uint8_t v[4];
      const int found = dm_btree_lookup(&rc, root_of(sm).ref_count_root, 4, v);
      // Block 4's entry is bits 0 and 1 of byte 17 (the blocks after it are the map's own).
      note("count " + std::to_string(sm->get_count(4)) + ": bits 0-1 of byte 17 0x" + hex(bmp[17] & 3) +
           ", ref-count tree " + (found ? "has no entry" : "holds " + std::to_string(get_le32(v))));
    }
    kv->commit();
    std::unique_ptr<kvtest::KvStore> again;
    kvtest::KvStore::open(&d, &again);
    note("reopened: " + std::to_string(again ? again->tm->sm()->get_count(4) : 99));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"count 1: bits 0-1 of byte 17 0x2, ref-count tree has no entry",
                           "count 2: bits 0-1 of byte 17 0x1, ref-count tree has no entry",
                           "count 3: bits 0-1 of byte 17 0x3, ref-count tree holds 3",
                           "count 4: bits 0-1 of byte 17 0x3, ref-count tree holds 4",
                           "count 3: bits 0-1 of byte 17 0x3, ref-count tree holds 3",
                           "count 2: bits 0-1 of byte 17 0x1, ref-count tree has no entry", "reopened: 2"});
}

TEST_CASE("counts above 2 survive a commit and a reopen, and going back to 2 empties the ref-count tree") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<SmClient> c;
    if (SmClient::format(&d, 40000, &c)) return;
    // Ten metadata blocks and ten data blocks get counts 1..10.
    std::vector<uint64_t> mb(10), db(10);
    for (uint64_t i = 0; i < 10; i++) {
      c->tm->sm()->new_block(&mb[i]);
      c->data->new_block(&db[i]);
      for (uint64_t k = 0; k < i; k++) {
        c->tm->sm()->inc_block(mb[i]);
        c->data->inc_block(db[i]);
      }
    }
    c->commit();
    std::unique_ptr<SmClient> again;
    SmClient::open(&d, &again);
    auto counts = [&] {
      std::string s;
      for (uint64_t i = 0; i < 10; i++)
        s += std::to_string(again->tm->sm()->get_count(mb[i])) + "/" + std::to_string(again->data->get_count(db[i])) +
             " ";
      return s;
    };
    DmBtreeInfo rc{again->tm.get(), {}};
    rc.value_type.size = 4;
    auto tree_size = [&](const DmSpaceMap* sm) {
      int n = 0;
      dm_btree_walk(&rc, root_of(sm).ref_count_root, [&](uint64_t, const uint8_t*) { return ++n, 0; });
      return std::to_string(n);
    };
    note("after reopen: " + counts() + "; ref-count trees " + tree_size(again->tm->sm()) + "/" +
         tree_size(again->data.get()));
    for (uint64_t i = 2; i < 10; i++)
      for (uint64_t k = 2; k < i + 1; k++) {
        again->tm->sm()->dec_block(mb[i]);
        again->data->dec_block(db[i]);
      }
    again->commit();
    note("back to 2: " + counts() + "; ref-count trees " + tree_size(again->tm->sm()) + "/" +
         tree_size(again->data.get()));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"after reopen: 1/1 2/2 3/3 4/4 5/5 6/6 7/7 8/8 9/9 10/10 ; ref-count trees 8/8",
                           "back to 2: 1/1 2/2 2/2 2/2 2/2 2/2 2/2 2/2 2/2 2/2 ; ref-count trees 0/0"});
}

namespace {
// A transaction of a client that keeps nothing but the metadata space map's root.
int commit_tm(DmTransactionManager* tm) {
  int r = tm->pre_commit();
  if (r) return r;
  DmBlock* sb;
  r = tm->bm()->write_lock_zero(0, &kClientSuperblockValidator, &sb);
  if (r) return r;
  tm->sm()->copy_root(dm_block_data(sb) + kMetaRootAt);
  return tm->commit(sb);
}

// What the metadata map must count for a client that holds only `client` blocks besides the
// superblock; "" when it does.
std::string check_own_counts(DmTransactionManager* tm, const std::map<uint64_t, uint32_t>& client) {
  std::map<uint64_t, uint32_t> want = client;
  want[0]++;
  std::vector<uint64_t> own;
  tm->sm()->storage_blocks(&own);
  for (uint64_t b : own) want[b]++;
  return metadata_count_differences(tm->sm(), want);
}
}  // namespace

TEST_CASE("an inc that shadows a committed bitmap allocates through the queued block ops and every count stays right") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<kvtest::KvStore> kv;  // block 4 is its btree root
    if (kvtest::KvStore::format(&d, &kv)) return;
    auto* sm = static_cast<MetadataSpaceMap*>(kv->tm->sm());
    std::vector<uint64_t> own_before;
    sm->storage_blocks(&own_before);
    // The bitmap is committed, so changing block 4's count copies it to a new block: the
    // allocation and the old copy's release happen while the map is changing a count.
    sm->inc_block(4);
    std::vector<uint64_t> own_after;
    sm->storage_blocks(&own_after);
    note("count of block 4: " + std::to_string(sm->get_count(4)) + "; bitmap " + std::to_string(own_before[1]) +
         " -> " + std::to_string(own_after[1]) + ", counts " + std::to_string(sm->get_count(own_before[1])) + " and " +
         std::to_string(sm->get_count(own_after[1])) + "; " + std::to_string(sm->pending_ops()) +
         " ops pending, recursion " + std::to_string(sm->recursion_count()));
    // A count going above 2 inserts into the committed ref-count tree: its root is shadowed the
    // same way.
    sm->inc_block(4);
    sm->storage_blocks(&(own_after = {}));
    note("count of block 4: " + std::to_string(sm->get_count(4)) + "; ref-count root " + std::to_string(own_before[2]) +
         " -> " + std::to_string(own_after[2]) + ", counts " + std::to_string(sm->get_count(own_before[2])) + " and " +
         std::to_string(sm->get_count(own_after[2])));
    note("before commit: " + check_own_counts(kv->tm.get(), {{4, 3}}));
    kv->commit();  // shadows the index block too
    note("after commit: " + check_own_counts(kv->tm.get(), {{4, 3}}));
    std::unique_ptr<kvtest::KvStore> again;
    kvtest::KvStore::open(&d, &again);
    note("reopened: " + check_own_counts(again->tm.get(), {{4, 3}}));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"count of block 4: 2; bitmap 3 -> 5, counts 0 and 1; 0 ops pending, recursion 0",
                           "count of block 4: 3; ref-count root 2 -> 6, counts 0 and 1",
                           "before commit: ", "after commit: ", "reopened: "});
}

TEST_CASE("allocation takes blocks free now and when committed, from a cursor kept across commits that wraps around") {
  SimResult r = run_world([](World& w) {
    DmBlockManager bm(&meta_disk(w), 4096, 16);
    std::unique_ptr<DmTransactionManager> tm;
    DmTransactionManager::create_with_sm(&bm, 0, &tm, 64);  // a map of 64 blocks
    DmSpaceMap* sm = tm->sm();
    std::map<uint64_t, uint32_t> client;
    uint64_t b = 0;
    while (sm->nr_free() > 4) {
      sm->new_block(&b);
      client[b] = 1;
    }
    note("took 4.." + std::to_string(b) + ", nr_free " + std::to_string(sm->nr_free()));
    note("commit " + std::to_string(commit_tm(tm.get())));
    sm->dec_block(10);
    sm->dec_block(11);
    client.erase(10);
    client.erase(11);
    sm->new_block(&b);
    client[b] = 1;
    // The bitmap moved to 60 when block 10 was freed; the index moves at the commit.
    note("freed 10 and 11, then allocated " + std::to_string(b) + ", nr_free " + std::to_string(sm->nr_free()));
    note("commit " + std::to_string(commit_tm(tm.get())));
    note("index at " + std::to_string(root_of(sm).bitmap_root) + ", bitmap at " +
         std::to_string(first_bitmap(tm.get())));
    // Free now and in the committed state: 1 (the old index), 3 (the old bitmap), 10, 11, 63.
    std::string s;
    for (int i = 0; i < 6; i++) {
      const int e = sm->new_block(&b);
      s += e ? std::to_string(e) + " " : std::to_string(b) + " ";
      if (!e) client[b] = 1;
    }
    note("after the commit: " + s + "; bitmap at " + std::to_string(first_bitmap(tm.get())) + ", nr_free " +
         std::to_string(sm->nr_free()));
    note("counts: " + check_own_counts(tm.get(), client));
  });
  REQUIRE_CLEAN(r);
  // The cursor stayed at 63 across the commit (older kernels reset it to 0 and would hand out 1
  // first); past the end it wraps to the blocks freed before the commit.
  REQUIRE(r.notes == Notes{"took 4..59, nr_free 4", "commit 0", "freed 10 and 11, then allocated 61, nr_free 2",
                           "commit 0", "index at 62, bitmap at 60",
                           "after the commit: 63 3 10 11 -28 -28 ; bitmap at 1, nr_free 0", "counts: "});
}

TEST_CASE("extending the metadata space map puts the new bitmap in the new area and counts every block it took") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w, "meta", 8 * 20000);
    DmBlockManager bm(&d, 4096, 16);
    std::unique_ptr<DmTransactionManager> tm;
    DmTransactionManager::create_with_sm(&bm, 0, &tm, 16000);
    commit_tm(tm.get());
    DmSpaceMap* sm = tm->sm();
    const int e = sm->extend(4000);
    std::vector<uint64_t> own;
    sm->storage_blocks(&own);
    std::string s;
    for (uint64_t b : own) s += std::to_string(b) + " ";
    note(std::to_string(e) + ": " + std::to_string(sm->nr_blocks()) + " blocks, own blocks " + s + ", nr_free " +
         std::to_string(sm->nr_free()));
    note("counts: " + check_own_counts(tm.get(), {}));
    uint64_t b = 0;
    sm->new_block(&b);
    note("next allocation " + std::to_string(b));
    commit_tm(tm.get());
    DmBlock* sb;
    uint8_t root[kSpaceMapRootSize];
    bm.read_lock(0, &kClientSuperblockValidator, &sb);
    std::memcpy(root, dm_block_data(sb) + kMetaRootAt, kSpaceMapRootSize);
    bm.unlock(sb);
    DmBlockManager bm2(&d, 4096, 16);
    std::unique_ptr<DmTransactionManager> again;
    DmTransactionManager::open_with_sm(&bm2, 0, root, &again);
    note("reopened: " + std::to_string(again->sm()->nr_blocks()) + " blocks; " +
         check_own_counts(again.get(), {{b, 1}}));
  });
  REQUIRE_CLEAN(r);
  // Block 16000 is the new bitmap; the old area's bitmap and the index moved into the new area
  // as well (16001, 16002) when the bootstrap allocator counted them.
  REQUIRE(r.notes == Notes{"0: 20000 blocks, own blocks 16002 16001 16000 2 , nr_free 15996",
                           "counts: ", "next allocation 16003", "reopened: 20000 blocks; "});
}

TEST_CASE("the disk space map's index entries count free entries and keep the none-free-before hint") {
  SimResult r = run_world([](World& w) {
    std::unique_ptr<SmClient> c;
    if (SmClient::format(&meta_disk(w), 40000, &c)) return;
    DmBtreeInfo index{c->tm.get(), {}};
    index.value_type.size = 16;
    auto entries = [&] {
      std::string s;
      dm_btree_walk(&index, root_of(c->data.get()).bitmap_root, [&](uint64_t k, const uint8_t* v) {
        const DiskIndexEntry ie = index_entry_unpack(v);
        s += std::to_string(k) + ":" + std::to_string(ie.nr_free) + "/" + std::to_string(ie.none_free_before) + " ";
        return 0;
      });
      return s;
    };
    note("fresh (40000 blocks): " + entries());
    uint64_t b;
    for (int i = 0; i < 5; i++) c->data->new_block(&b);
    c->data->inc_block(35000);
    note("blocks 0-4 and 35000 taken: " + entries());
    c->data->dec_block(2);
    note("block 2 freed: " + entries() + "; nr_free " + std::to_string(c->data->nr_free()));
    c->data->new_block(&b);
    note("next allocation " + std::to_string(b));
  });
  REQUIRE_CLEAN(r);
  // Every bitmap starts with nr_free 16320, the last partial one too; none_free_before moves up
  // past allocations from its own position only, and down to a freed entry.
  REQUIRE(r.notes == Notes{"fresh (40000 blocks): 0:16320/0 1:16320/0 2:16320/0 ",
                           "blocks 0-4 and 35000 taken: 0:16315/5 1:16320/0 2:16319/0 ",
                           "block 2 freed: 0:16316/2 1:16320/0 2:16319/0 ; nr_free 39995", "next allocation 5"});
}

namespace {

// The client's counts in one committed generation.
struct Model {
  std::map<uint64_t, uint32_t> meta;  // metadata blocks the client holds, by count
  std::map<uint64_t, uint32_t> data;  // data blocks, by count
};

constexpr uint64_t kFuzzDataBlocks = 40000;  // three bitmaps, the last one partial

// "" when `c` holds exactly `m`: every metadata count (superblock, both maps' own blocks, client
// blocks, nothing else), and the data counts of the model's blocks and a seeded sample of others.
std::string compare(SmClient* c, const Model& m, uint64_t seed) {
  std::string diff = metadata_count_differences(c->tm->sm(), expected_metadata_counts(c, m.meta));
  std::map<uint64_t, uint32_t> want = m.data;
  sim::Rng rng(seed);
  std::map<uint64_t, uint32_t> sample = want;
  for (int i = 0; i < 200; i++) sample.emplace(rng.below(kFuzzDataBlocks), 0);
  for (uint64_t b : {uint64_t{16319}, uint64_t{16320}, uint64_t{32639}, uint64_t{32640}, kFuzzDataBlocks - 1})
    sample.emplace(b, 0);
  for (const auto& [b, n] : sample) {
    uint32_t have = 0;
    const int r = c->data->get_count(b, &have);
    if ((r || have != n) && diff.size() < 400)
      diff += "data block " + std::to_string(b) + " has " + std::to_string(have) + ", want " + std::to_string(n) + "; ";
  }
  if (c->data->allocated() != m.data.size())
    diff += "data map allocated " + std::to_string(c->data->allocated()) + ", want " + std::to_string(m.data.size());
  return diff;
}

// Opens each crash image and compares it with the generation it holds; returns the problems.
std::string check_crash_images(World& w, const std::vector<DiskImage>& images,
                               const std::map<uint64_t, Model>& generations, std::set<uint64_t>* seen) {
  static int disks = 0;
  std::string problems;
  for (const DiskImage& img : images) {
    DiskConfig cfg;
    cfg.name = "crash" + std::to_string(disks++);
    cfg.sectors = kMetaSectors;
    VolatileCacheDisk& d = w.add_disk(cfg);
    d.load_media(img);
    std::unique_ptr<SmClient> c;
    const int r = SmClient::open(&d, &c);
    if (r) {
      problems += "image does not open: " + std::to_string(r) + "; ";
      continue;
    }
    auto it = generations.find(c->generation);
    if (it == generations.end()) {
      problems += "unknown generation " + std::to_string(c->generation) + "; ";
      continue;
    }
    seen->insert(c->generation);
    const std::string diff = compare(c.get(), it->second, c->generation);
    if (!diff.empty()) problems += "generation " + std::to_string(c->generation) + ": " + diff;
  }
  return problems;
}

std::vector<DiskImage> crash_images_now(const VolatileCacheDisk& d, uint64_t seed) {
  std::vector<DiskImage> out{d.media()};  // every cached write lost
  const CrashStateSpace cs = crash_space(d);
  cs.sample(seed, 2, [&](const std::vector<bool>& choice) { out.push_back(cs.image(choice).materialize()); });
  return out;
}

}  // namespace

TEST_CASE("space maps under seeded inc, dec, new_block, commits, reopens and crashes hold the committed counts") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<SmClient> c;
    if (SmClient::format(&d, kFuzzDataBlocks, &c)) return;
    sim::Rng rng(20261202);
    Model now;
    std::map<uint64_t, Model> generations{{c->generation, now}};
    std::set<uint64_t> crash_generations;
    std::string problems;
    int errors = 0, commits = 0, reopens = 0, crash_points = 0, above_two = 0;
    // A key of `m`, mostly one of the first few so that counts climb above 2.
    auto pick = [&](const std::map<uint64_t, uint32_t>& m) {
      auto it = m.begin();
      std::advance(it, rng.below(4) ? rng.below(std::min<size_t>(m.size(), 4)) : rng.below(m.size()));
      return it->first;
    };
    for (int op = 0; op < 400 && problems.empty(); op++) {
      DmSpaceMap* sm = c->tm->sm();
      const uint64_t dice = rng.below(100);
      uint64_t b = 0;
      if (dice < 14) {
        errors += sm->new_block(&b) != 0;
        if (now.meta.count(b)) problems += "metadata block " + std::to_string(b) + " handed out twice; ";
        now.meta[b] = 1;
      } else if (dice < 28 && !now.meta.empty()) {
        b = pick(now.meta);
        errors += sm->inc_block(b) != 0;
        above_two += ++now.meta[b] == 3;
      } else if (dice < 40 && !now.meta.empty()) {
        b = pick(now.meta);
        errors += sm->dec_block(b) != 0;
        if (!--now.meta[b]) now.meta.erase(b);
      } else if (dice < 54) {
        errors += c->data->new_block(&b) != 0;
        if (now.data.count(b)) problems += "data block " + std::to_string(b) + " handed out twice; ";
        now.data[b] = 1;
      } else if (dice < 66) {
        // Any data block, free or not, or one of the model's.
        b = rng.below(3) || now.data.empty() ? rng.below(kFuzzDataBlocks) : pick(now.data);
        errors += c->data->inc_block(b) != 0;
        above_two += ++now.data[b] == 3;
      } else if (dice < 78 && !now.data.empty()) {
        b = pick(now.data);
        errors += c->data->dec_block(b) != 0;
        if (!--now.data[b]) now.data.erase(b);
      } else if (dice < 88) {
        // A commit, sometimes crashed between the space maps' blocks and the superblock.
        if (rng.below(3) == 0)
          c->before_superblock = [&] {
            crash_points++;
            problems += check_crash_images(w, crash_images_now(d, rng.next()), generations, &crash_generations);
          };
        errors += c->commit() != 0;
        c->before_superblock = nullptr;
        generations[c->generation] = now;
        commits++;
        if (rng.below(4) == 0) {
          const std::string diff = compare(c.get(), now, rng.next());
          if (!diff.empty()) problems += "after commit " + std::to_string(c->generation) + ": " + diff;
        }
      } else if (dice < 92) {
        // Drop what is not committed and reopen from the committed root.
        c.reset();  // dm_bufio_client_destroy writes the dirty buffers back, without a flush
        reopens++;
        if (SmClient::open(&d, &c)) {
          problems += "reopen failed; ";
          break;
        }
        now = generations.at(c->generation);
        const std::string diff = compare(c.get(), now, rng.next());
        if (!diff.empty()) problems += "after reopen at generation " + std::to_string(c->generation) + ": " + diff;
      } else if (dice < 95) {
        crash_points++;
        problems += check_crash_images(w, crash_images_now(d, rng.next()), generations, &crash_generations);
      }
    }
    note(std::to_string(errors) + " errors; " + (problems.empty() ? "no problems" : problems));
    // The run covered what it is meant to.
    note(std::string(commits > 30 && reopens > 10 && crash_points > 20 && above_two > 10 ? "covered" : "thin") + ": " +
         std::to_string(commits) + " commits, " + std::to_string(reopens) + " reopens, " +
         std::to_string(crash_points) + " crash points reaching " + std::to_string(crash_generations.size()) +
         " generations, " + std::to_string(above_two) + " counts above 2");
  });
  INFO(all_text(r));
  REQUIRE(r.status == RunStatus::Completed);
  REQUIRE_FALSE(r.has(FindingKind::Bug));
  REQUIRE(r.notes.size() == 2);
  REQUIRE(r.notes[0] == "0 errors; no problems");
  REQUIRE(r.notes[1].rfind("covered", 0) == 0);
}
