// dm-thin's metadata object driven directly, in simulated kernel context on volatile-cache
// disks: format and reopen, mappings in the two-level tree, snapshots and their sharing, device
// deletion and the data space map's counts, the commit's in_service gate and pre-commit
// callback, metadata snapshots, abort, a crash, and interop with the real thin_check and
// thin_dump (thin-provisioning-tools 0.9.0), skipped with a warning where they are missing.
#include "engines/thin/thin_metadata.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <regex>

#include "engines/thin/thin_format.hpp"
#include "tests/engines/era/era_image_helpers.hpp"
#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace engines::thin;

namespace {

constexpr uint32_t kDataBlockSize = 128;  // sectors per data block
constexpr uint64_t kMetaSectors = 8192;   // 4 MiB: 1024 metadata blocks

model::VolatileCacheDisk& blank_disk(model::World& w, const std::string& name, uint64_t sectors = kMetaSectors) {
  model::DiskConfig c;
  c.name = name;
  c.sectors = sectors;
  c.initial_zero = true;
  return w.add_disk(c);
}

std::unique_ptr<dm_pool_metadata> open_pool(model::BlockDevice* meta, bool format, engines::KmemOwner* kmem,
                                            thin_metadata_variant v = {}) {
  std::unique_ptr<dm_pool_metadata> pmd;
  REQUIRE(dm_pool_metadata_open(meta, kDataBlockSize, format, v, kmem, &pmd) == 0);
  return pmd;
}

// A freshly formatted pool whose data device has `data_blocks` blocks, committed as preresume
// commits after the resize.
std::unique_ptr<dm_pool_metadata> formatted_pool(model::BlockDevice* meta, engines::KmemOwner* kmem,
                                                 uint64_t data_blocks) {
  auto pmd = open_pool(meta, true, kmem);
  REQUIRE(dm_pool_resize_data_dev(pmd.get(), data_blocks) == 0);
  REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
  return pmd;
}

void close_pool(std::unique_ptr<dm_pool_metadata>& pmd) {
  REQUIRE(dm_pool_metadata_close(pmd) == 0);
  REQUIRE(!pmd);
}

dm_thin_device* open_thin(dm_pool_metadata* pmd, uint64_t dev) {
  dm_thin_device* td = nullptr;
  REQUIRE(dm_pool_open_thin_device(pmd, dev, &td) == 0);
  return td;
}

// Allocates a data block and maps `vblock` to it; returns the data block.
uint64_t map_new(dm_thin_device* td, uint64_t vblock) {
  uint64_t b = 0;
  REQUIRE(dm_pool_alloc_data_block(td->pmd, &b) == 0);
  REQUIRE(dm_thin_insert_block(td, vblock, b) == 0);
  return b;
}

int find(dm_thin_device* td, uint64_t vblock, dm_thin_lookup_result* res) {
  return dm_thin_find_block(td, vblock, true, res);
}

uint64_t mapped_to(dm_thin_device* td, uint64_t vblock) {
  dm_thin_lookup_result res;
  REQUIRE(find(td, vblock, &res) == 0);
  return res.block;
}

uint32_t data_count(dm_pool_metadata* pmd, uint64_t b) {
  uint32_t c = 0;
  REQUIRE(pmd->data_sm->get_count(b, &c) == 0);
  return c;
}

uint64_t free_data(dm_pool_metadata* pmd) {
  uint64_t n = 0;
  REQUIRE(dm_pool_get_free_block_count(pmd, &n) == 0);
  return n;
}

// The superblock as it is on the device now (through the pool's block manager).
thin_superblock_fields read_superblock(dm_pool_metadata* pmd) {
  engines::pd::DmBlock* b;
  REQUIRE(pmd->bm->read_lock(THIN_SUPERBLOCK_LOCATION, &sb_validator, &b) == 0);
  const thin_superblock_fields f = superblock_unpack(engines::pd::dm_block_data(b));
  pmd->bm->unlock(b);
  return f;
}

// A new disk holding only what is durable on `d`: what a power cut that loses every cached
// write leaves.
model::VolatileCacheDisk& after_power_cut(model::World& w, const model::VolatileCacheDisk& d, const std::string& name) {
  model::VolatileCacheDisk& n = blank_disk(w, name, d.config().sectors);
  model::DiskImage image(n.disk_id(), d.config().sectors, true);
  for (const auto& [s, written] : d.media().written()) image.apply(s, written.content, written.seq);
  n.load_media(image);
  return n;
}

}  // namespace

