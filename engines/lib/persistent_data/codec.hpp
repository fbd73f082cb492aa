// Little-endian field access and the crc32c checksum every metadata block carries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

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

// crc32c (Castagnoli), seed ~0, as dm_bm_checksum uses it; the result is XORed with a
// per-structure constant so that one block type's checksum never validates another's.
uint32_t crc32c(uint32_t seed, const uint8_t* data, size_t len);
inline uint32_t dm_bm_checksum(const uint8_t* data, size_t len, uint32_t init_xor) {
  return crc32c(0xffffffffu, data, len) ^ init_xor;
}

}  // namespace engines::pd
