// dmsim instrumentation, not kernel code: facts an engine records about what it did, for the
// checkers of the same simulation and of the recovery after a power cut (the journal crosses
// the process boundary with the phase's output). Two kinds:
//  - events, e.g. an era map (write id, era block, era when era_map saw it), the ground truth a
//    checker compares recovered metadata with (the reference's e_map(W));
//  - commit records: the content of a metadata superblock sector in one commit and the blocks
//    that commit newly records, which lets the Z3 crash search ask "can the superblock that
//    survives miss a block whose write was acknowledged?" (era: top-device blocks written) and
//    "can it map a data block whose content did not reach the media?" (thin: data blocks mapped).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace engines {

// One struct for every kind; the fields a kind does not name stay zero. Engines record them
// with designated initializers, so each call names what it tells:
//   journal_event({.kind = JournalEvent::EraResize, .device = dev, .nr_blocks = n});
struct JournalEvent {
  enum Kind : uint8_t {
    EraMap,     // era_map saw the write {write_id, era_block, era}
    EraMark,    // the write's block was marked in the current writeset {write_id, era_block, era}
    EraResize,  // the era device's origin now has {nr_blocks}
    EraFormat,  // a constructor found the metadata device blank and formatted it {}
    // A thin table for {device} maps thin {dev_id} of the pool on {metadata_device}, whose blocks
    // are {block_sectors}; {external_origin}: unprovisioned blocks read {origin_device} (thin_ctr).
    ThinDevice,
    // In the pool on {metadata_device}, thin {dev_id} was created as a snapshot of {origin_id}:
    // what it reads where it was never written is what the origin held then (create_snap).
    ThinSnapshot,
    // A clone table for {device} copies {origin_device} (its source) onto {data_device} in regions of
    // {block_sectors}, with metadata on {metadata_device}, constructed at {at_ns}: what it reads
    // where it was never written is what the source held then (clone_ctr).
    CloneDevice,
    // In the pool on {metadata_device}, thin {dev_id} was deleted (the `delete` message): the
    // user gave up its content (pool_message).
    ThinDelete,
    // A snapshot table for {device}, with its COW on {metadata_device} in chunks of {block_sectors},
    // was first activated at {at_ns}: where it was never written it reads what {origin_device} (the
    // origin as written through its snapshot-origin device) held then, {data_device} being the
    // device the table names as its origin (snapshot_resume).
    SnapshotDevice,
    // The snapshot-merge table for {device} copies {nr_blocks} chunks of {block_sectors} from COW
    // chunk {new_chunk} of {metadata_device} (the COW device) to chunk {old_chunk} of {origin_device}
    // (snapshot_merge_next_chunks), at {at_ns}.
    SnapshotMerge,
    // The snapshot table for {device} (COW {metadata_device}) was invalidated at {at_ns}: from then
    // on it preserves nothing (__invalidate_snapshot).
    SnapshotInvalid,
  };
  Kind kind = EraMap;
  std::string device{};    // the top device, "/dev/mapper/eradev"; EraFormat: the metadata device
  uint64_t write_id = 0;   // the top bio's id as in the data tokens; 0: not a write of the steps
  uint64_t era_block = 0;  // in the era target's block size
  uint32_t era = 0;
  uint64_t nr_blocks = 0;
  std::string metadata_device{};  // Thin*: the pool's metadata device, as its table names it
  uint64_t dev_id = 0, origin_id = 0;
  uint64_t block_sectors = 0;
  bool external_origin = false;
  std::string origin_device{};            // ThinDevice with an external origin: that device, as the table names it
  uint64_t at_ns = 0;                     // CloneDevice: when the table was constructed
  std::string data_device{};              // CloneDevice: the destination, as the table names it
  bool skip_zeroing = false;              // ThinDevice: the pool does not zero new blocks (stale data shows)
  bool fresh = false;                     // SnapshotDevice: its COW held no snapshot, one began here
  uint64_t old_chunk = 0, new_chunk = 0;  // SnapshotMerge

