#include "engines/era/era_reader.hpp"

#include <algorithm>

#include "engines/lib/persistent_data/array.hpp"
#include "engines/lib/persistent_data/codec.hpp"
#include "engines/lib/persistent_data/transaction_manager.hpp"
#include "model/errno_text.hpp"

namespace engines::era {

using namespace engines::pd;

struct EraMetadataReader::Impl {
  std::unique_ptr<DmBlockManager> bm;
  std::unique_ptr<DmTransactionManager> tm;
  DmBtreeInfo tree_info{};
  DmArrayInfo era_info, bitset_info;
};

EraMetadataReader::EraMetadataReader() = default;
EraMetadataReader::~EraMetadataReader() = default;

namespace {
std::string errname(int r) {
  switch (r) {
    case -EILSEQ:
      return "checksum or magic mismatch";
    case -ENOTBLK:
      return "block in the wrong place";
    case -ENODATA:
      return "no data";
    case -EINVAL:
      return "invalid argument";
    case -EIO:
      return "I/O error";
    default:
      return model::errno_text(r);
  }
}
}  // namespace

int EraMetadataReader::open(model::BlockDevice* bdev, bool use_metadata_snap, std::string* error) {
  PdUserlandLog quiet(&messages_);
  impl_ = std::make_unique<Impl>();
  Impl& m = *impl_;
  m.bm = std::make_unique<DmBlockManager>(bdev, DM_ERA_METADATA_BLOCK_SIZE, 16);
  // read_superblock: the tools check only the checksum when they read a superblock.
  auto read_superblock = [&](uint64_t location, superblock_fields* f) {
    DmBlock* b;
    int r = m.bm->read_lock(location, &tools_sb_validator, &b);
    if (r) {
      *error = r == -EILSEQ ? "bad checksum in superblock"
                            : "superblock at block " + std::to_string(location) + ": " + errname(r);
      return r;
    }
    *f = superblock_unpack(dm_block_data(b));
    m.bm->unlock(b);
    return 0;
  };
  int r = read_superblock(SUPERBLOCK_LOCATION, &live_);
  if (r) return r;
  superblock_read_ = true;
  view_ = live_;
  snapshot_ = use_metadata_snap;
  if (use_metadata_snap) {
    if (live_.metadata_snap == SUPERBLOCK_LOCATION) {
      *error = "no metadata snapshot taken.";
      return -EINVAL;
    }
    if ((r = read_superblock(live_.metadata_snap, &view_))) return r;
  }
  r = DmTransactionManager::open_with_sm(m.bm.get(), SUPERBLOCK_LOCATION, live_.metadata_space_map_root, &m.tm);
  if (r) {
    *error = "bad metadata space map: " + errname(r);
    return r;
  }
  m.tree_info.tm = m.tm.get();
  m.tree_info.value_type.size = WRITESET_DISK_SIZE;
  DmBtreeValueType u32;
  u32.size = 4;
  dm_array_info_init(&m.era_info, m.tm.get(), u32);
  DmBtreeValueType u64;
  u64.size = 8;
  dm_array_info_init(&m.bitset_info, m.tm.get(), u64);
  return 0;
}

int EraMetadataReader::writesets(std::map<uint32_t, writeset_metadata>* out, std::string* error) {
  PdUserlandLog quiet(&messages_);
  int r = dm_btree_walk(&impl_->tree_info, view_.writeset_tree_root, [&](uint64_t key, const uint8_t* v) {
    (*out)[static_cast<uint32_t>(key)] = ws_unpack(v);
    return 0;
  });
  if (r) *error = "writeset tree: " + errname(r);
  return r;
}

int EraMetadataReader::bitset_bits(const writeset_metadata& ws, std::vector<bool>* bits, std::string* error) {
  PdUserlandLog quiet(&messages_);
  bits->assign(ws.nr_bits, false);
  int r = dm_array_walk(&impl_->bitset_info, ws.root, [&](uint32_t word, const uint8_t* v) {
    const uint64_t w = get_le64(v);
    for (uint32_t i = 0; i < 64; i++)
      if ((w >> i) & 1 && word * 64 + i < ws.nr_bits) (*bits)[word * 64 + i] = true;
    return 0;
  });
  if (r) *error = "bitset at block " + std::to_string(ws.root) + ": " + errname(r);
  return r;
}

int EraMetadataReader::era_array(std::vector<uint32_t>* eras, std::string* error) {
  PdUserlandLog quiet(&messages_);
  eras->assign(view_.nr_blocks, 0);
  int r = dm_array_walk(&impl_->era_info, view_.era_array_root, [&](uint32_t i, const uint8_t* v) {
    if (i < eras->size()) (*eras)[i] = get_le32(v);
    return 0;
  });
  if (r) *error = "era array: " + errname(r);
  return r;
}

int EraMetadataReader::written_since(uint32_t threshold, std::vector<bool>* marked, std::string* error,
                                     bool with_current) {
  PdUserlandLog quiet(&messages_);
  marked->assign(view_.nr_blocks, false);
  // mark_blocks_since: every block whose era in the array is >= threshold, then every bit of the
  // writesets of eras >= threshold.
  std::vector<uint32_t> eras;
  int r = era_array(&eras, error);
  if (r) return r;
  for (size_t b = 0; b < eras.size(); b++)
    if (eras[b] >= threshold) (*marked)[b] = true;
  std::map<uint32_t, writeset_metadata> ws;
  if ((r = writesets(&ws, error))) return r;
  if (with_current && snapshot_) {
    *error = "a metadata snapshot has no current writeset to fold in";
    return -EINVAL;
  }
  if (with_current && view_.current_writeset.root != INVALID_WRITESET_ROOT)
    ws[view_.current_era] = view_.current_writeset;
  for (const auto& [era, w] : ws) {
    if (era < threshold) continue;
    std::vector<bool> bits;
    if ((r = bitset_bits(w, &bits, error))) return r;
    for (size_t b = 0; b < bits.size() && b < marked->size(); b++)
      if (bits[b]) (*marked)[b] = true;
  }
  return 0;
}

int EraMetadataReader::logical_eras(std::vector<uint32_t>* eras, std::string* error) {
  PdUserlandLog quiet(&messages_);
  int r = era_array(eras, error);
  if (r) return r;
  std::map<uint32_t, writeset_metadata> ws;
  if ((r = writesets(&ws, error))) return r;
  // dump_logical: a block's era is the larger of its array entry and the latest writeset with its bit.
  for (const auto& [era, w] : ws) {
    std::vector<bool> bits;
    if ((r = bitset_bits(w, &bits, error))) return r;
    for (size_t b = 0; b < bits.size() && b < eras->size(); b++)
      if (bits[b]) (*eras)[b] = std::max((*eras)[b], era);
  }
  return 0;
}

std::vector<std::string> EraMetadataReader::check() {
  PdUserlandLog quiet(&messages_);
  std::vector<std::string> problems;
  const std::map<uint64_t, uint32_t> refs = reachable_references(&problems);
  check_eras(&problems);
  check_reference_counts(refs, &problems);
  return problems;
}

std::map<uint64_t, uint32_t> EraMetadataReader::reachable_references(std::vector<std::string>* problems) {
  Impl& m = *impl_;
  std::map<uint64_t, uint32_t> refs;  // block -> references found from reachable structures
  // A node counts once per holder (parent node, tree value or superblock field); what is
  // below it is counted on the first visit only.
  auto node = [&](uint64_t b) { return refs[b]++ ? 1 : 0; };
  auto walk_array = [&](const char* what, uint64_t root) {
    int r = dm_btree_walk_nodes(&m.era_info.btree_info, root, node, [&](const uint8_t* v) {
      refs[get_le64(v)]++;
      return 0;
    });
    if (r) problems->push_back(std::string(what) + " at block " + std::to_string(root) + ": " + errname(r));
    return r;
  };
  auto walk_superblock = [&](const superblock_fields& sb, const char* which) {
    // The tree's values hold a reference on each archived bitset's root.
    int r = dm_btree_walk_nodes(&m.tree_info, sb.writeset_tree_root, node, [&](const uint8_t* v) {
      walk_array("archived writeset", ws_unpack(v).root);
      return 0;
    });
    if (r) problems->push_back(std::string(which) + " writeset tree: " + errname(r));
    walk_array((std::string(which) + " era array").c_str(), sb.era_array_root);
  };

  refs[SUPERBLOCK_LOCATION]++;
  walk_superblock(live_, "live");
  if (live_.current_writeset.root != INVALID_WRITESET_ROOT) walk_array("current writeset", live_.current_writeset.root);
  if (live_.metadata_snap != SUPERBLOCK_LOCATION) {
    refs[live_.metadata_snap]++;
    DmBlock* b;
    int r = m.bm->read_lock(live_.metadata_snap, &sb_validator, &b);
    if (r) {
      problems->push_back("metadata snapshot at block " + std::to_string(live_.metadata_snap) + ": " + errname(r));
    } else {
      const superblock_fields snap = superblock_unpack(dm_block_data(b));
      m.bm->unlock(b);
      walk_superblock(snap, "snapshot");
    }
  }
  std::vector<uint64_t> sm_blocks;  // the space map's own index, bitmaps and ref-count tree
  if (int r = m.tm->sm()->storage_blocks(&sm_blocks)) problems->push_back("metadata space map: " + errname(r));
  for (uint64_t b : sm_blocks) refs[b]++;
  return refs;
}

// era_check's own checks: bitset sizes and era values.
void EraMetadataReader::check_eras(std::vector<std::string>* problems) {
  std::string err;
  std::map<uint32_t, writeset_metadata> ws;
  if (!writesets(&ws, &err)) {
    for (const auto& [era, w] : ws) {
      if (era > live_.current_era)
        problems->push_back("writeset of era " + std::to_string(era) + " is newer than the current era " +
                            std::to_string(live_.current_era));
      std::vector<bool> bits;
      if (bitset_bits(w, &bits, &err)) problems->push_back("writeset of era " + std::to_string(era) + ": " + err);
    }
  }
  std::vector<uint32_t> eras;
  if (era_array(&eras, &err)) {
    problems->push_back(err);
    return;
  }
  for (size_t b = 0; b < eras.size(); b++)
    if (eras[b] > live_.current_era) {
      problems->push_back("invalid era value at data block " + std::to_string(b) + ": " + std::to_string(eras[b]));
      break;
    }
}

// Reference counts against the space map: fewer than found is corruption (a referenced block
// may be handed out again), more is a leak.
void EraMetadataReader::check_reference_counts(const std::map<uint64_t, uint32_t>& refs,
                                               std::vector<std::string>* problems) {
  DmSpaceMap* sm = impl_->tm->sm();
  uint64_t leaked = 0, first_leak = 0;
  for (uint64_t b = 0; b < sm->nr_blocks(); b++) {
    const auto it = refs.find(b);
    const uint32_t want = it == refs.end() ? 0 : it->second;
    uint32_t have = 0;
    if (int r = sm->get_count(b, &have)) {
      problems->push_back("space map count of block " + std::to_string(b) + ": " + errname(r));
      return;
    }
    if (have < want)
      problems->push_back("block " + std::to_string(b) + " is referenced " + std::to_string(want) +
                          " time(s) but its space map count is " + std::to_string(have));
    else if (have > want && !leaked++)
      first_leak = b;
  }
  for (const auto& [b, n] : refs)
    if (b >= sm->nr_blocks()) problems->push_back("block " + std::to_string(b) + " is beyond the metadata device");
  if (leaked)
    problems->push_back(std::to_string(leaked) + " metadata block(s) leaked: allocated but unreachable (first: " +
                        std::to_string(first_leak) + ")");
}

std::string format_blocks_xml(const std::vector<bool>& marked) {
  std::string out = "<blocks>\n";
  for (size_t b = 0; b < marked.size();) {
    if (!marked[b]) {
      b++;
      continue;
    }
    size_t e = b;
    while (e < marked.size() && marked[e]) e++;
    if (e > b + 1)
      out += "  <range begin=\"" + std::to_string(b) + "\" end = \"" + std::to_string(e) + "\"/>\n";  // sic
    else
      out += "  <block block=\"" + std::to_string(b) + "\"/>\n";
    b = e;
  }
  return out + "</blocks>\n";
}

}  // namespace engines::era
