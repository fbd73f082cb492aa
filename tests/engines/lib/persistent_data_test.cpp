#include <map>
#include <set>
#include <sstream>

#include "engines/lib/persistent_data/bitset.hpp"
#include "engines/lib/persistent_data/space_map_disk.hpp"
#include "model/knobs.hpp"
#include "sim/compiler_false_positives.hpp"
#include "sim/schedule_explorer.hpp"
#include "tests/engines/lib/kv_store.hpp"
#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace model;
using namespace kvtest;
using sim::note;

namespace {

constexpr uint64_t kMetaSectors = 8 * 2048;  // 8 MiB: 2048 metadata blocks

// nvme timing, so that every I/O completes at its own instant (each is a crash point).
VolatileCacheDisk& meta_disk(World& w, const std::string& name = "meta") {
  return disk(w, name, kMetaSectors, true, "nvme");
}

// The contents after each committed generation of the crash workload.
std::map<uint64_t, std::map<uint64_t, uint64_t>> expected_generations() {
  std::map<uint64_t, std::map<uint64_t, uint64_t>> g;
  g[1] = {};
  std::map<uint64_t, uint64_t> m;
  for (uint64_t k = 1; k <= 300; k++) m[k] = 1000 + k;
  g[2] = m;
  for (uint64_t k = 250; k <= 600; k++) m[k] = 2000 + k;
  for (uint64_t k = 1; k <= 80; k++) m.erase(k);
  g[3] = m;
  return g;
}

// Format, then two transactions; returns the disk trace and the time the format committed.
struct Workload {
  std::string trace;
  uint64_t formatted_ns = 0;
};

Workload run_workload(bool unsafe_commit) {
  SimResult r = run_world([unsafe_commit](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<KvStore> kv;
    if (KvStore::format(&d, &kv)) return;
    note(std::to_string(sim::ktime_get_ns()));
    kv->tm->set_unsafe_commit_for_tests(unsafe_commit);
    for (uint64_t k = 1; k <= 300; k++) kv->put(k, 1000 + k);
    kv->commit();
    for (uint64_t k = 250; k <= 600; k++) kv->put(k, 2000 + k);
    for (uint64_t k = 1; k <= 80; k++) kv->del(k);
    kv->commit();
    std::ostringstream out;
    d.trace().save(out);
    note(out.str());
  });
  INFO(all_text(r));
  REQUIRE(r.status == RunStatus::Completed);
  REQUIRE(r.notes.size() == 2);
  return Workload{r.notes[1], std::stoull(r.notes[0])};
}

// Every distinct crash image at every completion after the format: exhaustive when small,
// else sampled.
std::vector<DiskImage> crash_images(const Workload& w) {
  std::istringstream in(w.trace);
  DiskTrace trace = DiskTrace::load(in);
  DiskImage initial(1, kMetaSectors, false);
  std::set<uint64_t> points;
  for (const auto& rec : trace.records)
    if (rec.complete_ns != IoRecord::kInFlight && rec.complete_ns >= w.formatted_ns) points.insert(rec.complete_ns);
  std::map<std::string, DiskImage> images;
  for (uint64_t t : points) {
    CrashStateSpace cs(trace, initial, 512, true, t);
    auto add = [&](const std::vector<bool>& c) {
      DiskImage img = cs.image(c).materialize();
      images.emplace(img.digest(), std::move(img));
    };
    if (cs.variables() <= 8)
      cs.enumerate(256, add);
    else
      cs.sample(t, 24, add);
  }
  std::vector<DiskImage> out;
  for (auto& [k, v] : images) out.push_back(std::move(v));
  return out;
}

// Opens every image as a fresh instance and says which generation it holds, or what is wrong.
std::vector<std::string> recover_all(const std::vector<DiskImage>& images) {
  SimResult r = run_world([&images](World& w) {
    const auto expected = expected_generations();
    for (size_t i = 0; i < images.size(); i++) {
      DiskConfig c;
      c.name = "crash" + std::to_string(i);
      c.sectors = kMetaSectors;
      VolatileCacheDisk& d = w.add_disk(c);
      d.load_media(images[i]);
      std::unique_ptr<KvStore> kv;
      std::map<uint64_t, uint64_t> content;
      int err = KvStore::open(&d, &kv);
      if (!err) err = kv->dump(&content);
      if (err) {
        note("image " + std::to_string(i) + ": open failed " + std::to_string(err));
        continue;
      }
      auto it = expected.find(kv->generation);
      note(it != expected.end() && it->second == content ? "generation " + std::to_string(kv->generation)
                                                         : "image " + std::to_string(i) + ": wrong content");
    }
  });
  INFO(all_text(r));
  REQUIRE(r.status == RunStatus::Completed);
  return r.notes;
}

}  // namespace

