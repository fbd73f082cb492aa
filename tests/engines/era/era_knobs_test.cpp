// Each era variant knob against its catalog scenario (enginetest::knob_is_caught).
#include <algorithm>

#include "model/knobs.hpp"
#include "tests/engines/era/era_test_helpers.hpp"

using namespace eratest;

namespace {

void knob_is_caught(const std::string& file, const std::string& knob, const std::string& kind) {
  enginetest::knob_is_caught(catalog_scenario(file), knob, kind);
}

}  // namespace

TEST_CASE("era.status_in_worker: status of a suspended device deadlocks a resume that swaps tables") {
  knob_is_caught("table-swap-status-deadlock.yaml", "era.status_in_worker", "deadlock");
}

TEST_CASE("era.commit_before_worker_stops: postsuspend leaves a digestion step uncommitted") {
  knob_is_caught("postsuspend-commit.yaml", "era.commit_before_worker_stops", "warning");
}

TEST_CASE("era.stop_worker_flush: a re-queued worker run outlives stop_worker") {
  knob_is_caught("stop-worker-drain.yaml", "era.stop_worker_flush", "warning");
}

TEST_CASE("era.resize_in_worker: digestion with the old size writes beyond the shrunk era array") {
  knob_is_caught("resize-in-worker.yaml", "era.resize_in_worker", "errors");
}

TEST_CASE("era.resize_in_ctr: a table that never goes live writes its resized metadata at dtr") {
  knob_is_caught("resize-in-ctr.yaml", "era.resize_in_ctr", "warning");
}

TEST_CASE("era.no_writeset_recovery: the era current at a power cut is lost") {
  knob_is_caught("writeset-recovery.yaml", "era.no_writeset_recovery", "era-written-since");
}

TEST_CASE("era.incore_bit_before_commit: a second write passes the commit in flight and is lost at a power cut") {
  knob_is_caught("incore-bit-after-commit.yaml", "era.incore_bit_before_commit", "era-written-since");
}

TEST_CASE("era.digest_stale_bitset_cache: consecutive eras of a 64-block device digest the first one's bits") {
  knob_is_caught("digest-bitset-cache.yaml", "era.digest_stale_bitset_cache", "era-written-since");
}

TEST_CASE("era.no_block_size_check: metadata of another block size answers in the wrong units") {
  knob_is_caught("block-size-change.yaml", "era.no_block_size_check", "era-written-since");
}

TEST_CASE("era.leak_writesets: kmemleak sees the in-core writesets of a destroyed instance") {
  knob_is_caught("writeset-leak.yaml", "era.leak_writesets", "leak");
}

TEST_CASE("the 5.11 kernel profile lacks every 5.12 and 5.19 era fix, 6.1 only the unmerged one") {
  verifytest::register_once();
  std::string err;
  auto k511 = model::knobs_for_kernel("5.11", &err);
  REQUIRE(err.empty());
  for (const char* k : {"era.no_writeset_recovery", "era.incore_bit_before_commit", "era.commit_before_worker_stops",
                        "era.status_in_worker", "era.leak_writesets"})
    REQUIRE(std::find(k511.begin(), k511.end(), k) != k511.end());
  REQUIRE(std::find(k511.begin(), k511.end(), "era.resize_in_worker") == k511.end());  // never released
  auto k61 = model::knobs_for_kernel("6.1", &err);
  REQUIRE(std::find(k61.begin(), k61.end(), "era.status_in_worker") != k61.end());
  REQUIRE(std::find(k61.begin(), k61.end(), "era.commit_before_worker_stops") == k61.end());
  model::knobs_for_kernel("5.x", &err);
  REQUIRE(err.find("bad kernel version") != std::string::npos);
}

TEST_CASE("era.no_block_size_check: blocks are numbered in the table's size while the superblock keeps the old one") {
  // Pre-5.12: 16 blocks of 128 sectors, then a table of 256-sector blocks; a write at sector
  // 384 is block 1 of the table, which the superblock's 128-sector blocks call block 3.
  const Steps r = run_steps(era_scenario("  - dmsetup create eradev --table \"0 2048 era /dev/meta /dev/data 128\"\n"
                                         "  - dmsetup remove eradev\n"
                                         "  - dmsetup create eradev --table \"0 2048 era /dev/meta /dev/data 256\"\n"
                                         "  - dd if=/dev/urandom of=/dev/mapper/eradev bs=64k count=1 seek=3 "
                                         "oflag=direct\n"
                                         "  - dmsetup remove eradev\n"
                                         "  - era_dump --logical /dev/meta\n"),
                            {"era.no_block_size_check"});
  INFO(r.out(5));
  REQUIRE(r.out(5).find("block_size=\"128\" nr_blocks=\"8\"") != std::string::npos);
  REQUIRE(r.out(5).find("<era block=\"1\" era=\"2\"/>") != std::string::npos);
  REQUIRE(r.out(5).find("<era block=\"3\" era=\"0\"/>") != std::string::npos);
}
