// dmsim instrumentation, not kernel code: facts an engine records about what it did, for the
// checkers of the same simulation and of the recovery after a power cut (the journal crosses
// the process boundary with the phase's output). Two kinds:
//  - events, e.g. "era.map" (write id, era block, era when era_map saw it), the ground truth a
//    checker compares recovered metadata with (the reference's e_map(W));
//  - commit records: the content of a metadata superblock sector in one commit and the data
//    blocks that commit newly records, which lets the Z3 crash search ask "can the superblock
//    that survives miss a block whose write was acknowledged?".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace engines {

// "era.map" / "era.mark" {write id, era block, era}: era_map saw the write / the block was
// marked for it; "era.resize" {nr_blocks}; "era.format" {}: a constructor found the metadata
// device blank and formatted it (device: the metadata device, not the top one).
struct JournalEvent {
  std::string kind;
  std::string device;  // the top device, "/dev/mapper/eradev"
  std::vector<uint64_t> v;
};

struct CommitRecord {
  std::string metadata_device;   // the path the engine opened ("/dev/sdb")
  uint64_t sector = 0;           // the superblock's first sector on it
  uint64_t token = 0;            // what that sector holds in this commit
  std::string top_device;        // whose writes the commit records
  uint64_t block_sectors = 0;    // the engine's block size
  std::vector<uint64_t> blocks;  // blocks this commit records for the first time
};

struct Journal {
  std::vector<JournalEvent> events;
  std::vector<CommitRecord> commits;

  std::string serialize() const;
  static Journal deserialize(const std::string& bytes);
};

// The running simulation's journal (one simulation per process).
Journal& journal();
void journal_event(const std::string& kind, const std::string& device, std::vector<uint64_t> v);
void journal_commit(CommitRecord r);

}  // namespace engines