TEST_CASE("a crash at any step of a commit reopens to the old or the new transaction, nothing else") {
  const std::vector<DiskImage> images = crash_images(run_workload(false));
  INFO(images.size() << " distinct crash images");
  REQUIRE(images.size() >= 10);
  const auto outcomes = recover_all(images);
  std::set<std::string> kinds(outcomes.begin(), outcomes.end());
  INFO([&] {
    std::string s;
    for (const auto& k : kinds) s += k + "\n";
    return s;
  }());
  for (const auto& o : outcomes) REQUIRE(o.rfind("generation ", 0) == 0);
  REQUIRE(kinds.count("generation 2"));
  REQUIRE(kinds.count("generation 3"));
}

TEST_CASE("with the superblock written under the same flush as the other blocks, some crash state is caught") {
  const std::vector<DiskImage> images = crash_images(run_workload(true));
  const auto outcomes = recover_all(images);
  size_t bad = 0;
  for (const auto& o : outcomes) bad += o.rfind("generation ", 0) != 0;
  INFO(outcomes.size() << " images");
  REQUIRE(bad > 0);
}

TEST_CASE("bufio writes dirty buffers back after a commit when the client is destroyed, without a flush") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    kv->put(1, 1);
    kv->commit();
    const size_t after_commit = d.trace().records.size();
    kv->put(2, 2);  // dirties metadata after the commit
    kv.reset();     // dm_bufio_client_destroy
    size_t writes = 0, flushes = 0;
    for (size_t i = after_commit; i < d.trace().records.size(); i++) {
      const auto& rec = d.trace().records[i];
      writes += rec.sectors > 0;
      flushes += rec.flushes();
    }
    note(std::to_string(writes > 0) + " writes after the commit, " + std::to_string(flushes) + " flushes");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"1 writes after the commit, 0 flushes"});
}

TEST_CASE(
    "a btree under random inserts, removes and commits agrees with a std::map, and the space map counts every block") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<KvStore> kv;
    if (KvStore::format(&d, &kv)) return;
    std::map<uint64_t, uint64_t> ref;
    sim::Rng rng(1234);
    int mismatches = 0;
    for (int op = 0; op < 4000; op++) {
      const uint64_t k = rng.below(3000);
      const uint64_t dice = rng.below(10);
      if (dice < 6) {
        kv->put(k, op);
        ref[k] = static_cast<uint64_t>(op);
      } else if (dice < 9) {
        const int e = kv->del(k);
        mismatches += (e == 0) != (ref.erase(k) == 1);
      } else {
        uint64_t v = 0;
        const int e = kv->get(k, &v);
        auto it = ref.find(k);
        mismatches += it == ref.end() ? e != -ENODATA : (e != 0 || v != it->second);
      }
      if (op % 500 == 499) kv->commit();
    }
    kv->commit();
    std::map<uint64_t, uint64_t> all;
    kv->dump(&all);
    note(std::to_string(mismatches) + " mismatches, walk " + (all == ref ? "equal" : "differs"));
    // Reference counts: the superblock, the space map's own blocks, and each tree node once.
    std::map<uint64_t, uint32_t> expected{{0, 1}};
    dm_btree_walk_nodes(&kv->info, kv->root, [&](uint64_t b) {
      expected[b]++;
      return 0;
    });
    // The space map's own blocks: its index block, one bitmap, the ref-count tree's root.
    std::vector<uint64_t> own;
    kv->tm->sm()->storage_blocks(&own);
    for (uint64_t b : own) expected[b]++;
    uint64_t wrong = 0;
    for (uint64_t b = 0; b < kv->tm->sm()->nr_blocks(); b++) {
      auto it = expected.find(b);
      wrong += kv->tm->sm()->get_count(b) != (it == expected.end() ? 0 : it->second);
    }
    note(std::to_string(wrong) + " wrong counts, " + std::to_string(own.size()) + " space-map blocks");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0 mismatches, walk equal", "0 wrong counts, 3 space-map blocks"});
}

