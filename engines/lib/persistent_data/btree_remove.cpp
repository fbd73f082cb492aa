// Removing a key, as dm-btree-remove.c does: on the way down, before entering a child, the child
// is rebalanced with its siblings (merged with them when together they are few, else entries are
// redistributed), so that the removal at the bottom never leaves a node other than the root with
// fewer than max_entries / 3 entries, the fill the tools check (btree_damage_visitor's "too few
// entries in btree_node"). Every node touched is shadowed; a root left with one child takes the
// child's place.
#include <algorithm>
#include <cstring>

#include "engines/lib/persistent_data/btree.hpp"
#include "engines/lib/persistent_data/btree_internal.hpp"

namespace engines::pd {

using namespace btree_internal;

namespace {

uint32_t merge_threshold(const Node& n) {
  return n.max() / 3;
}

// A child of the node being rebalanced: its index in the parent and its shadow.
struct Child {
  uint32_t index;
  DmBlock* block = nullptr;
};

// init_child: shadow child `index` of the parent (incrementing what it points to when it was
// shared) and point the parent at the shadow.
int init_child(DmBtreeInfo* info, Node& parent, uint32_t index, Child* c) {
  c->index = index;
  return shadow_child(info, parent, index, &c->block);
}

// shift: moves `count` entries from the end of left to the front of right (count > 0), or from
// the front of right to the end of left (count < 0).
void shift(Node& left, Node& right, int count) {
  const uint32_t nr_left = left.nr(), nr_right = right.nr();
  DMSIM_ASSERT(left.max() == right.max(), "btree rebalance: siblings of different max_entries");
  if (count > 0) {
    const uint32_t n = static_cast<uint32_t>(count);
    DMSIM_ASSERT(n <= nr_left && nr_right + n <= right.max(), "btree shift: too many entries to the right");
    move_entries(right, n, 0, nr_right);
    copy_entries(right, 0, left, nr_left - n, n);
    left.set_nr(nr_left - n);
    right.set_nr(nr_right + n);
  } else if (count < 0) {
    const uint32_t n = static_cast<uint32_t>(-count);
    DMSIM_ASSERT(n <= nr_right && nr_left + n <= left.max(), "btree shift: too many entries to the left");
    copy_entries(left, nr_left, right, 0, n);
    move_entries(right, 0, n, nr_right - n);
    left.set_nr(nr_left + n);
    right.set_nr(nr_right - n);
  }
}

// __rebalance2: two siblings with few entries between them become one (the right one's entry
// leaves the parent and its block loses the parent's reference; its children are now the left
// one's), else they share their entries evenly. The threshold is 2 * (max / 3 + 1), the kernel's
// since "dm btree: increase rebalance threshold in __rebalance2()": each half then keeps more than
// a third, so the removal that follows leaves at least a third (with 2 * (max / 3) + 1, as
// earlier kernels had, a half of max / 3 entries drops below it).
void rebalance2_nodes(DmBtreeInfo* info, Node& parent, Child& l, Child& r) {
  Node left(l.block), right(r.block);
  const uint32_t nr_left = left.nr(), nr_right = right.nr();
  const uint32_t threshold = 2 * (merge_threshold(left) + 1);
  if (nr_left + nr_right < threshold) {
    // merge
    copy_entries(left, nr_left, right, 0, nr_right);
    left.set_nr(nr_left + nr_right);
    parent.erase_at(r.index);
    info->tm->dec(dm_block_location(r.block));
  } else {
    const uint32_t target_left = (nr_left + nr_right) / 2;
    shift(left, right, static_cast<int>(nr_left) - static_cast<int>(target_left));
    parent.set_key(r.index, right.key(0));
  }
}

int rebalance2(ShadowSpine* s, uint32_t left_index) {
  Node parent(s->current());
  Child left, right;
  int r = init_child(s->info, parent, left_index, &left);
  if (r) return r;
  r = init_child(s->info, parent, left_index + 1, &right);
  if (r) {
    s->info->tm->unlock(left.block);
    return r;
  }
  rebalance2_nodes(s->info, parent, left, right);
  s->info->tm->unlock(left.block);
  s->info->tm->unlock(right.block);
  return 0;
}

// delete_center_node: as many of the center's entries as fit go to the end of left, the rest to
// the front of right; the center leaves the parent, then left and right rebalance as a pair.
void delete_center_node(DmBtreeInfo* info, Node& parent, Child& l, Child& c, Child& r) {
  Node left(l.block), center(c.block), right(r.block);
  const uint32_t nr_left = left.nr(), nr_center = center.nr(), nr_right = right.nr();
  uint32_t moved = std::min(left.max() - nr_left, nr_center);
  copy_entries(left, nr_left, center, 0, moved);
  left.set_nr(nr_left + moved);
  if (moved != nr_center) {
    const uint32_t rest = nr_center - moved;
    DMSIM_ASSERT(nr_right + rest <= right.max(), "delete_center_node: right sibling overflows");
    move_entries(right, rest, 0, nr_right);
    copy_entries(right, 0, center, moved, rest);
    right.set_nr(nr_right + rest);
  }
  parent.set_key(r.index, right.key(0));
  parent.erase_at(c.index);
  r.index--;
  info->tm->dec(dm_block_location(c.block));
  rebalance2_nodes(info, parent, l, r);
}

// redistribute3 of dm-btree-remove.c: right gets total / 3, left as much or one more, the center
// the rest; entries may travel from one end to the other through the center.
void redistribute3(Node& parent, Child& c, Child& r, Node& left, Node& center, Node& right) {
  int nr_left = static_cast<int>(left.nr()), nr_center = static_cast<int>(center.nr()),
      nr_right = static_cast<int>(right.nr());
  const int total = nr_left + nr_center + nr_right, target_right = total / 3,
            target_left = target_right + (target_right * 3 != total ? 1 : 0);
  if (nr_left < nr_right) {
    int sh = nr_left - target_left;
    if (sh < 0 && nr_center < -sh) {
      // not enough in the center
      shift(left, center, -nr_center);
      sh += nr_center;
      shift(left, right, sh);
      nr_right += sh;
    } else {
      shift(left, center, sh);
    }
    shift(center, right, target_right - nr_right);
  } else {
    int sh = target_right - nr_right;
    if (sh > 0 && nr_center < sh) {
      shift(center, right, nr_center);
      sh -= nr_center;
      shift(left, right, sh);
      nr_left -= sh;
    } else {
      shift(center, right, sh);
    }
    shift(left, center, nr_left - target_left);
  }
  parent.set_key(c.index, center.key(0));
  parent.set_key(r.index, right.key(0));
}

// __rebalance3: three siblings with at most 4 * (max / 3) entries lose the center one, else they
// share their entries.
void rebalance3_nodes(DmBtreeInfo* info, Node& parent, Child& l, Child& c, Child& r) {
  Node left(l.block), center(c.block), right(r.block);
  DMSIM_ASSERT(left.max() == center.max() && center.max() == right.max(),
               "btree rebalance: siblings of different max_entries");
  const uint32_t threshold = merge_threshold(left) * 4 + 1;
  if (left.nr() + center.nr() + right.nr() < threshold)
    delete_center_node(info, parent, l, c, r);
  else
    redistribute3(parent, c, r, left, center, right);
}

int rebalance3(ShadowSpine* s, uint32_t left_index) {
  Node parent(s->current());
  Child left, center, right;
  int r = init_child(s->info, parent, left_index, &left);
  if (r) return r;
  r = init_child(s->info, parent, left_index + 1, &center);
  if (r) {
    s->info->tm->unlock(left.block);
    return r;
  }
  r = init_child(s->info, parent, left_index + 2, &right);
  if (r) {
    s->info->tm->unlock(left.block);
    s->info->tm->unlock(center.block);
    return r;
  }
  rebalance3_nodes(s->info, parent, left, center, right);
  s->info->tm->unlock(left.block);
  s->info->tm->unlock(center.block);
  s->info->tm->unlock(right.block);
  return 0;
}

// rebalance_children: prepares the child the key is under before the walk enters it. A node with
// a single child (only ever the root) takes the child's contents instead, which is how the tree
// loses a level.
int rebalance_children(ShadowSpine* s, uint64_t key, bool* collapsed) {
  DmBtreeInfo* info = s->info;
  Node n(s->current());
  *collapsed = n.nr() == 1;
  if (*collapsed) {
    const uint64_t b = n.child(0);
    DmBlock* child;
    const int r = info->tm->read_lock(b, &kBtreeNodeValidator, &child);
    if (r) return r;
    std::memcpy(n.d, dm_block_data(child), info->tm->bm()->block_size());
    info->tm->unlock(child);
    // The copy now points at the child's children too. The kernel only drops the child's block;
    // when the child is shared that leaves its children one reference short, so dmsim adds them.
    if (info->tm->ref(b) > 1) {
      Node copy(s->current());
      for (uint32_t i = 0; i < copy.nr(); i++) {
        if (!copy.leaf())
          info->tm->inc(copy.child(i));
        else if (info->value_type.inc)
          info->value_type.inc(copy.value(i));
      }
    }
    info->tm->dec(b);
    return 0;
  }
  const int i = n.lower(key);
  if (i < 0) return -ENODATA;
  const bool has_left_sibling = i > 0, has_right_sibling = static_cast<uint32_t>(i) + 1 < n.nr();
  if (!has_left_sibling) return rebalance2(s, static_cast<uint32_t>(i));
  if (!has_right_sibling) return rebalance2(s, static_cast<uint32_t>(i - 1));
  return rebalance3(s, static_cast<uint32_t>(i - 1));
}

int do_leaf(Node& n, uint64_t key, uint32_t* index) {
  const int i = n.lower(key);
  if (i < 0 || static_cast<uint32_t>(i) >= n.nr() || n.key(static_cast<uint32_t>(i)) != key) return -ENODATA;
  *index = static_cast<uint32_t>(i);
  return 0;
}

// remove_raw: down from the root, shadowing each node and rebalancing the child to be entered;
// ends at the leaf holding the key, its slot in `index`.
int remove_raw(ShadowSpine* s, uint64_t root, uint64_t key, uint32_t* index) {
  uint32_t i = *index;
  for (int depth = 0;; depth++) {
    if (depth > kMaxDepth) return too_deep(root);
    int r = s->step(root);
    if (r) return r;
    if (s->has_parent()) Node(s->parent()).set_child(i, dm_block_location(s->current()));
    Node n(s->current());
    if (n.leaf()) return do_leaf(n, key, index);
    bool collapsed;
    r = rebalance_children(s, key, &collapsed);
    if (r) return r;
    n = Node(s->current());
    // After a root took its only child's place, the kernel steps on into a child of the new root
    // that it has not rebalanced, which the removal below can leave under a third full. dmsim
    // rebalances the new root's children first, so the fill the tools check always holds.
    while (collapsed && !n.leaf()) {
      r = rebalance_children(s, key, &collapsed);
      if (r) return r;
      n = Node(s->current());
    }
    if (n.leaf()) return do_leaf(n, key, index);
    const int lb = n.lower(key);
    if (lb < 0) return -ENODATA;
    i = static_cast<uint32_t>(lb);
    root = n.child(i);
  }
}

}  // namespace

int dm_btree_remove(DmBtreeInfo* info, uint64_t root, uint64_t key, uint64_t* new_root) {
  KFRAME_NAMED("dm_btree_remove");
  // dmsim looks first, so that a missing key leaves the tree as it was; the kernel would have
  // shadowed and rebalanced the path before finding out (its callers only remove present keys).
  int r = dm_btree_lookup(info, root, key, nullptr);
  if (r) return r;
  ShadowSpine spine(info);
  uint32_t index = 0;
  r = remove_raw(&spine, root, key, &index);
  if (!r) {
    Node n(spine.current());
    DMSIM_ASSERT(index < n.nr(), "dm_btree_remove: slot past the leaf's entries");
    if (info->value_type.dec) info->value_type.dec(n.value(index));
    n.erase_at(index);
  }
  *new_root = spine.count ? spine.root : root;
  return r;
}

}  // namespace engines::pd
