// dm-snap-transient.c: the "N" store. Exceptions live only in the target's in-core table; the
// store hands out COW chunks from sector 0 up (no header, no metadata) and nothing survives a
// reload.
#include "engines/snapshot/exception_store.hpp"
#include "sim/thread.hpp"

namespace engines::snapshot {

namespace {

class TransientStore final : public DmExceptionStore {
 public:
  explicit TransientStore(const StoreContext& c) { ctx = c; }

  const char* type_name() const override { return "N"; }
  bool supports_merge() const override { return false; }

  // transient_read_metadata: there is nothing to read.
  int read_metadata(const std::function<int(chunk_t, chunk_t)>&) override {
    new_snapshot = true;
    return 0;
  }

  // Mirrors transient_prepare_exception(): the next chunk of the COW device while a whole one
  // still fits. The kernel returns -1 here, not -ENOSPC; callers only test for non-zero.
  int prepare_exception(dm_exception* e) override {
    KFRAME_NAMED("transient_prepare_exception");
    const uint64_t size = ctx.cow->capacity();
    if (size < next_free_ + chunk_size) return -1;
    e->new_chunk = next_free_ >> chunk_shift;  // sector_to_chunk
    next_free_ += chunk_size;
    return 0;
  }

  // transient_commit_exception: nothing to make durable, the callback runs at once with the
  // copy's own validity.
  void commit_exception(const dm_exception&, bool valid, std::function<void(bool)> callback) override {
    KFRAME_NAMED("transient_commit_exception");
    callback(valid);
  }

  // The kernel's transient type has no drop_snapshot: there is no header to mark.
  void drop_snapshot() override {}

  void usage(uint64_t* total_sectors, uint64_t* sectors_allocated, uint64_t* metadata_sectors) const override {
    *sectors_allocated = next_free_;
    *total_sectors = ctx.cow->capacity();
    *metadata_sectors = 0;
  }

 private:
  uint64_t next_free_ = 0;  // in sectors, as transient_c keeps it
};

}  // namespace

// Mirrors transient_ctr().
std::unique_ptr<DmExceptionStore> make_transient_store(const StoreContext& ctx) {
  return std::make_unique<TransientStore>(ctx);
}

}  // namespace engines::snapshot
