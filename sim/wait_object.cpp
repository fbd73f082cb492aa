#include "sim/wait_object.hpp"

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

}  // namespace sim
