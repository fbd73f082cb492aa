#include "engines/lib/dm_io.hpp"

#include "model/errno.hpp"
#include "sim/kernel.hpp"

namespace engines {

namespace {
struct Io {
  int count = 1;  // one extra reference held while submitting
  unsigned long error_bits = 0;
  std::function<void(unsigned long)> notify;
  sim::Completion* wait = nullptr;
};

void dec_count(Io* io, unsigned region, bool error) {
  if (error) io->error_bits |= 1UL << region;
  if (--io->count) return;
  // A synchronous caller frees io as soon as it is woken, which may be before complete()
  // returns here (a preemptible completion on PREEMPT_RT): io is not touched after it.
  if (sim::Completion* wait = io->wait) {
    sim::complete(wait);
    return;
  }
  if (io->notify) io->notify(io->error_bits);
  delete io;
}
}  // namespace

int dm_io(const DmIoRequest& req, const std::vector<DmIoRegion>& where, unsigned long* error_bits) {
  KFRAME_NAMED("dm_io");
  auto* io = new Io;
  io->notify = req.notify;
  sim::Completion done("dm_io->wait");
  const bool sync = !req.notify;
  if (sync) io->wait = &done;
  sim::Holder sync_where;  // a synchronous caller waits for every region's bio
  sim::Holder* follows = sync ? &sync_where : req.where;
  if (follows) follows->clear();
  for (unsigned i = 0; i < where.size(); i++) {
    const DmIoRegion& r = where[i];
    if (r.count == 0 && !(req.flags & model::REQ_PREFLUSH)) continue;
    model::Bio* bio = model::bio_alloc(r.bdev, req.op, req.flags, r.sector, static_cast<uint32_t>(r.count));
    if (bio->buf && req.buf) {
      bio->buf = req.buf;
      bio->buf_off = req.offset;
    }
    io->count++;
    if (follows) follows->add_part(bio->where);
    bio->end_io = [io, i](model::Bio* b) {
      const bool err = b->status != model::BLK_STS_OK;
      model::bio_put(b);
      dec_count(io, i, err);
    };
    model::submit_bio(bio);
  }
  if (!sync) {
    dec_count(io, 0, false);
    return 0;
  }
  dec_count(io, 0, false);
  sim::WaitingFor wf(sync_where);
  sim::wait_for_completion(&done);
  const unsigned long bits = io->error_bits;
  delete io;
  if (error_bits) *error_bits = bits;
  return bits ? -EIO : 0;
}

}  // namespace engines
