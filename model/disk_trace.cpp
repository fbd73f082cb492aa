#include "model/disk_trace.hpp"

#include <cstring>
#include <istream>
#include <ostream>
#include <sstream>
#include <stdexcept>

namespace model {

Sector IoRecord::content_at(uint64_t s, bool discard_zeroes, const Sector& old) const {
  if (op == ReqOp::WriteZeroes) return Sector::of_token(kZeroToken);
  if (op == ReqOp::Discard) return discard_zeroes ? Sector::of_token(kZeroToken) : old;
  return (*data)[s - sector];
}

// One record per line:
//   io ID OP FLAGS SECTOR SECTORS SUBMIT_NS COMPLETE_NS|- STATUS PID CSEQ COVERS DURABLE DROPPED
// followed, for writes with data, by "data" and one item per sector: a token in hex, or
// "b:" and 1024 hex digits for real bytes.
void DiskTrace::save(std::ostream& out) const {
  out << "dmsim-disk-trace 1\n";
  for (const auto& r : records) {
    out << "io " << r.id << ' ' << static_cast<int>(r.op) << ' ' << r.flags << ' ' << r.sector << ' ' << r.sectors
        << ' ' << r.submit_ns << ' ';
    if (r.complete_ns == IoRecord::kInFlight)
      out << '-';
    else
      out << r.complete_ns;
    out << ' ' << static_cast<int>(r.status) << ' ' << r.pid << ' ' << r.complete_seq << ' ' << r.flush_covers << ' '
        << r.durable_at_completion << ' ' << r.dropped;
    if (r.data) {
      out << " data";
      char hex[1025];
      for (const Sector& s : *r.data) {
        if (s.bytes) {
          for (size_t i = 0; i < 512; i++) std::snprintf(hex + 2 * i, 3, "%02x", (*s.bytes)[i]);
          out << " b:" << hex;
        } else {
          std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(s.token));
          out << ' ' << hex;
        }
      }
    }
    out << '\n';
  }
}

DiskTrace DiskTrace::load(std::istream& in) {
  DiskTrace t;
  std::string line;
  size_t lineno = 0;
  auto bad = [&](const std::string& what) {
    throw std::runtime_error("disk trace line " + std::to_string(lineno) + ": " + what);
  };
  if (!std::getline(in, line) || line != "dmsim-disk-trace 1") {
    lineno = 1;
    bad("expected the header 'dmsim-disk-trace 1'");
  }
  lineno = 1;
  while (std::getline(in, line)) {
    lineno++;
    if (line.empty()) continue;
    std::istringstream ls(line);
    std::string kw, complete;
    IoRecord r;
    int op = 0, status = 0;
    if (!(ls >> kw) || kw != "io") bad("expected 'io'");
    if (!(ls >> r.id >> op >> r.flags >> r.sector >> r.sectors >> r.submit_ns >> complete >> status >> r.pid >>
          r.complete_seq >> r.flush_covers >> r.durable_at_completion >> r.dropped))
      bad("expected 14 fields");
    if (op < 0 || op > static_cast<int>(ReqOp::WriteZeroes)) bad("unknown op " + std::to_string(op));
    r.op = static_cast<ReqOp>(op);
    r.status = static_cast<BlkStatus>(status);
    r.complete_ns = complete == "-" ? IoRecord::kInFlight : std::stoull(complete);
    std::string data;
    if (ls >> data) {
      if (data != "data") bad("expected 'data'");
      auto buf = std::make_shared<SectorBuffer>();
      std::string item;
      auto hex = [&](const std::string& h) {
        if (h.empty() || h.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
          bad("bad sector content '" + item + "'");
        return std::stoull(h, nullptr, 16);
      };
      while (ls >> item) {
        if (item.rfind("b:", 0) == 0) {
          if (item.size() != 2 + 1024) bad("a bytes sector needs 1024 hex digits");
          uint8_t bytes[512];
          for (size_t i = 0; i < 512; i++) bytes[i] = static_cast<uint8_t>(hex(item.substr(2 + 2 * i, 2)));
          buf->push_back(Sector::of_bytes(bytes));
        } else {
          buf->push_back(Sector::of_token(hex(item)));
        }
      }
      if (buf->size() != r.sectors)
        bad("data has " + std::to_string(buf->size()) + " sectors, expected " + std::to_string(r.sectors));
      r.data = std::move(buf);
    }
    t.records.push_back(std::move(r));
  }
  return t;
}

}  // namespace model