TEST_CASE("the btree finds lowest, highest and next keys") {
  SimResult r = run_world([](World& w) {
    std::unique_ptr<KvStore> kv;
    KvStore::format(&meta_disk(w), &kv);
    uint64_t k = 0;
    note(std::to_string(dm_btree_find_lowest_key(&kv->info, kv->root, &k)));
    for (uint64_t i = 10; i <= 5000; i += 10) kv->put(i, i);
    dm_btree_find_lowest_key(&kv->info, kv->root, &k);
    std::string s = std::to_string(k);
    dm_btree_find_highest_key(&kv->info, kv->root, &k);
    DMSIM_GCC_BUG_105651(s += " " + std::to_string(k);)
    dm_btree_lookup_next(&kv->info, kv->root, 2345, &k, nullptr);
    DMSIM_GCC_BUG_105651(s += " " + std::to_string(k);)
    note(s);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"-61", "10 5000 2350"});
}

TEST_CASE("a block freed in a transaction is not reused before the commit, and reopening allocates the same blocks") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    for (uint64_t k = 0; k < 1000; k++) kv->put(k, k);
    kv->commit();
    DmSpaceMap* sm = kv->tm->sm();
    const uint64_t old_root = kv->root;
    kv->put(5, 55);  // shadows the path: the old root is freed in this transaction
    note(sm->get_count(old_root) == 0 ? "old root freed" : "old root held");
    std::set<uint64_t> fresh;
    for (int i = 0; i < 50; i++) {
      uint64_t b;
      sm->new_block(&b);
      fresh.insert(b);
    }
    note(fresh.count(old_root) ? "reused before commit" : "not reused before commit");
    // Two instances opened from the same committed state allocate the same block numbers.
    std::vector<uint64_t> a, b;
    for (auto* out : {&a, &b}) {
      std::unique_ptr<KvStore> other;
      KvStore::open(&d, &other);
      for (int i = 0; i < 5; i++) {
        uint64_t x;
        other->tm->sm()->new_block(&x);
        out->push_back(x);
      }
    }
    note(a == b ? "same blocks" : "different blocks");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"old root freed", "not reused before commit", "same blocks"});
}

