#include "engines/lib/kmem.hpp"

#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;

TEST_CASE("a leak report lists the objects left behind in the order they were allocated") {
  // The third allocation fits where the freed first one was, below the second in the heap:
  // heap addresses differ between runs and builds, allocation order does not.
  SimResult r = run([] {
    engines::KmemOwner k("test instance");
    uint64_t* first = k.vzalloc_words(4096, "first");
    k.vzalloc_words(2048, "second");
    k.vfree(first);
    k.vzalloc_words(1024, "third");
    k.check_leaks();
  });
  const sim::Finding* f = finding(r, FindingKind::Leak, "kmemleak: 2 object(s) of test instance");
  INFO(all_text(r));
  REQUIRE(f);
  REQUIRE(f->text.find("unreferenced object of 16384 bytes, allocated in second\n"
                       "unreferenced object of 8192 bytes, allocated in third\n") != std::string::npos);
}
