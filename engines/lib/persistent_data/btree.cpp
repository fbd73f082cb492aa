#include "engines/lib/persistent_data/btree.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engines/lib/persistent_data/btree_internal.hpp"
#include "engines/lib/persistent_data/btree_layout.hpp"
#include "engines/lib/persistent_data/codec.hpp"
#include "sim/assert.hpp"

namespace engines::pd {

using namespace btree_internal;

namespace {

// node_check of dm-btree-spine.c, in its order and words. The last test is dmsim's own: the kernel
// reads an internal node's values as 8-byte block numbers whatever value_size says, which on a
// corrupt node could run past the block; dmsim refuses such a node instead.
int check_node(const DmBlockValidator& v, uint64_t location, const uint8_t* d, size_t size, std::string* why) {
  int r = check_blocknr_and_csum(v, location, d, size, "btree spine: node_check", why);
  if (r) return r;
  const uint32_t flags = layout::flags.get(d), nr = layout::nr_entries.get(d), max = layout::max_entries.get(d),
                 vs = layout::value_size.get(d);
  if (layout::kNodeHeaderSize + (8 + static_cast<uint64_t>(vs)) * max > size) {
    *why = "btree spine: node_check failed: max_entries too large";
    return -EILSEQ;
  }
  if (nr > max) {
    *why = "btree spine: node_check failed: too many entries";
    return -EILSEQ;
  }
  if (!(flags & layout::kInternalNode) && !(flags & layout::kLeafNode)) {
    *why = "btree spine: node_check failed: node is neither INTERNAL or LEAF";
    return -EILSEQ;
  }
  if (!(flags & layout::kLeafNode) && vs != 8) {
    *why = "btree spine: internal node with value_size " + std::to_string(vs) + " (dmsim refuses it)";
    return -EILSEQ;
  }
  return 0;
}

// redistribute2 of dm-btree.c: left keeps floor(total / 2) entries, right the rest.
void redistribute2(Node& left, Node& right) {
  const uint32_t nr_left = left.nr(), nr_right = right.nr(), total = nr_left + nr_right;
  const uint32_t target_left = total / 2, target_right = total - target_left;
  if (nr_left < target_left) {
    const uint32_t delta = target_left - nr_left;
    copy_entries(left, nr_left, right, 0, delta);
    move_entries(right, 0, delta, nr_right - delta);
  } else if (nr_left > target_left) {
    const uint32_t delta = nr_left - target_left;
    if (nr_right) move_entries(right, delta, 0, nr_right);
    copy_entries(right, 0, left, target_left, delta);
  }
  left.set_nr(target_left);
  right.set_nr(target_right);
}

// redistribute3 of dm-btree.c: the entries of left and right over three nodes, the center one
// empty to start with: total / 3 on the left, half the rest in the center.
void redistribute3(Node& left, Node& center, Node& right) {
  const uint32_t nr_left = left.nr(), nr_right = right.nr();
  DMSIM_ASSERT(center.nr() == 0, "redistribute3: the center node must start empty");
  const uint32_t total = nr_left + nr_right, target_left = total / 3, target_center = (total - target_left) / 2,
                 target_right = total - target_left - target_center;
  if (nr_left < target_left) {
    const uint32_t left_short = target_left - nr_left;
    copy_entries(left, nr_left, right, 0, left_short);
    copy_entries(center, 0, right, left_short, target_center);
    move_entries(right, 0, nr_right - target_right, target_right);
  } else if (nr_left < target_left + target_center) {
    const uint32_t left_to_center = nr_left - target_left;
    copy_entries(center, 0, left, target_left, left_to_center);
    copy_entries(center, left_to_center, right, 0, target_center - left_to_center);
    move_entries(right, 0, nr_right - target_right, target_right);
  } else {
    const uint32_t right_short = target_right - nr_right;
    move_entries(right, right_short, 0, nr_right);
    copy_entries(right, 0, left, nr_left - right_short, right_short);
    copy_entries(center, 0, left, target_left, nr_left - target_left);
  }
  left.set_nr(target_left);
  center.set_nr(target_center);
  right.set_nr(target_right);
}

// A new node with the header (flags, max_entries, value_size) of `like`.
int new_sibling(DmBtreeInfo* info, Node& like, DmBlock** b) {
  const int r = info->tm->new_block(&kBtreeNodeValidator, b);
  if (r) return r;
  uint8_t* d = dm_block_data(*b);
  layout::flags.put(d, like.flags());
  layout::nr_entries.put(d, 0);
  layout::max_entries.put(d, like.max());
  layout::value_size.put(d, like.vs());
  return 0;
}

// split_one_into_two: a new right sibling takes half the current node's entries.
int split_one_into_two(ShadowSpine* s, uint32_t parent_index, uint64_t key) {
  DmBlock* left = s->current();
  Node ln(left);
  DmBlock* right;
  int r = new_sibling(s->info, ln, &right);
  if (r) return r;
  Node rn(right);
  redistribute2(ln, rn);
  Node pn(s->parent());
  uint8_t loc[8];
  put_le64(loc, dm_block_location(right));
  pn.insert_at(parent_index + 1, rn.key(0), loc);
  // Go on in the half the key belongs to.
  if (key < rn.key(0)) {
    s->info->tm->unlock(right);
    s->nodes[1] = left;
  } else {
    s->info->tm->unlock(left);
    s->nodes[1] = right;
  }
  return 0;
}

// split_two_into_three: the current node and a sibling share their entries with a new middle node.
int split_two_into_three(ShadowSpine* s, uint32_t parent_index, uint64_t key) {
  Node pn(s->parent());
  uint32_t middle_index;
  DmBlock *left, *right, *middle;
  int r;
  if (parent_index == 0) {
    middle_index = 1;
    left = s->current();
    r = shadow_child(s->info, pn, parent_index + 1, &right);
  } else {
    middle_index = parent_index;
    right = s->current();
    r = shadow_child(s->info, pn, parent_index - 1, &left);
  }
  if (r) return r;
  Node ln(left), rn(right);
  r = new_sibling(s->info, ln, &middle);
  if (r) {
    s->info->tm->unlock(s->current() == left ? right : left);
    return r;
  }
  Node mn(middle);
  redistribute3(ln, mn, rn);
  pn.set_key(middle_index, rn.key(0));
  uint8_t loc[8];
  put_le64(loc, dm_block_location(middle));
  pn.insert_at(middle_index, mn.key(0), loc);
  DmBlock* keep = key < mn.key(0) ? left : key < rn.key(0) ? middle : right;
  for (DmBlock* b : {left, middle, right})
    if (b != keep) s->info->tm->unlock(b);
  s->nodes[1] = keep;
  return 0;
}

// btree_split_beneath: the root keeps its block and becomes an internal node over two new
// children holding its entries, so that the tree grows at the top and its leaves stay level.
int btree_split_beneath(ShadowSpine* s) {
  DmBtreeInfo* info = s->info;
  Node pn(s->current());
  DmBlock *left, *right;
  int r = new_sibling(info, pn, &left);
  if (r) return r;
  r = new_sibling(info, pn, &right);
  if (r) {
    info->tm->unlock(left);
    return r;
  }
  Node ln(left), rn(right);
  const uint32_t nr_left = pn.nr() / 2, nr_right = pn.nr() - nr_left;
  copy_entries(ln, 0, pn, 0, nr_left);
  ln.set_nr(nr_left);
  copy_entries(rn, 0, pn, nr_left, nr_right);
  rn.set_nr(nr_right);
  layout::flags.put(pn.d, layout::kInternalNode);
  layout::nr_entries.put(pn.d, 2);
  layout::max_entries.put(pn.d, calc_max_entries(info, 8));
  layout::value_size.put(pn.d, 8);
  pn.set_key(0, ln.key(0));
  pn.set_child(0, dm_block_location(left));
  pn.set_key(1, rn.key(0));
  pn.set_child(1, dm_block_location(right));
  info->tm->unlock(left);
  info->tm->unlock(right);
  return 0;
}

// rebalance_left / rebalance_right: entries move between the current node and a sibling, the
// parent's key for the right one follows, and the walk goes on where the key now belongs.
int rebalance_left(ShadowSpine* s, uint32_t parent_index, uint64_t key) {
  Node parent(s->parent());
  DmBlock* sib;
  const int r = shadow_child(s->info, parent, parent_index - 1, &sib);
  if (r) return r;
  Node left(sib), right(s->current());
  redistribute2(left, right);
  parent.set_key(parent_index, right.key(0));
  if (key < right.key(0)) {
    s->info->tm->unlock(s->nodes[1]);
    s->nodes[1] = sib;
  } else {
    s->info->tm->unlock(sib);
  }
  return 0;
}

int rebalance_right(ShadowSpine* s, uint32_t parent_index, uint64_t key) {
  Node parent(s->parent());
  DmBlock* sib;
  const int r = shadow_child(s->info, parent, parent_index + 1, &sib);
  if (r) return r;
  Node left(s->current()), right(sib);
  redistribute2(left, right);
  parent.set_key(parent_index + 1, right.key(0));
  if (key < right.key(0)) {
    s->info->tm->unlock(sib);
  } else {
    s->info->tm->unlock(s->nodes[1]);
    s->nodes[1] = sib;
  }
  return 0;
}

int get_node_free_space(DmBtreeInfo* info, uint64_t b, uint32_t* space) {
  DmBlock* blk;
  const int r = info->tm->read_lock(b, &kBtreeNodeValidator, &blk);
  if (r) return r;
  Node n(blk);
  *space = n.max() - n.nr();
  info->tm->unlock(blk);
  return 0;
}

// A sibling worth moving entries into has at least this many free slots (SPACE_THRESHOLD).
constexpr uint32_t kSpaceThreshold = 8;

// rebalance_or_split of dm-btree.c (the "improve btree residency" version): a full node below the
// root first gives entries to an unshared sibling with room (shared siblings are left alone, as
// copying them would cost more space than it saves), else splits: one into two at the ends of
// the parent or next to a shared sibling, two into three otherwise.
int rebalance_or_split(ShadowSpine* s, uint32_t parent_index, uint64_t key) {
  DmBtreeInfo* info = s->info;
  Node parent(s->parent());
  const uint32_t nr_parent = parent.nr();
  bool left_shared = false, right_shared = false;
  uint32_t free_space;
  int r;
  if (parent_index > 0) {
    const uint64_t left_b = parent.child(parent_index - 1);
    left_shared = info->tm->ref(left_b) > 1;
    if (!left_shared) {
      r = get_node_free_space(info, left_b, &free_space);
      if (r) return r;
      if (free_space >= kSpaceThreshold) return rebalance_left(s, parent_index, key);
    }
  }
  if (parent_index + 1 < nr_parent) {
    const uint64_t right_b = parent.child(parent_index + 1);
    right_shared = info->tm->ref(right_b) > 1;
    if (!right_shared) {
      r = get_node_free_space(info, right_b, &free_space);
      if (r) return r;
      if (free_space >= kSpaceThreshold) return rebalance_right(s, parent_index, key);
    }
  }
  if (left_shared || right_shared || nr_parent <= 2 || parent_index == 0 || parent_index + 1 == nr_parent)
    return split_one_into_two(s, parent_index, key);
  return split_two_into_three(s, parent_index, key);
}

// has_space_for_insert: a full leaf still has room for an overwrite.
bool has_space_for_insert(Node& n, uint64_t key) {
  if (n.nr() < n.max()) return true;
  if (!n.leaf()) return false;
  const int i = n.lower(key);
  return i >= 0 && n.key(static_cast<uint32_t>(i)) == key;
}

// btree_insert_raw: down from the root, shadowing each node and making room in it before stepping
// on, so that a split below always finds room in its parent. Ends at the leaf with `index` the
// key's slot (its entry, or where it goes).
int btree_insert_raw(ShadowSpine* s, uint64_t root, uint64_t key, int* index) {
  int i = *index;
  bool top = true;
  for (int depth = 0;; depth++) {
    if (depth > kMaxDepth) return too_deep(root);
    int r = s->step(root);
    if (r) return r;
    if (s->has_parent() && i >= 0)
      Node(s->parent()).set_child(static_cast<uint32_t>(i), dm_block_location(s->current()));
    Node node(s->current());
    if (!has_space_for_insert(node, key)) {
      r = top ? btree_split_beneath(s) : rebalance_or_split(s, static_cast<uint32_t>(i), key);
      if (r) return r;
      node = Node(s->current());  // making room can move the walk to a sibling
    }
    i = node.lower(key);
    if (node.leaf()) {
      if (i < 0 || node.key(static_cast<uint32_t>(i)) != key) i++;
      *index = i;
      return 0;
    }
    if (i < 0) {
      node.set_key(0, key);  // the new key is the subtree's lowest
      i = 0;
    }
    root = node.child(static_cast<uint32_t>(i));
    top = false;
  }
}

int del_rec(DmBtreeInfo* info, uint64_t block, int depth = 0) {
  if (depth > kMaxDepth) return too_deep(block);
  if (info->tm->ref(block) > 1) {
    info->tm->dec(block);  // still used by another tree
    return 0;
  }
  DmBlock* blk;
  int r = info->tm->read_lock(block, &kBtreeNodeValidator, &blk);
  if (r) return r;
  Node n(blk);
  std::vector<uint64_t> children;
  std::vector<std::vector<uint8_t>> values;
  for (uint32_t i = 0; i < n.nr(); i++) {
    if (!n.leaf())
      children.push_back(n.child(i));
    else
      values.emplace_back(n.value(i), n.value(i) + n.vs());
  }
  info->tm->unlock(blk);
  for (uint64_t c : children) {
    r = del_rec(info, c, depth + 1);
    if (r) return r;
  }
  if (info->value_type.dec)
    for (const auto& v : values) info->value_type.dec(v.data());
  info->tm->dec(block);
  return 0;
}

}  // namespace

const DmBlockValidator kBtreeNodeValidator{"btree_node", layout::kFormat, nullptr, check_node};

int dm_btree_empty(DmBtreeInfo* info, uint64_t* root) {
  DmBlock* b;
  const int r = new_node(info, true, &b);
  if (r) return r;
  *root = dm_block_location(b);
  info->tm->unlock(b);
  return 0;
}

int dm_btree_del(DmBtreeInfo* info, uint64_t root) {
  return del_rec(info, root);
}

namespace {
int lookup_next_rec(DmBtreeInfo* info, uint64_t root, uint64_t key, uint64_t* found_key, uint8_t* value, int depth);
int walk_rec(DmBtreeInfo* info, uint64_t root, const std::function<int(uint64_t, const uint8_t*)>& fn, int depth);
}  // namespace

int dm_btree_lookup_next(DmBtreeInfo* info, uint64_t root, uint64_t key, uint64_t* found_key, uint8_t* value) {
  return lookup_next_rec(info, root, key, found_key, value, 0);
}

int dm_btree_walk(DmBtreeInfo* info, uint64_t root, const std::function<int(uint64_t, const uint8_t*)>& fn) {
  return walk_rec(info, root, fn, 0);
}

namespace {
int walk_nodes_rec(DmBtreeInfo* info, uint64_t block, const std::function<int(uint64_t)>& fn,
                   const std::function<int(const uint8_t*)>& leaf_value, int depth) {
  if (depth > kMaxDepth) return too_deep(block);
  int r = fn(block);
  if (r < 0) return r;
  if (r > 0) return 0;  // the caller has seen this subtree already
  DmBlock* blk;
  r = info->tm->read_lock(block, &kBtreeNodeValidator, &blk);
  if (r) return r;
  Node n(blk);
  std::vector<uint64_t> children;
  std::vector<uint8_t> values;
  if (!n.leaf())
    for (uint32_t i = 0; i < n.nr(); i++) children.push_back(n.child(i));
  else if (leaf_value)
    for (uint32_t i = 0; i < n.nr(); i++) values.insert(values.end(), n.value(i), n.value(i) + n.vs());
  const uint32_t vs = n.vs();
  info->tm->unlock(blk);
  for (size_t off = 0; off < values.size(); off += vs) {
    r = leaf_value(values.data() + off);
    if (r) return r;
  }
  for (uint64_t c : children) {
    r = walk_nodes_rec(info, c, fn, leaf_value, depth + 1);
    if (r) return r;
  }
  return 0;
}
}  // namespace

int dm_btree_walk_nodes(DmBtreeInfo* info, uint64_t root, const std::function<int(uint64_t)>& fn,
                        const std::function<int(const uint8_t*)>& leaf_value) {
  return walk_nodes_rec(info, root, fn, leaf_value, 0);
}

namespace {
int lookup_next_rec(DmBtreeInfo* info, uint64_t root, uint64_t key, uint64_t* found_key, uint8_t* value, int depth) {
  if (depth > kMaxDepth) return too_deep(root);
  DmBlock* blk;
  int r = info->tm->read_lock(root, &kBtreeNodeValidator, &blk);
  if (r) return r;
  Node n(blk);
  if (n.leaf()) {
    int i = n.lower(key);
    uint32_t pos =
        (i >= 0 && n.key(static_cast<uint32_t>(i)) == key) ? static_cast<uint32_t>(i) : static_cast<uint32_t>(i + 1);
    if (pos >= n.nr()) {
      info->tm->unlock(blk);
      return -ENODATA;
    }
    *found_key = n.key(pos);
    if (value) std::memcpy(value, n.value(pos), n.vs());
    info->tm->unlock(blk);
    return 0;
  }
  int i = std::max(n.lower(key), 0);
  std::vector<uint64_t> children;
  for (uint32_t k = static_cast<uint32_t>(i); k < n.nr(); k++) children.push_back(n.child(k));
  info->tm->unlock(blk);
  for (uint64_t c : children) {
    r = lookup_next_rec(info, c, key, found_key, value, depth + 1);
    if (r != -ENODATA) return r;
  }
  return -ENODATA;
}

int walk_rec(DmBtreeInfo* info, uint64_t root, const std::function<int(uint64_t, const uint8_t*)>& fn, int depth) {
  if (depth > kMaxDepth) return too_deep(root);
  DmBlock* blk;
  int r = info->tm->read_lock(root, &kBtreeNodeValidator, &blk);
  if (r) return r;
  Node n(blk);
  std::vector<uint64_t> keys, children;
  std::vector<std::vector<uint8_t>> values;
  const bool leaf = n.leaf();
  for (uint32_t i = 0; i < n.nr(); i++) {
    keys.push_back(n.key(i));
    if (leaf)
      values.emplace_back(n.value(i), n.value(i) + n.vs());
    else
      children.push_back(n.child(i));
  }
  info->tm->unlock(blk);
  for (size_t i = 0; i < keys.size(); i++) {
    r = leaf ? fn(keys[i], values[i].data()) : walk_rec(info, children[i], fn, depth + 1);
    if (r) return r;
  }
  return 0;
}
}  // namespace

namespace {
// Read-locks the node at `block`, `depth` levels down a lookup: a path deeper than any real tree
// is corrupt metadata, refused before it can loop.
int read_node(DmBtreeInfo* info, uint64_t block, int depth, DmBlock** blk) {
  if (depth > kMaxDepth) return too_deep(block);
  return info->tm->read_lock(block, &kBtreeNodeValidator, blk);
}
}  // namespace

int dm_btree_lookup(DmBtreeInfo* info, uint64_t root, uint64_t key, uint8_t* value) {
  uint64_t block = root;
  for (int depth = 0;; depth++) {
    DmBlock* blk;
    int r = read_node(info, block, depth, &blk);
    if (r) return r;
    Node n(blk);
    const int i = n.lower(key);
    if (i < 0) {
      info->tm->unlock(blk);
      return -ENODATA;
    }
    if (n.leaf()) {
      const bool hit = n.key(static_cast<uint32_t>(i)) == key;
      if (hit && value) std::memcpy(value, n.value(static_cast<uint32_t>(i)), n.vs());
      info->tm->unlock(blk);
      return hit ? 0 : -ENODATA;
    }
    block = n.child(static_cast<uint32_t>(i));
    info->tm->unlock(blk);
  }
}

int dm_btree_insert(DmBtreeInfo* info, uint64_t root, uint64_t key, const uint8_t* value, uint64_t* new_root,
                    int* inserted, bool dec_old) {
  KFRAME_NAMED("dm_btree_insert");
  ShadowSpine spine(info);
  int index = -1;
  const int r = btree_insert_raw(&spine, root, key, &index);
  if (r) return r;
  Node n(spine.current());
  const uint32_t i = static_cast<uint32_t>(index);
  if (i >= n.nr() || n.key(i) != key) {
    if (inserted) *inserted = 1;
    n.insert_at(i, key, value);
  } else {
    if (inserted) *inserted = 0;
    uint8_t* old = n.value(i);
    const DmBtreeValueType& vt = info->value_type;
    if (dec_old && vt.dec && !(vt.equal && vt.equal(old, value))) vt.dec(old);
    std::memcpy(old, value, n.vs());
  }
  *new_root = spine.root;
  return 0;
}

int dm_btree_find_lowest_key(DmBtreeInfo* info, uint64_t root, uint64_t* key) {
  return dm_btree_lookup_next(info, root, 0, key, nullptr);
}

int dm_btree_find_highest_key(DmBtreeInfo* info, uint64_t root, uint64_t* key) {
  uint64_t block = root;
  for (int depth = 0;; depth++) {
    DmBlock* blk;
    int r = read_node(info, block, depth, &blk);
    if (r) return r;
    Node n(blk);
    if (n.nr() == 0) {
      info->tm->unlock(blk);
      return -ENODATA;
    }
    if (n.leaf()) {
      *key = n.key(n.nr() - 1);
      info->tm->unlock(blk);
      return 0;
    }
    block = n.child(n.nr() - 1);
    info->tm->unlock(blk);
  }
}

}  // namespace engines::pd
