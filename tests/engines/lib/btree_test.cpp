// The btree's shape under inserts and removes (dm-btree.c, dm-btree-remove.c): after every
// operation the contents match a std::map, keys are ordered in and across nodes, every node but
// the root is at least a third full (the fill thin-provisioning-tools check), and (every 16th
// operation and at commits) every block's reference count is what a walk of the trees finds.
#include <map>
#include <set>

#include "engines/lib/persistent_data/btree_layout.hpp"
#include "tests/engines/lib/kv_store.hpp"
#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace model;
using namespace kvtest;
using sim::note;
namespace layout = engines::pd::btree_layout;

namespace {

constexpr uint64_t kMetaSectors = 8 * 2048;

// What a walk of the nodes finds; the first broken property is named in `problem`.
struct Shape {
  std::string problem;
  std::map<uint64_t, uint64_t> contents;  // key -> first 8 bytes of the value
  std::map<uint64_t, uint32_t> refs;      // block -> references from parent nodes
  uint32_t depth = 0, nodes = 0;
};

// Walks the subtree at `b`: `lo` is the parent's key for it (every key below is >= lo), `hi` the
// parent's next key (every key below is < hi).
void walk(DmBtreeInfo* info, uint64_t b, bool is_root, uint64_t lo, uint64_t hi, uint32_t level,
          std::set<uint64_t>* seen, Shape* s) {
  if (!s->problem.empty()) return;
  if (!seen->insert(b).second) return;  // a shared node is checked once
  s->nodes++;
  s->depth = std::max(s->depth, level + 1);
  DmBlock* blk;
  if (info->tm->read_lock(b, &kBtreeNodeValidator, &blk)) {
    s->problem = "block " + std::to_string(b) + " unreadable";
    return;
  }
  const uint8_t* d = dm_block_data(blk);
  const uint32_t flags = layout::flags.get(d), nr = layout::nr_entries.get(d), max = layout::max_entries.get(d),
                 vs = layout::value_size.get(d);
  std::vector<uint64_t> keys(nr), vals(nr);
  for (uint32_t i = 0; i < nr; i++) {
    keys[i] = layout::keys.get(d, i);
    vals[i] = get_le64(d + layout::value_offset(max, vs, i));
  }
  info->tm->unlock(blk);
  const std::string where = "node " + std::to_string(b) + " at level " + std::to_string(level);
  if (max % 3) s->problem = where + ": max_entries not a multiple of 3";
  if (!is_root && nr < max / 3)
    s->problem = where + ": too few entries, " + std::to_string(nr) + " < " + std::to_string(max / 3);
  if (!is_root && nr == 0) s->problem = where + ": empty";
  for (uint32_t i = 0; i < nr; i++) {
    if (i && keys[i - 1] >= keys[i]) s->problem = where + ": keys out of order";
    if (keys[i] < lo || keys[i] >= hi) s->problem = where + ": key outside its parent's range";
  }
  if (!s->problem.empty()) return;
  if (flags & layout::kLeafNode) {
    for (uint32_t i = 0; i < nr; i++) s->contents[keys[i]] = vals[i];
    return;
  }
  for (uint32_t i = 0; i < nr; i++) {
    s->refs[vals[i]]++;
    walk(info, vals[i], false, keys[i], i + 1 < nr ? keys[i + 1] : hi, level + 1, seen, s);
  }
}

Shape shape_of(DmBtreeInfo* info, const std::vector<uint64_t>& roots) {
  Shape s;
  std::set<uint64_t> seen;
  for (uint64_t root : roots) {
    s.refs[root]++;
    walk(info, root, true, 0, UINT64_MAX, 0, &seen, &s);
  }
  return s;
}

// Every block's count in the space map equals the references the walk found, plus the
// superblock's; the only other counted blocks are the space map's own (count 1).
std::string counts_problem(KvStore* kv, const Shape& s) {
  std::map<uint64_t, uint32_t> expected = s.refs;
  expected[0]++;
  for (uint64_t b = 0; b < kv->tm->sm()->nr_blocks(); b++) {
    const uint32_t c = kv->tm->sm()->get_count(b);
    auto it = expected.find(b);
    const uint32_t want = it == expected.end() ? 0 : it->second;
    if (c != want && !(it == expected.end() && c == 1))
      return "block " + std::to_string(b) + " counted " + std::to_string(c) + ", referenced " + std::to_string(want);
  }
  return {};
}

// Shape, order, fill and contents are checked after every operation; reference counts, which
// read every block's count from the space map, every 16th operation and at every commit.
bool counts_due(int op) {
  return op % 16 == 15 || op % 150 == 149;
}

struct FuzzConfig {
  uint32_t value_size = 8;
  uint32_t max_entries_cap = 0;
  uint64_t key_range = 600;
  int ops = 3000;
  uint64_t seed = 1;
};

// Re-reads the tree's settings after a reopen (the store's default is 8-byte values, no cap).
void configure(KvStore* kv, const FuzzConfig& c) {
  kv->info.value_type.size = c.value_size;
  kv->info.max_entries_cap = c.max_entries_cap;
}

// Seeded inserts and removes (more removes towards the end, so that the tree shrinks back through
// every level), checked after every operation; commits every 150 operations, a reopen every 1000.
void fuzz(World& w, const FuzzConfig& c) {
  VolatileCacheDisk& d = disk(w, "meta", kMetaSectors, true, "nvme");
  std::unique_ptr<KvStore> kv;
  KvStore::format(&d, &kv);
  dm_btree_del(&kv->info, kv->root);
  configure(kv.get(), c);
  dm_btree_empty(&kv->info, &kv->root);
  kv->commit();
  std::map<uint64_t, uint64_t> ref;
  sim::Rng rng(c.seed);
  std::string problem;
  uint32_t max_depth = 0;
  uint64_t max_size = 0;
  std::vector<uint8_t> value(c.value_size, 0xee);
  for (int op = 0; op < c.ops && problem.empty(); op++) {
    const bool late = op > c.ops * 6 / 10;
    const uint64_t k = rng.below(c.key_range);
    if (rng.below(10) < (late ? 2u : 7u)) {
      put_le64(value.data(), static_cast<uint64_t>(op));
      int inserted = 0;
      if (dm_btree_insert(&kv->info, kv->root, k, value.data(), &kv->root, &inserted) ||
          inserted != (ref.count(k) ? 0 : 1))
        problem = "insert of " + std::to_string(k) + " failed";
      ref[k] = static_cast<uint64_t>(op);
    } else {
      auto it = ref.empty() ? ref.end() : ref.lower_bound(k);
      if (late && it == ref.end() && !ref.empty()) it = ref.begin();  // late: mostly present keys
      const uint64_t victim = it == ref.end() || !late ? k : it->first;
      const int e = kv->del(victim);
      if ((e == 0) != (ref.erase(victim) == 1))
        problem = "remove of " + std::to_string(victim) + " returned " + std::to_string(e);
    }
    if (op % 150 == 149) kv->commit();
    if (op % 1000 == 999) {
      kv->commit();
      kv.reset();
      KvStore::open(&d, &kv);
      configure(kv.get(), c);
    }
    const Shape s = shape_of(&kv->info, {kv->root});
    if (problem.empty()) problem = s.problem;
    if (problem.empty() && s.contents != ref) problem = "contents differ from the map after op " + std::to_string(op);
    if (problem.empty() && counts_due(op)) problem = counts_problem(kv.get(), s);
    if (!problem.empty()) problem = "op " + std::to_string(op) + ": " + problem;
    max_depth = std::max(max_depth, s.depth);
    max_size = std::max<uint64_t>(max_size, ref.size());
  }
  // Empty it entirely: the root ends as an empty leaf.
  while (problem.empty() && !ref.empty()) {
    const uint64_t k = ref.begin()->first;
    if (kv->del(k)) problem = "final remove failed";
    ref.erase(k);
    const Shape s = shape_of(&kv->info, {kv->root});
    if (problem.empty()) problem = s.problem;
    if (problem.empty() && s.contents != ref) problem = "contents differ while emptying";
    if (problem.empty() && (counts_due(static_cast<int>(ref.size())) || ref.empty()))
      problem = counts_problem(kv.get(), s);
  }
  kv->commit();
  const Shape end = shape_of(&kv->info, {kv->root});
  note(problem.empty() ? "all properties held" : problem);
  note("deepest " + (max_depth >= 4 ? std::string("4 or more") : std::to_string(max_depth)) + " levels, " +
       (max_size > 100 ? "many keys" : "few keys") + ", ends with " + std::to_string(end.nodes) + " node");
}

}  // namespace

