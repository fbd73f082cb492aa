// Little-endian field access and the crc32c checksum every metadata block carries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace engines::pd {

inline uint32_t get_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
inline uint64_t get_le64(const uint8_t* p) {
  return get_le32(p) | static_cast<uint64_t>(get_le32(p + 4)) << 32;
}
inline void put_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void put_le64(uint8_t* p, uint64_t v) {
  put_le32(p, static_cast<uint32_t>(v));
  put_le32(p + 4, static_cast<uint32_t>(v >> 32));
}

// A little-endian u32 or u64 at a fixed byte offset of an on-disk structure: the layout headers
// (block_header_layout.hpp, btree_layout.hpp, ...) name every field of a format this way.
template <class T>
struct LeField {
  static_assert(std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>);
  size_t offset;

  T get(const uint8_t* base) const {
    if constexpr (sizeof(T) == 4)
      return get_le32(base + offset);
    else
      return get_le64(base + offset);
  }
  void put(uint8_t* base, T v) const {
    if constexpr (sizeof(T) == 4)
      put_le32(base + offset, v);
    else
      put_le64(base + offset, v);
  }
  constexpr size_t end() const { return offset + sizeof(T); }
};
using Le32 = LeField<uint32_t>;
using Le64 = LeField<uint64_t>;

// Consecutive little-endian values from a fixed byte offset on.
template <class T>
struct LeArray {
  size_t offset;

  constexpr size_t at(size_t i) const { return offset + sizeof(T) * i; }
  T get(const uint8_t* base, size_t i) const { return LeField<T>{at(i)}.get(base); }
  void put(uint8_t* base, size_t i, T v) const { LeField<T>{at(i)}.put(base, v); }
  // How many fit between the offset and the end of a block of `block_size` bytes.
  constexpr size_t capacity(size_t block_size) const { return (block_size - offset) / sizeof(T); }
};

// crc32c (Castagnoli), seed ~0, as dm_bm_checksum uses it; the result is XORed with a
// per-structure constant so that one block type's checksum never validates another's.
uint32_t crc32c(uint32_t seed, const uint8_t* data, size_t len);
inline uint32_t dm_bm_checksum(const uint8_t* data, size_t len, uint32_t init_xor) {
  return crc32c(0xffffffffu, data, len) ^ init_xor;
}

}  // namespace engines::pd
