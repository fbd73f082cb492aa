#include "verify/block_device_oracle.hpp"

#include <catch2/catch.hpp>
#include <sstream>

using namespace verify;
using model::written_token;

namespace {

const char* kDev = "/dev/mapper/x";

// A write of one sector of /dev/mapper/x, placed at the same sector of disk 0 (a linear map).
TopIo write(uint64_t id, uint64_t sector, uint64_t submit, uint64_t ack, bool fua = false) {
  TopIo io;
  io.kind = TopIo::Data;
  io.device = kDev;
  io.sector = sector;
  io.sectors = 1;
  io.id = id;
  io.submit_ns = submit;
  io.ack_ns = ack;
  io.acked = ack != 0;
  io.fua = fua;
  io.placed = {Placement{sector, 1, 0, sector, false}};
  return io;
}
TopIo flush(uint64_t submit, uint64_t ack) {
  TopIo io;
  io.kind = TopIo::Flush;
  io.device = kDev;
  io.submit_ns = submit;
  io.ack_ns = ack;
  io.acked = true;
  return io;
}

// VolatileCacheDisk 0 (id 1) with the given trace records, as the first phase left it.
std::vector<DiskHistory> disk(bool initial_zero, const std::vector<model::IoRecord>& records = {}) {
  model::DiskTrace t;
  t.records = records;
  std::ostringstream text;
  t.save(text);
  DiskState d;
  d.trace = text.str();
  d.disk_id = 1;
  d.sectors = 2048;
  d.initial_zero = initial_zero;
  return disk_histories({d});
}

// A write that a target below made to disk 0 (its own bio, not one of the steps').
model::IoRecord below(uint64_t id, uint64_t sector, uint64_t submit, model::Token t) {
  model::IoRecord r;
  r.id = id;
  r.op = model::ReqOp::Write;
  r.sector = sector;
  r.sectors = 1;
  r.submit_ns = submit;
  r.complete_ns = submit + 5;
  r.complete_seq = id;
  r.data = std::make_shared<model::SectorBuffer>(1, model::Sector::of_token(t));
  return r;
}

struct Fixture {
  TopIoLog log;
  std::vector<DiskHistory> disks = disk(false);
  std::vector<Claim> claims;
  LegalValues legal(uint64_t sector, uint64_t crash = 100) const {
    return BlockDeviceOracle(PhaseView{&log, &disks, &claims}, crash).legal(kDev, sector);
  }
};

}  // namespace

TEST_CASE("after a completed flush the flushed value or a later one is legal, an older one is not") {
  Fixture f;
  f.log.ios = {write(1, 0, 10, 20), write(2, 0, 30, 40), flush(50, 60), write(3, 0, 70, 80)};
  const LegalValues l = f.legal(0);
  REQUIRE(l.allows(written_token(2, 0)));
  REQUIRE(l.allows(written_token(3, 0)));
  REQUIRE_FALSE(l.allows(written_token(1, 0)));
  REQUIRE_FALSE(l.allows(model::kZeroToken));
  REQUIRE_FALSE(l.allows(model::initial_token(1, 0)));
  REQUIRE_FALSE(l.allows(written_token(2, 1)));  // never a value from another block
}

TEST_CASE("two overlapping writes in flight together are unordered: after a flush either may be durable") {
  Fixture f;
  // 1 and 2 overlap in time: 2 was submitted before 1 completed, and completed first.
  f.log.ios = {write(1, 0, 10, 40), write(2, 0, 20, 30), flush(50, 60)};
  LegalValues l = f.legal(0);
  REQUIRE(l.allows(written_token(1, 0)));
  REQUIRE(l.allows(written_token(2, 0)));
  REQUIRE_FALSE(l.allows(model::initial_token(1, 0)));
  // A write submitted after the other completed orders them: the earlier one is overwritten.
  f.log.ios = {write(1, 0, 10, 20), write(2, 0, 20, 30), flush(50, 60)};
  l = f.legal(0);
  REQUIRE(l.allows(written_token(2, 0)));
  REQUIRE_FALSE(l.allows(written_token(1, 0)));
}

TEST_CASE("a sector whose writes may all be lost reads exactly what its place below held before") {
  Fixture f;
  f.log.ios = {write(1, 7, 10, 20), flush(50, 160)};  // the flush had not completed at the crash
  const LegalValues l = f.legal(7);
  REQUIRE(l.allows(written_token(1, 7)));
  REQUIRE(l.allows(model::initial_token(1, 7)));
  REQUIRE_FALSE(l.allows(model::initial_token(1, 8)));  // another block's original content
  REQUIRE_FALSE(l.allows(model::initial_token(2, 7)));  // another disk's
  REQUIRE_FALSE(l.allows(model::kZeroToken));           // the disk did not start zeroed
}

