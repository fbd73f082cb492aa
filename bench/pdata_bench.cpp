// `dmsim bench pdata`: persistent-data's btree operations per second, and what a commit costs
// against how many reference counts changed since the last one (a space map that rewrites only
// what changed writes few blocks for a small change; one that rewrites itself whole does not).
#include <algorithm>
#include <memory>
#include <numeric>
#include <vector>

#include "bench/bench.hpp"
#include "bench/measure.hpp"
#include "engines/lib/persistent_data/btree.hpp"
#include "model/world.hpp"
#include "sim/schedule_explorer.hpp"

namespace bench {

namespace {

using namespace engines::pd;

// A superblock holding only the space-map root: enough for the two-phase commit.
constexpr BlockHeaderLayout kBenchSuperblockHeader{.csum = {0}, .blocknr = {8}, .magic = {}, .version = {}};
const DmBlockValidator kBenchSuperblock{
    "bench_superblock", {.header = &kBenchSuperblockHeader, .magic = 0, .csum_xor = 9031977, .version = 0}};
constexpr size_t kSpaceMapRootAt = 16;
constexpr uint64_t kMetadataBlocks = 1 << 18;  // a 1 GiB metadata device

struct Metadata {
  model::VolatileCacheDisk* disk = nullptr;
  std::unique_ptr<DmBlockManager> bm;
  std::unique_ptr<DmTransactionManager> tm;

  // Fresh metadata on a fresh disk in a new world (the world lives as long as the child).
  Metadata() {
    auto* w = new model::World;
    model::DiskConfig c;
    c.name = "meta";
    c.sectors = kMetadataBlocks * 8;
    disk = &w->add_disk(c);
    bm = std::make_unique<DmBlockManager>(disk, 4096, 16);
    if (DmTransactionManager::create_with_sm(bm.get(), 0, &tm)) throw std::runtime_error("pdata: format failed");
    commit(true);
  }

  void commit(bool first = false) {
    DmBlock* sb;
    if (tm->pre_commit() ||
        (first ? bm->write_lock_zero(0, &kBenchSuperblock, &sb) : bm->write_lock(0, &kBenchSuperblock, &sb)))
      throw std::runtime_error("pdata: commit failed");
    tm->sm()->copy_root(dm_block_data(sb) + kSpaceMapRootAt);
    if (tm->commit(sb)) throw std::runtime_error("pdata: commit failed");
  }
};

std::vector<uint64_t> shuffled_keys(size_t n, uint64_t seed) {
  std::vector<uint64_t> keys(n);
  std::iota(keys.begin(), keys.end(), 0);
  sim::Rng rng(seed);
  for (size_t i = n; i > 1; i--) std::swap(keys[i - 1], keys[rng.below(i)]);
  for (auto& k : keys) k *= 7;  // spread out, so lookups of absent keys fall between
  return keys;
}

enum class BtreeOp { Insert, Lookup, Remove };
constexpr size_t kBtreeKeys = 50000;

// Operations per second on a u64 -> u64 btree of 50,000 keys, in one transaction.
double btree_ops(BtreeOp op) {
  Metadata md;
  DmBtreeInfo info{md.tm.get(), DmBtreeValueType{}};
  uint64_t root;
  if (dm_btree_empty(&info, &root)) throw std::runtime_error("pdata: btree_empty failed");
  const std::vector<uint64_t> keys = shuffled_keys(kBtreeKeys, 11);
  uint8_t v[8] = {};
  auto insert_all = [&] {
    for (uint64_t k : keys)
      if (dm_btree_insert(&info, root, k, v, &root)) throw std::runtime_error("pdata: insert failed");
  };
  if (op == BtreeOp::Insert) {
    const auto t0 = Clock::now();
    insert_all();
    return per_second(static_cast<long>(keys.size()), t0);
  }
  insert_all();
  md.commit();
  const auto t0 = Clock::now();
  for (uint64_t k : keys) {
    const int r = op == BtreeOp::Lookup ? dm_btree_lookup(&info, root, k, v) : dm_btree_remove(&info, root, k, &root);
    if (r) throw std::runtime_error("pdata: lookup or remove failed");
  }
  return per_second(static_cast<long>(keys.size()), t0);
}

// Metadata blocks a commit writes after `changes` reference counts changed (spread over the
// device), the median of five commits.
double commit_blocks(uint64_t changes) {
  Metadata md;
  sim::Rng rng(changes);
  std::vector<double> blocks;
  for (int round = 0; round < 5; round++) {
    for (uint64_t i = 0; i < changes; i++) md.tm->inc(1 + rng.below(kMetadataBlocks - 1));
    const size_t from = md.disk->trace().records.size();
    md.commit();
    const auto& recs = md.disk->trace().records;
    uint64_t sectors = 0;
    for (size_t i = from; i < recs.size(); i++)
      if (recs[i].op == model::ReqOp::Write) sectors += recs[i].sectors;
    blocks.push_back(static_cast<double>(sectors / 8));
  }
  return median(blocks);
}

}  // namespace

Table pdata(int runs) {
  Table t{"pdata", runs, "btree of 50,000 u64 keys; 1 GiB metadata device", {}, {}};
  t.medians = {
      {"btree_inserts_per_sec", "btree inserts/s", median_of(runs, [] { return btree_ops(BtreeOp::Insert); })},
      {"btree_lookups_per_sec", "btree lookups/s", median_of(runs, [] { return btree_ops(BtreeOp::Lookup); })},
      {"btree_removes_per_sec", "btree removes/s", median_of(runs, [] { return btree_ops(BtreeOp::Remove); })},
  };
  // Blocks written are deterministic: one run each.
  for (uint64_t k : {1, 100, 10000})
    t.medians.push_back({"commit_blocks_" + std::to_string(k) + "_changes",
                         "commit after " + std::to_string(k) + " count change(s): blocks written",
                         measure([k] { return commit_blocks(k); })});
  const double one = t.medians[3].value, many = t.medians[5].value;
  t.derived = {
      {"commit_blocks_10000_over_1", "blocks written: 10000 changes over 1 change", one > 0 ? many / one : 0, 1}};
  return t;
}

}  // namespace bench
