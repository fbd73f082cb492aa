// dm-clone's metadata object driven directly, in simulated kernel context on a volatile-cache
// disk: the superblock's bytes, format and reopen, the two dirty maps and the two-phase commit
// (what a commit writes, and what it leaves to the next), the historical single-phase commit and
// word-granular tracking, range checks, the hydrated count, abort and reload.
#include "engines/clone/clone_metadata.hpp"

#include <catch2/catch.hpp>

#include "engines/lib/persistent_data/codec.hpp"
#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace engines::clone;

namespace {

constexpr uint64_t kMetaSectors = 8192;  // 4 MiB
constexpr uint64_t kRegion = 8;

model::VolatileCacheDisk& blank_disk(model::World& w) {
  model::DiskConfig c;
  c.name = "meta";
  c.sectors = kMetaSectors;
  c.initial_zero = true;
  return w.add_disk(c);
}

std::unique_ptr<dm_clone_metadata> open_md(model::BlockDevice* meta, uint64_t regions, clone_metadata_variant v = {},
                                           unsigned bits_per_long = 64) {
  int r = 0;
  auto cmd = dm_clone_metadata_open(meta, regions * kRegion, kRegion, bits_per_long, v, &r);
  REQUIRE(r == 0);
  REQUIRE(cmd);
  return cmd;
}

// Reopened from the disk: which of `regions` the committed bitmap has set.
std::vector<bool> committed(model::BlockDevice* meta, uint64_t regions) {
  auto again = open_md(meta, regions);
  std::vector<bool> bits;
  for (uint64_t i = 0; i < regions; i++) bits.push_back(dm_clone_is_region_hydrated(again.get(), i));
  dm_clone_metadata_close(std::move(again));
  return bits;
}

void two_phase_commit(dm_clone_metadata* cmd) {
  REQUIRE(dm_clone_metadata_pre_commit(cmd) == 0);
  REQUIRE(dm_clone_metadata_commit(cmd) == 0);
}

}  // namespace

