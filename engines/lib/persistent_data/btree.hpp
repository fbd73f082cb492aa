// A B+tree of u64 keys and fixed-size values in metadata blocks (dm-btree.c semantics):
// every modification shadows the path from the root, so the committed tree is never touched
// and the caller gets a new root; a shared node's copy takes references on what it points to;
// overwriting a value calls the value type's dec on the old one unless `equal` says they match.
// Nodes are encoded as btree_layout.hpp says (the kernel's format). Insert makes room top down
// as dm-btree.c does (split the root beneath, else move entries into a sibling or split); remove
// rebalances the child it enters with its siblings first (btree_remove.cpp, dm-btree-remove.c), so
// every node but the root stays at least a third full.
#pragma once

#include <cstdint>
#include <functional>

#include "engines/lib/persistent_data/transaction_manager.hpp"

namespace engines::pd {

struct DmBtreeValueType {
  uint32_t size = 8;
  std::function<void(const uint8_t* value)> inc;  // a new holder of the value
  std::function<void(const uint8_t* value)> dec;  // a holder let go of it
  std::function<bool(const uint8_t* a, const uint8_t* b)> equal;
};

struct DmBtreeInfo {
  DmTransactionManager* tm;
  DmBtreeValueType value_type;
  // Test seam, 0 in every engine: new nodes get at most this many entries (a multiple of 3), so
  // that a test reaches trees of several levels with a few thousand keys.
  uint32_t max_entries_cap = 0;
};

extern const DmBlockValidator kBtreeNodeValidator;

int dm_btree_empty(DmBtreeInfo* info, uint64_t* root);
// Drops the tree: shared nodes lose a reference, unshared ones are freed with their values.
int dm_btree_del(DmBtreeInfo* info, uint64_t root);
int dm_btree_lookup(DmBtreeInfo* info, uint64_t root, uint64_t key, uint8_t* value);
// The first key >= `key`.
int dm_btree_lookup_next(DmBtreeInfo* info, uint64_t root, uint64_t key, uint64_t* found_key, uint8_t* value);
// `dec_old`: false when the caller already accounted for the value being replaced.
int dm_btree_insert(DmBtreeInfo* info, uint64_t root, uint64_t key, const uint8_t* value, uint64_t* new_root,
                    int* inserted = nullptr, bool dec_old = true);
int dm_btree_remove(DmBtreeInfo* info, uint64_t root, uint64_t key, uint64_t* new_root);
int dm_btree_find_lowest_key(DmBtreeInfo* info, uint64_t root, uint64_t* key);
int dm_btree_find_highest_key(DmBtreeInfo* info, uint64_t root, uint64_t* key);
// Every node of the tree, parents before children (for checkers counting block references):
// `fn` returns < 0 to stop, > 0 to skip what is below a node it has seen before, 0 to go on;
// `leaf_value`, if given, sees the values of every leaf visited.
int dm_btree_walk_nodes(DmBtreeInfo* info, uint64_t root, const std::function<int(uint64_t block)>& fn,
                        const std::function<int(const uint8_t* value)>& leaf_value = {});
// In key order; a non-zero return from fn stops the walk and is returned.
int dm_btree_walk(DmBtreeInfo* info, uint64_t root, const std::function<int(uint64_t key, const uint8_t* value)>& fn);

}  // namespace engines::pd
