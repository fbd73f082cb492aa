// A knob table row is all an engine writes about a knob: the variant it selects and what the
// catalog says of it (the releases it affects) are derived from the row.
#include "model/knobs.hpp"

#include <catch2/catch.hpp>

#include "sim/compiler_false_positives.hpp"

namespace {

struct toy_variant {
  bool old_order = false;
  bool no_check = false;
};

constexpr model::KnobRow<toy_variant> kToyKnobs[] = {
    {.name = "toy.old_order",
     .field = &toy_variant::old_order,
     .fixed_in = "5.12",
     .detects = "warning",
     .source = "a test",
     .description = "the old order"},
    {.name = "toy.no_check",
     .field = &toy_variant::no_check,
     .fixed_in = "unfixed",
     .detects = "leak",
     .source = "a test",
     .description = "no check"},
};

}  // namespace

TEST_CASE("a variant read from a knob table has exactly the fields of the knobs that are on") {
  model::set_active_knobs({"toy.no_check", "era.other"});
  const toy_variant v = model::variant_from_knobs(kToyKnobs);
  model::set_active_knobs({});
  REQUIRE_FALSE(v.old_order);
  REQUIRE(v.no_check);
  const toy_variant fixed = model::variant_from_knobs(kToyKnobs);
  REQUIRE_FALSE(fixed.old_order);
  REQUIRE_FALSE(fixed.no_check);
}

TEST_CASE("a knob's affected releases follow from its fix release unless its row names them") {
  model::Knob k{"toy.k", "d", "s", "5.12", "warning", "", ""};
  REQUIRE(model::affected_releases(k) == "every release before 5.12 (--kernel VERSION below it)");
  k.fixed_in = "unfixed";
  REQUIRE(model::affected_releases(k) == "every release, upstream included (--kernel upstream turns it on)");
  k.fixed_in = "never released";
  REQUIRE(model::affected_releases(k) == "none: the code only existed as a posted proposal");
  DMSIM_GCC_BUG_105651(k.fixed_in = "-";)
  k.affects = "none: a harness self-test knob";
  REQUIRE(model::affected_releases(k) == "none: a harness self-test knob");
}