TEST_CASE(
    "an array under random resizes and writes agrees with a std::vector; writes past the end fail with -ENODATA") {
  SimResult r = run_world([](World& w) {
    std::unique_ptr<KvStore> kv;
    KvStore::format(&meta_disk(w), &kv);
    DmArrayInfo info;
    DmBtreeValueType u32;
    u32.size = 4;
    dm_array_info_init(&info, kv->tm.get(), u32);
    uint64_t root;
    dm_array_empty(&info, &root);
    std::vector<uint32_t> ref;
    sim::Rng rng(99);
    int mismatches = 0;
    for (int op = 0; op < 3000; op++) {
      const uint64_t dice = rng.below(20);
      if (dice == 0) {
        const uint32_t n = static_cast<uint32_t>(rng.below(5000));
        uint8_t def[4];
        put_le32(def, 7);
        dm_array_resize(&info, root, static_cast<uint32_t>(ref.size()), n, def, &root);
        ref.resize(n, 7);
      } else if (dice < 12) {
        const uint32_t i = static_cast<uint32_t>(rng.below(ref.size() + 10));
        uint8_t v[4];
        put_le32(v, static_cast<uint32_t>(op));
        const int e = dm_array_set_value(&info, root, i, v, &root);
        if (i < ref.size()) {
          ref[i] = static_cast<uint32_t>(op);
          mismatches += e != 0;
        } else {
          mismatches += e != -ENODATA;
        }
      } else {
        const uint32_t i = static_cast<uint32_t>(rng.below(ref.size() + 10));
        uint8_t v[4];
        const int e = dm_array_get_value(&info, root, i, v);
        mismatches += i < ref.size() ? (e != 0 || get_le32(v) != ref[i]) : e != -ENODATA;
      }
      if (op % 400 == 399) kv->commit();
    }
    uint32_t walked = 0;
    dm_array_walk(&info, root, [&](uint32_t i, const uint8_t* v) {
      mismatches += i != walked || get_le32(v) != ref[i];
      walked++;
      return 0;
    });
    note(std::to_string(mismatches) + " mismatches, walked " + (walked == ref.size() ? "all" : "wrong count"));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0 mismatches, walked all"});
}

TEST_CASE("a bitset under random set, clear and test agrees with a std::vector<bool>") {
  SimResult r = run_world([](World& w) {
    std::unique_ptr<KvStore> kv;
    KvStore::format(&meta_disk(w), &kv);
    DmDiskBitset bs;
    dm_disk_bitset_init(kv->tm.get(), &bs);
    uint64_t root;
    dm_bitset_empty(&bs, &root);
    const uint32_t n = 3000;
    dm_bitset_resize(&bs, root, 0, n, false, &root);
    std::vector<bool> ref(n, false);
    sim::Rng rng(5);
    int mismatches = 0;
    for (int op = 0; op < 5000; op++) {
      const uint32_t i = static_cast<uint32_t>(rng.below(n));
      const uint64_t dice = rng.below(3);
      if (dice == 0) {
        dm_bitset_set_bit(&bs, root, i, &root);
        ref[i] = true;
      } else if (dice == 1) {
        dm_bitset_clear_bit(&bs, root, i, &root);
        ref[i] = false;
      } else {
        bool v = false;
        dm_bitset_test_bit(&bs, root, i, &root, &v);
        mismatches += v != ref[i];
      }
      if (op % 700 == 699) {
        dm_bitset_flush(&bs, root, &root);
        kv->commit();
      }
    }
    dm_bitset_flush(&bs, root, &root);
    DmDiskBitset fresh;
    dm_disk_bitset_init(kv->tm.get(), &fresh);
    for (uint32_t i = 0; i < n; i++) {
      bool v = false;
      dm_bitset_test_bit(&fresh, root, i, &root, &v);
      mismatches += v != ref[i];
    }
    note(std::to_string(mismatches) + " mismatches");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0 mismatches"});
}

TEST_CASE("the bitset cache answers from another bitset's word unless reinitialised (era digestion hazard)") {
  SimResult r = run_world([](World& w) {
    std::unique_ptr<KvStore> kv;
    KvStore::format(&meta_disk(w), &kv);
    DmDiskBitset bs;
    dm_disk_bitset_init(kv->tm.get(), &bs);
    // Two writesets of 64 bits: A has bit 5 set, B has nothing set.
    uint64_t a, b;
    dm_bitset_empty(&bs, &a);
    dm_bitset_resize(&bs, a, 0, 64, false, &a);
    dm_bitset_empty(&bs, &b);
    dm_bitset_resize(&bs, b, 0, 64, false, &b);
    dm_bitset_set_bit(&bs, a, 5, &a);
    dm_bitset_flush(&bs, a, &a);
    for (bool reinit : {false, true}) {
      dm_disk_bitset_init(kv->tm.get(), &bs);
      bool va = false, vb = false;
      dm_bitset_test_bit(&bs, a, 5, &a, &va);
      if (reinit) dm_disk_bitset_init(kv->tm.get(), &bs);
      dm_bitset_test_bit(&bs, b, 5, &b, &vb);
      note(std::string(reinit ? "reinitialised: " : "not reinitialised: ") + "A bit 5 = " + std::to_string(va) +
           ", B bit 5 = " + std::to_string(vb));
    }
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"not reinitialised: A bit 5 = 1, B bit 5 = 1", "reinitialised: A bit 5 = 1, B bit 5 = 0"});
}

TEST_CASE("corrupted metadata images, fuzzed with a seed, are rejected cleanly and never crash the decoder") {
  // A valid image with several transactions, then 300 seeded corruptions of it.
  SimResult base = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    for (uint64_t k = 0; k < 2000; k++) kv->put(k * 7, k);
    kv->commit();
    for (uint64_t k = 0; k < 500; k++) kv->del(k * 7);
    kv->commit();
    kv.reset();
    std::ostringstream out;
    d.trace().save(out);
    note(out.str());
  });
  REQUIRE(base.status == RunStatus::Completed);
  std::istringstream in(base.notes.at(0));
  const DiskTrace trace = DiskTrace::load(in);
  const DiskImage good = CrashStateSpace(trace, DiskImage(1, kMetaSectors, false), 512, true, UINT64_MAX).durable();
  std::vector<uint64_t> blocks;
  for (const auto& [s, wr] : good.written())
    if (s % 8 == 0) blocks.push_back(s / 8);
  SimResult r = run_world([&good, &blocks](World& w) {
    sim::Rng rng(2024);
    int ok = 0, rejected = 0;
    for (int i = 0; i < 300; i++) {
      DiskImage img = good;
      const uint64_t victim = blocks[rng.below(blocks.size())];
      const uint64_t mode = rng.below(4);
      for (uint64_t s = victim * 8; s < victim * 8 + 8; s++) {
        uint8_t bytes[512];
        img.read(s).to_bytes(bytes);
        if (mode == 0) bytes[rng.below(512)] ^= static_cast<uint8_t>(1 + rng.below(255));           // a bit flip
        if (mode == 1) std::memset(bytes, 0, sizeof bytes);                                         // zeroed
        if (mode == 2) img.read((blocks[rng.below(blocks.size())] * 8) + (s % 8)).to_bytes(bytes);  // misdirected
        if (mode == 3 && s == victim * 8) {
          // A plausible-looking block: valid checksum over random pointers.
          for (size_t k = kBlockHeaderSize; k < 512; k += 8) put_le64(bytes + k, rng.below(4096));
        }
        img.apply(s, Sector::of_bytes(bytes), UINT64_MAX);
      }
      DiskConfig c;
      c.name = "fuzz" + std::to_string(i);
      c.sectors = kMetaSectors;
      VolatileCacheDisk& d = w.add_disk(c);
      d.load_media(img);
      std::unique_ptr<KvStore> kv;
      std::map<uint64_t, uint64_t> content;
      int err = KvStore::open(&d, &kv);
      if (!err) err = kv->dump(&content);
      (err ? rejected : ok)++;
    }
    note(std::to_string(ok + rejected) + " opened or rejected");
    note(rejected > 0 ? "some rejected" : "none rejected");
  });
  INFO(all_text(r));
  REQUIRE(r.status == RunStatus::Completed);
  REQUIRE_FALSE(r.has(FindingKind::Bug));
  REQUIRE(r.notes == Notes{"300 opened or rejected", "some rejected"});
  // Rejections name the block: "btree_node validator check failed for block 17", after the check's own
  // message ("btree spine: node_check failed: csum ... != wanted ...").
  bool named = false;
  for (const auto& line : r.dmesg) named |= line.find("validator check failed for block ") != std::string::npos;
  REQUIRE(named);
}

TEST_CASE("a data space map keeps its counts in metadata blocks and reads them back after a commit") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    const uint64_t meta_before = kv->tm->sm()->allocated();
    DiskSpaceMap data(kv->tm.get());
    data.create(100000);  // allocates its blocks from the metadata space map
    uint64_t b = 0;
    for (int i = 0; i < 10; i++) data.new_block(&b);
    data.inc_block(3);
    data.dec_block(5);
    data.commit();
    uint8_t root[kSpaceMapRootSize];
    data.copy_root(root);
    kv->commit();
    // Seven bitmaps of 16320 blocks, the index tree's root and the ref-count tree's root.
    note("metadata blocks taken: " + std::to_string(kv->tm->sm()->allocated() - meta_before));
    DiskSpaceMap again(kv->tm.get());
    const int opened = again.open(root);  // before the reads below: operand order is unspecified
    note(std::to_string(opened) + " " + std::to_string(again.get_count(3)) + " " + std::to_string(again.get_count(5)) +
         " " + std::to_string(again.get_count(9)) + " " + std::to_string(again.nr_free()));
    // Freed in the committed state and in the new one: allocatable again at once.
    uint64_t first = 0;
    again.new_block(&first);
    note("next allocation " + std::to_string(first));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"metadata blocks taken: 9", "0 2 0 1 99991", "next allocation 5"});
}

