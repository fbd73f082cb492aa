#include "verify/thread_timeline.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

#include "verify/results.hpp"

namespace verify {

namespace {

// One trace line: "[    0.081042980] 10 dmsetup perform_rpc: block rpc->complete wait_for_completion".
// Views into the line: a trace has tens of thousands of lines and most are read and dropped.
struct Event {
  uint64_t t_ns = 0;
  int pid = 0;            // 0: no thread (a timer, the detectors)
  std::string_view name;  // the thread's name as the line gives it
  std::string_view what;  // "block"
  std::string_view rest;  // "rpc->complete wait_for_completion": object and detail, as printed
};

bool digits(std::string_view s, size_t max, uint64_t* v) {
  if (s.empty() || s.size() > max) return false;
  *v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    *v = *v * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

bool parse_time(std::string_view s, uint64_t* t) {
  const size_t dot = s.find('.');
  const size_t from = s.find_first_not_of(' ');
  uint64_t sec = 0, ns = 0;
  if (dot == std::string_view::npos || from > dot || s.size() - dot - 1 != 9 ||
      !digits(s.substr(from, dot - from), 11, &sec) || !digits(s.substr(dot + 1), 9, &ns))
    return false;
  *t = sec * 1000000000ULL + ns;
  return true;
}

// Thread names come from spawn lines ("spawn dmsetup dmsetup:10"), so that a name is read whole
// and the frame after it is not taken for part of it.
bool parse_event(std::string_view line, const std::map<int, std::string>& names, Event* e) {
  const size_t close = line.find("] ");
  if (line.empty() || line[0] != '[' || close == std::string_view::npos ||
      !parse_time(line.substr(1, close - 1), &e->t_ns))
    return false;
  const size_t colon = line.find(": ", close + 2);
  if (colon == std::string_view::npos) return false;
  const std::string_view header = line.substr(close + 2, colon - close - 2);
  if (header != "- -") {
    const size_t sp = header.find(' ');
    uint64_t pid = 0;
    if (!digits(header.substr(0, sp), 9, &pid)) return false;
    e->pid = static_cast<int>(pid);
    const std::string_view after = sp == std::string_view::npos ? std::string_view() : header.substr(sp + 1);
    const auto known = names.find(e->pid);
    if (known != names.end() && after.substr(0, known->second.size()) == known->second)
      e->name = known->second;
    else
      e->name = after.substr(0, after.find(' '));
  }
  const std::string_view body = line.substr(colon + 2);
  const size_t sp = body.find(' ');
  e->what = body.substr(0, sp);
  e->rest = sp == std::string_view::npos ? std::string_view() : body.substr(sp + 1);
  return true;
}

// The object of a lock event, without the detail format_event appended ("trylock", "idx 0", a count).
std::string_view lock_object(std::string_view what, std::string_view o) {
  if (what == "srcu_read_lock" || what == "srcu_read_unlock") {
    const size_t idx = o.rfind(" idx ");
    if (idx != std::string_view::npos) o = o.substr(0, idx);
  } else if (what == "down" || what == "up") {
    const size_t sp = o.rfind(' ');
    if (sp != std::string_view::npos) o = o.substr(0, sp);
  } else if (o.size() > 8 && o.substr(o.size() - 8) == " trylock") {
    o = o.substr(0, o.size() - 8);
  }
  return o;
}

const std::map<std::string, std::string, std::less<>>& acquire_kinds() {
  static const std::map<std::string, std::string, std::less<>> k{
      {"mutex_lock", "mutex"},   {"down_read", "rwsem (read)"},   {"down_write", "rwsem (write)"},
      {"spin_lock", "spinlock"}, {"srcu_read_lock", "srcu read"}, {"down", "semaphore"}};
  return k;
}

const std::set<std::string, std::less<>>& release_events() {
  static const std::set<std::string, std::less<>> r{"mutex_unlock", "up_read",          "up_write",
                                                    "spin_unlock",  "srcu_read_unlock", "up"};
  return r;
}

// The runtime's waits for work rather than for another thread (sim/io_channel, timer, workqueue).
bool idle_wait(std::string_view how) {
  return how == "irq" || how == "ksoftirqd" || how == "worker_thread";
}

// (pid, object) keys looked up by views, without building a string per trace line.
struct KeyLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return a.first != b.first ? a.first < b.first : std::string_view(a.second) < std::string_view(b.second);
  }
};
using Key = std::pair<int, std::string>;
using KeyView = std::pair<int, std::string_view>;

std::string str(std::string_view v) {
  return std::string(v);
}

// Builds the spans from the events, then the caps choose what to keep.
class Builder {
 public:
  Builder(uint64_t end_ns, const TimelineCaps& caps) : end_ns_(end_ns), caps_(caps) {}

