#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("down blocks when the count is exhausted and each up admits the oldest waiter") {
  SimResult r = run([] {
    auto* s = new Semaphore("s->cow_count", 1);
    down(s);
    std::vector<Thread*> ts;
    for (const char* who : {"first", "second"}) {
      ts.push_back(&kthread_run(
          [s, who] {
            down(s);
            note_at(std::string(who) + " admitted");
          },
          who));
      msleep(1);
    }
    up(s);
    msleep(10);
    up(s);
    for (Thread* t : ts) join(*t);
    note("count " + std::to_string(s->count()));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"first admitted @16", "second admitted @32", "count 0"});
}

TEST_CASE("down_trylock returns nonzero when it cannot take the semaphore") {
  SimResult r = run([] {
    auto* s = new Semaphore("s", 1);
    note(std::to_string(down_trylock(s)));
    note(std::to_string(down_trylock(s)));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0", "1"});
}

TEST_CASE("down_timeout gives up after its timeout") {
  SimResult r = run([] {
    auto* s = new Semaphore("s", 0);
    note(s->down_timeout(msecs_to_jiffies(100)) ? "timed out" : "acquired");
    note_at("after");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"timed out", "after @100"});
}
