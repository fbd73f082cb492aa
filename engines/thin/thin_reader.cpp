#include "engines/thin/thin_reader.hpp"

#include <algorithm>

#include "engines/lib/persistent_data/btree.hpp"
#include "engines/lib/persistent_data/btree_layout.hpp"
#include "engines/lib/persistent_data/codec.hpp"
#include "engines/lib/persistent_data/space_map_disk.hpp"
#include "engines/lib/persistent_data/transaction_manager.hpp"
#include "model/errno_text.hpp"

namespace engines::thin {

using namespace engines::pd;
namespace layout = engines::pd::btree_layout;

namespace {

// The tools' superblock validator checks the checksum only (not the location, magic or version:
// an image with a wrong magic but a good checksum passes thin_check 0.9.0), and says which
// checksum it computed. Defined here because thin_format's sb_validator is the kernel's.
int tools_sb_check(const DmBlockValidator& v, uint64_t, const uint8_t* data, size_t size, std::string* why) {
  const uint32_t want = dm_bm_checksum(data + 4, size - 4, v.format.csum_xor);
  if (want == get_le32(data)) return 0;
  *why = "bad checksum in superblock, wanted " + std::to_string(want);
  return -EILSEQ;
}

const DmBlockValidator tools_sb_validator{
    "superblock",
    {.header = &superblock_layout::kHeader, .magic = 0, .csum_xor = SUPERBLOCK_CSUM_XOR, .version = 0},
    nullptr,
    tools_sb_check};

// The tools' words for a node their validator refuses (btree node validator: checksum, then
// location).
std::string node_error(int r, uint64_t b) {
  switch (r) {
    case -EILSEQ:
      return "bad checksum in btree node (block " + std::to_string(b) + ")";
    case -ENOTBLK:
      return "bad block nr in btree node (block = " + std::to_string(b) + ")";
    default:
      return "btree node (block " + std::to_string(b) + "): " + model::errno_text(r);
  }
}

// dm-space-map-metadata's index block checksum XOR (INDEX_CSUM_XOR).
constexpr uint32_t kMetadataIndexCsumXor = 160478;

// dm-space-map-common's bitmap checksum XOR (BITMAP_CSUM_XOR), and its entries per bitmap block:
// two bits each after a 16-byte header.
constexpr uint32_t kBitmapCsumXor = 240779;
constexpr uint64_t kEntriesPerBitmap = (THIN_METADATA_BLOCK_SIZE - 16) * 4;

// The deepest btree the walk follows: a 4 KiB-node tree of 2^64 keys is far shallower, so a
// deeper path is a cycle.
constexpr int kMaxDepth = 24;

}  // namespace

struct ThinMetadataReader::Impl {
  std::unique_ptr<DmBlockManager> bm;
  std::unique_ptr<DmTransactionManager> tm;  // opened by check() only: the other tools never read a space map
};

ThinMetadataReader::ThinMetadataReader() = default;
ThinMetadataReader::~ThinMetadataReader() = default;

std::string format_range(const tree_damage& d) {
  return "[" + std::to_string(d.begin) + ", " + (d.end ? std::to_string(*d.end) : std::string("-")) + "]";
}

bool thin_check_result::trees_damaged() const {
  return !device_damage.empty() || !top_damage.empty() || !mapping_damage.empty();
}

int ThinMetadataReader::open(model::BlockDevice* bdev, bool use_metadata_snap, std::string* error,
                             std::optional<uint64_t> snap_block) {
  PdUserlandLog quiet(&messages_);
  impl_ = std::make_unique<Impl>();
  device_blocks_ = bdev->capacity() / THIN_METADATA_BLOCK_SECTORS;
  if (device_blocks_ == 0) {
    *error = "Metadata is not large enough for superblock.";
    return -EINVAL;
  }
  impl_->bm = std::make_unique<DmBlockManager>(bdev, THIN_METADATA_BLOCK_SIZE, 16);
  auto read_superblock = [&](uint64_t location, thin_superblock_fields* f) {
    if (location >= device_blocks_) {
      *error = "superblock at block " + std::to_string(location) + " is beyond the metadata device";
      return -EINVAL;
    }
    DmBlock* b;
    const int r = impl_->bm->read_lock(location, &tools_sb_validator, &b);
    if (r) {
      *error = r == -EILSEQ ? tools_sb_check_message(location)
                            : "superblock at block " + std::to_string(location) + ": " + model::errno_text(r);
      return r;
    }
    *f = superblock_unpack(dm_block_data(b));
    impl_->bm->unlock(b);
    return 0;
  };
  int r = read_superblock(THIN_SUPERBLOCK_LOCATION, &live_);
  if (r) return r;
  superblock_read_ = true;
  view_ = live_;
  snapshot_ = use_metadata_snap;
  if (use_metadata_snap) {
    const uint64_t at = snap_block ? *snap_block : live_.held_root;
    if (at == 0) {
      *error = "no current metadata snap";
      return -ENODATA;
    }
    if ((r = read_superblock(at, &view_))) return r;
  }
  return 0;
}

std::string ThinMetadataReader::tools_sb_check_message(uint64_t location) {
  // Recomputed from the raw sector: the validator refused the block, so it is not in the cache
  // under any validator and may be read without one.
  DmBlock* b;
  if (impl_->bm->read_lock(location, nullptr, &b)) return "bad checksum in superblock";
  std::string why;
  tools_sb_check(tools_sb_validator, location, dm_block_data(b), THIN_METADATA_BLOCK_SIZE, &why);
  impl_->bm->unlock(b);
  return why;
}

uint64_t ThinMetadataReader::nr_data_blocks() const {
  return get_le64(view_.data_space_map_root);  // disk_sm_root: nr_blocks first
}

void ThinMetadataReader::walk(uint64_t root, uint32_t value_size, uint64_t lower, std::optional<uint64_t> upper,
                              int depth, const std::function<bool(uint64_t block)>& node,
                              const std::function<void(uint64_t block, uint64_t key, const uint8_t* value)>& leaf,
                              std::vector<tree_damage>* damage) {
  auto damaged = [&](const std::string& desc) { damage->push_back(tree_damage{lower, upper, desc, leaf_entries_}); };
  if (depth > kMaxDepth)
    return damaged("btree deeper than " + std::to_string(kMaxDepth) + " levels at block " + std::to_string(root) +
                   " (a cycle?)");
  if (node && !node(root)) return;
  if (visited_ && visited_->count(root)) return;
  if (root >= device_blocks_) return damaged("btree node (block " + std::to_string(root) + ") is beyond the device");
  DmBlock* b;
  if (int r = impl_->bm->read_lock(root, &kBtreeNodeValidator, &b)) return damaged(node_error(r, root));
  const uint8_t* d = dm_block_data(b);
  const uint32_t flags = layout::flags.get(d), nr = layout::nr_entries.get(d), max = layout::max_entries.get(d),
                 vs = layout::value_size.get(d);
  const bool is_leaf = flags & layout::kLeafNode;
  // The structure the tools' btree checker demands of every node before using it.
  std::string bad;
  if ((flags & layout::kLeafNode) == (flags & layout::kInternalNode))
    bad = "bad flags " + std::to_string(flags);
  else if (vs != (is_leaf ? value_size : 8))
    bad =
        "value size mismatch: expected " + std::to_string(is_leaf ? value_size : 8) + ", but got " + std::to_string(vs);
  else if (layout::value_offset(max, vs, max) > THIN_METADATA_BLOCK_SIZE)
    bad = "max entries too large: " + std::to_string(max);
  else if (nr > max)
    bad = "nr entries (" + std::to_string(nr) + ") > max entries (" + std::to_string(max) + ")";
  std::vector<uint64_t> keys;
  std::vector<uint8_t> values;
  if (bad.empty()) {
    for (uint32_t i = 0; i < nr; i++) keys.push_back(get_le64(d + layout::keys.at(i)));
    values.assign(d + layout::value_offset(max, vs, 0), d + layout::value_offset(max, vs, nr));
    for (uint32_t i = 0; i < nr && bad.empty(); i++) {
      if (i > 0 && keys[i] <= keys[i - 1]) bad = "keys are out of order";
      // An internal node's first key is the lowest of its subtree, which may be above the parent's.
      else if (keys[i] < lower || (upper && keys[i] >= *upper))
        bad = "key " + std::to_string(keys[i]) + " outside the range its parent gives";
    }
  }
  impl_->bm->unlock(b);
  if (!bad.empty()) return damaged(bad + " in btree node (block " + std::to_string(root) + ")");
  if (visited_) visited_->insert(root);
  // The lock is dropped before going down or calling out, so a deep walk holds one block at most.
  for (uint32_t i = 0; i < nr; i++) {
    const uint8_t* v = values.data() + static_cast<size_t>(vs) * i;
    if (is_leaf) {
      leaf_entries_++;
      if (leaf) leaf(root, keys[i], v);
    } else {
      const std::optional<uint64_t> end = i + 1 < nr ? std::optional<uint64_t>(keys[i + 1]) : upper;
      walk(get_le64(v), value_size, keys[i], end, depth + 1, node, leaf, damage);
    }
  }
}

void ThinMetadataReader::devices(std::map<uint64_t, disk_device_details>* out, std::vector<tree_damage>* damage) {
  PdUserlandLog quiet(&messages_);
  walk(
      view_.device_details_root, DEVICE_DETAILS_SIZE, 0, std::nullopt, 0, {},
      [&](uint64_t, uint64_t key, const uint8_t* v) { (*out)[key] = device_details_unpack(v); }, damage);
}

void ThinMetadataReader::mapping_roots(std::map<uint64_t, uint64_t>* out, std::vector<tree_damage>* damage) {
  PdUserlandLog quiet(&messages_);
  walk(
      view_.data_mapping_root, 8, 0, std::nullopt, 0, {},
      [&](uint64_t, uint64_t key, const uint8_t* v) { (*out)[key] = get_le64(v); }, damage);
}

void ThinMetadataReader::mappings(uint64_t root, const std::function<void(uint64_t, const thin_mapping&)>& fn,
                                  std::vector<tree_damage>* damage) {
  PdUserlandLog quiet(&messages_);
  walk(
      root, 8, 0, std::nullopt, 0, {},
      [&](uint64_t, uint64_t key, const uint8_t* v) {
        thin_mapping m;
        unpack_block_time(get_le64(v), &m.data_block, &m.time);
        fn(key, m);
      },
      damage);
}

namespace {
// The tools' range of each damage: past the last key read before it, to the next key read after.
void tools_ranges(const std::vector<uint64_t>& keys, size_t first, std::vector<tree_damage>* damage) {
  for (size_t i = first; i < damage->size(); i++) {
    tree_damage& d = (*damage)[i];
    const uint64_t n = d.entries_before;
    d.begin = n > 0 && n <= keys.size() ? keys[n - 1] + 1 : 0;
    d.end = n < keys.size() ? std::optional<uint64_t>(keys[n]) : std::nullopt;
  }
}
}  // namespace

void ThinMetadataReader::tools_check_devices(std::vector<tree_damage>* damage) {
  PdUserlandLog quiet(&messages_);
  std::set<uint64_t> visited;
  std::vector<uint64_t> keys;
  visited_ = &visited;
  leaf_entries_ = 0;
  const size_t first = damage->size();
  walk(
      view_.device_details_root, DEVICE_DETAILS_SIZE, 0, std::nullopt, 0, {},
      [&](uint64_t, uint64_t key, const uint8_t*) { keys.push_back(key); }, damage);
  visited_ = nullptr;
  tools_ranges(keys, first, damage);
}

void ThinMetadataReader::tools_check_mappings(std::vector<tree_damage>* top_damage,
                                              std::map<uint64_t, std::vector<tree_damage>>* device_damage) {
  PdUserlandLog quiet(&messages_);
  std::set<uint64_t> visited;
  std::vector<uint64_t> top_keys;
  std::map<uint64_t, uint64_t> roots;
  visited_ = &visited;
  leaf_entries_ = 0;
  walk(
      view_.data_mapping_root, 8, 0, std::nullopt, 0, {},
      [&](uint64_t, uint64_t key, const uint8_t* v) {
        top_keys.push_back(key);
        roots[key] = get_le64(v);
      },
      top_damage);
  tools_ranges(top_keys, 0, top_damage);
  for (const auto& [dev, root] : roots) {
    std::vector<uint64_t> keys;
    std::vector<tree_damage> dmg;
    leaf_entries_ = 0;
    walk(
        root, 8, 0, std::nullopt, 0, {}, [&](uint64_t, uint64_t key, const uint8_t*) { keys.push_back(key); }, &dmg);
    tools_ranges(keys, 0, &dmg);
    if (!dmg.empty()) (*device_damage)[dev] = dmg;
  }
  visited_ = nullptr;
}

std::string ThinMetadataReader::metadata_index_error() {
  // disk_sm_root: nr_blocks, nr_allocated, bitmap_root (for the metadata map: its index block).
  const uint64_t index = get_le64(live_.metadata_space_map_root + 16);
  if (index >= device_blocks_) return "metadata index block " + std::to_string(index) + " is beyond the device";
  // Read without a validator, so that the space map's own read later validates it as usual.
  DmBlock* b;
  if (int r = impl_->bm->read_lock(index, nullptr, &b)) return "metadata index block: " + model::errno_text(r);
  const uint8_t* d = dm_block_data(b);
  std::string why;
  if (dm_bm_checksum(d + 4, THIN_METADATA_BLOCK_SIZE - 4, kMetadataIndexCsumXor) != get_le32(d))
    why = "bad checksum in metadata index block (block " + std::to_string(index) + ")";
  else if (get_le64(d + 8) != index)
    why = "bad block nr in metadata index block (block " + std::to_string(index) + ")";
  impl_->bm->unlock(b);
  return why;
}

std::string ThinMetadataReader::counting_error() {
  PdUserlandLog quiet(&messages_);
  auto first_damage = [](const std::vector<tree_damage>& d) { return d.empty() ? std::string() : d.front().desc; };
  if (live_.held_root) {
    if (live_.held_root >= device_blocks_)
      return "metadata snapshot " + std::to_string(live_.held_root) + " is beyond the device";
    DmBlock* b;
    if (int r = impl_->bm->read_lock(live_.held_root, &tools_sb_validator, &b))
      return r == -EILSEQ ? tools_sb_check_message(live_.held_root) : "metadata snapshot: " + model::errno_text(r);
    const thin_superblock_fields snap = superblock_unpack(dm_block_data(b));
    impl_->bm->unlock(b);
    std::vector<tree_damage> dmg;
    walk(snap.device_details_root, DEVICE_DETAILS_SIZE, 0, std::nullopt, 0, {}, {}, &dmg);
    std::vector<uint64_t> roots;
    if (dmg.empty())
      walk(
          snap.data_mapping_root, 8, 0, std::nullopt, 0, {},
          [&](uint64_t, uint64_t, const uint8_t* v) { roots.push_back(get_le64(v)); }, &dmg);
    for (size_t i = 0; i < roots.size() && dmg.empty(); i++) walk(roots[i], 8, 0, std::nullopt, 0, {}, {}, &dmg);
    if (!dmg.empty()) return first_damage(dmg);
  }
  // A bitmap: the checksum over the block after its first word, then its location.
  auto bitmap = [&](uint64_t at) -> std::string {
    if (at >= device_blocks_) return "space map bitmap " + std::to_string(at) + " is beyond the device";
    DmBlock* b;
    if (int r = impl_->bm->read_lock(at, nullptr, &b)) return "space map bitmap: " + model::errno_text(r);
    const uint8_t* d = dm_block_data(b);
    std::string why;
    if (dm_bm_checksum(d + 4, THIN_METADATA_BLOCK_SIZE - 4, kBitmapCsumXor) != get_le32(d))
      why = "bad checksum in space map bitmap (block " + std::to_string(at) + ")";
    else if (get_le64(d + 8) != at)
      why = "bad block nr in space map bitmap (block " + std::to_string(at) + ")";
    impl_->bm->unlock(b);
    return why;
  };
  // disk_sm_root: nr_blocks, nr_allocated, bitmap_root, ref_count_root.
  auto nr_bitmaps = [](const uint8_t* root) { return (get_le64(root) + kEntriesPerBitmap - 1) / kEntriesPerBitmap; };
  const uint8_t* meta = live_.metadata_space_map_root;
  if (std::string e = metadata_index_error(); !e.empty()) return e;
  std::vector<uint64_t> bitmaps;
  const uint64_t index = get_le64(meta + 16);
  DmBlock* b;
  if (int r = impl_->bm->read_lock(index, nullptr, &b)) return "metadata index block: " + model::errno_text(r);
  // The index block: a 16-byte header, then 16-byte entries whose first field is the bitmap's location.
  for (uint64_t i = 0; i < nr_bitmaps(meta) && 16 + 16 * (i + 1) <= THIN_METADATA_BLOCK_SIZE; i++)
    bitmaps.push_back(get_le64(dm_block_data(b) + 16 + 16 * i));
  impl_->bm->unlock(b);
  for (uint64_t at : bitmaps)
    if (std::string e = bitmap(at); !e.empty()) return e;
  std::vector<tree_damage> dmg;
  walk(get_le64(meta + 24), 4, 0, std::nullopt, 0, {}, {}, &dmg);
  if (!dmg.empty()) return first_damage(dmg);
  // The data space map: its index is a btree of 16-byte entries, the bitmap's location first.
  const uint8_t* data = live_.data_space_map_root;
  bitmaps.clear();
  walk(
      get_le64(data + 16), 16, 0, std::nullopt, 0, {},
      [&](uint64_t, uint64_t, const uint8_t* v) { bitmaps.push_back(get_le64(v)); }, &dmg);
  if (!dmg.empty()) return first_damage(dmg);
  for (uint64_t at : bitmaps)
    if (std::string e = bitmap(at); !e.empty()) return e;
  walk(get_le64(data + 24), 4, 0, std::nullopt, 0, {}, {}, &dmg);
  return first_damage(dmg);
}

bool ThinMetadataReader::device_mappings(uint64_t dev, std::map<uint64_t, thin_mapping>* out,
                                         std::vector<tree_damage>* damage) {
  std::map<uint64_t, uint64_t> roots;
  mapping_roots(&roots, damage);
  const auto it = roots.find(dev);
  if (it == roots.end()) return false;
  mappings(
      it->second, [&](uint64_t vb, const thin_mapping& m) { (*out)[vb] = m; }, damage);
  return true;
}

// The references one superblock's trees hold: each node once per holder (superblock field,
// parent, or top-level value), what is below a node counted on its first visit only; each
// mapping once per distinct leaf holding it (a shared leaf holds one reference on its data).
void ThinMetadataReader::count_trees(const thin_superblock_fields& sb, std::map<uint64_t, uint32_t>* meta,
                                     std::map<uint64_t, uint32_t>* data, thin_check_result* res, bool record_damage) {
  auto node = [&](uint64_t b) { return (*meta)[b]++ == 0; };
  std::vector<tree_damage> dev_damage, top_damage;
  std::map<uint64_t, std::vector<tree_damage>> map_damage;
  std::map<uint64_t, disk_device_details> details;
  walk(
      sb.device_details_root, DEVICE_DETAILS_SIZE, 0, std::nullopt, 0, node,
      [&](uint64_t, uint64_t key, const uint8_t* v) { details[key] = device_details_unpack(v); }, &dev_damage);
  std::map<uint64_t, uint64_t> mapped;  // thin id -> mappings found
  walk(
      sb.data_mapping_root, 8, 0, std::nullopt, 0, node,
      [&](uint64_t, uint64_t dev, const uint8_t* v) {
        std::vector<tree_damage> dmg;
        uint64_t& n = mapped[dev];
        // The count of a shared subtree is recounted per device, without the references.
        walk(
            get_le64(v), 8, 0, std::nullopt, 0, node,
            [&](uint64_t, uint64_t, const uint8_t* bt) {
              uint64_t db;
              uint32_t t;
              unpack_block_time(get_le64(bt), &db, &t);
              (*data)[db]++;
            },
            &dmg);
        std::vector<tree_damage> ignored;
        mappings(
            get_le64(v), [&](uint64_t, const thin_mapping&) { n++; }, &ignored);
        if (!dmg.empty()) map_damage[dev] = dmg;
      },
      &top_damage);
  const std::string which = record_damage ? "" : "metadata snapshot: ";
  if (record_damage) {
    res->device_damage = dev_damage;
    res->top_damage = top_damage;
    res->mapping_damage = map_damage;
  }
  for (const auto& d : dev_damage)
    res->problems.push_back(which + "missing devices " + format_range(d) + ": " + d.desc);
  for (const auto& d : top_damage)
    res->problems.push_back(which + "missing all mappings for devices " + format_range(d) + ": " + d.desc);
  for (const auto& [dev, dmg] : map_damage)
    for (const auto& d : dmg)
      res->problems.push_back(which + "thin device " + std::to_string(dev) + " is missing mappings " + format_range(d) +
                              ": " + d.desc);
  if (!dev_damage.empty() || !top_damage.empty()) return;
  // The pool keeps both trees in step, and each device's mapped_blocks exact.
  for (const auto& [dev, det] : details) {
    const auto it = mapped.find(dev);
    if (it == mapped.end())
      res->problems.push_back(which + "thin device " + std::to_string(dev) + " has details but no mapping tree");
    else if (!map_damage.count(dev) && it->second != det.mapped_blocks)
      res->problems.push_back(which + "thin device " + std::to_string(dev) + " has " + std::to_string(it->second) +
                              " mappings but its details say mapped_blocks " + std::to_string(det.mapped_blocks));
  }
  for (const auto& [dev, n] : mapped)
    if (!details.count(dev))
      res->problems.push_back(which + "thin device " + std::to_string(dev) + " has mappings but no details");
}

thin_check_result ThinMetadataReader::check(bool with_data) {
  PdUserlandLog quiet(&messages_);
  thin_check_result res;
  std::map<uint64_t, uint32_t> meta, data;
  meta[THIN_SUPERBLOCK_LOCATION]++;
  count_trees(live_, &meta, &data, &res, !snapshot_);
  if (live_.held_root) {
    meta[live_.held_root]++;
    DmBlock* b;
    if (live_.held_root >= device_blocks_) {
      res.problems.push_back("metadata snapshot at block " + std::to_string(live_.held_root) +
                             " is beyond the metadata device");
    } else if (int r = impl_->bm->read_lock(live_.held_root, &tools_sb_validator, &b)) {
      res.problems.push_back("metadata snapshot at block " + std::to_string(live_.held_root) + ": " +
                             (r == -EILSEQ ? std::string("bad checksum") : model::errno_text(r)));
    } else {
      const thin_superblock_fields snap = superblock_unpack(dm_block_data(b));
      impl_->bm->unlock(b);
      count_trees(snap, &meta, &data, &res, snapshot_);
    }
  }
  // The space maps: their own blocks are references too, and their counts are compared below.
  int r = DmTransactionManager::open_with_sm(impl_->bm.get(), THIN_SUPERBLOCK_LOCATION, live_.metadata_space_map_root,
                                             &impl_->tm);
  if (r) {
    res.problems.push_back("metadata space map: " + model::errno_text(r));
    return res;
  }
  DiskSpaceMap data_sm(impl_->tm.get());
  const int data_r = data_sm.open(live_.data_space_map_root);
  if (data_r) res.problems.push_back("data space map: " + model::errno_text(data_r));
  std::vector<uint64_t> sm_blocks;
  if ((r = impl_->tm->sm()->storage_blocks(&sm_blocks)))
    res.problems.push_back("metadata space map: " + model::errno_text(r));
  if (!data_r && (r = data_sm.storage_blocks(&sm_blocks)))
    res.problems.push_back("data space map: " + model::errno_text(r));
  for (uint64_t b : sm_blocks) meta[b]++;

  // Fewer counts than references is corruption (a referenced block may be handed out again);
  // more is a leak.
  auto compare = [&](DmSpaceMap* sm, const std::map<uint64_t, uint32_t>& refs, const char* what,
                     std::map<uint64_t, std::pair<uint32_t, uint32_t>>* diffs) {
    uint64_t leaked = 0, first_leak = 0;
    for (uint64_t b = 0; b < sm->nr_blocks(); b++) {
      const auto it = refs.find(b);
      const uint32_t want = it == refs.end() ? 0 : it->second;
      uint32_t have = 0;
      if (int e = sm->get_count(b, &have)) {
        res.problems.push_back(std::string(what) + " space map count of block " + std::to_string(b) + ": " +
                               model::errno_text(e));
        return;
      }
      if (have == want) continue;
      (*diffs)[b] = {want, have};
      if (have < want)
        res.problems.push_back(std::string(what) + " block " + std::to_string(b) + " is referenced " +
                               std::to_string(want) + " time(s) but its space map count is " + std::to_string(have));
      else if (!leaked++)
        first_leak = b;
    }
    for (const auto& [b, n] : refs)
      if (b >= sm->nr_blocks())
        res.problems.push_back(std::string(what) + " block " + std::to_string(b) + " is beyond its space map (" +
                               std::to_string(sm->nr_blocks()) + " blocks)");
    if (leaked)
      res.leaks.push_back(std::to_string(leaked) + " " + what +
                          " block(s) leaked: counted but unreferenced (first: " + std::to_string(first_leak) + ")");
  };
  compare(impl_->tm->sm(), meta, "metadata", &res.metadata_count_diffs);
  if (!data_r && with_data) compare(&data_sm, data, "data", &res.data_count_diffs);
  return res;
}

std::vector<std::string> ThinMetadataReader::describe(const thin_check_result& r, bool with_leaks) {
  std::vector<std::string> out = r.problems;
  if (with_leaks) out.insert(out.end(), r.leaks.begin(), r.leaks.end());
  return out;
}

}  // namespace engines::thin
