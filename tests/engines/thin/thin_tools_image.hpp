// Helpers for the thin tools' tests: a thin metadata image file edited in place (a byte flipped,
// a space-map count set) with the checksums redone, so that only the damage meant is there.
#pragma once

#include <cstdint>
#include <string>

#include "engines/lib/persistent_data/codec.hpp"
#include "tests/engines/era/era_image_helpers.hpp"

namespace thintest {

constexpr const char* kThinCheck = "/usr/sbin/thin_check";
constexpr const char* kThinDump = "/usr/sbin/thin_dump";
constexpr const char* kThinDelta = "/usr/sbin/thin_delta";
constexpr const char* kThinRestore = "/usr/sbin/thin_restore";

inline bool real_thin_tools() {
  for (const char* t : {kThinCheck, kThinDump, kThinDelta, kThinRestore})
    if (::access(t, X_OK) != 0) return false;
  return true;
}

// The checksum XORs of the kernel's validators (dm-thin-metadata.c, dm-btree.c, dm-space-map-common.c).
constexpr uint32_t kSuperblockXor = 160774, kNodeXor = 121107, kBitmapXor = 240779, kIndexXor = 160478;

struct Image {
  std::string path, bytes;
  explicit Image(const std::string& p) : path(p), bytes(eratest::read_file(p)) {}
  void save() const { eratest::write_file(path, bytes); }
  uint8_t* block(uint64_t b) { return reinterpret_cast<uint8_t*>(bytes.data()) + b * 4096; }
  uint64_t u64(uint64_t b, size_t off) { return engines::pd::get_le64(block(b) + off); }
  void reseal(uint64_t b, uint32_t x) {
    engines::pd::put_le32(block(b), engines::pd::dm_bm_checksum(block(b) + 4, 4092, x));
  }
  // The superblock's mapping and details roots.
  uint64_t mapping_root() { return u64(0, 320); }
  uint64_t details_root() { return u64(0, 328); }
  // A btree node's value `i` as a u64 (a leaf of the top level: a device's mapping root).
  uint64_t node_value(uint64_t node, uint32_t i) {
    const uint32_t max = engines::pd::get_le32(block(node) + 20), vs = engines::pd::get_le32(block(node) + 24);
    return u64(node, 32 + 8 * static_cast<size_t>(max) + static_cast<size_t>(vs) * i);
  }
  // The first bitmap of the data space map (its index is a btree; the first leaf entry's blocknr)
  // and of the metadata space map (its index is one block of entries after a 16-byte header).
  uint64_t data_bitmap() { return node_value(u64(0, 64 + 16), 0); }
  uint64_t metadata_bitmap() { return u64(u64(0, 192 + 16), 16); }
  // Sets entry `i` of a bitmap to `count` (0..2; 3 would mean "see the ref-count tree"): two bits
  // per entry after a 16-byte header, the high bit first.
  void set_count(uint64_t bitmap, uint64_t i, unsigned count) {
    uint8_t* w = block(bitmap) + 16 + (i / 32) * 8;
    uint64_t v = engines::pd::get_le64(w);
    const unsigned bit = static_cast<unsigned>(i % 32) * 2;
    v &= ~(3ull << bit);
    v |= static_cast<uint64_t>((count >> 1) & 1) << bit;
    v |= static_cast<uint64_t>(count & 1) << (bit + 1);
    engines::pd::put_le64(w, v);
    reseal(bitmap, kBitmapXor);
  }
  void flip(uint64_t b, size_t off) { block(b)[off] ^= 0xff; }
};

}  // namespace thintest
