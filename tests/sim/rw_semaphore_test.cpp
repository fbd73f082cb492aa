#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE("readers share an rw_semaphore") {
  SimResult r = run([] {
    auto* s = new RwSemaphore("sem");
    auto reader = [s](const char* who) {
      return [s, who] {
        down_read(s);
        note_at(std::string(who) + " in");
        msleep(10);
        up_read(s);
      };
    };
    Thread& a = kthread_run(reader("a"), "a");
    Thread& b = kthread_run(reader("b"), "b");
    join(a);
    join(b);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"a in @0", "b in @0"});
}

TEST_CASE("a writer excludes readers and writers") {
  SimResult r = run([] {
    auto* s = new RwSemaphore("sem");
    down_write(s);
    Thread& rd = kthread_run(
        [s] {
          down_read(s);
          note_at("reader in");
          up_read(s);
        },
        "reader");
    Thread& wr = kthread_run(
        [s] {
          down_write(s);
          note_at("writer in");
          up_write(s);
        },
        "writer");
    msleep(10);
    note_at("main leaves");
    up_write(s);
    join(rd);
    join(wr);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"main leaves @16", "reader in @16", "writer in @16"});
}

TEST_CASE("a waiting writer blocks new readers (writer preference)") {
  SimResult r = run([] {
    auto* s = new RwSemaphore("_origins_lock");
    down_read(s);  // main holds it for read
    Thread& w = kthread_run(
        [s] {
          down_write(s);
          note_at("writer in");
          msleep(10);
          up_write(s);
        },
        "writer");
    msleep(1);
    Thread& late = kthread_run(
        [s] {
          down_read(s);
          note_at("late reader in");
          up_read(s);
        },
        "late-reader");
    msleep(10);
    note(down_read_trylock(s) ? "trylock succeeded" : "trylock refused behind the writer");
    note_at("first reader leaves");
    up_read(s);
    join(w);
    join(late);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes ==
          Notes{"trylock refused behind the writer", "first reader leaves @24", "writer in @24", "late reader in @40"});
}

TEST_CASE("readers queued behind a writer are admitted together when it leaves") {
  SimResult r = run([] {
    auto* s = new RwSemaphore("sem");
    down_write(s);
    std::vector<Thread*> ts;
    for (int i = 0; i < 3; i++)
      ts.push_back(&kthread_run(
          [s, i] {
            down_read(s);
            note_at("reader " + std::to_string(i) + " in");
            msleep(10);
            up_read(s);
          },
          "reader"));
    msleep(4);
    up_write(s);
    for (Thread* t : ts) join(*t);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"reader 0 in @8", "reader 1 in @8", "reader 2 in @8"});
}

TEST_CASE("up_read by a thread that holds no read lock is reported") {
  SimResult r = run([] {
    auto* s = new RwSemaphore("sem");
    up_read(s);
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::LockMisuse, "up_read of sem by main:1"));
}
