// What the steps did at the top of the stack: every write, discard and flush a scenario
// issued, with submission and acknowledgement times. The block-device oracle judges a recovered
// device from this alone, never from engine internals.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace verify {

// Where sectors of a top device lived below the stack when a write reached them: on a disk
// (index in the scenario's disks), on a target that reads zeroes where nothing was written, or
// nowhere known (a target whose mapping lives in its metadata).
struct Placement {
  uint64_t sector = 0, sectors = 0;  // of the top device
  int disk = -1;
  uint64_t disk_sector = 0;
  bool zeroes = false;
  bool known() const { return disk >= 0 || zeroes; }

  template <class Ar>
  void serialize(Ar& ar) {
    ar(sector, sectors, disk, disk_sector, zeroes);
  }
  bool operator==(const Placement&) const = default;
};

struct TopIo {
  enum Kind : uint8_t { Data, Zero, Discard, Flush };
  Kind kind = Data;
  std::string device;
  uint64_t sector = 0, sectors = 0;
  uint64_t id = 0;  // bio id: data tokens are written_token(id, sector)
  uint64_t submit_ns = 0, ack_ns = 0;
  bool acked = false;
  bool fua = false;
  int status = 0;
  std::vector<Placement> placed;  // writes and discards: where their sectors went
  uint64_t journal_at = 0;        // engine journal events of this phase recorded before the submission

  template <class Ar>
  void serialize(Ar& ar) {
    ar(kind, device, sector, sectors, id, submit_ns, ack_ns, acked, fua, status, placed, journal_at);
  }
  bool operator==(const TopIo&) const = default;
};

struct TopIoLog {
  std::vector<TopIo> ios;

  template <class Ar>
  void serialize(Ar& ar) {
    ar(ios);
  }
  bool operator==(const TopIoLog&) const = default;
};

}  // namespace verify