TEST_CASE("zeroes are original only where the place below was zeroed or the target reads zeroes") {
  Fixture f;
  f.log.ios = {write(5, 3, 10, 20)};
  REQUIRE_FALSE(f.legal(3).allows(model::kZeroToken));
  f.disks = disk(true);
  REQUIRE(f.legal(3).allows(model::kZeroToken));
  REQUIRE_FALSE(f.legal(3).allows(model::initial_token(1, 3)));
  Fixture z;
  z.log.ios = {write(5, 3, 10, 20)};
  z.log.ios[0].placed = {Placement{3, 1, -1, 0, true}};  // a target that reads unwritten blocks as zeroes
  REQUIRE(z.legal(3).allows(model::kZeroToken));
  REQUIRE_FALSE(z.legal(3).allows(model::initial_token(1, 3)));
}

TEST_CASE("a FUA write is durable on acknowledgement; a write in flight may or may not be there") {
  Fixture f;
  f.log.ios = {write(1, 0, 10, 20, true), write(2, 0, 30, 0)};
  const LegalValues l = f.legal(0);
  REQUIRE(l.allows(written_token(1, 0)));
  REQUIRE(l.allows(written_token(2, 0)));
  REQUIRE_FALSE(l.allows(model::initial_token(1, 0)));
}

TEST_CASE("a write the crash came before did not happen") {
  Fixture f;
  f.log.ios = {write(1, 0, 10, 20, true), write(2, 0, 150, 160, true)};
  REQUIRE_FALSE(f.legal(0).allows(written_token(2, 0)));
}

TEST_CASE("zeroes are legal after a discard or a zero write") {
  Fixture f;
  f.log.ios = {write(1, 0, 10, 20, true)};
  TopIo d = write(2, 0, 30, 40);
  d.kind = TopIo::Discard;
  f.log.ios.push_back(d);
  REQUIRE(f.legal(0).allows(model::kZeroToken));
}

TEST_CASE("a target's later write below a device it owns is a later write, not a lost one") {
  // dd wipes a sector of the disk itself, durably; then a table opens the disk and its target
  // writes a superblock there.
  Fixture f;
  TopIo wipe = write(1, 0, 10, 20, true);
  wipe.device = kDev;
  wipe.kind = TopIo::Zero;
  f.log.ios = {wipe};
  const model::Token superblock = model::garbage_token(99);
  f.disks = disk(false, {below(7, 0, 30, superblock)});
  REQUIRE_FALSE(f.legal(0).allows(superblock));  // nobody owned the device: that write is foreign
  f.claims = {Claim{kDev, 25}};
  REQUIRE(f.legal(0).allows(superblock));
  REQUIRE(f.legal(0).allows(model::kZeroToken));
  f.claims = {Claim{kDev, 5}};  // held open only before the wipe
  REQUIRE_FALSE(f.legal(0).allows(superblock));
}

TEST_CASE("a top write through another device mapped to the same place is a later write") {
  Fixture f;
  TopIo other = write(2, 100, 30, 40, true);
  other.device = "/dev/sda";
  other.placed = {Placement{100, 1, 0, 0, false}};  // /dev/sda sector 100 is the place of x's sector 0
  f.log.ios = {write(1, 0, 10, 20, true), other};
  REQUIRE(f.legal(0).allows(written_token(2, 100)));
  REQUIRE_FALSE(f.legal(0).allows(written_token(2, 0)));
}

TEST_CASE("what the place held before the device's first write is its original content") {
  Fixture f;
  f.log.ios = {write(1, 0, 10, 20)};
  f.disks = disk(false, {below(3, 0, 2, model::garbage_token(5))});
  REQUIRE(f.legal(0).allows(model::garbage_token(5)));
}

TEST_CASE("obligations name every place below where the sector was written") {
  Fixture f;
  TopIo moved = write(2, 0, 30, 40);
  moved.placed = {Placement{0, 1, 0, 500, false}};  // the table changed between the writes
  f.log.ios = {write(1, 0, 10, 20), moved};
  const auto obs = BlockDeviceOracle(PhaseView{&f.log, &f.disks, &f.claims}, 100).obligations(kDev);
  REQUIRE(obs.size() == 1);
  REQUIRE(obs[0].places.size() == 2);
  REQUIRE(obs[0].places[0].sector == 0);
  REQUIRE(obs[0].places[1].sector == 500);
  REQUIRE(obs[0].legal.allows(model::initial_token(1, 500)));
}

namespace {

// A write of one sector of a thin device (`dev`), which reads zeroes where never written.
TopIo thin_write(const std::string& dev, uint64_t id, uint64_t sector, uint64_t submit, uint64_t ack,
                 uint64_t journal_at) {
  TopIo io = write(id, sector, submit, ack);
  io.device = dev;
  io.placed = {Placement{sector, 1, -1, 0, true}};
  io.journal_at = journal_at;
  return io;
}

engines::JournalEvent thin_device(const std::string& dev, uint64_t id) {
  return {.kind = engines::JournalEvent::ThinDevice, .device = dev, .metadata_device = "/dev/meta", .dev_id = id};
}

}  // namespace

