// What btree.cpp (lookup, insert) and btree_remove.cpp share, as dm-btree-internal.h and
// dm-btree-spine.c do for the kernel: the node view, shadowing with reference counting, and the
// shadow spine that holds at most two nodes of a path.
#pragma once

#include <algorithm>
#include <cstring>

#include "engines/lib/persistent_data/btree.hpp"
#include "engines/lib/persistent_data/btree_layout.hpp"
#include "engines/lib/persistent_data/codec.hpp"
#include "sim/assert.hpp"

namespace engines::pd::btree_internal {

namespace layout = btree_layout;

// A corrupt image can make child pointers loop; no real tree of 4 KiB nodes is this deep.
constexpr int kMaxDepth = 24;

inline int too_deep(uint64_t block) {
  pd_log("device-mapper: btree: tree deeper than " + std::to_string(kMaxDepth) + " levels at block " +
         std::to_string(block) + ": metadata is corrupt");
  return -EILSEQ;
}

// calc_max_entries for this tree (with the test cap, when set).
inline uint32_t calc_max_entries(const DmBtreeInfo* info, uint32_t value_size) {
  const uint32_t m = layout::max_entries_for(info->tm->bm()->block_size(), value_size);
  return info->max_entries_cap ? std::min(m, info->max_entries_cap) : m;
}

inline void init_node(const DmBtreeInfo* info, uint8_t* d, uint32_t flags, uint32_t value_size) {
  layout::flags.put(d, flags);
  layout::nr_entries.put(d, 0);
  layout::max_entries.put(d, calc_max_entries(info, value_size));
  layout::value_size.put(d, value_size);
}

// A node as a view over a locked block.
struct Node {
  DmBlock* blk;
  uint8_t* d;
  // Nodes are used only once check_node validated them (or init_node made them).
  explicit Node(DmBlock* b) : blk(b), d(dm_block_data(b)) {
    DMSIM_ASSERT(nr() <= max(), "btree node: nr_entries > max_entries");
  }
  // As remove_raw and btree_insert_raw test it.
  bool leaf() const { return layout::flags.get(d) & layout::kLeafNode; }
  uint32_t nr() const { return layout::nr_entries.get(d); }
  uint32_t max() const { return layout::max_entries.get(d); }
  uint32_t vs() const { return layout::value_size.get(d); }
  // The node never holds more than it has room for.
  void set_nr(uint32_t n) {
    DMSIM_ASSERT(n <= max(), "btree node: nr_entries > max_entries");
    layout::nr_entries.put(d, n);
  }
  uint64_t key(uint32_t i) const { return layout::keys.get(d, i); }
  void set_key(uint32_t i, uint64_t k) { layout::keys.put(d, i, k); }
  uint8_t* value(uint32_t i) { return d + layout::value_offset(max(), vs(), i); }
  uint64_t child(uint32_t i) { return get_le64(value(i)); }
  void set_child(uint32_t i, uint64_t b) { put_le64(value(i), b); }
  uint32_t flags() const { return layout::flags.get(d); }
  // Index of the last key <= k, or -1.
  int lower(uint64_t k) const {
    int lo = 0, hi = static_cast<int>(nr()) - 1, ans = -1;
    while (lo <= hi) {
      const int mid = (lo + hi) / 2;
      if (key(static_cast<uint32_t>(mid)) <= k) {
        ans = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return ans;
  }
  // REQUIRES: i <= nr() < max().
  void insert_at(uint32_t i, uint64_t k, const uint8_t* v) {
    const uint32_t n = nr(), s = vs();
    DMSIM_ASSERT(i <= n && n < max(), "btree insert_at: position past the end or node full");
    std::memmove(d + layout::keys.at(i + 1), d + layout::keys.at(i), 8ull * (n - i));
    std::memmove(value(i + 1), value(i), static_cast<size_t>(s) * (n - i));
    set_key(i, k);
    std::memcpy(value(i), v, s);
    set_nr(n + 1);
  }
  // delete_at. REQUIRES: i < nr().
  void erase_at(uint32_t i) {
    const uint32_t n = nr(), s = vs();
    DMSIM_ASSERT(i < n, "btree erase_at: no entry there");
    std::memmove(d + layout::keys.at(i), d + layout::keys.at(i + 1), 8ull * (n - i - 1));
    std::memmove(value(i), value(i + 1), static_cast<size_t>(s) * (n - i - 1));
    set_nr(n - 1);
  }
};

inline int new_node(DmBtreeInfo* info, bool leaf, DmBlock** b) {
  const int r = info->tm->new_block(&kBtreeNodeValidator, b);
  if (!r)
    init_node(info, dm_block_data(*b), leaf ? layout::kLeafNode : layout::kInternalNode,
              leaf ? info->value_type.size : 8);
  return r;
}

// Shadows a node; if it was shared, the copy takes a reference on everything it points to.
inline int shadow(DmBtreeInfo* info, uint64_t b, DmBlock** result) {
  int inc = 0;
  const int r = info->tm->shadow_block(b, &kBtreeNodeValidator, result, &inc);
  if (r || !inc) return r;
  Node n(*result);
  for (uint32_t i = 0; i < n.nr(); i++) {
    if (!n.leaf())
      info->tm->inc(n.child(i));
    else if (info->value_type.inc)
      info->value_type.inc(n.value(i));
  }
  return 0;
}

// Copies `count` entries (keys and values) between nodes of the same value size; the regions do
// not overlap (copy_entries) or may (move_entries, within one node).
inline void copy_entries(Node& dest, uint32_t dest_off, Node& src, uint32_t src_off, uint32_t count) {
  std::memcpy(dest.d + layout::keys.at(dest_off), src.d + layout::keys.at(src_off), 8ull * count);
  std::memcpy(dest.value(dest_off), src.value(src_off), static_cast<size_t>(dest.vs()) * count);
}
inline void move_entries(Node& n, uint32_t dest_off, uint32_t src_off, uint32_t count) {
  std::memmove(n.d + layout::keys.at(dest_off), n.d + layout::keys.at(src_off), 8ull * count);
  std::memmove(n.value(dest_off), n.value(src_off), static_cast<size_t>(n.vs()) * count);
}

// shadow_spine of dm-btree-spine.c: the current node and its parent, both shadowed (write
// locked); stepping down unlocks the grandparent. `root` is the shadow of the first node.
struct ShadowSpine {
  DmBtreeInfo* info;
  DmBlock* nodes[2] = {nullptr, nullptr};
  int count = 0;
  uint64_t root = 0;

  explicit ShadowSpine(DmBtreeInfo* i) : info(i) {}
  ~ShadowSpine() {
    for (int k = 0; k < count; k++) info->tm->unlock(nodes[k]);
  }
  ShadowSpine(const ShadowSpine&) = delete;
  ShadowSpine& operator=(const ShadowSpine&) = delete;

  int step(uint64_t b) {
    if (count == 2) {
      info->tm->unlock(nodes[0]);
      nodes[0] = nodes[1];
      count--;
    }
    const int r = shadow(info, b, &nodes[count]);
    if (!r) {
      if (!count) root = dm_block_location(nodes[0]);
      count++;
    }
    return r;
  }
  DmBlock* current() const {
    DMSIM_ASSERT(count > 0, "shadow spine: no current node");
    return nodes[count - 1];
  }
  DmBlock* parent() const {
    DMSIM_ASSERT(count == 2, "shadow spine: no parent");
    return nodes[0];
  }
  bool has_parent() const { return count >= 2; }
};

// shadow_child / init_child: shadows child `index` of `parent` (taking references for what the
// copy points to when it was shared) and points the parent at the shadow.
inline int shadow_child(DmBtreeInfo* info, Node& parent, uint32_t index, DmBlock** result) {
  const int r = shadow(info, parent.child(index), result);
  if (!r) parent.set_child(index, dm_block_location(*result));
  return r;
}

}  // namespace engines::pd::btree_internal