// A transaction that gives block 5 a reference without allocating it (as inc_children does for the
// values of a shared leaf it shadows), then allocates three blocks; `knob_on` selects the allocator
// from before 4feaef830de7 (pdata.sm_alloc_ignores_previous_transaction).
SimResult allocate_after_an_increment(bool knob_on) {
  return run_world([knob_on](World& w) {
    set_active_knobs(knob_on ? std::vector<std::string>{"pdata.sm_alloc_ignores_previous_transaction"}
                             : std::vector<std::string>{});
    VolatileCacheDisk& d = meta_disk(w);
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    DiskSpaceMap data(kv->tm.get());
    data.create(1000);
    uint64_t b = 0;
    for (int i = 0; i < 3; i++) data.new_block(&b);
    data.commit();  // blocks 0-2 committed; 5 is free in the committed map
    kv->commit();   // and the metadata holding the map, so that changes shadow its blocks
    data.inc_block(5);
    std::string got;
    for (int i = 0; i < 3; i++) {
      data.new_block(&b);
      got += std::to_string(b) + " ";
    }
    note("allocated " + got + "count of 5: " + std::to_string(data.get_count(5)));
    set_active_knobs({});
  });
}

TEST_CASE("new_block never hands out a block the current transaction already references") {
  SimResult r = allocate_after_an_increment(false);
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"allocated 3 4 6 count of 5: 1"});
}