TEST_CASE("a formatted pool reopens with its transaction id, time, data size and devices", "[thin][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = open_pool(&meta, true, &kmem);
    REQUIRE(pmd->formatted);
    REQUIRE(dm_pool_resize_data_dev(pmd.get(), 1000) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);  // as preresume does after a resize
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == 0);
    // Committed (as after every pool message), the id is in the details tree.
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == -EEXIST);
    REQUIRE(dm_pool_create_snap(pmd.get(), 2, 1) == 0);
    REQUIRE(dm_pool_set_metadata_transaction_id(pmd.get(), 1, 9) == -EINVAL);  // not the current id
    REQUIRE(dm_pool_set_metadata_transaction_id(pmd.get(), 0, 5) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    close_pool(pmd);

    // Without format, a blank device is refused.
    model::VolatileCacheDisk& blank = blank_disk(w, "blank");
    std::unique_ptr<dm_pool_metadata> none;
    REQUIRE(dm_pool_metadata_open(&blank, kDataBlockSize, false, {}, &kmem, &none) == -EPERM);
    // Nor may the data block size change.
    REQUIRE(dm_pool_metadata_open(&meta, kDataBlockSize * 2, false, {}, &kmem, &none) == -EINVAL);

    auto again = open_pool(&meta, false, &kmem);
    REQUIRE(!again->formatted);
    uint64_t id = 0, size = 0;
    REQUIRE(dm_pool_get_metadata_transaction_id(again.get(), &id) == 0);
    REQUIRE(id == 5);
    REQUIRE(again->time == 1);  // one snapshot taken
    REQUIRE(dm_pool_get_data_dev_size(again.get(), &size) == 0);
    REQUIRE(size == 1000);
    REQUIRE(dm_pool_get_metadata_dev_size(again.get(), &size) == 0);
    REQUIRE(size == 1024);
    REQUIRE(again->metadata_reserve == 102);  // min(4096, 1024 / 10)
    const thin_superblock_fields f = read_superblock(again.get());
    REQUIRE((f.magic == THIN_SUPERBLOCK_MAGIC && f.version == 2 && f.data_block_size == kDataBlockSize));
    REQUIRE((f.metadata_block_size == 8 && f.metadata_nr_blocks == 1024 && f.held_root == 0));
    dm_thin_device* t1 = open_thin(again.get(), 1);
    dm_thin_device* t2 = open_thin(again.get(), 2);
    REQUIRE((t1->creation_time == 0 && t1->snapshotted_time == 1));
    REQUIRE((t2->creation_time == 1 && t2->snapshotted_time == 1));
    dm_thin_device* t3 = nullptr;
    REQUIRE(dm_pool_open_thin_device(again.get(), 3, &t3) == -ENODATA);
    // Close refuses while devices are open.
    REQUIRE(dm_pool_metadata_close(again) == -EBUSY);
    REQUIRE(again);
    dm_pool_close_thin_device(t1);
    dm_pool_close_thin_device(t2);
    close_pool(again);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("mappings are inserted, found, counted and removed; the data space map follows", "[thin][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = formatted_pool(&meta, &kmem, 1000);
    REQUIRE(dm_pool_create_thin(pmd.get(), 7) == 0);
    dm_thin_device* td = open_thin(pmd.get(), 7);
    std::map<uint64_t, uint64_t> expect;
    for (uint64_t v = 0; v < 100; v++) expect[v] = map_new(td, v);
    for (uint64_t v = 300; v < 310; v++) expect[v] = map_new(td, v);
    REQUIRE(free_data(pmd.get()) == 1000 - 110);
    REQUIRE(dm_thin_changed_this_transaction(td));
    REQUIRE(dm_pool_changed_this_transaction(pmd.get()));

    dm_thin_lookup_result res;
    for (const auto& [v, b] : expect) {
      REQUIRE(find(td, v, &res) == 0);
      REQUIRE(res.block == b);
      REQUIRE(!res.shared);
    }
    REQUIRE(find(td, 200, &res) == -ENODATA);
    uint64_t n = 0;
    REQUIRE(dm_thin_get_mapped_count(td, &n) == 0);
    REQUIRE(n == 110);
    REQUIRE(dm_thin_get_highest_mapped_block(td, &n) == 0);
    REQUIRE(n == 309);
    // Data blocks were allocated in order, so vblocks 0..99 are one contiguous run.
    uint64_t tb = 0, te = 0, pb = 0;
    bool shared = true;
    REQUIRE(dm_thin_find_mapped_range(td, 0, 1000, &tb, &te, &pb, &shared) == 0);
    REQUIRE((tb == 0 && te == 100 && pb == expect[0] && !shared));
    REQUIRE(dm_thin_find_mapped_range(td, 100, 1000, &tb, &te, &pb, &shared) == 0);
    REQUIRE((tb == 300 && te == 310));
    REQUIRE(dm_thin_find_mapped_range(td, 100, 300, &tb, &te, &pb, &shared) == -ENODATA);

    // Remapping a vblock replaces its data block, which loses its reference.
    const uint64_t old5 = expect[5];
    expect[5] = map_new(td, 5);
    REQUIRE(mapped_to(td, 5) == expect[5]);
    REQUIRE(data_count(pmd.get(), old5) == 0);
    REQUIRE(dm_thin_get_mapped_count(td, &n) == 0);
    REQUIRE(n == 110);

    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(!dm_thin_changed_this_transaction(td));
    // [10, 20) and [305, 400): 10 + 5 mappings; their blocks are freed.
    REQUIRE(dm_thin_remove_range(td, 10, 20) == 0);
    REQUIRE(dm_thin_remove_range(td, 305, 400) == 0);
    REQUIRE(dm_thin_remove_block(td, 50) == 0);
    REQUIRE(dm_thin_remove_block(td, 50) == -ENODATA);
    REQUIRE(dm_thin_get_mapped_count(td, &n) == 0);
    REQUIRE(n == 110 - 16);
    REQUIRE(find(td, 15, &res) == -ENODATA);
    REQUIRE(find(td, 306, &res) == -ENODATA);
    REQUIRE(find(td, 50, &res) == -ENODATA);
    REQUIRE(mapped_to(td, 20) == expect[20]);
    REQUIRE(data_count(pmd.get(), expect[15]) == 0);
    REQUIRE(data_count(pmd.get(), expect[20]) == 1);
    REQUIRE(dm_thin_get_highest_mapped_block(td, &n) == 0);
    REQUIRE(n == 304);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    dm_pool_close_thin_device(td);
    close_pool(pmd);

    // Reopened with a cold cache: the non-blocking lookup refuses to read, a blocking one reads.
    auto again = open_pool(&meta, false, &kmem);
    td = open_thin(again.get(), 7);
    REQUIRE(dm_thin_find_block(td, 20, false, &res) == -EWOULDBLOCK);
    REQUIRE(dm_thin_find_block(td, 20, true, &res) == 0);
    REQUIRE(res.block == expect[20]);
    REQUIRE(dm_thin_find_block(td, 21, false, &res) == 0);
    REQUIRE(res.block == expect[21]);
    REQUIRE(dm_thin_get_mapped_count(td, &n) == 0);
    REQUIRE(n == 94);
    dm_pool_close_thin_device(td);
    close_pool(again);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a snapshot shares its origin's mappings until a write to the origin breaks the sharing",
          "[thin][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = formatted_pool(&meta, &kmem, 1000);
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == 0);
    dm_thin_device* origin = open_thin(pmd.get(), 1);
    std::vector<uint64_t> b;
    for (uint64_t v = 0; v < 10; v++) b.push_back(map_new(origin, v));
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);

    REQUIRE(dm_pool_create_snap(pmd.get(), 2, 1) == 0);
    REQUIRE(pmd->time == 1);
    dm_thin_device* snap = open_thin(pmd.get(), 2);
    uint64_t n = 0;
    REQUIRE(dm_thin_get_mapped_count(snap, &n) == 0);
    REQUIRE(n == 10);
    dm_thin_lookup_result res;
    REQUIRE(find(origin, 3, &res) == 0);
    REQUIRE((res.block == b[3] && res.shared));
    REQUIRE(find(snap, 3, &res) == 0);
    REQUIRE((res.block == b[3] && res.shared));
    // Sharing a tree adds no data references.
    REQUIRE(data_count(pmd.get(), b[3]) == 1);

    // A write to the origin: the shared leaf is copied (its data blocks gain a holder), then
    // vblock 3's old block loses the origin's.
    const uint64_t fresh = map_new(origin, 3);
    REQUIRE(find(origin, 3, &res) == 0);
    REQUIRE((res.block == fresh && !res.shared));
    REQUIRE(find(snap, 3, &res) == 0);
    REQUIRE((res.block == b[3] && res.shared));
    REQUIRE(data_count(pmd.get(), b[3]) == 1);
    REQUIRE(data_count(pmd.get(), b[4]) == 2);
    REQUIRE(data_count(pmd.get(), fresh) == 1);
    bool is_shared = false;
    REQUIRE(dm_pool_block_is_shared(pmd.get(), b[4], &is_shared) == 0);
    REQUIRE(is_shared);
    REQUIRE(dm_pool_block_is_shared(pmd.get(), b[3], &is_shared) == 0);
    REQUIRE(!is_shared);
    // The origin's other mappings are still older than its snapshot.
    REQUIRE(find(origin, 4, &res) == 0);
    REQUIRE(res.shared);
    dm_pool_close_thin_device(origin);
    dm_pool_close_thin_device(snap);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    close_pool(pmd);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("deleting a device frees the data blocks only it maps, not those a snapshot still maps", "[thin][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = formatted_pool(&meta, &kmem, 1000);
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == 0);
    dm_thin_device* origin = open_thin(pmd.get(), 1);
    std::vector<uint64_t> b;
    for (uint64_t v = 0; v < 10; v++) b.push_back(map_new(origin, v));
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(dm_pool_create_snap(pmd.get(), 2, 1) == 0);
    const uint64_t fresh = map_new(origin, 3);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(free_data(pmd.get()) == 1000 - 11);

    // An open device cannot be deleted.
    dm_thin_device* snap = open_thin(pmd.get(), 2);
    REQUIRE(dm_pool_delete_thin_device(pmd.get(), 2) == -EBUSY);
    dm_pool_close_thin_device(snap);
    // The snapshot alone held b[3]; the other nine stay with the origin.
    REQUIRE(dm_pool_delete_thin_device(pmd.get(), 2) == 0);
    REQUIRE(free_data(pmd.get()) == 1000 - 10);
    REQUIRE(data_count(pmd.get(), b[3]) == 0);
    for (uint64_t v : {0, 4, 9}) REQUIRE(data_count(pmd.get(), b[v]) == 1);
    REQUIRE(mapped_to(origin, 4) == b[4]);
    REQUIRE(mapped_to(origin, 3) == fresh);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    dm_thin_device* gone = nullptr;
    REQUIRE(dm_pool_open_thin_device(pmd.get(), 2, &gone) == -ENODATA);

    dm_pool_close_thin_device(origin);
    REQUIRE(dm_pool_delete_thin_device(pmd.get(), 1) == 0);
    REQUIRE(free_data(pmd.get()) == 1000);
    REQUIRE(data_count(pmd.get(), fresh) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(free_data(pmd.get()) == 1000);
    close_pool(pmd);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE(
    "a commit on a pool no change has touched since it was opened writes nothing and skips the pre-commit "
    "callback; without the in_service gate it writes the superblock",
    "[thin][metadata]") {
  const bool no_gate = GENERATE(false, true);
  SimResult r = run_world([no_gate](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = open_pool(&meta, true, &kmem);
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    close_pool(pmd);

    thin_metadata_variant v;
    v.no_in_service_gate = no_gate;
    auto again = open_pool(&meta, false, &kmem, v);
    int calls = 0;
    dm_pool_register_pre_commit_callback(again.get(), [&calls] {
      calls++;
      return 0;
    });
    // Opening a thin device and looking things up are in-core only.
    dm_thin_device* td = open_thin(again.get(), 1);
    dm_thin_lookup_result res;
    REQUIRE(find(td, 0, &res) == -ENODATA);
    REQUIRE(dm_pool_commit_metadata(again.get()) == 0);
    REQUIRE(!again->in_service);
    const auto& written = again->bm->bufio().written_blocks();
    if (no_gate) {
      REQUIRE(calls == 1);
      REQUIRE(std::find(written.begin(), written.end(), THIN_SUPERBLOCK_LOCATION) != written.end());
    } else {
      REQUIRE(calls == 0);
      REQUIRE(again->bm->bufio().writes_submitted() == 0);
    }
    // A change puts the pool in service: every commit from now on writes.
    REQUIRE(dm_pool_set_metadata_transaction_id(again.get(), 0, 1) == 0);
    REQUIRE(again->in_service);
    REQUIRE(dm_pool_commit_metadata(again.get()) == 0);
    REQUIRE(calls == (no_gate ? 2 : 1));
    REQUIRE(read_superblock(again.get()).trans_id == 1);
    REQUIRE(std::find(written.begin(), written.end(), THIN_SUPERBLOCK_LOCATION) != written.end());
    dm_pool_close_thin_device(td);
    close_pool(again);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE(
    "the pre-commit callback runs before any block of the commit is written; its failure fails the commit "
    "and leaves the superblock alone",
    "[thin][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = formatted_pool(&meta, &kmem, 100);
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    dm_thin_device* td = open_thin(pmd.get(), 1);
    map_new(td, 0);

    const auto& bufio = pmd->bm->bufio();
    std::vector<std::string> events;
    size_t writes_at_callback = 0, writes_at_sb = 0;
    int result = -EIO;
    dm_pool_register_pre_commit_callback(pmd.get(), [&] {
      events.push_back("pre_commit");
      writes_at_callback = bufio.written_blocks().size();
      return result;
    });
    pmd->on_commit = [&](const uint8_t*, std::vector<uint64_t>, std::vector<engines::DataSmOp>) {
      events.push_back("superblock");
      writes_at_sb = bufio.written_blocks().size();
    };
    const size_t before = bufio.written_blocks().size();
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == -EIO);
    REQUIRE(events == std::vector<std::string>{"pre_commit"});
    REQUIRE(bufio.written_blocks().size() == before);
    REQUIRE(read_superblock(pmd.get()).trans_id == 0);

    result = 0;
    REQUIRE(dm_pool_set_metadata_transaction_id(pmd.get(), 0, 2) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(events == std::vector<std::string>{"pre_commit", "pre_commit", "superblock"});
    REQUIRE(writes_at_callback == before);
    // The tree's blocks went out between the callback and the superblock, the superblock last.
    REQUIRE(writes_at_sb > writes_at_callback);
    REQUIRE(bufio.written_blocks().back() == THIN_SUPERBLOCK_LOCATION);
    REQUIRE(read_superblock(pmd.get()).trans_id == 2);
    dm_pool_close_thin_device(td);
    close_pool(pmd);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("one metadata snapshot at a time: a second reserve is EBUSY, a release without one EINVAL",
          "[thin][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = formatted_pool(&meta, &kmem, 100);
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == 0);
    dm_thin_device* td = open_thin(pmd.get(), 1);
    map_new(td, 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    const uint64_t meta_free = pmd->tm->sm()->nr_free();

    uint64_t held = 1;
    REQUIRE(dm_pool_release_metadata_snap(pmd.get()) == -EINVAL);
    REQUIRE(dm_pool_get_metadata_snap(pmd.get(), &held) == 0);
    REQUIRE(held == 0);
    REQUIRE(dm_pool_reserve_metadata_snap(pmd.get()) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(dm_pool_get_metadata_snap(pmd.get(), &held) == 0);
    REQUIRE(held != 0);
    REQUIRE(read_superblock(pmd.get()).held_root == held);
    // The copy pins the committed roots.
    REQUIRE(pmd->tm->ref(pmd->root) == 2);
    REQUIRE(dm_pool_reserve_metadata_snap(pmd.get()) == -EBUSY);
    // A change to the live trees now copies them; the snapshot's view is kept.
    map_new(td, 1);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);

    REQUIRE(dm_pool_release_metadata_snap(pmd.get()) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(dm_pool_get_metadata_snap(pmd.get(), &held) == 0);
    REQUIRE(held == 0);
    REQUIRE(dm_pool_release_metadata_snap(pmd.get()) == -EINVAL);
    REQUIRE(mapped_to(td, 1) != mapped_to(td, 0));
    // Released, the copy and what it alone held are free again (the live trees were shadowed
    // once, so they occupy as many blocks as before).
    REQUIRE(pmd->tm->sm()->nr_free() == meta_free);
    dm_pool_close_thin_device(td);
    close_pool(pmd);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("an abort drops the uncommitted mappings and devices and keeps the committed ones", "[thin][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = formatted_pool(&meta, &kmem, 100);
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == 0);
    dm_thin_device* td = open_thin(pmd.get(), 1);
    for (uint64_t v = 0; v < 10; v++) map_new(td, v);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(!dm_thin_aborted_changes(td));
    for (uint64_t v = 10; v < 20; v++) map_new(td, v);
    REQUIRE(dm_pool_create_thin(pmd.get(), 2) == 0);
    REQUIRE(free_data(pmd.get()) == 80);

    REQUIRE(dm_pool_abort_metadata(pmd.get()) == 0);
    REQUIRE(dm_thin_aborted_changes(td));
    dm_thin_lookup_result res;
    REQUIRE(find(td, 5, &res) == 0);
    REQUIRE(find(td, 15, &res) == -ENODATA);
    REQUIRE(free_data(pmd.get()) == 90);
    uint64_t b = 0;
    // The data blocks of the aborted mappings are free to allocate again.
    REQUIRE(dm_pool_alloc_data_block(pmd.get(), &b) == 0);
    REQUIRE(b == 10);
    dm_pool_close_thin_device(td);
    close_pool(pmd);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("after a power cut the pool reopens at its last commit, even with later blocks flushed", "[thin][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = formatted_pool(&meta, &kmem, 100);
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == 0);
    dm_thin_device* td = open_thin(pmd.get(), 1);
    std::vector<uint64_t> b;
    for (uint64_t v = 0; v < 10; v++) b.push_back(map_new(td, v));
    REQUIRE(dm_pool_set_metadata_transaction_id(pmd.get(), 0, 1) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    // Uncommitted: more mappings, a remap, a new device and a new transaction id. Their blocks
    // are written and flushed (as a cache eviction could), but the superblock is not.
    for (uint64_t v = 10; v < 20; v++) map_new(td, v);
    map_new(td, 2);
    REQUIRE(dm_pool_create_thin(pmd.get(), 2) == 0);
    REQUIRE(dm_pool_set_metadata_transaction_id(pmd.get(), 1, 2) == 0);
    REQUIRE(pmd->bm->bufio().write_dirty_buffers() == 0);
    model::VolatileCacheDisk& crashed = after_power_cut(w, meta, "crashed");

    auto after = open_pool(&crashed, false, &kmem);
    uint64_t id = 0, n = 0;
    REQUIRE(dm_pool_get_metadata_transaction_id(after.get(), &id) == 0);
    REQUIRE(id == 1);
    dm_thin_device* t1 = open_thin(after.get(), 1);
    REQUIRE(dm_thin_get_mapped_count(t1, &n) == 0);
    REQUIRE(n == 10);
    for (uint64_t v = 0; v < 10; v++) REQUIRE(mapped_to(t1, v) == b[v]);
    dm_thin_lookup_result res;
    REQUIRE(find(t1, 15, &res) == -ENODATA);
    dm_thin_device* t2 = nullptr;
    REQUIRE(dm_pool_open_thin_device(after.get(), 2, &t2) == -ENODATA);
    REQUIRE(free_data(after.get()) == 90);
    dm_pool_close_thin_device(t1);
    close_pool(after);
    dm_pool_close_thin_device(td);
    close_pool(pmd);
  });
  REQUIRE_CLEAN(r);
}

namespace {

struct Mapping {
  uint64_t data;
  uint32_t time;
  bool operator==(const Mapping&) const = default;
};
using DeviceMappings = std::map<uint64_t, std::map<uint64_t, Mapping>>;

// The mappings of a thin_dump XML: single and range mappings expanded, per device.
DeviceMappings parse_thin_dump(const std::string& xml) {
  DeviceMappings out;
  const std::regex device(R"re(<device dev_id="(\d+)")re");
  const std::regex single(R"re(<single_mapping origin_block="(\d+)" data_block="(\d+)" time="(\d+)")re");
  const std::regex range(R"re(<range_mapping origin_begin="(\d+)" data_begin="(\d+)" length="(\d+)" time="(\d+)")re");
  std::istringstream in(xml);
  std::string line;
  std::map<uint64_t, Mapping>* cur = nullptr;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, device)) {
      cur = &out[std::stoull(m[1])];
    } else if (std::regex_search(line, m, single)) {
      REQUIRE(cur);
      (*cur)[std::stoull(m[1])] = {std::stoull(m[2]), static_cast<uint32_t>(std::stoul(m[3]))};
    } else if (std::regex_search(line, m, range)) {
      REQUIRE(cur);
      const uint64_t ob = std::stoull(m[1]), db = std::stoull(m[2]), len = std::stoull(m[3]);
      for (uint64_t i = 0; i < len; i++) (*cur)[ob + i] = {db + i, static_cast<uint32_t>(std::stoul(m[4]))};
    }
  }
  return out;
}

bool skip_without_thin_tools() {
  if (::access("/usr/sbin/thin_check", X_OK) == 0 && ::access("/usr/sbin/thin_dump", X_OK) == 0) return false;
  WARN("skipped: thin-provisioning-tools (/usr/sbin/thin_check, thin_dump) are not installed");
  return true;
}

// The real thin_check accepts the image; thin_dump (and thin_dump -m for the held metadata
// snapshot) shows the expected mappings.
// `expect_snap` is empty when no metadata snapshot is held.
void check_with_real_tools(const std::string& image_path, const DeviceMappings& expect,
                           const DeviceMappings& expect_snap) {
  const auto check = eratest::run_tool({"/usr/sbin/thin_check", image_path});
  INFO("thin_check: " << check.out << check.err);
  REQUIRE(check.code == 0);
  const auto dump = eratest::run_tool({"/usr/sbin/thin_dump", image_path});
  INFO("thin_dump: " << dump.err);
  REQUIRE(dump.code == 0);
  REQUIRE(dump.out.find("<superblock uuid=\"\" time=\"1\"") != std::string::npos);
  REQUIRE(dump.out.find("data_block_size=\"128\" nr_data_blocks=\"20000\"") != std::string::npos);
  const DeviceMappings dumped = parse_thin_dump(dump.out);
  REQUIRE(dumped.size() == 4);
  for (const auto& [dev, maps] : expect) {
    INFO("device " << dev);
    REQUIRE(dumped.count(dev));
    REQUIRE(dumped.at(dev).size() == maps.size());
    REQUIRE(dumped.at(dev) == maps);
  }
  if (!expect_snap.empty()) {
    // The held snapshot: thin_dump -m shows every device as it was when the snapshot was taken.
    const auto snap = eratest::run_tool({"/usr/sbin/thin_dump", "-m", image_path});
    INFO("thin_dump -m: " << snap.err);
    REQUIRE(snap.code == 0);
    REQUIRE(parse_thin_dump(snap.out) == expect_snap);
  }
}
}  // namespace

TEST_CASE(
    "after thousands of inserts on several devices, a snapshot and a held metadata snapshot, the real "
    "thin_check accepts the metadata and thin_dump shows every mapping",
    "[thin][metadata][interop]") {
  if (skip_without_thin_tools()) return;
  enum Held { NoMetadataSnap, SnapThenInsert, SnapThenRemove };
  const Held held = GENERATE(NoMetadataSnap, SnapThenInsert, SnapThenRemove);
  eratest::TempFile image("thin-" + std::to_string(held) + ".img");
  DeviceMappings expect;
  SimResult r = run_world([&](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = formatted_pool(&meta, &kmem, 20000);
    for (uint64_t dev : {1, 2, 3}) REQUIRE(dm_pool_create_thin(pmd.get(), dev) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    dm_thin_device* td[5] = {};
    for (uint64_t dev : {1, 2, 3}) td[dev] = open_thin(pmd.get(), dev);
    DeviceMappings expect_snap;
    auto map = [&](uint64_t dev, uint64_t vblock) {
      const uint64_t b = map_new(td[dev], vblock);
      expect[dev][vblock] = {b, pmd->time};
    };
    // Device 1 sequential, device 2 strided, device 3 scattered, interleaved; commits between.
    for (uint64_t i = 0; i < 1500; i++) {
      map(1, i);
      map(2, i * 3);
      map(3, (i * 7919) % 100000);
      if (i % 500 == 499) REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    }
    REQUIRE(dm_pool_create_snap(pmd.get(), 4, 1) == 0);
    td[4] = open_thin(pmd.get(), 4);
    expect[4] = expect[1];
    // Writes to the origin after the snapshot: new blocks, at time 1.
    for (uint64_t i = 0; i < 300; i += 3) map(1, i);
    // Some discards on device 2.
    REQUIRE(dm_thin_remove_range(td[2], 300, 600) == 0);
    for (auto it = expect[2].begin(); it != expect[2].end();)
      it = (it->first >= 300 && it->first < 600) ? expect[2].erase(it) : std::next(it);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    if (held != NoMetadataSnap) {
      REQUIRE(dm_pool_reserve_metadata_snap(pmd.get()) == 0);
      expect_snap = expect;
      // After the snapshot was taken: inserts, a remap, a range removal and a single removal. The
      // first change shadows the shared top-level leaf (which adds a reference to every device's
      // tree): an insert in one case, a removal in the other.
      auto remove_one = [&] {
        REQUIRE(dm_thin_remove_block(td[2], 0) == 0);
        expect[2].erase(0);
      };
      if (held == SnapThenRemove) remove_one();
      for (uint64_t i = 2000; i < 2100; i++) map(1, i);
      map(4, 7);
      REQUIRE(dm_thin_remove_range(td[3], 0, 50000) == 0);
      for (auto it = expect[3].begin(); it != expect[3].end();)
        it = it->first < 50000 ? expect[3].erase(it) : std::next(it);
      if (held == SnapThenInsert) remove_one();
      REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    }
    for (uint64_t dev : {1, 2, 3, 4}) {
      uint64_t n = 0;
      REQUIRE(dm_thin_get_mapped_count(td[dev], &n) == 0);
      REQUIRE(n == expect[dev].size());
      dm_pool_close_thin_device(td[dev]);
    }
    close_pool(pmd);
    // The simulation runs in a process of its own: the tools run and are checked in it.
    eratest::write_disk_to_file(meta, image.path);
    check_with_real_tools(image.path, expect, expect_snap);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("needs_check is set in core and in the superblock buffer without a commit, and survives a clean close",
          "[thin][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = open_pool(&meta, true, &kmem);
    REQUIRE(!dm_pool_metadata_needs_check(pmd.get()));
    const size_t writes = pmd->bm->bufio().writes_submitted();
    REQUIRE(dm_pool_metadata_set_needs_check(pmd.get()) == 0);
    REQUIRE(dm_pool_metadata_needs_check(pmd.get()));
    REQUIRE(pmd->bm->bufio().writes_submitted() == writes);
    REQUIRE(pmd->in_service);
    close_pool(pmd);
    auto again = open_pool(&meta, false, &kmem);
    REQUIRE(dm_pool_metadata_needs_check(again.get()));
    REQUIRE(read_superblock(again.get()).flags == THIN_METADATA_NEEDS_CHECK_FLAG);
    close_pool(again);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE(
    "free metadata is reported net of the reserve, and the low-water callback fires once when free metadata "
    "falls to the threshold",
    "[thin][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta");
    engines::KmemOwner kmem("thin");
    auto pmd = open_pool(&meta, true, &kmem);
    REQUIRE(dm_pool_resize_data_dev(pmd.get(), 10000) == 0);
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    uint64_t reported = 0;
    REQUIRE(dm_pool_get_free_metadata_block_count(pmd.get(), &reported) == 0);
    const uint64_t nr_free = pmd->tm->sm()->nr_free();
    REQUIRE(reported == nr_free - pmd->metadata_reserve);

    int fired = 0;
    const uint64_t threshold = nr_free - 4;
    REQUIRE(dm_pool_register_metadata_threshold(pmd.get(), threshold, [&fired] { fired++; }) == 0);
    dm_thin_device* td = open_thin(pmd.get(), 1);
    uint64_t v = 0;
    for (; v < 5000 && !fired; v++) map_new(td, v * 2);
    REQUIRE(fired == 1);
    REQUIRE(pmd->tm->sm()->nr_free() <= threshold);
    for (uint64_t i = 0; i < 500; i++) map_new(td, (v + i) * 2);
    REQUIRE(fired == 1);  // edge-triggered
    dm_pool_close_thin_device(td);
    close_pool(pmd);
  });
  REQUIRE_CLEAN(r);
}