TEST_CASE("removing keys keeps every non-root node at least a third full, in trees of several levels") {
  // Nodes capped at 12 entries (minimum 4): a few thousand keys make trees four or more levels deep,
  // so merges, redistributions and root collapses happen at every level.
  for (uint32_t vs : {8u, 16u}) {
    SimResult r = run_world([vs](World& w) {
      fuzz(w, FuzzConfig{.value_size = vs, .max_entries_cap = 12, .key_range = 10000, .ops = 5000, .seed = 7 + vs});
    });
    INFO("value size " << vs << ": " << (r.notes.size() > 1 ? r.notes[1] : ""));
    REQUIRE_CLEAN(r);
    REQUIRE(r.notes.size() == 2);
    CHECK(r.notes[0] == "all properties held");
    CHECK(r.notes[1].find("deepest 4 or more levels") != std::string::npos);
  }
}

TEST_CASE(
    "a btree of full-size nodes under seeded inserts and removes matches a std::map after every operation, "
    "with keys ordered, parent keys bounding their subtrees and every reference count exact") {
  struct Case {
    uint32_t vs;
    uint64_t range;
  };
  for (const Case& c : {Case{8, 300}, Case{8, 1ull << 40}, Case{16, 1ull << 40}}) {
    SimResult r = run_world([c](World& w) {
      fuzz(w, FuzzConfig{.value_size = c.vs, .max_entries_cap = 0, .key_range = c.range, .ops = 3000, .seed = 99});
    });
    INFO("value size " << c.vs << ", key range " << c.range);
    REQUIRE_CLEAN(r);
    REQUIRE(r.notes.size() == 2);
    CHECK(r.notes[0] == "all properties held");
    CHECK(r.notes[1].find("ends with 1 node") != std::string::npos);
    if (c.range > 1000) CHECK(r.notes[1].find("deepest 2 levels") != std::string::npos);
  }
}

