// Each thin variant knob against its catalog scenario (enginetest::knob_is_caught).
#include "tests/engines/thin/thin_test_helpers.hpp"

using namespace thintest;

TEST_CASE("thin.no_data_flush_before_commit: a periodic commit makes a COW mapping durable before its copy",
          "[thin][knobs]") {
  enginetest::knob_is_caught(catalog_scenario("data-flush-before-commit.yaml"), "thin.no_data_flush_before_commit",
                             "block-device");
}

TEST_CASE("thin.fua_overwrite_early_completion: a FUA whole-block write is acknowledged before its commit",
          "[thin][knobs]") {
  enginetest::knob_is_caught(catalog_scenario("fua-overwrite.yaml"), "thin.fua_overwrite_early_completion",
                             "block-device");
}

TEST_CASE("thin.precommit_ctx_is_pool_c: a cleared pool table's pool_c is used by the next commit", "[thin][knobs]") {
  enginetest::knob_is_caught(catalog_scenario("precommit-context.yaml"), "thin.precommit_ctx_is_pool_c", "warning");
}

TEST_CASE("thin.double_flush: a flush that triggered a commit is passed down and flushes the data device again",
          "[thin][knobs]") {
  enginetest::knob_is_caught(catalog_scenario("double-flush.yaml"), "thin.double_flush", "max-flushes-per-flush");
}

TEST_CASE("thin.no_in_service_gate: a pool only activated and queried writes its metadata at every commit",
          "[thin][knobs]") {
  enginetest::knob_is_caught(catalog_scenario("in-service-gate.yaml"), "thin.no_in_service_gate", "no-writes-after");
}

TEST_CASE(
    "pdata.sm_alloc_ignores_previous_transaction: a block a status commit left free in the committed map while "
    "its passdown is in flight is allocated again (kernel BUG)",
    "[thin][knobs]") {
  enginetest::knob_is_caught(catalog_scenario("sm-alloc-previous-transaction.yaml"),
                             "pdata.sm_alloc_ignores_previous_transaction", "bug");
}