  template <class Ar>
  void serialize(Ar& ar) {
    ar(kind, device, write_id, era_block, era, nr_blocks, metadata_device, dev_id, origin_id, block_sectors,
       external_origin, origin_device, at_ns, data_device, skip_zeroing, old_chunk, new_chunk, fresh);
  }
  bool operator==(const JournalEvent&) const = default;
};

// A data block whose space-map count rose from zero (alloc) or fell to it, in a transaction.
struct DataSmOp {
  uint64_t block = 0;
  bool alloc = false;

  template <class Ar>
  void serialize(Ar& ar) {
    ar(block, alloc);
  }
  bool operator==(const DataSmOp&) const = default;
};

struct CommitRecord {
  std::string metadata_device;   // the path the engine opened ("/dev/sdb")
  uint64_t sector = 0;           // the superblock's first sector on it
  uint64_t token = 0;            // what that sector holds in this commit
  std::string top_device;        // whose writes the commit records
  uint64_t block_sectors = 0;    // the engine's block size
  std::vector<uint64_t> blocks;  // blocks this commit records for the first time
  // Thin: the data blocks (of data_block_sectors on data_device) this commit maps that the
  // previous one did not, and when the superblock was written (what the data held by then).
  std::string data_device;
  uint64_t data_block_sectors = 0;
  std::vector<uint64_t> data_blocks;
  uint64_t at_ns = 0;
  std::vector<DataSmOp> data_ops;  // thin: what the transaction allocated and freed, in order

  template <class Ar>
  void serialize(Ar& ar) {
    ar(metadata_device, sector, token, top_device, block_sectors, blocks, data_device, data_block_sectors, data_blocks,
       at_ns, data_ops);
  }
  bool operator==(const CommitRecord&) const = default;
};

struct Journal {
  std::vector<JournalEvent> events;
  std::vector<CommitRecord> commits;

  template <class Ar>
  void serialize(Ar& ar) {
    ar(events, commits);
  }
  bool operator==(const Journal&) const = default;
};

// Devices created as a snapshot of another (ThinDevice and ThinSnapshot events): snapshot device
// -> its origin's device when the snapshot was taken, and the snapshot event's position in
// `events` (writes with fewer events recorded before them came before the snapshot).
struct SnapshotOrigin {
  std::string origin;
  uint64_t journal_at = 0;
};
std::map<std::string, SnapshotOrigin> snapshot_origins(const std::vector<JournalEvent>& events);
// Thin devices over an external origin, by top device (its latest table): the origin's path; and
// dm-snapshot devices (their first activation): the device their table names as the origin.
std::map<std::string, std::string> external_origins(const std::vector<JournalEvent>& events);
// The SnapshotDevice event each snapshot device is judged by (its index in `events`, among those
// `counts` accepts): its latest fresh activation (a snapshot begun on a COW that held none), else
// its first. A persistent snapshot activated again keeps what it held from its beginning.
std::map<std::string, size_t> snapshot_references(const std::vector<JournalEvent>& events,
                                                  const std::function<bool(size_t)>& counts = nullptr);

// Clone devices by top device (their latest table): the source, the region size and when the
// table was built. Their sources are external origins too (external_origins lists them).
// dm-snapshot devices are listed the same way (region size 0): the origin as of their first
// activation.
struct CloneSource {
  std::string source;
  uint64_t region_sectors = 0;
  uint64_t at_ns = 0;
};
std::map<std::string, CloneSource> clone_sources(const std::vector<JournalEvent>& events);
// Devices whose table became snapshot-merge (their first SnapshotMerge event): the snapshot whose
// COW device the merge copies back, and that event's position in `events`. From then on the device
// reads what the snapshot read, and its own writes after that.
struct MergeSource {
  std::string snapshot;
  uint64_t journal_at = 0;
};
std::map<std::string, MergeSource> merge_sources(const std::vector<JournalEvent>& events);
// Top devices whose thin was deleted after their latest table was made (ThinDelete after the
// device's last ThinDevice), and snapshots merged into their origin: nothing written to them is
// owed any more as a device of their own.
std::set<std::string> deleted_devices(const std::vector<JournalEvent>& events);

// The running simulation's journal (one simulation per process).
Journal& journal();
void journal_event(JournalEvent e);
void journal_commit(CommitRecord r);

}  // namespace engines
