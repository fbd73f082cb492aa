// Each dm-clone variant knob against its catalog scenario (enginetest::knob_is_caught).
#include "tests/engines/engine_test_helpers.hpp"

namespace {
scenarios::Scenario catalog(const std::string& file) {
  return enginetest::catalog_scenario("clone", file);
}
}  // namespace

TEST_CASE("clone.no_flush_before_commit: the periodic commit records a copied region before its data is flushed",
          "[clone][knobs]") {
  enginetest::knob_is_caught(catalog("flush-dest-before-commit.yaml"), "clone.no_flush_before_commit", "block-device");
}

TEST_CASE("clone.single_phase_commit: a copy completing during the destination flush joins the commit",
          "[clone][knobs]") {
  enginetest::knob_is_caught(catalog("two-phase-commit.yaml"), "clone.single_phase_commit", "clone-committed-durable");
}

TEST_CASE("clone.inexact_dirty_tracking: a neighbour hydrated after the swap is committed with its word",
          "[clone][knobs]") {
  enginetest::knob_is_caught(catalog("exact-dirty-tracking.yaml"), "clone.inexact_dirty_tracking",
                             "clone-committed-durable");
}

TEST_CASE("clone.redundant_preflush: a flush that waited for a flushing commit flushes the destination again",
          "[clone][knobs]") {
  enginetest::knob_is_caught(catalog("redundant-preflush.yaml"), "clone.redundant_preflush", "max-flushes-per-flush");
}

TEST_CASE("clone.partial_discard_range: a discard inside one region discards the next 4 GiB of regions",
          "[clone][knobs]") {
  enginetest::knob_is_caught(catalog("partial-region-discard.yaml"), "clone.partial_discard_range",
                             "clone-discard-containment");
}

TEST_CASE("clone.nr_regions_overflow_32: a 32-bit kernel accepts a table of 2^32 + 5 regions", "[clone][knobs]") {
  enginetest::knob_is_caught(catalog("nr-regions-overflow.yaml"), "clone.nr_regions_overflow_32", "step-failed");
}

TEST_CASE("clone.region_to_sector_no_cast_32: a region past 2 TiB is hydrated from region 0 on a 32-bit kernel",
          "[clone][knobs]") {
  enginetest::knob_is_caught(catalog("region-to-sector-cast.yaml"), "clone.region_to_sector_no_cast_32",
                             "clone-committed-durable");
}

TEST_CASE("clone.hydrated_count_sign_extension: 2^31 hydrated regions print as 18446744071562067968",
          "[clone][knobs]") {
  enginetest::knob_is_caught(catalog("hydrated-count-sign-extension.yaml"), "clone.hydrated_count_sign_extension",
                             "clone-status");
}

TEST_CASE("clone.discard_source_before_commit: discard_rw_src discards a region's source before its commit",
          "[clone][knobs]") {
  enginetest::knob_is_caught(catalog("discard-source-async.yaml"), "clone.discard_source_before_commit",
                             "clone-source-intact");
}

TEST_CASE("clone.discard_source_sync_before_commit: discard_rw_src's synchronous discard also precedes the commit",
          "[clone][knobs]") {
  enginetest::knob_is_caught(catalog("discard-source-sync.yaml"), "clone.discard_source_sync_before_commit",
                             "clone-source-intact");
}
