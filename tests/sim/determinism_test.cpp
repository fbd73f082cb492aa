#include <set>

#include "sim/wire.hpp"
#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

namespace {
// Two threads racing on a mutex and a counter: the order of their notes is the interleaving.
void racy_pair() {
  auto* m = new Mutex("m");
  auto* wq = alloc_workqueue("wq", WQ_UNBOUND, 2);
  std::vector<Thread*> ts;
  for (const char* who : {"A", "B"})
    ts.push_back(&kthread_run(
        [m, wq, who] {
          for (int i = 0; i < 4; i++) {
            mutex_lock(m);
            note(who);
            mutex_unlock(m);
            queue_work(wq, new WorkStruct(
                               "w", [](WorkStruct*) {}, "fn"));
          }
        },
        who));
  for (Thread* t : ts) join(*t);
}

SimConfig exploring(uint64_t seed) {
  SimConfig c;
  c.seed = seed;
  c.preempt_rate = 0.3;
  return c;
}

std::string joined(const Notes& n) {
  std::string s;
  for (const auto& x : n) s += x;
  return s;
}
}  // namespace

TEST_CASE("the same seed gives a byte-identical trace") {
  SimResult a = run(racy_pair, exploring(42));
  SimResult b = run(racy_pair, exploring(42));
  REQUIRE_CLEAN(a);
  REQUIRE(a.trace.size() > 50);
  REQUIRE(a.trace == b.trace);
  REQUIRE(sim::to_wire(a) == sim::to_wire(b));
}

TEST_CASE("different seeds give at least two different interleavings of a racy pair") {
  std::set<std::string> orders;
  for (uint64_t seed = 1; seed <= 8; seed++) {
    SimResult r = run(racy_pair, exploring(seed));
    REQUIRE_CLEAN(r);
    orders.insert(joined(r.notes));
  }
  INFO(orders.size() << " interleavings");
  REQUIRE(orders.size() >= 2);
}

TEST_CASE("without exploration every seed gives SimGrid's one fixed interleaving") {
  SimConfig a, b;
  a.seed = 1;
  b.seed = 2;
  REQUIRE(run(racy_pair, a).trace == run(racy_pair, b).trace);
}

TEST_CASE("the trace records time, thread, frame and object of each event") {
  SimResult r = run([] {
    auto* m = new Mutex("md->suspend_lock");
    KFRAME_NAMED("do_resume");
    msleep(4);
    mutex_lock(m);
    mutex_unlock(m);
  });
  REQUIRE_CLEAN(r);
  bool seen = false;
  for (const auto& line : r.trace) seen |= line == "[    0.008000000] 1 main do_resume: mutex_lock md->suspend_lock";
  std::string all;
  for (const auto& line : r.trace) all += line + "\n";
  INFO(all);
  REQUIRE(seen);
}
