#include <deque>

#include "tests/sim/sim_test_helpers.hpp"

using namespace simtest;
using namespace sim;

TEST_CASE(
    "a cycle between two threads is reported once it has persisted for hung_task_timeout_secs while a third "
    "keeps running") {
  SimResult r = run([] {
    auto* a = new Mutex("lock_A");
    auto* b = new Mutex("lock_B");
    kthread_run(
        [] {
          for (int i = 0; i < 400; i++) msleep(1000);  // a periodic housekeeping thread
        },
        "housekeeper");
    kthread_run(
        [a, b] {
          KFRAME_NAMED("one");
          mutex_lock(a);
          msleep(10);
          mutex_lock(b);
        },
        "t1");
    kthread_run(
        [a, b] {
          KFRAME_NAMED("two");
          mutex_lock(b);
          msleep(10);
          mutex_lock(a);
        },
        "t2");
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Deadlock, "t1:3 -> mutex lock_B -> t2:4 -> mutex lock_A -> t1:3");
  REQUIRE(f);
  // First seen in the check slice after the hang (1 s), a deadlock 120 s later; the run then
  // stops, long before the housekeeper would have ended.
  REQUIRE(f->time_ns >= 121'000'000'000ULL);
  REQUIRE(f->time_ns <= 122'000'000'000ULL);
  REQUIRE(r.end_time_ns < 130'000'000'000ULL);
  REQUIRE(f->text.find("unchanged since     1.000000000:") != std::string::npos);
  REQUIRE(f->text.find("t1:3 (D) blocked in mutex_lock on mutex lock_B") != std::string::npos);
  REQUIRE(f->text.find("     mutex_lock\n     one\n") != std::string::npos);
  REQUIRE(r.status == RunStatus::Deadlocked);
}

TEST_CASE("a total stall is reported even without a cycle, naming the wait nobody can end") {
  SimResult r = run([] {
    auto* c = new Completion("bio->done");
    KFRAME_NAMED("submit_bio_wait");
    wait_for_completion(c);
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Deadlock, "all threads blocked: main:1");
  REQUIRE(f);
  REQUIRE(f->text.find("nobody is known to end this wait") != std::string::npos);
}

TEST_CASE("a waiter whose signaler is only sleeping is not a deadlock") {
  SimResult r = run([] {
    auto* c = new Completion("c");
    kthread_run(
        [c] {
          msleep(30000);
          complete(c);
        },
        "slow");
    wait_for_completion(c);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a thread in a timed wait is never part of a deadlock") {
  SimResult r = run([] {
    auto* c = new Completion("c");
    note(std::to_string(wait_for_completion_timeout(c, msecs_to_jiffies(5000))));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"0"});
}

TEST_CASE("an annotated signaler closes a cycle through a completion") {
  SimResult r = run([] {
    auto* m = new Mutex("pmd->root_lock");
    auto* c = new Completion("commit_done");
    Thread& committer = kthread_run(
        [m, c] {
          msleep(10);
          mutex_lock(m);  // blocks: main holds it
          complete(c);
          mutex_unlock(m);
        },
        "committer");
    c->add_signaler(committer, "completed by the committer");
    mutex_lock(m);
    wait_for_completion(c);
  });
  INFO(all_text(r));
  REQUIRE(finding(r, FindingKind::Deadlock,
                  "main:1 -> completion commit_done -> committer:2 -> mutex pmd->root_lock -> main:1"));
}

TEST_CASE("the wait-for graph of a report is valid Graphviz with every thread and object of the cycle") {
  SimResult r = run([] {
    auto* a = new Mutex("A");
    auto* b = new Mutex("B");
    kthread_run(
        [a, b] {
          mutex_lock(a);
          msleep(10);
          mutex_lock(b);
        },
        "t1");
    kthread_run(
        [a, b] {
          mutex_lock(b);
          msleep(10);
          mutex_lock(a);
        },
        "t2");
  });
  const Finding* f = finding(r, FindingKind::Deadlock);
  REQUIRE(f);
  const std::string& t = f->text;
  const size_t dot = t.find("digraph waitfor {");
  REQUIRE(dot != std::string::npos);
  REQUIRE(t.rfind("}\n") > dot);
  for (const char* label : {"\"t1:2\"", "\"t2:3\"", "\"mutex A\"", "\"mutex B\""})
    REQUIRE(t.find(label, dot) != std::string::npos);
}

namespace {
// A request a worker serves from a list, completed when served (era's rpc, a flush barrier).
struct Request {
  Completion done{"req->done"};
  Holder where;
};
}  // namespace

TEST_CASE(
    "two kworkers deadlocked through a completion and a mutex are a deadlock while a timer is armed, with no "
    "annotation") {
  SimResult r = run([] {
    auto* m = new Mutex("c->lock");
    auto* list = new std::deque<Request*>;
    auto* wq_a = alloc_workqueue("wq_a", WQ_UNBOUND, 1);
    auto* wq_b = alloc_workqueue("wq_b", WQ_UNBOUND, 1);
    auto* serve = new WorkStruct(
        "c->serve",
        [m, list](WorkStruct*) {
          KFRAME_NAMED("serve_requests");
          mutex_lock(m);  // held by the requester: never taken
          while (!list->empty()) {
            complete(&list->front()->done);
            list->pop_front();
          }
          mutex_unlock(m);
        },
        "serve_requests");
    auto* request = new WorkStruct(
        "c->request",
        [m, list, serve, wq_b](WorkStruct*) {
          KFRAME_NAMED("make_request");
          mutex_lock(m);
          Request req;
          req.where.set(*serve, "on c->list, for serve_requests");
          list->push_back(&req);
          queue_work(wq_b, serve);
          WaitingFor wf(req.where);
          wait_for_completion(&req.done);
          mutex_unlock(m);
        },
        "make_request");
    // A periodic timer keeps the system alive: never a total stall.
    auto* tick = new TimerList(
        "housekeeping", [](TimerList* t) { mod_timer(t, jiffies() + msecs_to_jiffies(100)); }, "housekeeping_fn");
    mod_timer(tick, jiffies() + 1);
    queue_work(wq_a, request);
    msleep(200000);
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Deadlock, " -> completion req->done -> work c->serve -> kworker/u2:1:");
  REQUIRE(f);
  REQUIRE(f->title.find("-> mutex c->lock -> kworker/u2:0:") != std::string::npos);
  REQUIRE(f->text.find("which is ended by work c->serve (on c->list, for serve_requests)") != std::string::npos);
  REQUIRE(f->text.find("make_request\n") != std::string::npos);
  REQUIRE(f->text.find("serve_requests\n") != std::string::npos);
  REQUIRE(r.status == RunStatus::Deadlocked);
}

TEST_CASE("a cycle through an over-approximated workqueue releaser that resolves is not a deadlock") {
  SimResult r = run([] {
    auto* m = new Mutex("m");
    auto* wq = alloc_workqueue("events", WQ_UNBOUND, 2);
    auto* done = new Completion("y_done");
    auto* x = new WorkStruct(
        "x",
        [m](WorkStruct*) {
          mutex_lock(m);  // waits for main
          mutex_unlock(m);
        },
        "x_fn");
    auto* z = new WorkStruct(
        "z", [](WorkStruct*) { msleep(1500); }, "z_fn");
    auto* y = new WorkStruct(
        "y", [done](WorkStruct*) { complete(done); }, "y_fn");
    // Y is queued behind the two busy workers; any worker of the queue counts as its releaser,
    // so main -> y_done -> y -> events -> (X's worker) -> m -> main is a cycle until Z's worker
    // frees up at 1.5 s and runs Y.
    done->add_signaler(*y, "completed by y_fn");
    mutex_lock(m);
    queue_work(wq, x);
    queue_work(wq, z);
    msleep(10);
    queue_work(wq, y);
    wait_for_completion(done);
    mutex_unlock(m);
    note_at("y done");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"y done @1504"});
}

TEST_CASE("a cycle still there when the run ends is a deadlock") {
  SimResult r = run([] {
    auto* a = new Mutex("A");
    auto* b = new Mutex("B");
    auto* wq = alloc_workqueue("events", WQ_UNBOUND, 2);
    auto* one = new WorkStruct(
        "one",
        [a, b](WorkStruct*) {
          mutex_lock(a);
          msleep(10);
          mutex_lock(b);
        },
        "one_fn");
    auto* two = new WorkStruct(
        "two",
        [a, b](WorkStruct*) {
          mutex_lock(b);
          msleep(10);
          mutex_lock(a);
        },
        "two_fn");
    // A periodic timer keeps the system alive: never a total stall.
    auto* tick = new TimerList(
        "housekeeping", [](TimerList* t) { mod_timer(t, jiffies() + msecs_to_jiffies(100)); }, "housekeeping_fn");
    mod_timer(tick, jiffies() + 1);
    queue_work(wq, one);
    queue_work(wq, two);
    msleep(5000);  // main exits with the workers stuck: the run ends after 5 s
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Deadlock, "mutex B");
  REQUIRE(f);
  REQUIRE(f->time_ns >= 5'000'000'000ULL);
  REQUIRE(f->text.find("(end of run)") != std::string::npos);
}

TEST_CASE("a completion completed by a thread its annotation does not name is reported") {
  SimResult r = run([] {
    auto* c = new Completion("commit_done");
    Thread& committer = kthread_run([] { msleep(1000); }, "committer");
    c->add_signaler(committer, "completed by the committer");
    kthread_run(
        [c] {
          KFRAME_NAMED("other_path");
          msleep(10);
          complete(c);
        },
        "intruder");
    wait_for_completion(c);
  });
  INFO(all_text(r));
  const Finding* f = finding(r, FindingKind::Annotation, "annotation names committer:2, completed by intruder:3");
  REQUIRE(f);
  REQUIRE(f->text.find("completion commit_done") != std::string::npos);
  REQUIRE(f->text.find("other_path") != std::string::npos);
  REQUIRE(r.count(FindingKind::Annotation) == 1);
}

TEST_CASE("an annotation naming a lock or a work item holds for the lock's owner and the item's worker") {
  SimResult r = run([] {
    auto* m = new Mutex("md->suspend_lock");
    auto* resumed = new Completion("resumed");
    auto* sem = new Semaphore("cow_count", 0);
    auto* wq = alloc_ordered_workqueue("kcopyd");
    auto* w = new WorkStruct(
        "kcopyd_work", [sem](WorkStruct*) { up(sem); }, "do_work");
    resumed->add_signaler(*m, "resume, under md->suspend_lock");
    sem->add_signaler(*w, "up() by kcopyd's work");
    kthread_run(
        [m, resumed] {
          msleep(10);
          mutex_lock(m);
          complete(resumed);
          mutex_unlock(m);
        },
        "resumer");
    wait_for_completion(resumed);
    queue_work(wq, w);
    down(sem);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a thread waiting for a queued request points, in the wait-for graph, at the worker serving it") {
  SimResult r = run([] {
    auto* wq = alloc_ordered_workqueue("worker");
    auto* serve = new WorkStruct(
        "serve", [](WorkStruct*) { msleep(50); }, "serve_fn");
    auto* req = new Request;
    kthread_run(
        [req, serve, wq] {
          req->where.set(*serve, "on the list, for serve_fn");
          queue_work(wq, serve);
          WaitingFor wf(req->where);
          wait_for_completion(&req->done);
        },
        "requester");
    msleep(10);
    note(wait_edges_from("requester"));
    complete(&req->done);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"requester:2 -> completion req->done (wait_for_completion)\n"
                           "completion req->done -> work serve (on the list, for serve_fn)\n"
                           "work serve -> kworker/u2:0:3 (running serve_fn)\n"});
}
