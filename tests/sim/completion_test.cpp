#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("wait_for_completion returns after complete from another thread") {
  SimResult r = run([] {
    auto* c = new Completion("c");
    kthread_run(
        [c] {
          msleep(10);
          note_at("completing");
          complete(c);
        },
        "signaler");
    wait_for_completion(c);
    note_at("woken");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"completing @16", "woken @16"});
}

TEST_CASE("a complete before the wait is remembered, and each complete releases one wait") {
  SimResult r = run([] {
    auto* c = new Completion("c");
    complete(c);
    complete(c);
    wait_for_completion(c);
    wait_for_completion(c);
    note(try_wait_for_completion(c) ? "third available" : "no third");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"no third"});
}

TEST_CASE("complete_all releases every waiter and every later wait until reinit") {
  SimResult r = run([] {
    auto* c = new Completion("c");
    std::vector<Thread*> ts;
    for (int i = 0; i < 3; i++) ts.push_back(&kthread_run([c] { wait_for_completion(c); }, "waiter"));
    msleep(5);
    complete_all(c);
    for (Thread* t : ts) join(*t);
    wait_for_completion(c);
    note(completion_done(c) ? "done" : "not done");
    reinit_completion(c);
    note(completion_done(c) ? "done" : "not done");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"done", "not done"});
}

TEST_CASE("wait_for_completion_timeout returns 0 when nobody completes in time") {
  SimResult r = run([] {
    auto* c = new Completion("c");
    note(std::to_string(wait_for_completion_timeout(c, msecs_to_jiffies(200))));
    note_at("gave up");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0", "gave up @200"});
}
