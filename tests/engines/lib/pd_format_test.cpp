// Byte-level fixtures for the kernel's on-disk formats of btree nodes and array blocks
// (KERNEL_FORMATS.md §1, §3.1, §3.2, §4.1): the fields are read at the kernel's offsets with plain
// byte arithmetic, and the checksums recomputed with a CRC written here, not dmsim's codec.
#include <map>

#include "engines/lib/persistent_data/bitset.hpp"
#include "sim/assert.hpp"
#include "tests/engines/lib/kv_store.hpp"
#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace model;
using namespace kvtest;
using sim::note;

namespace {

constexpr uint64_t kMetaSectors = 8 * 2048;

// crc32c bit by bit (reflected polynomial 0x82F63B78), register seeded with ~0 and not inverted at
// the end: the kernel's crc32c(~0, ...) that dm_bm_checksum uses.
uint32_t raw_crc32c(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return c;
}

uint32_t u32_at(const std::vector<uint8_t>& b, size_t off) {
  return static_cast<uint32_t>(b[off]) | static_cast<uint32_t>(b[off + 1]) << 8 |
         static_cast<uint32_t>(b[off + 2]) << 16 | static_cast<uint32_t>(b[off + 3]) << 24;
}
uint64_t u64_at(const std::vector<uint8_t>& b, size_t off) {
  return u32_at(b, off) | static_cast<uint64_t>(u32_at(b, off + 4)) << 32;
}

// The stored checksum is crc32c of bytes 4..4095 XOR the structure's constant.
bool csum_ok(const std::vector<uint8_t>& b, uint32_t xor_value) {
  return u32_at(b, 0) == (raw_crc32c(b.data() + 4, b.size() - 4) ^ xor_value);
}

// The block as it is on the device, read without a validator by a fresh block manager.
std::vector<uint8_t> raw_block(model::BlockDevice* dev, uint64_t b) {
  DmBlockManager bm(dev, 4096, 5);
  DmBlock* blk;
  DMSIM_ASSERT(bm.read_lock(b, nullptr, &blk) == 0, "raw read failed");
  std::vector<uint8_t> out(dm_block_data(blk), dm_block_data(blk) + 4096);
  bm.unlock(blk);
  return out;
}

}  // namespace

TEST_CASE("the test's crc32c is the kernel's: known vectors") {
  const uint8_t digits[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  REQUIRE(raw_crc32c(digits, 9) == 0x1CF96D7Cu);  // standard CRC-32C 0xE3069283, not inverted
  REQUIRE(dm_bm_checksum(digits, 9, 0) == 0x1CF96D7Cu);
  // An empty leaf at block 5 with 4-byte values (flags 2, max 336) has csum 0x41BFAA04.
  std::vector<uint8_t> leaf(4096, 0);
  leaf[4] = 2;
  leaf[8] = 5;
  leaf[20] = 336 & 0xff;
  leaf[21] = 336 >> 8;
  leaf[24] = 4;
  REQUIRE((raw_crc32c(leaf.data() + 4, 4092) ^ 121107u) == 0x41BFAA04u);
}

TEST_CASE(
    "btree nodes are written in the kernel's layout: header fields at their offsets, keys at 32, values after "
    "max_entries keys, checksum XOR 121107") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "meta", kMetaSectors, true, "nvme");
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    // 300 keys do not fit one leaf of 252: the root becomes internal above leaves.
    for (uint64_t k = 1; k <= 300; k++) kv->put(k * 10, 1000 + k);
    kv->commit();
    const uint64_t root = kv->root;
    kv.reset();
    const std::vector<uint8_t> rb = raw_block(&d, root);
    note("root flags " + std::to_string(u32_at(rb, 4)) + " blocknr ok " + std::to_string(u64_at(rb, 8) == root) +
         " max " + std::to_string(u32_at(rb, 20)) + " value_size " + std::to_string(u32_at(rb, 24)) + " padding " +
         std::to_string(u32_at(rb, 28)) + " csum ok " + std::to_string(csum_ok(rb, 121107)));
    const uint32_t nr = u32_at(rb, 16);
    uint64_t total = 0, leaves_ok = 0, keys_match = 0;
    for (uint32_t i = 0; i < nr; i++) {
      const uint64_t child = u64_at(rb, 32 + 8 * 252 + 8 * i);  // values after all 252 keys
      const std::vector<uint8_t> lb = raw_block(&d, child);
      const uint32_t lnr = u32_at(lb, 16);
      total += lnr;
      leaves_ok += u32_at(lb, 4) == 2 && u64_at(lb, 8) == child && u32_at(lb, 20) == 252 && u32_at(lb, 24) == 8 &&
                   csum_ok(lb, 121107);
      keys_match += u64_at(rb, 32 + 8 * i) == u64_at(lb, 32);
      // The leaf's first value sits after its 252 keys.
      if (i == 0)
        note("first leaf: key " + std::to_string(u64_at(lb, 32)) + " value " +
             std::to_string(u64_at(lb, 32 + 8 * 252)));
    }
    note(std::to_string(total) + " entries in " + std::to_string(nr) + " leaves, " + std::to_string(leaves_ok) +
         " leaves well formed, " + std::to_string(keys_match) + " parent keys equal first keys");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes.size() == 3);
  CHECK(r.notes[0] == "root flags 1 blocknr ok 1 max 252 value_size 8 padding 0 csum ok 1");
  CHECK(r.notes[1] == "first leaf: key 10 value 1001");
  CHECK(r.notes[2] == "300 entries in 2 leaves, 2 leaves well formed, 2 parent keys equal first keys");
}