TEST_CASE(
    "removing from a tree that shares its nodes with a snapshot leaves the snapshot intact and every count "
    "exact") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "meta", kMetaSectors, true, "nvme");
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    kv->info.max_entries_cap = 30;
    dm_btree_del(&kv->info, kv->root);
    dm_btree_empty(&kv->info, &kv->root);
    std::map<uint64_t, uint64_t> ref;
    for (uint64_t k = 0; k < 2000; k++) {
      kv->put(k * 3, k);
      ref[k * 3] = k;
    }
    kv->commit();
    // The snapshot: a second holder of the root, as era's metadata snapshot takes one.
    const uint64_t snap = kv->root;
    kv->tm->inc(snap);
    std::map<uint64_t, uint64_t> live = ref;
    sim::Rng rng(5);
    std::string problem;
    for (int op = 0; op < 1800 && problem.empty(); op++) {
      auto it = live.lower_bound(rng.below(6000));
      if (it == live.end()) it = live.begin();
      if (kv->del(it->first)) problem = "remove failed";
      live.erase(it);
      if (op % 300 == 299) kv->commit();
      const Shape s = shape_of(&kv->info, {kv->root, snap});
      const Shape snap_only = shape_of(&kv->info, {snap});
      const Shape live_only = shape_of(&kv->info, {kv->root});
      if (problem.empty()) problem = s.problem;
      if (problem.empty() && snap_only.contents != ref) problem = "snapshot changed";
      if (problem.empty() && live_only.contents != live) problem = "live tree differs";
      if (problem.empty() && counts_due(op)) problem = counts_problem(kv.get(), s);
      if (!problem.empty()) problem = "op " + std::to_string(op) + ": " + problem;
    }
    note(problem.empty() ? "all properties held" : problem);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"all properties held"});
}

TEST_CASE("a full node below the root moves entries into a sibling with room before it splits (rebalance_or_split)") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "meta", kMetaSectors, true, "nvme");
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    kv->info.max_entries_cap = 30;
    dm_btree_del(&kv->info, kv->root);
    dm_btree_empty(&kv->info, &kv->root);
    // Ascending keys fill the last leaf; each split leaves a half-full left sibling behind.
    for (uint64_t k = 0; k < 31; k++) kv->put(k * 10, k);
    // Now two leaves of 15 and 16. Filling the left one to 30, then one more there, moves entries
    // right instead of making a third leaf.
    for (uint64_t k = 0; k < 15; k++) kv->put(k * 10 + 1, k);
    const Shape before = shape_of(&kv->info, {kv->root});
    kv->put(2, 0);
    const Shape after = shape_of(&kv->info, {kv->root});
    note(std::to_string(before.nodes) + " nodes, then " + std::to_string(after.nodes) + " nodes");
    note(after.problem.empty() ? "well formed" : after.problem);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"3 nodes, then 3 nodes", "well formed"});
}
