// The block-device refinement oracle. After a crash and recovery, every sector the steps wrote
// must read a value the device may legally hold:
//  - the last value written through the device before the last completed flush or FUA covering
//    it, or any value written to it after that (old or new);
//  - when every write to it may have been lost: exactly what the sector held before its first
//    write, which is the content of the place below the stack it was mapped to (the disk's
//    initial content or what was written there before), or zeroes where the target reads
//    unwritten blocks as zeroes; never another block's content;
//  - anything written later to that same place below by others: a top write through another
//    device that maps there, or, once a table held the device open, the target that owns it
//    (a superblock written over sectors a `dd` wiped first).
// It knows what the top of the stack saw (the steps' writes, discards, flushes, their
// acknowledgements and where the stack placed them) and the disks' own traces; never engine
// internals.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engines/journal.hpp"
#include "model/content.hpp"
#include "verify/disk_history.hpp"
#include "verify/phase_output.hpp"
#include "verify/top_io_log.hpp"

namespace verify {

struct LegalValues {
  std::vector<model::Token> tokens;  // exact values that may be read
  bool zero_allowed = false;         // a discard, a zero write or a zero-reading target
  // Only where the stack's mapping of the sector was unknown (a target with neither a fixed
  // mapping nor zero reads): any never-written content is accepted, as the oracle cannot tell.
  bool unknown_original = false;
  std::string describe() const;
  bool allows(model::Token t) const;
};

// What the oracle knows of one phase: the steps' I/O at the top, the disks' traces below, and
// which top devices a table held open when each step ended.
struct PhaseView {
  const TopIoLog* io = nullptr;
  const std::vector<DiskHistory>* disks = nullptr;  // by scenario disk index; may be null
  const std::vector<Claim>* claims = nullptr;       // may be null
};

class BlockDeviceOracle {
 public:
  BlockDeviceOracle(PhaseView before, uint64_t crash_ns);
  // For judging a recovery: what its steps wrote (at the top, and below on owned devices) may
  // be read back too.
  void add_recovery(PhaseView after);

  LegalValues legal(const std::string& device, uint64_t sector) const;

  // Devices created as a snapshot of another: where the snapshot was never written it reads what
  // its origin held when the snapshot was taken (the origin's writes submitted before the
  // engine's journal event number `journal_at`), from the engines' ThinDevice/ThinSnapshot events.
  using SnapshotOrigin = engines::SnapshotOrigin;
  void set_snapshot_origins(std::map<std::string, SnapshotOrigin> origins) { origins_ = std::move(origins); }
  // Devices over an external origin (thin's `thin POOL ID ORIGIN`), by path: where never written
  // they read the origin at the same sector, zeroes past its end. `origin_map` says where the
  // origins' sectors live (the first phase's data map); it must outlive the oracle.
  void set_external_origins(std::map<std::string, std::string> origins, const std::vector<Extent>* origin_map) {
    external_ = std::move(origins);
    external_map_ = origin_map;
  }
  // Clone devices (dm-clone): their source is an external origin as it was when the table was
  // built (a source changed later, e.g. discarded, is not what the clone may read), and a discard
  // of a whole region is a hint that leaves the region undefined until it is written again.
  void set_clone_sources(std::map<std::string, engines::CloneSource> clones) { clones_ = std::move(clones); }
  // Devices reloaded as snapshot-merge: from the merge on they read what the merged snapshot read,
  // or what was written to them since.
  void set_merge_sources(std::map<std::string, engines::MergeSource> merges) { merges_ = std::move(merges); }

  // A sector that must read one of `legal`, at every place below the stack it may live (for
  // Z3, which asks whether some crash state leaves an illegal value there).
  struct Place {
    int disk;
    uint64_t sector;
  };
  struct Obligation {
    std::string device;
    uint64_t sector;
    LegalValues legal;
    std::vector<Place> places;
    // When not empty, the obligation holds only in crash states where one of these places holds
    // `if_token` (a commit's superblock survived: its mappings must point at durable data).
    std::vector<Place> if_places;
    model::Token if_token = 0;
  };
  std::vector<Obligation> obligations(const std::string& device) const;

  struct Violation {
    std::string device;
    uint64_t sector;
    std::string found, expected;
  };
  std::vector<Violation> judge(const std::vector<OracleRead>& reads, std::vector<std::string>* problems) const;

 private:
  // Index of a phase's top I/O by device and by disk place.
  struct Index {
    PhaseView view;
    std::map<std::string, std::vector<size_t>> by_device;  // io indexes ordered by first sector
    std::map<std::string, uint64_t> longest;               // per device, for bounded scans
    std::map<std::string, std::vector<const TopIo*>> flushes;
    struct Placed {
      size_t io;
      Placement p;
    };
    std::map<int, std::vector<Placed>> by_disk;  // placements ordered by first disk sector
    std::map<int, uint64_t> longest_placed;
    void build(PhaseView v);
    std::vector<const TopIo*> at(const std::string& device, uint64_t sector) const;
    std::vector<Placed> placed_at(int disk, uint64_t x) const;
  };
  // Where `io` put `sector`, if it wrote it.
  static const Placement* placement_of(const TopIo& io, uint64_t sector);
  static bool claimed_since(const PhaseView& v, const std::string& device, uint64_t ns);
  std::vector<const TopIo*> writes_before_crash(const std::string& device, uint64_t sector) const;
  std::optional<size_t> last_durable(const std::string& device, const std::vector<const TopIo*>& writes) const;
  static std::vector<Placement> places_of(const std::vector<const TopIo*>& writes, uint64_t sector);
  void add_original(const Placement& p, uint64_t sector, uint64_t first_submit, LegalValues& l) const;
  void add_later_below(const std::string& device, uint64_t sector, const Placement& p, uint64_t first_submit,
                       LegalValues& l) const;
  void add_snapshot_original(const std::string& device, uint64_t sector, LegalValues& l, int depth) const;
  void add_external_original(const std::string& device, uint64_t sector, LegalValues& l) const;

  Index before_, after_;
  bool has_after_ = false;
  uint64_t crash_ns_;
  std::map<std::string, SnapshotOrigin> origins_;
  std::map<std::string, std::string> external_;
  std::map<std::string, engines::CloneSource> clones_;
  std::map<std::string, engines::MergeSource> merges_;
  const std::vector<Extent>* external_map_ = nullptr;
};

}  // namespace verify