  void add(const Event& e) {
    last_ns_ = std::max(last_ns_, e.t_ns);
    if (e.pid > 0) {
      // A thread that logs something is running: whatever it waited for is over.
      TimelineThread& th = lane(e.pid, e.name, e.t_ns);
      end_wait(e.pid, e.t_ns);
      own_event(th, e);
    } else if (e.what == "finding") {
      marks_.push_back({e.t_ns, "finding", str(e.rest)});
    }
    if (e.what == "wake") woken(e.rest, e.t_ns);
  }

  std::map<int, std::string> names;  // pid -> thread name, from spawn lines

  ThreadTimeline finish(const std::string& phase, uint64_t events);

 private:
  TimelineThread& lane(int pid, std::string_view name, uint64_t t) {
    auto [it, fresh] = lane_of_.emplace(pid, lanes_.size());
    if (fresh) {
      TimelineThread th;
      th.pid = pid;
      th.name = name;
      th.start_ns = t;
      lanes_.push_back(std::move(th));
    }
    return lanes_[it->second];
  }

  size_t open_span(TimelineThread& th, const char* kind, std::string what, uint64_t t) {
    th.spans.push_back({kind, std::move(what), t, t, true});
    return th.spans.size() - 1;
  }

  // A span closed at the instant it opened is dropped at once when it is the lane's last (a
  // lock taken and dropped in passing), so that a trace's many such spans never pile up.
  void close_span(int pid, size_t index, uint64_t t) {
    std::vector<TimelineSpan>& spans = lanes_[lane_of_.at(pid)].spans;
    TimelineSpan& sp = spans[index];
    sp.end_ns = std::max(t, sp.start_ns);
    sp.open = false;
    if (sp.end_ns == sp.start_ns && index + 1 == spans.size()) {
      spans.pop_back();
      instant_++;
    }
  }

  void end_wait(int pid, uint64_t t) {
    const auto it = waiting_.find(pid);
    if (it == waiting_.end()) return;
    const size_t span = it->second;
    waiting_.erase(it);
    close_span(pid, span, t);
  }

  // "wake NAME": ends the wait of the one waiting thread of that name; with several, each
  // wait ends at the thread's next event instead.
  void woken(std::string_view name, uint64_t t) {
    int only = 0, count = 0;
    for (const auto& [pid, span] : waiting_)
      if (lanes_[lane_of_.at(pid)].name == name) only = pid, count++;
    if (count == 1) end_wait(only, t);
  }

  void own_event(TimelineThread& th, const Event& e);
  void spawn(std::string_view rest, uint64_t t);
  void release(int pid, std::string_view obj, uint64_t t);

