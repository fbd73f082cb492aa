// era_variant is read from the era knob table: each knob sets one field of its own, and no field
// is without a knob, so a knob that is on always reaches the engine.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <set>
#include <vector>

#include "engines/era/era_metadata.hpp"
#include "model/knobs.hpp"
#include "tests/verify/verify_test_helpers.hpp"

using engines::era::era_variant;

TEST_CASE("each era knob turns on one field of era_variant, a field no other knob turns on") {
  verifytest::register_once();
  std::set<size_t> fields;
  size_t era_knobs = 0;
  for (const model::Knob& k : model::all_knobs()) {
    if (k.name.rfind("era.", 0) != 0) continue;
    era_knobs++;
    model::set_active_knobs({k.name});
    const era_variant v = era_variant::from_knobs();
    unsigned char bytes[sizeof v];
    std::memcpy(bytes, &v, sizeof v);
    std::vector<size_t> on;
    for (size_t i = 0; i < sizeof v; i++)
      if (bytes[i]) on.push_back(i);
    INFO(k.name);
    REQUIRE(on.size() == 1);
    REQUIRE(fields.insert(on[0]).second);
  }
  model::set_active_knobs({});
  // era_variant is bools only: one byte per field, so every field has its knob.
  REQUIRE(era_knobs == sizeof(era_variant));
  const era_variant off = era_variant::from_knobs();
  unsigned char bytes[sizeof off];
  std::memcpy(bytes, &off, sizeof off);
  REQUIRE(std::count(bytes, bytes + sizeof off, 0) == static_cast<long>(sizeof off));
}
