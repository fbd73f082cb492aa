#include "verify/block_device_oracle.hpp"

#include <catch2/catch.hpp>

using namespace verify;
using model::written_token;

namespace {
TopIo write(uint64_t id, uint64_t sector, uint64_t submit, uint64_t ack, bool fua = false) {
  TopIo io;
  io.kind = TopIo::Data;
  io.device = "/dev/mapper/x";
  io.sector = sector;
  io.sectors = 1;
  io.id = id;
  io.submit_ns = submit;
  io.ack_ns = ack;
  io.acked = ack != 0;
  io.fua = fua;
  return io;
}
TopIo flush(uint64_t submit, uint64_t ack) {
  TopIo io;
  io.kind = TopIo::Flush;
  io.device = "/dev/mapper/x";
  io.submit_ns = submit;
  io.ack_ns = ack;
  io.acked = true;
  return io;
}
}  // namespace

TEST_CASE("after a completed flush the flushed value or a later one is legal, an older one is not") {
  TopIoLog log;
  log.ios = {write(1, 0, 10, 20), write(2, 0, 30, 40), flush(50, 60), write(3, 0, 70, 80)};
  BlockDeviceOracle o(log, 100, false);
  const LegalValues l = o.legal("/dev/mapper/x", 0);
  REQUIRE(l.allows(written_token(2, 0)));
  REQUIRE(l.allows(written_token(3, 0)));
  REQUIRE_FALSE(l.allows(written_token(1, 0)));
  REQUIRE_FALSE(l.allows(model::kZeroToken));
  REQUIRE_FALSE(l.allows(model::initial_token(1, 0)));
  REQUIRE_FALSE(l.allows(written_token(2, 1)));  // never a value from another block
}

TEST_CASE("a flush that had not completed at the crash covers nothing") {
  TopIoLog log;
  log.ios = {write(1, 0, 10, 20), flush(50, 160)};
  const LegalValues l = BlockDeviceOracle(log, 100, false).legal("/dev/mapper/x", 0);
  REQUIRE(l.allows(written_token(1, 0)));
  REQUIRE(l.original);
}

TEST_CASE("a FUA write is durable on acknowledgement; a write in flight may or may not be there") {
  TopIoLog log;
  log.ios = {write(1, 0, 10, 20, true), write(2, 0, 30, 0)};
  const LegalValues l = BlockDeviceOracle(log, 100, false).legal("/dev/mapper/x", 0);
  REQUIRE(l.allows(written_token(1, 0)));
  REQUIRE(l.allows(written_token(2, 0)));
  REQUIRE_FALSE(l.original);
}

TEST_CASE("a write the crash came before did not happen") {
  TopIoLog log;
  log.ios = {write(1, 0, 10, 20, true), write(2, 0, 150, 160, true)};
  const LegalValues l = BlockDeviceOracle(log, 100, false).legal("/dev/mapper/x", 0);
  REQUIRE_FALSE(l.allows(written_token(2, 0)));
}

TEST_CASE("zeroes are legal after a discard or a zero write, and on a zero-filled disk before any durable write") {
  TopIoLog log;
  log.ios = {write(1, 0, 10, 20, true)};
  TopIo d = write(2, 0, 30, 40);
  d.kind = TopIo::Discard;
  log.ios.push_back(d);
  REQUIRE(BlockDeviceOracle(log, 100, false).legal("/dev/mapper/x", 0).allows(model::kZeroToken));
  TopIoLog fresh;
  fresh.ios = {write(5, 3, 10, 20)};
  REQUIRE_FALSE(BlockDeviceOracle(fresh, 100, false).legal("/dev/mapper/x", 3).allows(model::kZeroToken));
  REQUIRE(BlockDeviceOracle(fresh, 100, true).legal("/dev/mapper/x", 3).allows(model::kZeroToken));
}
