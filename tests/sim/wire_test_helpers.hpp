// What every type that crosses a process boundary must do on the wire: come back equal, and
// refuse bytes that are not exactly what a writer wrote.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "sim/wire.hpp"

namespace wiretest {

template <class T>
T round_trip(const T& v) {
  return sim::from_wire<T>(sim::to_wire(v), "test value");
}

// Every proper prefix of v's bytes is refused (never read as a shorter value), and so are
// v's bytes with anything after them.
template <class T>
void require_exact_framing(const T& v, const std::string& what) {
  const std::string bytes = sim::to_wire(v);
  REQUIRE(sim::from_wire<T>(bytes, what) == v);
  for (size_t n = 0; n < bytes.size(); n++) {
    INFO(what << " cut to " << n << " of " << bytes.size() << " bytes");
    REQUIRE_THROWS_AS(sim::from_wire<T>(bytes.substr(0, n), what), sim::WireError);
  }
  REQUIRE_THROWS_WITH(sim::from_wire<T>(bytes + "x", what),
                      Catch::Contains(what) && Catch::Contains("1 byte(s) left after the last field"));
  REQUIRE_THROWS_WITH(sim::from_wire<T>(bytes + std::string(8, '\0'), what),
                      Catch::Contains("8 byte(s) left after the last field"));
}

}  // namespace wiretest
