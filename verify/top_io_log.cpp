#include "verify/top_io_log.hpp"

namespace verify {

void write_placement(sim::WireWriter& w, const Placement& p) {
  w.u64(p.sector);
  w.u64(p.sectors);
  w.u64(static_cast<uint64_t>(p.disk));
  w.u64(p.disk_sector);
  w.u64(p.zeroes);
}

Placement read_placement(sim::WireReader& r) {
  Placement p;
  p.sector = r.u64();
  p.sectors = r.u64();
  p.disk = static_cast<int>(r.u64());
  p.disk_sector = r.u64();
  p.zeroes = r.u64();
  return p;
}

void TopIoLog::write(sim::WireWriter& w) const {
  w.u64(ios.size());
  for (const auto& io : ios) {
    w.u64(io.kind);
    w.str(io.device);
    w.u64(io.sector);
    w.u64(io.sectors);
    w.u64(io.id);
    w.u64(io.submit_ns);
    w.u64(io.ack_ns);
    w.u64(io.acked);
    w.u64(io.fua);
    w.u64(static_cast<uint64_t>(io.status));
    w.u64(io.placed.size());
    for (const auto& p : io.placed) write_placement(w, p);
    w.u64(io.journal_at);
  }
}

TopIoLog TopIoLog::read(sim::WireReader& r) {
  TopIoLog log;
  for (uint64_t n = r.u64(); n > 0; n--) {
    TopIo io;
    io.kind = static_cast<TopIo::Kind>(r.u64());
    io.device = r.str();
    io.sector = r.u64();
    io.sectors = r.u64();
    io.id = r.u64();
    io.submit_ns = r.u64();
    io.ack_ns = r.u64();
    io.acked = r.u64();
    io.fua = r.u64();
    io.status = static_cast<int>(r.u64());
    for (uint64_t k = r.u64(); k > 0; k--) io.placed.push_back(read_placement(r));
    io.journal_at = r.u64();
    log.ios.push_back(std::move(io));
  }
  return log;
}

}  // namespace verify
