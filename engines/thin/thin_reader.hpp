// Read-only access to dm-thin metadata as the userland tools have it (thin-provisioning-tools'
// thin_check, thin_dump, thin_delta): a block manager of its own on the metadata device, so it
// sees what is on the disk, never the pool's cache. Damage is collected, not thrown: a damaged
// subtree is reported with the key range it would have covered and the walk goes on.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engines/thin/thin_format.hpp"
#include "model/block_device.hpp"

namespace engines::thin {

struct thin_mapping {
  uint64_t data_block = 0;
  uint32_t time = 0;
  bool operator==(const thin_mapping&) const = default;
};

// A subtree the walk could not read, with the keys it covers: [begin, end), end absent when the
// subtree is the last below its parents (the tools print that end as "-").
struct tree_damage {
  uint64_t begin = 0;
  std::optional<uint64_t> end;
  std::string desc;
  uint64_t entries_before = 0;  // leaf entries the walk had visited when it met the damage
};
// "[begin, end]" with "-" for an open end, as the tools print a damaged key range.
std::string format_range(const tree_damage& d);

// What a full check found. `problems` are corruption (the kernel could lose or hand out data or
// metadata twice); `leaks` are counts higher than the references found, which only waste space.
struct thin_check_result {
  std::vector<tree_damage> device_damage;                       // the details tree
  std::vector<tree_damage> top_damage;                          // the mapping tree's top level
  std::map<uint64_t, std::vector<tree_damage>> mapping_damage;  // by thin device
  std::vector<std::string> problems, leaks;
  // Per metadata block whose space map count differs from the references found: {expected, actual}.
  std::map<uint64_t, std::pair<uint32_t, uint32_t>> metadata_count_diffs;
  std::map<uint64_t, std::pair<uint32_t, uint32_t>> data_count_diffs;  // the same for data blocks
  bool trees_damaged() const;
};

class ThinMetadataReader {
 public:
  ThinMetadataReader();
  ~ThinMetadataReader();

  // Opens the live superblock (checking only its checksum, as the tools do) and, with
  // `use_metadata_snap`, the snapshot copy it holds. 0, or -errno with `error` saying what was
  // wrong in the tools' words ("bad checksum in superblock, wanted N", "no current metadata snap").
  // `snap_block`: the snapshot copy's location when given (thin_dump -m BLOCK), else held_root.
  int open(model::BlockDevice* bdev, bool use_metadata_snap, std::string* error,
           std::optional<uint64_t> snap_block = std::nullopt);

  bool superblock_read() const { return superblock_read_; }
  const thin_superblock_fields& live() const { return live_; }
  // The superblock the queries read: the snapshot copy or the live one.
  const thin_superblock_fields& view() const { return view_; }
  // The data device's size in blocks, from the view's data space map root: 0 in a metadata
  // snapshot, whose roots the kernel zeroes (thin_dump -m 0.9.0 prints nr_data_blocks="0").
  uint64_t nr_data_blocks() const;
  // Whole 4 KiB blocks on the metadata device.
  uint64_t device_blocks() const { return device_blocks_; }

  // The details tree of the view: thin id -> details. Damage is appended; the rest is read.
  void devices(std::map<uint64_t, disk_device_details>* out, std::vector<tree_damage>* damage);
  // The top level of the view's mapping tree: thin id -> root of its mappings.
  void mapping_roots(std::map<uint64_t, uint64_t>* out, std::vector<tree_damage>* damage);
  // thin_check's walk of the top level and every device's mappings, as the tools' damage visitor
  // does it: a node read whole once is not visited again (a subtree a snapshot shares is walked
  // under its first device only), and a damaged range runs from past the last key read to the
  // next key read ("[744, -]"), not from its parent's keys.
  void tools_check_mappings(std::vector<tree_damage>* top_damage,
                            std::map<uint64_t, std::vector<tree_damage>>* device_damage);
  // The same for the details tree.
  void tools_check_devices(std::vector<tree_damage>* damage);
  // The metadata space map's index block, which thin_dump and thin_delta read when they open the
  // metadata: empty, or the tools' words for its damage.
  std::string metadata_index_error();
  // What thin_check reads to count the metadata blocks after it checked the live trees: the
  // metadata snapshot's superblock and trees, then every block of both space maps (index,
  // bitmaps, ref-count trees). Empty, or the tools' words for the first damaged block.
  std::string counting_error();
  // One device's mappings in vblock order.
  void mappings(uint64_t root, const std::function<void(uint64_t vblock, const thin_mapping& m)>& fn,
                std::vector<tree_damage>* damage);
  // A device's mappings from the view by thin id; false when the top level has no such device.
  bool device_mappings(uint64_t dev, std::map<uint64_t, thin_mapping>* out, std::vector<tree_damage>* damage);

  // Everything: the trees of the live superblock and of the metadata snapshot, every metadata
  // block's references against the metadata space map and every data block's references
  // (mappings in distinct leaves) against the data space map. `with_data` false leaves the data
  // space map out (thin_check 0.9.0 never compares it, and a large pool has millions of blocks).
  thin_check_result check(bool with_data = true);
  // check() as one list of lines, problems first then leaks; empty when clean.
  static std::vector<std::string> describe(const thin_check_result& r, bool with_leaks);

  // What persistent-data reported while reading (validator failures and the like).
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  struct Impl;
  std::string tools_sb_check_message(uint64_t location);
  // A generic walk of one btree: `node` sees each block before it is read and returns whether to
  // go below it (false: seen before); `leaf` sees each leaf entry.
  void walk(uint64_t root, uint32_t value_size, uint64_t lower, std::optional<uint64_t> upper, int depth,
            const std::function<bool(uint64_t block)>& node,
            const std::function<void(uint64_t block, uint64_t key, const uint8_t* value)>& leaf,
            std::vector<tree_damage>* damage);
  void count_trees(const thin_superblock_fields& sb, std::map<uint64_t, uint32_t>* meta,
                   std::map<uint64_t, uint32_t>* data, thin_check_result* res, bool record_damage);

  // tools_check_*: the nodes read whole so far (walk() skips them), and the leaf entries visited.
  std::set<uint64_t>* visited_ = nullptr;
  uint64_t leaf_entries_ = 0;
  std::unique_ptr<Impl> impl_;
  thin_superblock_fields live_, view_;
  bool snapshot_ = false;
  bool superblock_read_ = false;
  uint64_t device_blocks_ = 0;
  std::vector<std::string> messages_;
};

}  // namespace engines::thin
