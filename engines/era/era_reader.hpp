// Read-only access to dm-era metadata as the userland tools have it (thin-provisioning-tools'
// era_invalidate, era_dump, era_check): a block manager of its own on the metadata device, so
// it sees what is on the disk, never the kernel's cache.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engines/era/era_format.hpp"
#include "model/block_device.hpp"

namespace engines::era {

class EraMetadataReader {
 public:
  // Opens the superblock (the live one, or the metadata snapshot it points at), checking only
  // its checksum, as the tools do.
  // 0, or -errno with `error` saying what was wrong.
  int open(model::BlockDevice* bdev, bool use_metadata_snap, std::string* error);
  EraMetadataReader();
  ~EraMetadataReader();

  const superblock_fields& live() const { return live_; }
  // Whether open() got as far as reading the live superblock (it may fail after).
  bool superblock_read() const { return superblock_read_; }
  // The superblock the queries read: the snapshot copy or the live one.
  const superblock_fields& view() const { return view_; }

  int writesets(std::map<uint32_t, writeset_metadata>* out, std::string* error);
  int bitset_bits(const writeset_metadata& ws, std::vector<bool>* bits, std::string* error);
  int era_array(std::vector<uint32_t>* eras, std::string* error);

  // era_invalidate --written-since THRESHOLD: the blocks whose era in the array is >= threshold,
  // and the bits of the archived writesets of eras >= threshold.
  // `with_current`: also the live superblock's current writeset, as archived under current_era,
  // i.e. the answer from a metadata snapshot taken now (take_metadata_snap archives it first).
  int written_since(uint32_t threshold, std::vector<bool>* marked, std::string* error, bool with_current = false);
  // era_dump --logical: per block, the larger of its array entry and the latest undigested
  // writeset that has its bit.
  int logical_eras(std::vector<uint32_t>* eras, std::string* error);
  // era_check, plus what it leaves out: every reachable block's reference count against the
  // metadata space map, era values <= current_era, bitset sizes. Problems, empty when clean.
  std::vector<std::string> check();

  // What persistent-data reported while reading (validator failures and the like): a tool
  // prints it on its stderr; the kernel log never sees it.
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  // check()'s parts: the references reachable structures hold on each block, era_check's own
  // checks, and the references against the space map's counts.
  std::map<uint64_t, uint32_t> reachable_references(std::vector<std::string>* problems);
  void check_eras(std::vector<std::string>* problems);
  void check_reference_counts(const std::map<uint64_t, uint32_t>& refs, std::vector<std::string>* problems);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  superblock_fields live_, view_;
  bool snapshot_ = false;  // view_ is the metadata snapshot
  bool superblock_read_ = false;
  std::vector<std::string> messages_;
};

// <blocks><range begin= end = /><block block=/></blocks>, as era_invalidate 0.9.0 prints it (with
// its spaces around the "=" of end).
std::string format_blocks_xml(const std::vector<bool>& marked);

}  // namespace engines::era
