// The journal's derived views: which activation a snapshot device is judged by.
#include "engines/journal.hpp"

#include <catch2/catch.hpp>

using engines::JournalEvent;

namespace {

JournalEvent activation(const std::string& dev, bool fresh, uint64_t at_ns) {
  return {.kind = JournalEvent::SnapshotDevice,
          .device = dev,
          .metadata_device = "/dev/cow",
          .origin_device = "/dev/mapper/origin",
          .at_ns = at_ns,
          .data_device = "/dev/base",
          .fresh = fresh};
}

}  // namespace

TEST_CASE("a snapshot activated again is judged by its first activation; one begun anew by its latest") {
  // Begun, activated again (a reboot or a reload), begun anew on a wiped COW, activated again.
  const std::vector<JournalEvent> events = {
      activation("/dev/mapper/snap", true, 10), activation("/dev/mapper/snap", false, 20),
      activation("/dev/mapper/snap", true, 30), activation("/dev/mapper/snap", false, 40)};
  REQUIRE(engines::snapshot_references({events.begin(), events.begin() + 2}).at("/dev/mapper/snap") == 0);
  REQUIRE(engines::snapshot_references(events).at("/dev/mapper/snap") == 2);
  // Without any fresh activation (a COW prepared before the run), the first one.
  const std::vector<JournalEvent> old = {activation("/dev/mapper/snap", false, 10),
                                         activation("/dev/mapper/snap", false, 20)};
  REQUIRE(engines::snapshot_references(old).at("/dev/mapper/snap") == 0);
  // Only the events `counts` accepts.
  REQUIRE(engines::snapshot_references(events, [](size_t i) { return i != 2; }).at("/dev/mapper/snap") == 0);
  REQUIRE(engines::clone_sources(events).at("/dev/mapper/snap").at_ns == 30);
}