TEST_CASE(
    "a btree's max_entries is the kernel's calc_max_entries: 336, 252, 201 and 168 for 4, 8, 12 and 16-byte "
    "values") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "meta", kMetaSectors, true, "nvme");
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    std::map<uint32_t, uint64_t> roots;
    for (uint32_t vs : {4u, 8u, 12u, 16u}) {
      DmBtreeInfo info{kv->tm.get(), DmBtreeValueType{}};
      info.value_type.size = vs;
      dm_btree_empty(&info, &roots[vs]);
    }
    kv->commit();
    kv.reset();
    std::string s;
    for (const auto& [vs, root] : roots) {
      const std::vector<uint8_t> b = raw_block(&d, root);
      s += std::to_string(vs) + ":" + std::to_string(u32_at(b, 20)) + (u32_at(b, 24) == vs ? "" : "!") +
           (u32_at(b, 4) == 2 && u32_at(b, 16) == 0 && csum_ok(b, 121107) ? " " : "? ");
    }
    note(s);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"4:336 8:252 12:201 16:168 "});
}

TEST_CASE(
    "array blocks are written in the kernel's layout: max_entries @4, nr_entries @8, value_size @12, blocknr "
    "@16, values from 24, full blocks then a partial last one") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "meta", kMetaSectors, true, "nvme");
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    DmArrayInfo info;
    DmBtreeValueType u32;
    u32.size = 4;
    dm_array_info_init(&info, kv->tm.get(), u32);
    uint64_t root;
    dm_array_empty(&info, &root);
    uint8_t v[4];
    put_le32(v, 0xabcd);
    dm_array_resize(&info, root, 0, 1100, v, &root);  // 1018 + 82
    put_le32(v, 77);
    dm_array_set_value(&info, root, 1019, v, &root);
    kv->commit();
    std::vector<uint64_t> ablocks;
    dm_btree_walk(&info.btree_info, root, [&](uint64_t key, const uint8_t* value) {
      ablocks.resize(key + 1);
      ablocks[key] = get_le64(value);
      return 0;
    });
    kv.reset();
    const std::vector<uint8_t> rb = raw_block(&d, root);
    note("array btree leaf: flags " + std::to_string(u32_at(rb, 4)) + " nr " + std::to_string(u32_at(rb, 16)) +
         " value_size " + std::to_string(u32_at(rb, 24)));
    for (size_t k = 0; k < ablocks.size(); k++) {
      const std::vector<uint8_t> b = raw_block(&d, ablocks[k]);
      note("block " + std::to_string(k) + ": max " + std::to_string(u32_at(b, 4)) + " nr " +
           std::to_string(u32_at(b, 8)) + " value_size " + std::to_string(u32_at(b, 12)) + " blocknr ok " +
           std::to_string(u64_at(b, 16) == ablocks[k]) + " csum ok " + std::to_string(csum_ok(b, 595846735)) + " v0 " +
           std::to_string(u32_at(b, 24)) + " v1 " + std::to_string(u32_at(b, 28)));
    }
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"array btree leaf: flags 2 nr 2 value_size 8",
                           "block 0: max 1018 nr 1018 value_size 4 blocknr ok 1 csum ok 1 v0 43981 v1 43981",
                           "block 1: max 1018 nr 82 value_size 4 blocknr ok 1 csum ok 1 v0 43981 v1 77"});
}

TEST_CASE("a bitset is an array of 509 little-endian u64 words per block, bit i at bit i % 64 of word i / 64") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "meta", kMetaSectors, true, "nvme");
    std::unique_ptr<KvStore> kv;
    KvStore::format(&d, &kv);
    DmDiskBitset bs;
    dm_disk_bitset_init(kv->tm.get(), &bs);
    uint64_t root;
    dm_bitset_empty(&bs, &root);
    dm_bitset_resize(&bs, root, 0, 64 * 600, false, &root);  // 600 words: 509 + 91
    dm_bitset_set_bit(&bs, root, 3, &root);
    dm_bitset_set_bit(&bs, root, 64 * 509 + 65, &root);  // word 510 = block 1 word 1, bit 1
    dm_bitset_flush(&bs, root, &root);
    kv->commit();
    std::vector<uint64_t> ablocks;
    dm_btree_walk(&bs.array_info.btree_info, root, [&](uint64_t key, const uint8_t* value) {
      ablocks.resize(key + 1);
      ablocks[key] = get_le64(value);
      return 0;
    });
    kv.reset();
    const std::vector<uint8_t> b0 = raw_block(&d, ablocks.at(0)), b1 = raw_block(&d, ablocks.at(1));
    note("max " + std::to_string(u32_at(b0, 4)) + " nr " + std::to_string(u32_at(b0, 8)) + "+" +
         std::to_string(u32_at(b1, 8)) + " word0 " + std::to_string(u64_at(b0, 24)) + " byte24 " +
         std::to_string(b0[24]) + " block1 word1 " + std::to_string(u64_at(b1, 32)));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"max 509 nr 509+91 word0 8 byte24 8 block1 word1 2"});
}
