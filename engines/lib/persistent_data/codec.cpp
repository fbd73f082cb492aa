#include "engines/lib/persistent_data/codec.hpp"

namespace engines::pd {

namespace {
struct Table {
  uint32_t t[256];
  Table() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      t[i] = c;
    }
  }
};
}  // namespace

uint32_t crc32c(uint32_t seed, const uint8_t* data, size_t len) {
  static const Table table;
  uint32_t crc = seed;
  for (size_t i = 0; i < len; i++) crc = table.t[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

}  // namespace engines::pd
