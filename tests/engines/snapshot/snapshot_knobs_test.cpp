// Each dm-snapshot variant knob against its catalog scenario (enginetest::knob_is_caught).
#include <algorithm>

#include "model/knobs.hpp"
#include "tests/engines/engine_test_helpers.hpp"

namespace {
scenarios::Scenario catalog(const std::string& file) {
  return enginetest::catalog_scenario("snapshot", file);
}
}  // namespace

TEST_CASE(
    "snapshot.cow_throttle_semaphore: a throttled origin writer holds _origins_lock while lvcreate and kcopyd wait",
    "[snapshot][knobs]") {
  enginetest::knob_is_caught(catalog("cow-throttle-deadlock.yaml"), "snapshot.cow_throttle_semaphore", "deadlock");
}

TEST_CASE("snapshot.in_progress_uninit: an uninitialised copy count throttles the first origin write forever",
          "[snapshot][knobs]") {
  enginetest::knob_is_caught(catalog("in-progress-uninit.yaml"), "snapshot.in_progress_uninit", "hung-task");
}

TEST_CASE(
    "snapshot.rt_bitlock_nesting: a spinlock_t taken under the exception table's bit lock sleeps atomically on RT",
    "[snapshot][knobs]") {
  enginetest::knob_is_caught(catalog("rt-bitlock-nesting.yaml"), "snapshot.rt_bitlock_nesting", "atomic-sleep");
}

TEST_CASE("snapshot.merge_no_flush_before_commit: merged chunks are forgotten before the origin holds them durably",
          "[snapshot][knobs]") {
  enginetest::knob_is_caught(catalog("merge-flush-before-commit.yaml"), "snapshot.merge_no_flush_before_commit",
                             "snapshot-merge-durable");
}

TEST_CASE("snapshot.copy_error_bypasses_store: a failed copy leaves the store's batch waiting for it forever",
          "[snapshot][knobs]") {
  enginetest::knob_is_caught(catalog("copy-error-through-store.yaml"), "snapshot.copy_error_bypasses_store",
                             "hung-task");
}

TEST_CASE("snapshot.parallel_kcopyd_callbacks: completions run in parallel append past a full area being committed",
          "[snapshot][knobs]") {
  enginetest::knob_is_caught(catalog("parallel-kcopyd-callbacks.yaml"), "snapshot.parallel_kcopyd_callbacks", "bug");
}

TEST_CASE("a snapshot knob is on under --kernel only for releases that have the bug: from its first release to its fix",
          "[snapshot][knobs]") {
  std::string err;
  auto has = [&](const std::string& version, const std::string& knob) {
    const auto on = model::knobs_for_kernel(version, &err);
    return std::find(on.begin(), on.end(), knob) != on.end();
  };
  // The COW-throttle semaphore came with 5.0 and went with 5.4: 4.19 had no throttle at all.
  CHECK_FALSE(has("4.19", "snapshot.cow_throttle_semaphore"));
  CHECK(has("5.0", "snapshot.cow_throttle_semaphore"));
  CHECK(has("5.3", "snapshot.cow_throttle_semaphore"));
  CHECK_FALSE(has("5.4", "snapshot.cow_throttle_semaphore"));
  // The bit-locked exception tables: 5.2 up to 6.18.
  CHECK_FALSE(has("5.1", "snapshot.rt_bitlock_nesting"));
  CHECK(has("6.18", "snapshot.rt_bitlock_nesting"));
  CHECK_FALSE(has("6.19", "snapshot.rt_bitlock_nesting"));
  CHECK_FALSE(has("upstream", "snapshot.rt_bitlock_nesting"));
  CHECK(err.empty());
}

TEST_CASE("snapshot.completion_as_copies_finish: later exceptions committed first leak the earlier chunks on a crash",
          "[snapshot][knobs]") {
  enginetest::knob_is_caught(catalog("completion-order-leak.yaml"), "snapshot.completion_as_copies_finish",
                             "snapshot-no-leak");
}