TEST_CASE("a snapshot may read what its origin held when it was taken, never what the origin got later") {
  engines::Journal j;
  j.events = {
      thin_device("/dev/mapper/thin", 0),
      {.kind = engines::JournalEvent::ThinSnapshot, .metadata_device = "/dev/meta", .dev_id = 1, .origin_id = 0},
      thin_device("/dev/mapper/snap", 1)};
  const auto origins = engines::snapshot_origins(j.events);
  REQUIRE(origins.size() == 1);
  REQUIRE(origins.at("/dev/mapper/snap").origin == "/dev/mapper/thin");
  REQUIRE(origins.at("/dev/mapper/snap").journal_at == 1);

  Fixture f;
  // The origin's write 1 before the snapshot (one event recorded), its write 2 after; then the
  // snapshot's own write 3, which the crash may have lost.
  f.log.ios = {thin_write("/dev/mapper/thin", 1, 4, 10, 20, 1), thin_write("/dev/mapper/thin", 2, 4, 30, 40, 3),
               thin_write("/dev/mapper/snap", 3, 4, 50, 60, 3)};
  BlockDeviceOracle oracle(PhaseView{&f.log, &f.disks, &f.claims}, 100);
  REQUIRE_FALSE(oracle.legal("/dev/mapper/snap", 4).allows(written_token(1, 4)));  // not told of the snapshot yet
  oracle.set_snapshot_origins(origins);
  const LegalValues l = oracle.legal("/dev/mapper/snap", 4);
  REQUIRE(l.allows(written_token(3, 4)));
  REQUIRE(l.allows(written_token(1, 4)));
  REQUIRE(l.allows(model::kZeroToken));
  REQUIRE_FALSE(l.allows(written_token(2, 4)));  // the origin's write after the snapshot
  REQUIRE_FALSE(l.allows(written_token(1, 5)));  // another sector's
}

TEST_CASE(
    "a device over an external origin may read the origin's content where its write was lost, zeroes past "
    "the origin's end, and nothing else") {
  engines::Journal j;
  engines::JournalEvent ext = thin_device("/dev/mapper/thin", 0);
  ext.external_origin = true;
  ext.origin_device = "/dev/origin";
  j.events = {ext};
  const auto origins = engines::external_origins(j.events);
  REQUIRE(origins.size() == 1);
  REQUIRE(origins.at("/dev/mapper/thin") == "/dev/origin");

  Fixture f;
  f.disks = disk(false);
  // The origin is disk 0's sectors 0..9, written at sector 4 by write 1 through its own path;
  // the thin device's write 2 at sector 4 and write 3 at sector 12 (past the origin) were lost.
  TopIo to_origin = write(1, 4, 5, 8);
  to_origin.device = "/dev/origin";
  f.log.ios = {to_origin, thin_write("/dev/mapper/thin", 2, 4, 10, 20, 1),
               thin_write("/dev/mapper/thin", 3, 12, 10, 20, 1)};
  const std::vector<Extent> map = {{"/dev/origin", Placement{0, 10, 0, 0, false}}};
  BlockDeviceOracle oracle(PhaseView{&f.log, &f.disks, &f.claims}, 100);
  oracle.set_external_origins(origins, &map);
  const LegalValues inside = oracle.legal("/dev/mapper/thin", 4);
  REQUIRE(inside.allows(written_token(2, 4)));
  REQUIRE(inside.allows(written_token(1, 4)));               // written through the origin
  REQUIRE(inside.allows(model::initial_token(1, 4)));        // the origin's own content
  REQUIRE_FALSE(inside.allows(model::initial_token(1, 5)));  // another sector of it
  const LegalValues past = oracle.legal("/dev/mapper/thin", 12);
  REQUIRE(past.allows(written_token(3, 12)));
  REQUIRE(past.allows(model::kZeroToken));
  REQUIRE_FALSE(past.allows(model::initial_token(1, 12)));
}

TEST_CASE("a write that failed may have left the old value or part of its own, until a later durable write") {
  Fixture f;
  TopIo failed = write(2, 0, 30, 0);
  failed.ack_ns = 40;
  failed.status = model::BLK_STS_IOERR;
  f.log.ios = {failed};
  LegalValues l = f.legal(0);
  REQUIRE(l.allows(model::initial_token(1, 0)));
  REQUIRE(l.allows(written_token(2, 0)));
  f.log.ios = {failed, write(3, 0, 50, 60), flush(70, 80)};
  l = f.legal(0);
  REQUIRE(l.allows(written_token(3, 0)));
  REQUIRE_FALSE(l.allows(written_token(2, 0)));
  REQUIRE_FALSE(l.allows(model::initial_token(1, 0)));
}
