#include "engines/journal.hpp"

#include <stdexcept>

#include "sim/wire.hpp"

namespace engines {

Journal& journal() {
  static Journal j;
  return j;
}

void journal_event(const std::string& kind, const std::string& device, std::vector<uint64_t> v) {
  journal().events.push_back(JournalEvent{kind, device, std::move(v)});
}

void journal_commit(CommitRecord r) {
  journal().commits.push_back(std::move(r));
}

std::string Journal::serialize() const {
  sim::WireWriter w;
  w.str("JOURNAL1");
  w.u64(events.size());
  for (const auto& e : events) {
    w.str(e.kind);
    w.str(e.device);
    w.u64(e.v.size());
    for (uint64_t x : e.v) w.u64(x);
  }
  w.u64(commits.size());
  for (const auto& c : commits) {
    w.str(c.metadata_device);
    w.u64(c.sector);
    w.u64(c.token);
    w.str(c.top_device);
    w.u64(c.block_sectors);
    w.u64(c.blocks.size());
    for (uint64_t b : c.blocks) w.u64(b);
  }
  return w.take();
}

Journal Journal::deserialize(const std::string& bytes) {
  sim::WireReader r(bytes);
  if (r.str() != "JOURNAL1") throw std::runtime_error("not an engine journal");
  Journal j;
  for (uint64_t n = r.u64(); n > 0; n--) {
    JournalEvent e;
    e.kind = r.str();
    e.device = r.str();
    for (uint64_t k = r.u64(); k > 0; k--) e.v.push_back(r.u64());
    j.events.push_back(std::move(e));
  }
  for (uint64_t n = r.u64(); n > 0; n--) {
    CommitRecord c;
    c.metadata_device = r.str();
    c.sector = r.u64();
    c.token = r.u64();
    c.top_device = r.str();
    c.block_sectors = r.u64();
    for (uint64_t k = r.u64(); k > 0; k--) c.blocks.push_back(r.u64());
    j.commits.push_back(std::move(c));
  }
  return j;
}

}  // namespace engines