TEST_CASE(
    "pdata.sm_alloc_ignores_previous_transaction: the committed-map search hands the block out again (kernel BUG)") {
  SimResult r = allocate_after_an_increment(true);
  INFO(all_text(r));
  const sim::Finding* f =
      finding(r, FindingKind::Bug, "kernel BUG at drivers/md/persistent-data/dm-space-map-disk.c:178!");
  REQUIRE(f);
  REQUIRE(f->title.find("block 5 already in use") != std::string::npos);
  REQUIRE(r.notes.empty());  // the allocating thread died in the BUG
  set_active_knobs({});
}

TEST_CASE("a thread waiting for a block lock waits, in the wait-for graph, for the lock's holder") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = meta_disk(w);
    auto* bm = new engines::pd::DmBlockManager(&d, 4096, 16);
    sim::kthread_run(
        [bm] {
          engines::pd::DmBlock* b;
          if (bm->write_lock_zero(1, nullptr, &b)) return;
          sim::msleep(100);
          bm->unlock(b);
        },
        "holder");
    sim::msleep(1);
    sim::kthread_run(
        [bm] {
          engines::pd::DmBlock* b;
          if (bm->write_lock_zero(1, nullptr, &b)) return;
          bm->unlock(b);
        },
        "waiter");
    sim::msleep(1);
    note(wait_edges_from("waiter"));
    sim::msleep(200);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"waiter:4 -> wait_queue bm->lock_wait (wait_event)\n"
                           "wait_queue bm->lock_wait -> holder:3 (holds the block lock)\n"});
}