  uint64_t end_ns_, last_ns_ = 0, instant_ = 0;
  TimelineCaps caps_;
  std::vector<TimelineThread> lanes_;
  std::map<int, size_t> lane_of_;
  std::map<int, size_t> waiting_;                     // pid -> its open blocked/idle span
  std::map<Key, std::vector<size_t>, KeyLess> held_;  // (pid, lock) -> open held spans
  std::map<Key, size_t, KeyLess> work_;               // (pid, work) -> open run span
  std::vector<TimelineMark> marks_;
};

// "spawn dmsetup dmsetup:10": a lane for the child, named as its ident says.
void Builder::spawn(std::string_view rest, uint64_t t) {
  const std::string_view ident = rest.substr(rest.rfind(' ') + 1);
  const size_t colon = ident.rfind(':');
  uint64_t child = 0;
  if (colon == std::string_view::npos || !digits(ident.substr(colon + 1), 9, &child)) return;
  names[static_cast<int>(child)] = str(ident.substr(0, colon));
  lane(static_cast<int>(child), ident.substr(0, colon), t);
}

void Builder::own_event(TimelineThread& th, const Event& e) {
  const int pid = th.pid;
  if (e.what == "spawn") {
    spawn(e.rest, e.t_ns);  // th may move: not used after this
  } else if (e.what == "exit") {
    th.end_ns = e.t_ns;
    th.exited = true;
  } else if (e.what == "step") {
    if (th.step.empty()) th.step = e.rest;
    marks_.push_back({e.t_ns, "step", th.name + ":" + std::to_string(pid) + " $ " + str(e.rest)});
  } else if (e.what == "block") {
    const size_t sp = e.rest.rfind(' ');
    const std::string_view how = sp == std::string_view::npos ? e.rest : e.rest.substr(sp + 1);
    const std::string_view on = sp == std::string_view::npos ? std::string_view() : e.rest.substr(0, sp);
    waiting_[pid] =
        open_span(th, idle_wait(how) ? "idle" : "blocked", on.empty() ? str(how) : str(how) + " " + str(on), e.t_ns);
  } else if (e.what == "msleep") {
    waiting_[pid] = open_span(th, "idle", "msleep " + str(e.rest), e.t_ns);
  } else if (e.what == "cpu_busy") {
    const size_t n = open_span(th, "run", "cpu_busy " + str(e.rest), e.t_ns);
    uint64_t us = 0;
    if (digits(e.rest.substr(0, e.rest.find(' ')), 12, &us)) close_span(pid, n, e.t_ns + us * 1000);
  } else if (e.what == "work_start" || e.what == "work_end") {
    const std::string work = "work " + str(e.rest.substr(0, e.rest.rfind(" seq ")));
    if (e.what == "work_start") {
      work_[{pid, work}] = open_span(th, "run", work, e.t_ns);
    } else if (const auto it = work_.find(KeyView{pid, work}); it != work_.end()) {
      const size_t span = it->second;
      work_.erase(it);
      close_span(pid, span, e.t_ns);
    }
  } else if (const auto k = acquire_kinds().find(e.what); k != acquire_kinds().end()) {
    const std::string_view obj = lock_object(e.what, e.rest);
    auto it = held_.find(KeyView{pid, obj});
    if (it == held_.end()) it = held_.emplace(Key{pid, str(obj)}, std::vector<size_t>{}).first;
    it->second.push_back(open_span(th, "held", k->second + " " + str(obj), e.t_ns));
  } else if (release_events().count(e.what)) {
    release(pid, lock_object(e.what, e.rest), e.t_ns);
  }
}

// The releasing thread's own hold, else (an up() of a semaphore another thread took) the
// oldest hold of the lock by any thread.
void Builder::release(int pid, std::string_view obj, uint64_t t) {
  auto it = held_.find(KeyView{pid, obj});
  if (it == held_.end() || it->second.empty()) {
    it = held_.end();
    for (auto h = held_.begin(); h != held_.end(); ++h)
      if (h->first.second == obj && !h->second.empty()) {
        it = h;
        break;
      }
    if (it == held_.end()) return;
  }
  const size_t span = it->second.back();
  it->second.pop_back();
  close_span(it->first.first, span, t);
}

ThreadTimeline Builder::finish(const std::string& phase, uint64_t events) {
  ThreadTimeline out;
  out.phase = phase;
  out.events = events;
  out.end_ns = std::max(end_ns_, last_ns_);
  out.instant = instant_;
  for (auto& th : lanes_) {
    if (!th.exited) th.end_ns = out.end_ns;
    std::vector<TimelineSpan> kept;
    for (auto& sp : th.spans) {
      if (sp.open) sp.end_ns = th.exited ? std::max(th.end_ns, sp.start_ns) : out.end_ns;
      if (sp.end_ns == sp.start_ns && !sp.open)
        out.instant++;
      else
        kept.push_back(sp);
    }
    th.spans = std::move(kept);
  }
  // Threads: those still waiting or holding at the end first (the failure is usually theirs).
  auto stuck = [](const TimelineThread& th) {
    return std::any_of(th.spans.begin(), th.spans.end(), [](const auto& s) { return s.open && s.kind != "idle"; });
  };
  std::stable_sort(lanes_.begin(), lanes_.end(), [&](const auto& a, const auto& b) { return stuck(a) > stuck(b); });
  for (size_t i = caps_.threads; i < lanes_.size(); i++) out.dropped_spans += lanes_[i].spans.size();
  if (lanes_.size() > caps_.threads) {
    out.dropped_threads = lanes_.size() - caps_.threads;
    lanes_.resize(caps_.threads);
  }
  std::sort(lanes_.begin(), lanes_.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  // Spans: open ones, then the longest, then the earliest.
  std::vector<std::pair<size_t, size_t>> all;
  for (size_t l = 0; l < lanes_.size(); l++)
    for (size_t s = 0; s < lanes_[l].spans.size(); s++) all.emplace_back(l, s);
  if (all.size() > caps_.spans) {
    auto key = [&](const std::pair<size_t, size_t>& p) {
      const TimelineSpan& s = lanes_[p.first].spans[p.second];
      return std::make_tuple(!s.open, ~(s.end_ns - s.start_ns), s.start_ns, p.first, p.second);
    };
    std::sort(all.begin(), all.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
    std::set<std::pair<size_t, size_t>> keep(all.begin(), all.begin() + static_cast<long>(caps_.spans));
    out.dropped_spans += all.size() - caps_.spans;
    for (size_t l = 0; l < lanes_.size(); l++) {
      std::vector<TimelineSpan> kept;
      for (size_t s = 0; s < lanes_[l].spans.size(); s++)
        if (keep.count({l, s})) kept.push_back(lanes_[l].spans[s]);
      lanes_[l].spans = std::move(kept);
    }
  }
  for (auto& th : lanes_)
    std::stable_sort(th.spans.begin(), th.spans.end(),
                     [](const auto& a, const auto& b) { return a.start_ns < b.start_ns; });
  out.threads = std::move(lanes_);
  // Marks: every finding before any step, each kind in time order.
  std::stable_sort(marks_.begin(), marks_.end(),
                   [](const auto& a, const auto& b) { return (a.kind == "finding") > (b.kind == "finding"); });
  if (marks_.size() > caps_.marks) {
    out.dropped_marks = marks_.size() - caps_.marks;
    marks_.resize(caps_.marks);
  }
  std::stable_sort(marks_.begin(), marks_.end(), [](const auto& a, const auto& b) { return a.t_ns < b.t_ns; });
  out.marks = std::move(marks_);
  return out;
}

std::string q(const std::string& s) {
  return "\"" + json_escape(s) + "\"";
}
std::string n(uint64_t v) {
  return std::to_string(v);
}
std::string b(bool v) {
  return v ? "true" : "false";
}

}  // namespace

ThreadTimeline thread_timeline(const std::vector<std::string>& trace, uint64_t end_ns, const std::string& phase,
                               const TimelineCaps& caps) {
  Builder bld(end_ns, caps);
  uint64_t events = 0;
  for (const auto& line : trace) {
    Event e;
    if (!parse_event(line, bld.names, &e)) continue;
    events++;
    bld.add(e);
  }
  return bld.finish(phase, events);
}

std::string timeline_to_json(const ThreadTimeline& t) {
  std::string s = "{\"phase\": " + q(t.phase) + ", \"end_ns\": " + n(t.end_ns) + ", \"events\": " + n(t.events) +
                  ", \"instant\": " + n(t.instant) + ", \"dropped_threads\": " + n(t.dropped_threads) +
                  ", \"dropped_spans\": " + n(t.dropped_spans) + ", \"dropped_marks\": " + n(t.dropped_marks) +
                  ", \"threads\": [";
  for (size_t i = 0; i < t.threads.size(); i++) {
    const TimelineThread& th = t.threads[i];
    s += std::string(i ? ", " : "") + "{\"pid\": " + std::to_string(th.pid) + ", \"name\": " + q(th.name) +
         ", \"step\": " + q(th.step) + ", \"start_ns\": " + n(th.start_ns) + ", \"end_ns\": " + n(th.end_ns) +
         ", \"exited\": " + b(th.exited) + ", \"spans\": [";
    for (size_t k = 0; k < th.spans.size(); k++) {
      const TimelineSpan& sp = th.spans[k];
      s += std::string(k ? ", " : "") + "{\"kind\": " + q(sp.kind) + ", \"what\": " + q(sp.what) +
           ", \"start_ns\": " + n(sp.start_ns) + ", \"end_ns\": " + n(sp.end_ns) + ", \"open\": " + b(sp.open) + "}";
    }
    s += "]}";
  }
  s += "], \"marks\": [";
  for (size_t i = 0; i < t.marks.size(); i++)
    s += std::string(i ? ", " : "") + "{\"t_ns\": " + n(t.marks[i].t_ns) + ", \"kind\": " + q(t.marks[i].kind) +
         ", \"label\": " + q(t.marks[i].label) + "}";
  return s + "]}";
}

ThreadTimeline timeline_from_json(const YAML::Node& node) {
  ThreadTimeline t;
  t.phase = node["phase"].as<std::string>();
  t.end_ns = node["end_ns"].as<uint64_t>();
  t.events = node["events"].as<uint64_t>();
  t.instant = node["instant"].as<uint64_t>();
  t.dropped_threads = node["dropped_threads"].as<uint64_t>();
  t.dropped_spans = node["dropped_spans"].as<uint64_t>();
  t.dropped_marks = node["dropped_marks"].as<uint64_t>();
  for (const auto& tn : node["threads"]) {
    TimelineThread th;
    th.pid = tn["pid"].as<int>();
    th.name = tn["name"].as<std::string>();
    th.step = tn["step"].as<std::string>();
    th.start_ns = tn["start_ns"].as<uint64_t>();
    th.end_ns = tn["end_ns"].as<uint64_t>();
    th.exited = tn["exited"].as<bool>();
    for (const auto& sn : tn["spans"])
      th.spans.push_back({sn["kind"].as<std::string>(), sn["what"].as<std::string>(), sn["start_ns"].as<uint64_t>(),
                          sn["end_ns"].as<uint64_t>(), sn["open"].as<bool>()});
    t.threads.push_back(std::move(th));
  }
  for (const auto& mn : node["marks"])
    t.marks.push_back({mn["t_ns"].as<uint64_t>(), mn["kind"].as<std::string>(), mn["label"].as<std::string>()});
  return t;
}

}  // namespace verify
