#include "sim/wait_object.hpp"

#include <algorithm>

#include "sim/runtime.hpp"

namespace sim {

WaitObject::WaitObject(const char* kind, std::string name) : kind_(kind), name_(std::move(name)) {
  if (Runtime::active()) {
    Runtime& rt = Runtime::get();
    name_id_ = rt.intern(name_);
    id_ = rt.register_object(this);
  }
}

WaitObject::~WaitObject() {
  if (id_ && Runtime::active()) Runtime::get().unregister_object(id_);
}

void WaitObject::add_signaler(const Thread& t, std::string why) {
  signalers_.push_back({t.pid, 0, std::move(why)});
}

void WaitObject::add_signaler(const WaitObject& o, std::string why) {
  signalers_.push_back({-1, o.id(), std::move(why)});
}

void WaitObject::annotated_releasers(std::vector<Releaser>& out) const {
  if (signalers_.empty() || !Runtime::active()) return;
  const Runtime& rt = Runtime::get();
  for (const auto& s : signalers_) {
    if (s.pid > 0) {
      if (const Thread* t = rt.thread_by_pid(s.pid)) out.push_back({t, nullptr, s.why});
    } else if (const WaitObject* o = rt.object_by_id(s.object)) {
      out.push_back({nullptr, o, s.why});
    }
  }
}

void WaitObject::releasers(const Thread&, std::vector<Releaser>& out) const {
  annotated_releasers(out);
}

namespace {

// Whether `t` is among the releasers of `o` now, following objects a few levels deep (a lock's
// owner, the worker running a work item, the workers of the queue it is on).
bool releases(const WaitObject& o, const Thread& t, int depth) {
  if (o.as_thread() == &t) return true;
  if (depth == 0) return false;
  std::vector<Releaser> rel;
  o.releasers(t, rel);
  for (const Releaser& r : rel) {
    if (r.thread == &t) return true;
    if (r.object && r.object != &o && releases(*r.object, t, depth - 1)) return true;
  }
  return false;
}

}  // namespace

void WaitObject::check_annotation_slow(const char* op) const {
  if (!Runtime::active()) return;
  Runtime& rt = Runtime::get();
  const Thread* t = rt.current_or_null();
  if (!t) return;
  std::string names;
  for (const auto& s : signalers_) {
    if (s.pid > 0) {
      if (s.pid == t->pid) return;
      const Thread* st = rt.thread_by_pid(s.pid);
      names += (names.empty() ? "" : " or ") + (st ? st->ident() : "pid " + std::to_string(s.pid));
    } else if (const WaitObject* o = rt.object_by_id(s.object)) {
      if (releases(*o, *t, 3)) return;
      names += (names.empty() ? "" : " or ") + o->describe();
    }
  }
  if (names.empty()) return;  // every annotated signaler is gone: nothing left to hold it to
  rt.report_annotation(*this, *t, op, names);
}

Holder::~Holder() {
  if (id_ && Runtime::active()) Runtime::get().unregister_holder(id_);
}

uint64_t Holder::id() const {
  if (!id_ && Runtime::active()) id_ = Runtime::get().register_holder(this);
  return id_;
}

void Holder::push(const At& a) {
  if (!has_first_) {
    first_ = a;
    has_first_ = true;
  } else {
    rest_.push_back(a);
  }
}

template <class Pred>
void Holder::erase_one(Pred pred) {
  if (has_first_ && pred(first_)) {
    if (rest_.empty()) {
      has_first_ = false;
    } else {
      first_ = rest_.front();
      rest_.erase(rest_.begin());
    }
    return;
  }
  auto it = std::find_if(rest_.begin(), rest_.end(), pred);
  if (it != rest_.end()) rest_.erase(it);
}

void Holder::set(const WaitObject& by, const char* why) {
  clear();
  push({by.id(), why, false});
}

void Holder::add(const WaitObject& by, const char* why) {
  push({by.id(), why, false});
}

void Holder::drop(const WaitObject& by) {
  erase_one([&](const At& a) { return !a.part && a.id == by.id(); });
}

void Holder::add_part(const Holder& part) {
  push({part.id(), nullptr, true});
}

void Holder::drop_part(const Holder& part) {
  if (part.id_) erase_one([&](const At& a) { return a.part && a.id == part.id_; });
}

namespace {

void push_position(const Runtime& rt, uint64_t id, const char* why, std::vector<Releaser>& out) {
  const WaitObject* o = rt.object_by_id(id);
  if (!o) return;  // gone, or created outside a simulation
  if (const Thread* t = o->as_thread())
    out.push_back({t, nullptr, why ? why : "holds it"});
  else
    out.push_back({nullptr, o, why ? why : "holds it"});
}

}  // namespace

void Holder::positions(std::vector<Releaser>& out, std::vector<uint64_t>& seen) const {
  if (!Runtime::active()) return;
  const Runtime& rt = Runtime::get();
  for (size_t i = 0; has_first_ && i <= rest_.size(); i++) {
    const At& a = i == 0 ? first_ : rest_[i - 1];
    if (!a.part) {
      push_position(rt, a.id, a.why, out);
      continue;
    }
    if (std::find(seen.begin(), seen.end(), a.id) != seen.end()) continue;
    seen.push_back(a.id);
    if (const Holder* h = rt.holder_by_id(a.id)) h->positions(out, seen);
  }
}

WaitingFor::WaitingFor(const Holder& work) : t_(current_or_null()) {
  if (t_) t_->waits_for.push_back({work.id(), nullptr, true});
}

WaitingFor::WaitingFor(const WaitObject& work, const char* why) : t_(current_or_null()) {
  if (t_) t_->waits_for.push_back({work.id(), why, false});
}

WaitingFor::~WaitingFor() {
  if (t_) t_->waits_for.pop_back();
}

void waiting_for_positions(const Thread& t, std::vector<Releaser>& out) {
  if (t.waits_for.empty() || !Runtime::active()) return;
  const Runtime& rt = Runtime::get();
  std::vector<uint64_t> seen;
  for (const auto& w : t.waits_for) {
    if (!w.holder) {
      push_position(rt, w.id, w.why, out);
    } else if (const Holder* h = rt.holder_by_id(w.id)) {
      seen.push_back(w.id);
      h->positions(out, seen);
    }
  }
}

}  // namespace sim
