// dm-snapshot's exception stores driven directly, in simulated kernel context on a volatile-cache
// disk: the table arguments, the persistent store's on-disk bytes, batching and the commit
// protocol, reload, the header's authority over the table, invalidation, merging, the transient
// store, the userland reader, and the race two parallel commit_exception() calls run into.
#include "engines/snapshot/exception_store.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "engines/lib/persistent_data/codec.hpp"
#include "model/errno.hpp"
#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace engines::snapshot;
using engines::pd::get_le32;
using engines::pd::get_le64;

namespace {

// 512-byte chunks: 32 entries an area, area i at chunk 1 + 33 * i. Small enough to fill areas.
constexpr uint64_t kAreaEntries = 32;

// A COW device as lvcreate leaves it: the start blanked (here all of it).
model::VolatileCacheDisk& cow_disk(model::World& w, uint64_t sectors, uint32_t lbs = 512,
                                   const std::string& name = "cow") {
  model::DiskConfig c;
  c.name = name;
  c.sectors = sectors;
  c.initial_zero = true;
  c.logical_block_size = lbs;
  return w.add_disk(c);
}

StoreContext context(model::BlockDevice* cow, model::BlockDevice* origin = nullptr) {
  StoreContext c;
  c.cow = cow;
  c.cow_name = "/dev/" + cow->name();
  c.snapshot_name = "snap";
  c.origin = origin;
  return c;
}

struct Created {
  int r = 0;
  std::string error;
  std::unique_ptr<DmExceptionStore> store;
};

Created create(model::BlockDevice* cow, const std::string& type, const std::string& chunk,
               model::BlockDevice* origin = nullptr) {
  Created c;
  c.r = dm_exception_store_create(type, chunk, context(cow, origin), {}, &c.store, &c.error);
  return c;
}

// A store created and loaded as the snapshot's constructor does it, with what the load reported.
struct Loaded {
  std::unique_ptr<DmExceptionStore> store;
  int r = 0;
  std::vector<dm_exception> exceptions;
};

Loaded open_store(model::BlockDevice* cow, const std::string& chunk = "1", const std::string& type = "P") {
  Created c = create(cow, type, chunk);
  INFO(c.error);
  REQUIRE(c.r == 0);
  Loaded l;
  l.store = std::move(c.store);
  l.r = l.store->read_metadata([&l](chunk_t old_chunk, chunk_t new_chunk) {
    l.exceptions.push_back({old_chunk, new_chunk});
    return 0;
  });
  return l;
}

// Prepares and commits `n` exceptions one after the other (nothing else in flight, so each
// commits at once); old chunks from `first_old` up.
std::vector<dm_exception> commit_each(DmExceptionStore* s, int n, chunk_t first_old) {
  std::vector<dm_exception> out;
  for (int i = 0; i < n; i++) {
    dm_exception e{first_old + static_cast<chunk_t>(i), 0};
    REQUIRE(s->prepare_exception(&e) == 0);
    int calls = 0;
    bool ok = false;
    s->commit_exception(e, true, [&](bool success) {
      calls++;
      ok = success;
    });
    REQUIRE(calls == 1);
    REQUIRE(ok);
    out.push_back(e);
  }
  return out;
}

// What a read of the disk returns now, as bytes.
std::vector<uint8_t> bytes_at(const model::VolatileCacheDisk& d, uint64_t sector, uint32_t sectors = 1) {
  std::vector<uint8_t> out(size_t{sectors} * 512);
  for (uint32_t i = 0; i < sectors; i++) d.read_sector(sector + i).to_bytes(out.data() + 512 * i);
  return out;
}

// Entry `i` of the metadata area held at `sector` (512-byte chunks).
dm_exception entry_at(const model::VolatileCacheDisk& d, uint64_t sector, unsigned i) {
  const std::vector<uint8_t> b = bytes_at(d, sector);
  return {get_le64(b.data() + 16 * i), get_le64(b.data() + 16 * i + 8)};
}

// The writes the disk saw starting at `sector`, in submission order, from record `from` on.
std::vector<model::IoRecord> writes_at(const model::VolatileCacheDisk& d, uint64_t sector, size_t from = 0) {
  std::vector<model::IoRecord> out;
  const auto& recs = d.trace().records;
  for (size_t i = from; i < recs.size(); i++)
    if (recs[i].op == model::ReqOp::Write && recs[i].sectors > 0 && recs[i].sector == sector) out.push_back(recs[i]);
  return out;
}

bool logged(const SimResult& r, const std::string& what) {
  for (const auto& l : r.dmesg)
    if (l.find(what) != std::string::npos) return true;
  return false;
}

bool same(const std::vector<dm_exception>& a, const std::vector<dm_exception>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (a[i].old_chunk != b[i].old_chunk || a[i].new_chunk != b[i].new_chunk) return false;
  return true;
}

}  // namespace

