// What a 512-byte sector holds. Data written through the stack is a token that names the write
// and the block it was written to, so a read of zeroes nobody wrote, of another block's data or
// of never-written garbage is always noticed. Metadata that engines encode is real bytes.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace model {

using Token = uint64_t;

// Written and initial tokens name their sector in 36 bits: a device of more sectors than this
// would alias sector S with S + 2^36, so disks (and writes) beyond it are refused (32 TiB).
constexpr uint64_t kMaxTokenSectors = 1ULL << 36;

enum class TokenKind : uint8_t {
  Zero,     // zeroes (discarded, write-zeroes, or a zero-initialised disk)
  Initial,  // the distinct content every block of a new disk starts with
  Written,  // data of write #id, block #index of that write
  Garbage,  // what a torn or corrupted sector reads as
  Bytes,    // real bytes (a hash names them)
};

constexpr Token kZeroToken = 0;
Token initial_token(uint32_t disk_id, uint64_t sector);
// `write_id` is the id of the top-level write; `sector` the device sector it was aimed at.
Token written_token(uint64_t write_id, uint64_t sector);
Token garbage_token(uint64_t n);
TokenKind token_kind(Token t);
uint64_t token_write_id(Token t);  // Written tokens only
uint64_t token_sector(Token t);    // Written and Initial tokens: the sector it was made for
std::string describe_token(Token t);

using SectorBytes = std::array<uint8_t, 512>;

struct Sector {
  Token token = kZeroToken;
  std::shared_ptr<const SectorBytes> bytes;  // set when real bytes were written

  static Sector of_token(Token t) { return Sector{t, nullptr}; }
  static Sector of_bytes(const uint8_t* data512);
  // The 512 bytes a read returns: the real bytes, zeroes, or a deterministic expansion of
  // the token (so metadata read over data fails its checksum).
  void to_bytes(uint8_t* out512) const;
  bool operator==(const Sector& o) const;
};

}  // namespace model
