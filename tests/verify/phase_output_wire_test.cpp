// What a phase hands back crosses a process boundary as bytes: every type comes back equal, and
// bytes that are not exactly one value (short, long, or a value out of its field's range) are
// refused rather than read as a different phase.
#include <catch2/catch.hpp>

#include "engines/journal.hpp"
#include "sim/wire.hpp"
#include "tests/sim/wire_test_helpers.hpp"
#include "verify/phase_output.hpp"

using namespace verify;

namespace {

TopIo data_write() {
  TopIo io;
  io.kind = TopIo::Data;
  io.device = "/dev/mapper/eradev";
  io.sector = 8;
  io.sectors = 16;
  io.id = 41;
  io.submit_ns = 1'000;
  io.ack_ns = 2'500;
  io.acked = true;
  io.fua = true;
  io.status = -5;  // a negative errno travels as itself
  io.placed = {Placement{8, 8, 1, 2056, false}, Placement{16, 8, -1, 0, true}};
  io.journal_at = 3;
  return io;
}

TopIo flush() {
  TopIo io;
  io.kind = TopIo::Flush;
  io.device = "/dev/sdb";
  io.submit_ns = 3'000;
  return io;
}

engines::Journal journal() {
  using engines::JournalEvent;
  engines::Journal j;
  j.events = {
      {.kind = JournalEvent::EraFormat, .device = "/dev/sdb"},
      {.kind = JournalEvent::EraMap, .device = "/dev/mapper/eradev", .write_id = 41, .era_block = 2, .era = 1},
      {.kind = JournalEvent::EraMark, .device = "/dev/mapper/eradev", .write_id = 41, .era_block = 2, .era = 2},
      {.kind = JournalEvent::EraResize, .device = "/dev/mapper/eradev", .nr_blocks = 1'000'000'000'000},
  };
  engines::CommitRecord c;
  c.metadata_device = "/dev/sdb";
  c.token = 0xfeedfacecafebeef;
  c.top_device = "/dev/mapper/eradev";
  c.block_sectors = 128;
  c.blocks = {0, 2, UINT64_MAX};
  j.commits = {c, engines::CommitRecord{}};
  return j;
}

PhaseOutput phase_output() {
  PhaseOutput o;
  o.finished = true;
  o.steps = {
      StepRecord{.index = 0,
                 .text = "dmsetup create eradev --table '0 2048 era /dev/sdb /dev/sdc 128'",
                 .finished = true,
                 .out = "",
                 .err = "device-mapper: reload ioctl failed\n",
                 .start_ns = 10,
                 .end_ns = 20,
                 .dmesg_from = 0,
                 .dmesg_to = 2},
      StepRecord{
          .index = 3, .text = "dd &", .exit_code = 1, .expect_failure = true, .out = "0+0 records in\n", .err = ""}};
  o.io.ios = {data_write(), flush()};
  o.end_ns = 99'000;
  o.disks = {DiskState{"trace text\nwith lines\n", 7, 4096, 4096, true, false}, DiskState{}};
  o.data_map = {Extent{"/dev/mapper/eradev", Placement{0, 2048, 1, 0, false}}};
  o.claims = {Claim{"/dev/sdb", 15}};
  o.reads = {OracleRead{"/dev/mapper/eradev", true, {{8, 0x1234}, {9, 0}}, {10, 11}},
             OracleRead{"/dev/mapper/gone", false, {}, {}}};
  o.check_violations = {{"era-written-since", "block 2 ..."}};
  o.check_notes = {{"metadata-check", "metadata device /dev/sdb was removed at step 4"}};
  o.leaked_bios = 2;
  o.journal = journal();
  o.real_tools = {ToolTally{"era_check", 57, 1}};
  o.missing_tools = {"thin_check"};
  return o;
}

}  // namespace

TEST_CASE("a phase output comes back equal in every field") {
  const PhaseOutput o = phase_output();
  const PhaseOutput back = wiretest::round_trip(o);
  REQUIRE(back == o);
  REQUIRE(sim::to_wire(back) == sim::to_wire(o));
}

TEST_CASE("each type family that crosses the boundary comes back equal on its own") {
  const PhaseOutput o = phase_output();
  REQUIRE(wiretest::round_trip(o.steps[0]) == o.steps[0]);
  REQUIRE(wiretest::round_trip(o.disks[0]) == o.disks[0]);
  REQUIRE(wiretest::round_trip(o.data_map) == o.data_map);
  REQUIRE(wiretest::round_trip(o.reads) == o.reads);
  REQUIRE(wiretest::round_trip(o.io) == o.io);
  REQUIRE(wiretest::round_trip(o.io.ios[0].placed[1]).disk == -1);  // an unknown place stays unknown
  REQUIRE(wiretest::round_trip(o.journal.events) == o.journal.events);
  REQUIRE(wiretest::round_trip(o.journal.commits) == o.journal.commits);
  REQUIRE(wiretest::round_trip(o.real_tools) == o.real_tools);
  REQUIRE(wiretest::round_trip(PhaseOutput{}) == PhaseOutput{});
}

TEST_CASE("a phase output cut short anywhere, or with bytes after it, is refused") {
  wiretest::require_exact_framing(phase_output(), "phase output");
}

TEST_CASE("a value that does not fit its field is refused") {
  sim::WireWriter w;
  w(uint64_t{2});  // not a bool
  REQUIRE_THROWS_AS(sim::from_wire<bool>(w.bytes(), "flag"), sim::WireError);
  sim::WireWriter big;
  big(uint64_t{1} << 32);  // beyond a disk id
  REQUIRE_THROWS_WITH(sim::from_wire<uint32_t>(big.bytes(), "disk id"), Catch::Contains("does not fit"));
}
