#include "model/knobs.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace model {

namespace {
std::map<std::string, Knob>& registry() {
  static std::map<std::string, Knob> r;
  return r;
}
std::set<std::string>& active() {
  static std::set<std::string> a;
  return a;
}
}  // namespace

void register_knob(const Knob& k) {
  registry()[k.name] = k;
}

const Knob* find_knob(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<Knob> all_knobs() {
  std::vector<Knob> v;
  for (const auto& [k, knob] : registry()) v.push_back(knob);
  return v;
}

void set_active_knobs(const std::vector<std::string>& names) {
  active().clear();
  active().insert(names.begin(), names.end());
}

bool knob_enabled(const std::string& name) {
  return active().count(name) > 0;
}

}  // namespace model
