// dm-exception-store.c: the table's `<store> <chunk_size>` arguments and the chunk size rules
// shared by both store types.
#include "engines/snapshot/exception_store.hpp"

#include <bit>
#include <cctype>
#include <climits>

#include "model/dm/dm_target.hpp"
#include "model/errno.hpp"

namespace engines::snapshot {

namespace {

constexpr unsigned SECTOR_SHIFT = 9;

// kstrtouint(s, 10, &v): an optional '+', decimal digits, at most one trailing newline, and a
// value that fits in 32 bits; anything else (a '-', spaces, an empty string) is refused.
bool kstrtouint(const std::string& s, uint32_t* out) {
  size_t i = 0, end = s.size();
  if (end && s[end - 1] == '\n') end--;
  if (i < end && s[i] == '+') i++;
  if (i == end) return false;
  uint64_t v = 0;
  for (; i < end; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    if (v > UINT32_MAX) return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

uint32_t logical_block_sectors(const model::BlockDevice* bdev) {
  return bdev->limits.logical_block_size >> SECTOR_SHIFT;
}

// The checks of dm_exception_store_set_chunk_size(), in the kernel's order (which decides the
// message a bad table gets): power of two, devices' block size, upper bound.
int check_chunk_size(const StoreContext& ctx, uint32_t chunk_size, std::string* error) {
  if (!std::has_single_bit(chunk_size)) {
    *error = "Chunk size is not a power of 2";
    return -EINVAL;
  }
  if ((ctx.cow && chunk_size % logical_block_sectors(ctx.cow)) ||
      (ctx.origin && chunk_size % logical_block_sectors(ctx.origin))) {
    *error = "Chunk size is not a multiple of device blocksize";
    return -EINVAL;
  }
  if (chunk_size > (INT_MAX >> SECTOR_SHIFT)) {
    *error = "Chunk size is too high";
    return -EINVAL;
  }
  return 0;
}

}  // namespace

// Mirrors dm_exception_store_set_chunk_size().
int dm_exception_store_set_chunk_size(DmExceptionStore* store, uint32_t chunk_size, std::string* error) {
  const int r = check_chunk_size(store->ctx, chunk_size, error);
  if (r) return r;
  store->chunk_size = chunk_size;
  store->chunk_mask = chunk_size - 1;
  store->chunk_shift = static_cast<uint32_t>(std::countr_zero(chunk_size));  // __ffs
  return 0;
}

// Mirrors dm_exception_store_create(), with set_chunk_size() and the types' constructors folded
// in (every check runs before anything is allocated, in the kernel's order). Only the first
// letter chooses the type; the rest is the persistent store's option string, so "persistent"
// fails on the option "ersistent" and "transient" is not P or N, as on a real kernel, which never
// looks its long type names up from a table line.
int dm_exception_store_create(const std::string& store_arg, const std::string& chunk_arg, const StoreContext& ctx,
                              const store_variant& variant, std::unique_ptr<DmExceptionStore>* out,
                              std::string* error) {
  const char persistent = store_arg.empty() ? '\0' : static_cast<char>(std::toupper(store_arg[0]));
  if (persistent != 'P' && persistent != 'N') {
    *error = "Exception store type is not P or N";
    return -EINVAL;
  }

  // set_chunk_size(): a table chunk size of 0 stays 0 for read_metadata() to settle.
  uint32_t chunk_size = 0;
  if (!kstrtouint(chunk_arg, &chunk_size)) {
    *error = "Invalid chunk size";
    return -EINVAL;
  }
  if (chunk_size) {
    const int r = check_chunk_size(ctx, chunk_size, error);
    if (r) return r;
  }

  std::unique_ptr<DmExceptionStore> store;
  if (persistent == 'P') {
    // persistent_ctr(): the only option is O (userspace knows about overflow); the transient
    // constructor ignores whatever follows its N.
    bool overflow = false;
    if (store_arg.size() > 1) {
      const std::string options = store_arg.substr(1);
      if (std::toupper(static_cast<unsigned char>(options[0])) != 'O') {
        model::dm_log("persistent snapshot", "Unsupported persistent store option: " + options);
        *error = "Exception store type constructor failed";
        return -EINVAL;
      }
      overflow = true;
    }
    store = make_persistent_store(ctx, overflow, variant);
  } else {
    store = make_transient_store(ctx);
  }
  if (chunk_size) {
    const int r = dm_exception_store_set_chunk_size(store.get(), chunk_size, error);
    if (r) return r;
  }
  *out = std::move(store);
  return 0;
}

}  // namespace engines::snapshot