TEST_CASE("the superblock has the kernel's layout: magic 0x8af27f64 at 32, version 1, sizes, bitset root",
          "[clone][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w);
    auto cmd = open_md(&meta, 100);
    dm_clone_metadata_close(std::move(cmd));
    std::vector<model::Sector> s;
    REQUIRE(model::blk_read(&meta, 0, 8, &s) == model::BLK_STS_OK);
    std::vector<uint8_t> block(4096);
    for (size_t i = 0; i < 8; i++) s[i].to_bytes(block.data() + 512 * i);
    const uint8_t* b = block.data();
    REQUIRE(engines::pd::get_le64(b + 32) == 0x8af27f64);
    REQUIRE(engines::pd::get_le32(b + 40) == 1);
    REQUIRE(engines::pd::get_le64(b + 8) == 0);  // blocknr
    REQUIRE(engines::pd::get_le64(b + 172) == kRegion);
    REQUIRE(engines::pd::get_le64(b + 180) == 100 * kRegion);
    REQUIRE(engines::pd::get_le64(b + 188) != 0);
    // csum: crc32c of bytes 4..4095, XOR 257649492.
    REQUIRE(engines::pd::get_le32(b) == engines::pd::dm_bm_checksum(b + 4, 4092, 257649492));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a region hydrated after the pre-commit belongs to the next transaction", "[clone][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w);
    auto cmd = open_md(&meta, 200);
    REQUIRE(!dm_clone_changed_this_transaction(cmd.get()));
    REQUIRE(dm_clone_set_region_hydrated(cmd.get(), 3) == 0);
    REQUIRE(dm_clone_changed_this_transaction(cmd.get()));
    REQUIRE(dm_clone_metadata_pre_commit(cmd.get()) == 0);
    // Between the swap and the commit (the destination flush): region 4, same word as 3.
    REQUIRE(dm_clone_set_region_hydrated(cmd.get(), 4) == 0);
    REQUIRE(dm_clone_metadata_commit(cmd.get()) == 0);
    // Still changed: region 4 waits for the next commit.
    REQUIRE(dm_clone_changed_this_transaction(cmd.get()));
    std::vector<bool> on_disk = committed(&meta, 200);
    REQUIRE(on_disk[3]);
    REQUIRE(!on_disk[4]);
    two_phase_commit(cmd.get());
    REQUIRE(!dm_clone_changed_this_transaction(cmd.get()));
    REQUIRE(committed(&meta, 200)[4]);
    dm_clone_metadata_close(std::move(cmd));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("word-granular tracking (pre-5.5) commits a region of the same word hydrated after the swap",
          "[clone][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w);
    clone_metadata_variant v;
    v.inexact_dirty_tracking = true;
    auto cmd = open_md(&meta, 200, v);
    REQUIRE(dm_clone_set_region_hydrated(cmd.get(), 3) == 0);
    REQUIRE(dm_clone_metadata_pre_commit(cmd.get()) == 0);
    REQUIRE(dm_clone_set_region_hydrated(cmd.get(), 4) == 0);    // same 64-region word
    REQUIRE(dm_clone_set_region_hydrated(cmd.get(), 100) == 0);  // another word: not written
    REQUIRE(dm_clone_metadata_commit(cmd.get()) == 0);
    std::vector<bool> on_disk = committed(&meta, 200);
    REQUIRE(on_disk[3]);
    REQUIRE(on_disk[4]);
    REQUIRE(!on_disk[100]);
    dm_clone_metadata_close(std::move(cmd));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("the single-phase commit (pre-5.5) swaps and writes in one call: no committing map", "[clone][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w);
    clone_metadata_variant v;
    v.single_phase_commit = true;
    auto cmd = open_md(&meta, 200, v);
    REQUIRE(dm_clone_set_region_hydrated(cmd.get(), 7) == 0);
    REQUIRE(dm_clone_metadata_pre_commit(cmd.get()) == 0);  // a no-op here
    REQUIRE(cmd->committing_dmap == nullptr);
    REQUIRE(dm_clone_set_region_hydrated(cmd.get(), 8) == 0);  // still the current map: it is written
    REQUIRE(dm_clone_metadata_commit(cmd.get()) == 0);
    std::vector<bool> on_disk = committed(&meta, 200);
    REQUIRE(on_disk[7]);
    REQUIRE(on_disk[8]);
    dm_clone_metadata_close(std::move(cmd));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("cond_set_range marks whole ranges, refuses out-of-range ones, and the map reloads from disk",
          "[clone][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w);
    auto cmd = open_md(&meta, 1000);
    REQUIRE(dm_clone_cond_set_range(cmd.get(), 10, 300) == 0);  // whole 64-bit words and parts
    REQUIRE(dm_clone_nr_of_hydrated_regions(cmd.get()) == 300);
    REQUIRE(dm_clone_is_range_hydrated(cmd.get(), 10, 300));
    REQUIRE(!dm_clone_is_range_hydrated(cmd.get(), 9, 2));
    REQUIRE(dm_clone_find_next_unhydrated_region(cmd.get(), 10) == 310);
    REQUIRE(dm_clone_cond_set_range(cmd.get(), 990, 11) == -ERANGE);
    REQUIRE(dm_clone_set_region_hydrated(cmd.get(), 1000) == -ERANGE);
    two_phase_commit(cmd.get());
    // Uncommitted changes are dropped by abort + reload, as after a failed commit.
    REQUIRE(dm_clone_set_region_hydrated(cmd.get(), 500) == 0);
    REQUIRE(dm_clone_metadata_abort(cmd.get()) == 0);
    dm_clone_metadata_set_read_only(cmd.get());
    REQUIRE(dm_clone_reload_in_core_bitset(cmd.get()) == 0);
    REQUIRE(!dm_clone_is_region_hydrated(cmd.get(), 500));
    REQUIRE(dm_clone_nr_of_hydrated_regions(cmd.get()) == 300);
    REQUIRE(dm_clone_set_region_hydrated(cmd.get(), 501) == -EPERM);  // read-only
    REQUIRE(dm_clone_metadata_pre_commit(cmd.get()) == -EPERM);
    dm_clone_metadata_close(std::move(cmd));
    // On a 32-bit kernel the dirty words are 32 regions wide; the same ranges commit the same bits.
    model::DiskConfig c;
    c.name = "meta32";
    c.sectors = kMetaSectors;
    c.initial_zero = true;
    model::VolatileCacheDisk& meta32 = w.add_disk(c);
    auto cmd32 = open_md(&meta32, 1000, {}, 32);
    REQUIRE(dm_clone_cond_set_range(cmd32.get(), 10, 300) == 0);
    two_phase_commit(cmd32.get());
    const std::vector<bool> bits = committed(&meta32, 1000);
    for (uint64_t i = 0; i < 1000; i++) REQUIRE(bits[i] == (i >= 10 && i < 310));
    dm_clone_metadata_close(std::move(cmd32));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("hydration is done once the in-core map is full at a commit; the metadata opens done", "[clone][metadata]") {
  SimResult r = run_world([](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w);
    auto cmd = open_md(&meta, 70);
    REQUIRE(dm_clone_cond_set_range(cmd.get(), 0, 70) == 0);
    REQUIRE(!dm_clone_is_hydration_done(cmd.get()));
    two_phase_commit(cmd.get());
    REQUIRE(dm_clone_is_hydration_done(cmd.get()));
    dm_clone_metadata_close(std::move(cmd));
    auto again = open_md(&meta, 70);
    REQUIRE(dm_clone_is_hydration_done(again.get()));
    dm_clone_metadata_close(std::move(again));
    // A different region or target size is refused.
    int err = 0;
    REQUIRE(!dm_clone_metadata_open(&meta, 70 * kRegion, 2 * kRegion, 64, {}, &err));
    REQUIRE(err == -EINVAL);
  });
  REQUIRE_CLEAN(r);
}