TEST_CASE("dm_exception_store_create takes the type from the first letter: P, PO and N in any case",
          "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    Created p = create(&cow, "p", "16");
    REQUIRE(p.r == 0);
    REQUIRE(std::string(p.store->type_name()) == "P");
    REQUIRE(!p.store->userspace_supports_overflow);
    REQUIRE(p.store->supports_merge());
    REQUIRE(p.store->chunk_size == 16);
    REQUIRE(p.store->chunk_mask == 15);
    REQUIRE(p.store->chunk_shift == 4);
    Created po = create(&cow, "Po", "8");
    REQUIRE(po.r == 0);
    REQUIRE(std::string(po.store->type_name()) == "PO");
    REQUIRE(po.store->userspace_supports_overflow);
    Created n = create(&cow, "n", "8");
    REQUIRE(n.r == 0);
    REQUIRE(std::string(n.store->type_name()) == "N");
    REQUIRE(!n.store->supports_merge());
    // The transient constructor ignores what follows its letter, as the kernel's does.
    REQUIRE(create(&cow, "Nx", "8").r == 0);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("the persistent store accepts only the option O; long type names fail as on a real kernel",
          "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    Created px = create(&cow, "PX", "8");
    REQUIRE(px.r == -EINVAL);
    REQUIRE(px.error == "Exception store type constructor failed");
    REQUIRE(!px.store);
    Created persistent = create(&cow, "persistent", "8");
    REQUIRE(persistent.r == -EINVAL);
    REQUIRE(persistent.error == "Exception store type constructor failed");
    Created transient = create(&cow, "transient", "8");
    REQUIRE(transient.r == -EINVAL);
    REQUIRE(transient.error == "Exception store type is not P or N");
    REQUIRE(create(&cow, "", "8").error == "Exception store type is not P or N");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(logged(r, "device-mapper: persistent snapshot: Unsupported persistent store option: X"));
  REQUIRE(logged(r, "device-mapper: persistent snapshot: Unsupported persistent store option: ersistent"));
}

TEST_CASE("chunk sizes are checked in the kernel's order: number, power of 2, device blocksize, upper bound",
          "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    model::VolatileCacheDisk& cow4k = cow_disk(w, 4096, 4096, "cow4k");
    for (const char* bad : {"", "abc", "-8", "8 ", "4294967296"}) {
      INFO(bad);
      Created c = create(&cow, "P", bad);
      REQUIRE(c.r == -EINVAL);
      REQUIRE(c.error == "Invalid chunk size");
    }
    REQUIRE(create(&cow, "P", "+16").store->chunk_size == 16);
    REQUIRE(create(&cow, "N", "16\n").store->chunk_size == 16);
    REQUIRE(create(&cow, "P", "24").error == "Chunk size is not a power of 2");
    // 24 on a 4 KiB device: the power-of-2 check comes first.
    REQUIRE(create(&cow4k, "P", "24").error == "Chunk size is not a power of 2");
    REQUIRE(create(&cow4k, "P", "4").error == "Chunk size is not a multiple of device blocksize");
    REQUIRE(create(&cow4k, "P", "8").r == 0);
    // The origin's block size counts too when the store knows the origin.
    REQUIRE(create(&cow, "N", "4", &cow4k).error == "Chunk size is not a multiple of device blocksize");
    REQUIRE(create(&cow, "P", "4194304").error == "Chunk size is too high");  // > INT_MAX >> 9
    Created big = create(&cow, "P", "2097152");
    REQUIRE(big.r == 0);
    REQUIRE(big.store->chunk_shift == 21);
    // 0 stays 0 here: the persistent store settles it when it reads the header.
    Created zero = create(&cow, "P", "0");
    REQUIRE(zero.r == 0);
    REQUIRE(zero.store->chunk_size == 0);
    // The same checks, called directly (read_header uses them for the header's chunk size).
    std::string err;
    REQUIRE(dm_exception_store_set_chunk_size(zero.store.get(), 0, &err) == -EINVAL);
    REQUIRE(err == "Chunk size is not a power of 2");
    REQUIRE(dm_exception_store_set_chunk_size(zero.store.get(), 64, &err) == 0);
    REQUIRE(zero.store->chunk_mask == 63);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("the on-disk layout is the kernel's: magic SnAp in chunk 0 and entries at chunk 1 + i*(E+1)",
          "[snapshot][store]") {
  REQUIRE(exceptions_per_area(1) == 32);
  REQUIRE(exceptions_per_area(8) == 256);
  REQUIRE(exceptions_per_area(32) == 1024);
  REQUIRE(area_location(1, 0) == 1);
  REQUIRE(area_location(1, 1) == 34);
  REQUIRE(area_location(32, 2) == 1 + 2 * 1025);
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    Loaded l = open_store(&cow);
    REQUIRE(l.r == 0);
    REQUIRE(l.exceptions.empty());
    const std::vector<dm_exception> committed = commit_each(l.store.get(), kAreaEntries + 1, 100);

    const std::vector<uint8_t> h = bytes_at(cow, 0);
    REQUIRE(std::string(h.begin(), h.begin() + 4) == "SnAp");
    REQUIRE(get_le32(h.data()) == 0x70416e53);
    REQUIRE(get_le32(h.data() + 4) == 1);   // valid
    REQUIRE(get_le32(h.data() + 8) == 1);   // version
    REQUIRE(get_le32(h.data() + 12) == 1);  // chunk size, sectors
    REQUIRE(std::all_of(h.begin() + 16, h.end(), [](uint8_t b) { return b == 0; }));
    // Area 0 at chunk 1: entries {old le64, new le64}, data chunks 2..33 after it.
    for (unsigned i = 0; i < kAreaEntries; i++) {
      const dm_exception e = entry_at(cow, 1, i);
      REQUIRE(e.old_chunk == 100 + i);
      REQUIRE(e.new_chunk == 2 + i);
    }
    // Area 1 at chunk 34: the 33rd exception went to chunk 35, past the area's own chunk.
    REQUIRE(committed.back().new_chunk == 35);
    REQUIRE(entry_at(cow, 34, 0).old_chunk == 132);
    REQUIRE(entry_at(cow, 34, 0).new_chunk == 35);
    REQUIRE(entry_at(cow, 34, 1).new_chunk == 0);  // the end marker
    // The header goes through ksnaphd (a worker of its own); area commits are written directly.
    const int self = sim::current().pid;
    REQUIRE(writes_at(cow, 0).size() == 1);
    REQUIRE(writes_at(cow, 0)[0].pid != self);
    REQUIRE(writes_at(cow, 1).back().pid == self);
    const std::vector<uint8_t> a0 = bytes_at(cow, 1);
    REQUIRE(a0[0] == 100);
    REQUIRE(a0[8] == 2);
    REQUIRE(std::all_of(a0.begin() + 1, a0.begin() + 8, [](uint8_t b) { return b == 0; }));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("prepare_exception skips metadata area positions and fails with -ENOSPC past the COW device",
          "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    // 36 chunks: header, area 0, 32 data chunks, area 1 (34), one data chunk (35).
    model::VolatileCacheDisk& cow = cow_disk(w, 36);
    Loaded l = open_store(&cow);
    REQUIRE(l.r == 0);
    uint64_t total, allocated, metadata;
    l.store->usage(&total, &allocated, &metadata);
    REQUIRE(total == 36);
    REQUIRE(allocated == 2);  // header and area 0
    REQUIRE(metadata == 2);
    std::vector<chunk_t> got;
    dm_exception e;
    for (int i = 0; i < 33; i++) {
      REQUIRE(l.store->prepare_exception(&e) == 0);
      got.push_back(e.new_chunk);
    }
    REQUIRE(got.front() == 2);
    REQUIRE(got[31] == 33);
    REQUIRE(got[32] == 35);  // 34 is area 1
    REQUIRE(l.store->prepare_exception(&e) == -ENOSPC);
    l.store->usage(&total, &allocated, &metadata);
    REQUIRE(allocated == 36);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE(
    "a persistent store batches commits while other exceptions are in flight and flushes once the last one "
    "commits",
    "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    Loaded l = open_store(&cow);
    REQUIRE(l.r == 0);
    const size_t before = cow.trace().records.size();
    dm_exception e[3] = {{10, 0}, {11, 0}, {12, 0}};
    for (auto& x : e) REQUIRE(l.store->prepare_exception(&x) == 0);
    std::vector<std::string> calls;
    auto cb = [&calls](int n) {
      return [&calls, n](bool ok) { calls.push_back(std::to_string(n) + (ok ? "+" : "-")); };
    };
    l.store->commit_exception(e[1], true, cb(1));
    l.store->commit_exception(e[0], true, cb(0));
    REQUIRE(calls.empty());
    REQUIRE(writes_at(cow, 1, before).empty());
    REQUIRE(entry_at(cow, 1, 0).new_chunk == 0);  // nothing on disk yet
    l.store->commit_exception(e[2], true, cb(2));
    // One area write for the three, with the flush that makes their copies durable first.
    const std::vector<model::IoRecord> ws = writes_at(cow, 1, before);
    REQUIRE(ws.size() == 1);
    REQUIRE((ws[0].flags & model::REQ_PREFLUSH));
    REQUIRE((ws[0].flags & model::REQ_FUA));
    REQUIRE(calls == std::vector<std::string>{"1+", "0+", "2+"});  // in commit order
    // Entries in commit order too.
    REQUIRE(entry_at(cow, 1, 0).old_chunk == 11);
    REQUIRE(entry_at(cow, 1, 1).old_chunk == 10);
    REQUIRE(entry_at(cow, 1, 2).old_chunk == 12);
    REQUIRE(entry_at(cow, 1, 3).new_chunk == 0);
    // Nothing in flight: the next commit writes at once.
    commit_each(l.store.get(), 1, 13);
    REQUIRE(writes_at(cow, 1, before).size() == 2);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a full area is committed after the next area is zeroed on disk", "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    Loaded l = open_store(&cow);
    REQUIRE(l.r == 0);
    // Stale data where area 1 will be, as a reused COW device holds.
    REQUIRE(model::blk_write(&cow, 34, 1, model::REQ_FUA) == model::BLK_STS_OK);
    REQUIRE(entry_at(cow, 34, 0).new_chunk != 0);
    const size_t before = cow.trace().records.size();
    std::vector<dm_exception> es(kAreaEntries + 1);
    for (uint64_t i = 0; i < es.size(); i++) {
      es[i].old_chunk = 500 + i;
      REQUIRE(l.store->prepare_exception(&es[i]) == 0);
    }
    std::vector<uint64_t> released;
    for (uint64_t i = 0; i < kAreaEntries; i++) {
      l.store->commit_exception(es[i], true, [&released, i](bool ok) {
        REQUIRE(ok);
        released.push_back(i);
      });
      // Batched (the 33rd is still in flight) until the area is full.
      if (i + 1 < kAreaEntries) REQUIRE(released.empty());
    }
    REQUIRE(released.size() == kAreaEntries);
    for (uint64_t i = 0; i < kAreaEntries; i++) REQUIRE(released[i] == i);
    const std::vector<model::IoRecord> zero = writes_at(cow, 34, before);
    const std::vector<model::IoRecord> area = writes_at(cow, 1, before);
    REQUIRE(zero.size() == 1);
    REQUIRE(area.size() == 1);
    // The zeroing completed before the area write was submitted.
    REQUIRE(zero[0].complete_ns != model::IoRecord::kInFlight);
    REQUIRE(zero[0].complete_seq > 0);
    REQUIRE(zero[0].complete_ns <= area[0].submit_ns);
    REQUIRE(zero[0].id < area[0].id);
    REQUIRE((area[0].flags & model::REQ_PREFLUSH));
    REQUIRE(entry_at(cow, 34, 0).new_chunk == 0);
    REQUIRE(entry_at(cow, 1, 31).old_chunk == 531);
    uint64_t total, allocated, metadata;
    l.store->usage(&total, &allocated, &metadata);
    REQUIRE(metadata == 3);  // header and areas 0 and 1
    // The 33rd goes to area 1.
    bool done = false;
    l.store->commit_exception(es.back(), true, [&](bool ok) { done = ok; });
    REQUIRE(done);
    REQUIRE(entry_at(cow, 34, 0).old_chunk == 532);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("the persistent store reloads every committed exception after the device is reopened", "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    std::vector<dm_exception> committed;
    {
      Loaded l = open_store(&cow);
      REQUIRE(l.r == 0);
      committed = commit_each(l.store.get(), 40, 1000);
    }
    Loaded again = open_store(&cow);
    REQUIRE(again.r == 0);
    REQUIRE(same(again.exceptions, committed));
    // It carries on where it was: the next chunk after the highest used, the next free entry of
    // area 1 (8 used there).
    const std::vector<dm_exception> more = commit_each(again.store.get(), 1, 2000);
    REQUIRE(more[0].new_chunk == committed.back().new_chunk + 1);
    REQUIRE(entry_at(cow, 34, 8).old_chunk == 2000);
    uint64_t total, allocated, metadata;
    again.store->usage(&total, &allocated, &metadata);
    REQUIRE(allocated == more[0].new_chunk + 1);
    REQUIRE(metadata == 3);
    committed.push_back(more[0]);
    again.store.reset();
    Loaded third = open_store(&cow);
    REQUIRE(same(third.exceptions, committed));
    // The userland reader sees the same list.
    const PersistentCowContents c = read_persistent_cow(&cow);
    REQUIRE(c.error.empty());
    REQUIRE(c.formatted);
    REQUIRE(c.valid);
    REQUIRE(c.chunk_size == 1);
    REQUIRE(c.areas_read == 2);
    REQUIRE(same(c.exceptions, committed));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("the header's chunk size overrides the table's", "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    std::vector<dm_exception> committed;
    {
      Loaded l = open_store(&cow, "1");
      committed = commit_each(l.store.get(), 3, 7);
    }
    Loaded wrong = open_store(&cow, "2");
    REQUIRE(wrong.r == 0);
    REQUIRE(wrong.store->chunk_size == 1);
    REQUIRE(wrong.store->chunk_mask == 0);
    REQUIRE(wrong.store->chunk_shift == 0);
    REQUIRE(same(wrong.exceptions, committed));
    wrong.store.reset();
    // A table chunk size of 0 takes the header's without a word.
    Loaded unset = open_store(&cow, "0");
    REQUIRE(unset.r == 0);
    REQUIRE(unset.store->chunk_size == 1);
    REQUIRE(same(unset.exceptions, committed));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(logged(r,
                 "device-mapper: persistent snapshot: chunk size 1 in device metadata overrides table chunk size "
                 "of 2."));
  size_t overrides = 0;
  for (const auto& l : r.dmesg) overrides += l.find("overrides") != std::string::npos;
  REQUIRE(overrides == 1);
}

TEST_CASE("a table chunk size of 0 on a new COW device takes 32 sectors, or the logical block size if larger",
          "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 1 << 16);
    Loaded l = open_store(&cow, "0");
    REQUIRE(l.r == 0);
    REQUIRE(l.store->chunk_size == DM_CHUNK_SIZE_DEFAULT_SECTORS);
    REQUIRE(get_le32(bytes_at(cow, 0).data() + 12) == 32);
    dm_exception e;
    REQUIRE(l.store->prepare_exception(&e) == 0);
    REQUIRE(e.new_chunk == 2);
    uint64_t total, allocated, metadata;
    l.store->usage(&total, &allocated, &metadata);
    REQUIRE(allocated == 3 * 32);
    REQUIRE(metadata == 2 * 32);
    // A device whose logical block is 32 KiB: 64 sectors.
    model::VolatileCacheDisk& big = cow_disk(w, 1 << 16, 32768, "big");
    Loaded b = open_store(&big, "0");
    REQUIRE(b.r == 0);
    REQUIRE(b.store->chunk_size == 64);
    const PersistentCowContents c = read_persistent_cow(&big);
    REQUIRE(c.error.empty());
    REQUIRE(c.chunk_size == 64);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a snapshot dropped as invalid loads as invalid; a bad magic or version fails the load",
          "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    {
      Loaded l = open_store(&cow);
      commit_each(l.store.get(), 2, 1);
      l.store->drop_snapshot();
    }
    REQUIRE(get_le32(bytes_at(cow, 0).data() + 4) == 0);
    REQUIRE(get_le32(bytes_at(cow, 0).data()) == SNAP_MAGIC);
    Loaded invalid = open_store(&cow);
    REQUIRE(invalid.r == 1);
    REQUIRE(invalid.exceptions.empty());
    const PersistentCowContents c = read_persistent_cow(&cow);
    REQUIRE(c.formatted);
    REQUIRE(!c.valid);
    REQUIRE(c.exceptions.empty());

    // Version 2 and a foreign magic, written over the header.
    auto put_header = [&](uint32_t magic, uint32_t version) {
      std::vector<uint8_t> h(512, 0);
      engines::pd::put_le32(h.data(), magic);
      engines::pd::put_le32(h.data() + 4, 1);
      engines::pd::put_le32(h.data() + 8, version);
      engines::pd::put_le32(h.data() + 12, 1);
      model::Bio* bio = model::bio_alloc(&cow, model::ReqOp::Write, model::REQ_FUA, 0, 1);
      bio->data()[0] = model::Sector::of_bytes(h.data());
      REQUIRE(model::submit_bio_wait(bio) == model::BLK_STS_OK);
      model::bio_put(bio);
    };
    put_header(SNAP_MAGIC, 2);
    REQUIRE(open_store(&cow).r == -EINVAL);
    REQUIRE(read_persistent_cow(&cow).error == "unable to handle snapshot disk version 2");
    put_header(0x12345678, 1);
    REQUIRE(open_store(&cow).r == -ENXIO);
    REQUIRE(read_persistent_cow(&cow).error == "Invalid or corrupt snapshot");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(logged(r, "device-mapper: persistent snapshot: unable to handle snapshot disk version 2"));
  REQUIRE(logged(r, "device-mapper: persistent snapshot: Invalid or corrupt snapshot"));
}

TEST_CASE("a failed copy invalidates the store: every batched callback reports failure and no area is written",
          "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    Loaded l = open_store(&cow);
    const size_t before = cow.trace().records.size();
    dm_exception a{1, 0}, b{2, 0};
    REQUIRE(l.store->prepare_exception(&a) == 0);
    REQUIRE(l.store->prepare_exception(&b) == 0);
    std::vector<int> got;
    l.store->commit_exception(a, true, [&](bool ok) { got.push_back(ok); });
    REQUIRE(got.empty());
    l.store->commit_exception(b, false, [&](bool ok) { got.push_back(ok); });
    REQUIRE(got == std::vector<int>{0, 0});
    REQUIRE(writes_at(cow, 1, before).empty());
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("an area write that fails invalidates the store and its callbacks report failure", "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    Loaded l = open_store(&cow);
    commit_each(l.store.get(), 1, 1);
    model::FaultRule fail;
    fail.start = 1;
    fail.end = 2;
    cow.faults().add(fail);
    std::vector<int> got;
    dm_exception e{2, 0};
    REQUIRE(l.store->prepare_exception(&e) == 0);
    l.store->commit_exception(e, true, [&](bool ok) { got.push_back(ok); });
    REQUIRE(got == std::vector<int>{0});
    cow.faults().clear();
    // Invalid from now on: later commits write nothing and fail too.
    const size_t before = cow.trace().records.size();
    REQUIRE(l.store->prepare_exception(&e) == 0);
    l.store->commit_exception(e, true, [&](bool ok) { got.push_back(ok); });
    REQUIRE(got == std::vector<int>{0, 0});
    REQUIRE(writes_at(cow, 1, before).empty());
  });
  REQUIRE(r.status == RunStatus::Completed);
  REQUIRE(r.findings.empty());
}

TEST_CASE("prepare_merge returns the consecutive run ending at the last commit; commit_merge clears it durably",
          "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 4096);
    Loaded l = open_store(&cow);
    // Area 0 full of one run (old 100.., new 2..33), then in area 1: old 300 at 35, and old
    // 41, 42 at 36, 37.
    commit_each(l.store.get(), kAreaEntries, 100);
    commit_each(l.store.get(), 1, 300);
    commit_each(l.store.get(), 2, 41);
    chunk_t old_chunk = 0, new_chunk = 0;
    REQUIRE(l.store->prepare_merge(&old_chunk, &new_chunk) == 2);
    REQUIRE(old_chunk == 42);
    REQUIRE(new_chunk == 37);
    const size_t before = cow.trace().records.size();
    REQUIRE(l.store->commit_merge(2) == 0);
    const std::vector<model::IoRecord> ws = writes_at(cow, 34, before);
    REQUIRE(ws.size() == 1);
    REQUIRE((ws[0].flags & model::REQ_PREFLUSH));
    REQUIRE((ws[0].flags & model::REQ_FUA));
    REQUIRE(entry_at(cow, 34, 1).new_chunk == 0);
    REQUIRE(entry_at(cow, 34, 0).old_chunk == 300);
    uint64_t total, allocated, metadata;
    l.store->usage(&total, &allocated, &metadata);
    REQUIRE(allocated == 36);  // as if committed in order: area 1 at 34, one entry
    REQUIRE(l.store->prepare_merge(&old_chunk, &new_chunk) == 1);
    REQUIRE(old_chunk == 300);
    REQUIRE(l.store->commit_merge(1) == 0);
    // Area 1 is empty: the previous area is read back, its whole run in one.
    REQUIRE(l.store->prepare_merge(&old_chunk, &new_chunk) == static_cast<int>(kAreaEntries));
    REQUIRE(old_chunk == 131);
    REQUIRE(new_chunk == 33);
    REQUIRE(l.store->commit_merge(static_cast<int>(kAreaEntries)) == 0);
    REQUIRE(l.store->prepare_merge(&old_chunk, &new_chunk) == 0);
    l.store.reset();
    REQUIRE(open_store(&cow).exceptions.empty());
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a transient store hands out chunks from sector 0 and refuses once the COW device is full",
          "[snapshot][store]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& cow = cow_disk(w, 32);
    Loaded l = open_store(&cow, "8", "N");
    REQUIRE(l.r == 0);
    REQUIRE(cow.trace().records.empty());  // no header, nothing read or written
    std::vector<chunk_t> got;
    dm_exception e;
    for (int i = 0; i < 4; i++) {
      REQUIRE(l.store->prepare_exception(&e) == 0);
      got.push_back(e.new_chunk);
    }
    REQUIRE(got == std::vector<chunk_t>{0, 1, 2, 3});
    // The kernel's transient store fails with -1, not -ENOSPC (callers only test for non-zero).
    REQUIRE(l.store->prepare_exception(&e) == -1);
    uint64_t total, allocated, metadata;
    l.store->usage(&total, &allocated, &metadata);
    REQUIRE(total == 32);
    REQUIRE(allocated == 32);
    REQUIRE(metadata == 0);
    std::vector<int> calls;
    l.store->commit_exception(e, true, [&](bool ok) { calls.push_back(ok); });
    l.store->commit_exception(e, false, [&](bool ok) { calls.push_back(ok); });
    REQUIRE(calls == std::vector<int>{1, 0});
    chunk_t a, b;
    REQUIRE(l.store->prepare_merge(&a, &b) < 0);
    REQUIRE(cow.trace().records.empty());
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("read_persistent_cow reads a COW image outside any simulated thread", "[snapshot][store]") {
  // A hand-made image on a device that completes every bio within submission (as the checks'
  // content views do), read in a child process with no simulation running.
  const sim::ChildOutput out = sim::run_in_child(
      [] {
        class Image : public model::BlockDevice {
         public:
          Image() : BlockDevice("image", 7, 200) { set_capacity(128); }
          std::map<uint64_t, std::vector<uint8_t>> sectors;
          void submit(model::Bio* bio) override {
            for (uint32_t i = 0; i < bio->size; i++) {
              auto it = sectors.find(bio->sector + i);
              std::vector<uint8_t> z(512, 0);
              bio->data()[i] = model::Sector::of_bytes(it == sectors.end() ? z.data() : it->second.data());
            }
            model::bio_endio(bio);
          }
        } img;
        std::vector<uint8_t> h(512, 0), a0(512, 0), a1(512, 0);
        engines::pd::put_le32(h.data(), SNAP_MAGIC);
        engines::pd::put_le32(h.data() + 4, 1);
        engines::pd::put_le32(h.data() + 8, 1);
        engines::pd::put_le32(h.data() + 12, 1);
        for (unsigned i = 0; i < 32; i++) {
          engines::pd::put_le64(a0.data() + 16 * i, 7 + i);
          engines::pd::put_le64(a0.data() + 16 * i + 8, 2 + i);
        }
        engines::pd::put_le64(a1.data(), 99);
        engines::pd::put_le64(a1.data() + 8, 35);
        engines::pd::put_le64(a1.data() + 16, 98);  // after the end marker: never read
        engines::pd::put_le64(a1.data() + 40, 36);
        img.sectors[0] = h;
        img.sectors[1] = a0;
        img.sectors[34] = a1;
        const PersistentCowContents c = read_persistent_cow(&img);
        std::string s = c.error + "|" + std::to_string(c.formatted) + std::to_string(c.valid) + "|" +
                        std::to_string(c.areas_read) + "|" + std::to_string(c.exceptions.size());
        if (!c.exceptions.empty())
          s +=
              "|" + std::to_string(c.exceptions.back().old_chunk) + ":" + std::to_string(c.exceptions.back().new_chunk);
        // A full area whose successor lies past the device's end: the kernel's load fails there.
        img.set_capacity(34);
        s += "|" + read_persistent_cow(&img).error;
        return s;
      },
      60);
  INFO(out.error + out.stderr_text);
  REQUIRE(out.ok);
  REQUIRE(out.bytes == "|11|2|33|99:35|metadata area 1 at chunk 34 cannot be read");
}

TEST_CASE("two commit_exception calls running in parallel can release a callback before its entry is durable",
          "[snapshot][store]") {
  // The kernel forbids parallel calls (kcopyd delivers one client's callbacks from one thread).
  // A delivers e1 and sits in its area write; B delivers e2 meanwhile, appends its callback and
  // starts its own write; A's write ends first and A runs every callback in the array, B's
  // included, while B's entry is still on its way to the disk.
  for (bool parallel : {false, true}) {
    SimResult r = run_world([parallel](model::World& w) {
      model::VolatileCacheDisk& cow = cow_disk(w, 4096);
      Loaded l = open_store(&cow);
      REQUIRE(l.r == 0);
      // The first area write takes 10 ms, the second 50 ms: which ends first is fixed.
      model::FaultRule slow_a, slow_b;
      slow_a.start = slow_b.start = 1;
      slow_a.end = slow_b.end = 2;
      slow_a.action = slow_b.action = model::FaultAction::Delay;
      slow_a.count = slow_b.count = 1;
      slow_a.delay_s = 0.010;
      slow_b.skip = 1;
      slow_b.delay_s = 0.050;
      cow.faults().add(slow_a);
      cow.faults().add(slow_b);
      DmExceptionStore* s = l.store.get();
      dm_exception e1{501, 0}, e2{502, 0};
      REQUIRE(s->prepare_exception(&e1) == 0);
      auto report = [&cow](const char* who, unsigned index) {
        return [&cow, who, index](bool ok) {
          // Whether the entry is in what the disk returns now (a completed write), by whom.
          const bool written = entry_at(cow, 1, index).new_chunk != 0;
          sim::note(std::string(who) + (ok ? " released" : " failed") + " by " + sim::current().comm() +
                    (written ? ", entry written" : ", entry NOT written"));
        };
      };
      sim::Thread& a = sim::kthread_run([&] { s->commit_exception(e1, true, report("e1", 0)); }, "kcopyd-a");
      if (!parallel) sim::join(a);
      sim::msleep(2);  // A is in its area write (10 ms)
      REQUIRE(s->prepare_exception(&e2) == 0);
      sim::Thread& b = sim::kthread_run([&] { s->commit_exception(e2, true, report("e2", 1)); }, "kcopyd-b");
      if (parallel) sim::join(a);
      sim::join(b);
      l.store.reset();
    });
    INFO(all_text(r));
    REQUIRE(r.status == RunStatus::Completed);
    REQUIRE(r.findings.empty());
    if (parallel) {
      REQUIRE(r.notes == Notes{"e1 released by kcopyd-a, entry written", "e2 released by kcopyd-a, entry NOT written"});
    } else {
      REQUIRE(r.notes == Notes{"e1 released by kcopyd-a, entry written", "e2 released by kcopyd-b, entry written"});
    }
  }
}
