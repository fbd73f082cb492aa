#include "explore/signature.hpp"

#include <catch2/catch.hpp>

namespace {
verify::UnitResult failing(const std::string& kind, const std::string& title) {
  verify::UnitResult u;
  u.passed = false;
  u.failures.push_back({});
  u.failures.back().violations.push_back({kind, title, ""});
  return u;
}
}  // namespace

TEST_CASE("a signature keeps the kind and the words of the title with every number free") {
  const auto sig = explore::signature_of(failing("leak", "kmemleak: 2 object(s) of dm-era instance not freed"));
  CHECK(sig.kind == "leak");
  CHECK(explore::reproduces(sig, failing("leak", "kmemleak: 17 object(s) of dm-era instance not freed")));
  CHECK_FALSE(explore::reproduces(sig, failing("leak", "kmemleak: 2 object(s) of dm-thin pool not freed")));
  CHECK_FALSE(explore::reproduces(sig, failing("warning", "kmemleak: 2 object(s) of dm-era instance not freed")));
}

TEST_CASE("a passing unit has no signature and reproduces none") {
  verify::UnitResult ok;
  CHECK(explore::signature_of(ok).empty());
  CHECK_FALSE(explore::reproduces({"leak", "x"}, ok));
}
