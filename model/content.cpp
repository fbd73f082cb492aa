#include "model/content.hpp"

#include <cstring>

namespace model {

// Layout: bits 63..62 kind tag (0 zero/garbage/bytes family, 1 initial, 2 written, 3 special).
namespace {
constexpr uint64_t kTagShift = 62;
constexpr uint64_t kInitial = 1ULL << kTagShift;
constexpr uint64_t kWritten = 2ULL << kTagShift;
constexpr uint64_t kSpecial = 3ULL << kTagShift;
constexpr uint64_t kBytesBit = 1ULL << 61;
constexpr uint64_t kSectorBits = 36;  // 32 TiB of 512-byte sectors; 26 bits remain for ids
constexpr uint64_t kSectorMask = (1ULL << kSectorBits) - 1;
constexpr uint64_t kIdMask = (1ULL << (kTagShift - kSectorBits)) - 1;
static_assert(kMaxTokenSectors == kSectorMask + 1, "the documented limit is the token's sector field");

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}
}  // namespace

Token initial_token(uint32_t disk_id, uint64_t sector) {
  return kInitial | (static_cast<uint64_t>(disk_id & kIdMask) << kSectorBits) | (sector & kSectorMask);
}

Token written_token(uint64_t write_id, uint64_t sector) {
  return kWritten | ((write_id & kIdMask) << kSectorBits) | (sector & kSectorMask);
}

Token garbage_token(uint64_t n) {
  return kSpecial | (n & (kBytesBit - 1));
}

TokenKind token_kind(Token t) {
  if (t == kZeroToken) return TokenKind::Zero;
  switch (t >> kTagShift) {
    case 1:
      return TokenKind::Initial;
    case 2:
      return TokenKind::Written;
    case 3:
      return (t & kBytesBit) ? TokenKind::Bytes : TokenKind::Garbage;
  }
  return TokenKind::Garbage;
}

uint64_t token_write_id(Token t) {
  return (t >> kSectorBits) & kIdMask;
}
uint64_t token_sector(Token t) {
  return t & kSectorMask;
}

std::string describe_token(Token t) {
  switch (token_kind(t)) {
    case TokenKind::Zero:
      return "zeroes";
    case TokenKind::Initial:
      return "initial(disk " + std::to_string(token_write_id(t)) + ", sector " + std::to_string(token_sector(t)) + ")";
    case TokenKind::Written:
      return "write#" + std::to_string(token_write_id(t)) + "@" + std::to_string(token_sector(t));
    case TokenKind::Garbage:
      return "garbage";
    case TokenKind::Bytes:
      return "bytes";
  }
  return "?";
}

Sector Sector::of_bytes(const uint8_t* data512) {
  auto b = std::make_shared<SectorBytes>();
  std::memcpy(b->data(), data512, 512);
  bool zero = true;
  uint64_t h = 0x243f6a8885a308d3ULL;
  for (size_t i = 0; i < 512; i += 8) {
    uint64_t w;
    std::memcpy(&w, data512 + i, 8);
    zero &= w == 0;
    h = mix(h ^ w) + i;
  }
  if (zero) return Sector{kZeroToken, nullptr};
  return Sector{kSpecial | kBytesBit | (h & (kBytesBit - 1)), std::move(b)};
}

void Sector::to_bytes(uint8_t* out512) const {
  if (bytes) {
    std::memcpy(out512, bytes->data(), 512);
    return;
  }
  if (token == kZeroToken) {
    std::memset(out512, 0, 512);
    return;
  }
  uint64_t x = token;
  for (size_t i = 0; i < 512; i += 8) {
    x = mix(x + 0x9e3779b97f4a7c15ULL);
    std::memcpy(out512 + i, &x, 8);
  }
}

bool Sector::operator==(const Sector& o) const {
  if (token != o.token) return false;
  if (!bytes || !o.bytes) return !bytes && !o.bytes;
  return *bytes == *o.bytes;
}

}  // namespace model
