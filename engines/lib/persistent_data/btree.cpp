#include "engines/lib/persistent_data/btree.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engines/lib/persistent_data/btree_layout.hpp"
#include "engines/lib/persistent_data/codec.hpp"
#include "sim/assert.hpp"

namespace engines::pd {

namespace {

namespace layout = btree_layout;
// A corrupt image can make child pointers loop; no real tree of 4 KiB nodes is this deep.
constexpr int kMaxDepth = 24;

int too_deep(uint64_t block) {
  pd_log("device-mapper: btree: tree deeper than " + std::to_string(kMaxDepth) + " levels at block " +
         std::to_string(block) + ": metadata is corrupt");
  return -EILSEQ;
}

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
  // REQUIRES: i < nr().
  void erase_at(uint32_t i) {
    const uint32_t n = nr(), s = vs();
    DMSIM_ASSERT(i < n, "btree erase_at: no entry there");
    std::memmove(d + layout::keys.at(i), d + layout::keys.at(i + 1), 8ull * (n - i - 1));
    std::memmove(value(i), value(i + 1), static_cast<size_t>(s) * (n - i - 1));
    set_nr(n - 1);
  }
};

void init_node(uint8_t* d, size_t block_size, bool leaf, uint32_t value_size) {
  layout::flags.put(d, leaf ? layout::kLeafNode : layout::kInternalNode);
  layout::nr_entries.put(d, 0);
  layout::max_entries.put(d, layout::max_entries_for(block_size, value_size));
  layout::value_size.put(d, value_size);
}

int new_node(DmBtreeInfo* info, bool leaf, DmBlock** b) {
  const int r = info->tm->new_block(&kBtreeNodeValidator, b);
  if (!r) init_node(dm_block_data(*b), info->tm->bm()->block_size(), leaf, leaf ? info->value_type.size : 8);
  return r;
}

// Shadows a node; if it was shared, the copy takes a reference on everything it points to.
int shadow(DmBtreeInfo* info, uint64_t b, DmBlock** result) {
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

struct InsertResult {
  uint64_t location;
  uint64_t first_key;
  bool split = false;
  uint64_t sib_key = 0, sib_location = 0;
  int inserted = 0;
};

// Moves the upper half of `n` into a new node; returns it (write-locked).
int split_node(DmBtreeInfo* info, Node& n, DmBlock** sib_blk) {
  int r = new_node(info, n.leaf(), sib_blk);
  if (r) return r;
  Node sib(*sib_blk);
  const uint32_t total = n.nr(), keep = total / 2, move = total - keep;
  for (uint32_t i = 0; i < move; i++) sib.insert_at(i, n.key(keep + i), n.value(keep + i));
  n.set_nr(keep);
  return 0;
}

// Inserts at `pos`; a full node is split first and the entry goes to whichever half `pos`
// falls in, the new sibling being reported in `res` for the parent to insert.
int insert_or_split(DmBtreeInfo* info, Node& n, uint32_t pos, uint64_t key, const uint8_t* value, InsertResult* res) {
  if (n.nr() < n.max()) {
    n.insert_at(pos, key, value);
    return 0;
  }
  DmBlock* sib_blk;
  int r = split_node(info, n, &sib_blk);
  if (r) return r;
  Node sib(sib_blk);
  if (pos <= n.nr())
    n.insert_at(pos, key, value);
  else
    sib.insert_at(pos - n.nr(), key, value);
  res->split = true;
  res->sib_key = sib.key(0);
  res->sib_location = dm_block_location(sib_blk);
  info->tm->unlock(sib_blk);
  return 0;
}

int insert_rec(DmBtreeInfo* info, uint64_t block, uint64_t key, const uint8_t* value, bool dec_old, InsertResult* res,
               int depth = 0) {
  if (depth > kMaxDepth) return too_deep(block);
  DmBlock* blk;
  int r = shadow(info, block, &blk);
  if (r) return r;
  const uint64_t here = dm_block_location(blk);
  Node n(blk);
  if (n.leaf()) {
    const int i = n.lower(key);
    if (i >= 0 && n.key(static_cast<uint32_t>(i)) == key) {
      uint8_t* old = n.value(static_cast<uint32_t>(i));
      const bool same = info->value_type.equal && info->value_type.equal(old, value);
      if (dec_old && info->value_type.dec && !same) info->value_type.dec(old);
      std::memcpy(old, value, n.vs());
      res->inserted = 0;
    } else {
      r = insert_or_split(info, n, static_cast<uint32_t>(i + 1), key, value, res);
      if (r) {
        info->tm->unlock(blk);
        return r;
      }
      res->inserted = 1;
    }
    res->location = here;
    res->first_key = n.key(0);
    info->tm->unlock(blk);
    return 0;
  }
  // Internal: descend into the child covering the key (lowering keys[0] if needed).
  int i = n.lower(key);
  if (i < 0) {
    n.set_key(0, key);
    i = 0;
  }
  const uint64_t child = n.child(static_cast<uint32_t>(i));
  info->tm->unlock(blk);
  InsertResult cres;
  r = insert_rec(info, child, key, value, dec_old, &cres, depth + 1);
  if (r) return r;
  r = info->tm->bm()->write_lock(here, &kBtreeNodeValidator, &blk);
  if (r) return r;
  Node p(blk);
  uint8_t loc[8];
  put_le64(loc, cres.location);
  std::memcpy(p.value(static_cast<uint32_t>(i)), loc, 8);
  res->inserted = cres.inserted;
  if (cres.split) {
    put_le64(loc, cres.sib_location);
    r = insert_or_split(info, p, static_cast<uint32_t>(i + 1), cres.sib_key, loc, res);
    if (r) {
      info->tm->unlock(blk);
      return r;
    }
  }
  res->location = here;
  res->first_key = p.key(0);
  info->tm->unlock(blk);
  return 0;
}

struct RemoveResult {
  uint64_t location;
  bool empty;
};

int remove_rec(DmBtreeInfo* info, uint64_t block, uint64_t key, RemoveResult* res, int depth = 0) {
  if (depth > kMaxDepth) return too_deep(block);
  DmBlock* blk;
  int r = shadow(info, block, &blk);
  if (r) return r;
  const uint64_t here = dm_block_location(blk);
  Node n(blk);
  const int i = n.lower(key);
  if (n.leaf()) {
    if (i < 0 || n.key(static_cast<uint32_t>(i)) != key) {
      info->tm->unlock(blk);
      return -ENODATA;
    }
    if (info->value_type.dec) info->value_type.dec(n.value(static_cast<uint32_t>(i)));
    n.erase_at(static_cast<uint32_t>(i));
    res->location = here;
    res->empty = n.nr() == 0;
    info->tm->unlock(blk);
    return 0;
  }
  if (i < 0) {
    info->tm->unlock(blk);
    return -ENODATA;
  }
  const uint64_t child = n.child(static_cast<uint32_t>(i));
  info->tm->unlock(blk);
  RemoveResult cres;
  r = remove_rec(info, child, key, &cres, depth + 1);
  if (r) return r;
  r = info->tm->bm()->write_lock(here, &kBtreeNodeValidator, &blk);
  if (r) return r;
  Node p(blk);
  if (cres.empty) {
    info->tm->dec(cres.location);  // the emptied child goes
    p.erase_at(static_cast<uint32_t>(i));
  } else {
    put_le64(p.value(static_cast<uint32_t>(i)), cres.location);
  }
  res->location = here;
  res->empty = p.nr() == 0;
  info->tm->unlock(blk);
  return 0;
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
  InsertResult res;
  int r = insert_rec(info, root, key, value, dec_old, &res);
  if (r) return r;
  if (inserted) *inserted = res.inserted;
  if (!res.split) {
    *new_root = res.location;
    return 0;
  }
  // The root split: a new root above the two halves.
  DmBlock* b;
  r = new_node(info, false, &b);
  if (r) return r;
  Node n(b);
  uint8_t loc[8];
  put_le64(loc, res.location);
  n.insert_at(0, res.first_key, loc);
  put_le64(loc, res.sib_location);
  n.insert_at(1, res.sib_key, loc);
  *new_root = dm_block_location(b);
  info->tm->unlock(b);
  return 0;
}

int dm_btree_remove(DmBtreeInfo* info, uint64_t root, uint64_t key, uint64_t* new_root) {
  KFRAME_NAMED("dm_btree_remove");
  int r = dm_btree_lookup(info, root, key, nullptr);
  if (r) return r;
  RemoveResult res;
  r = remove_rec(info, root, key, &res);
  if (r) return r;
  *new_root = res.location;
  if (res.empty) {
    // An emptied internal root becomes an empty leaf again.
    DmBlock* b;
    r = info->tm->bm()->write_lock(res.location, &kBtreeNodeValidator, &b);
    if (r) return r;
    if (!Node(b).leaf()) init_node(dm_block_data(b), info->tm->bm()->block_size(), true, info->value_type.size);
    info->tm->unlock(b);
  }
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
