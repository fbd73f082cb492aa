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

namespace {
// "5.12" -> {5, 12}; nullopt for anything else.
bool parse_release(const std::string& v, std::pair<int, int>* out) {
  const size_t dot = v.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 >= v.size()) return false;
  const std::string a = v.substr(0, dot), b = v.substr(dot + 1);
  if (a.find_first_not_of("0123456789") != std::string::npos ||
      b.find_first_not_of("0123456789") != std::string::npos || a.size() > 3 || b.size() > 3)
    return false;
  *out = {std::stoi(a), std::stoi(b)};
  return true;
}
}  // namespace

std::vector<std::string> knobs_for_kernel(const std::string& version, std::string* error) {
  std::pair<int, int> v{0, 0};
  const bool upstream = version == "upstream";
  if (!upstream && !parse_release(version, &v)) {
    *error = "bad kernel version '" + version + "': expected MAJOR.MINOR (5.10, 6.1) or upstream";
    return {};
  }
  std::vector<std::string> out;
  for (const auto& [name, k] : registry()) {
    std::pair<int, int> fixed, introduced;
    // A release older than the bug's first one does not have it (upstream is newer than any).
    if (!upstream && !k.introduced_in.empty() && (!parse_release(k.introduced_in, &introduced) || v < introduced))
      continue;
    if (k.fixed_in == "unfixed")
      out.push_back(name);
    else if (!upstream && parse_release(k.fixed_in, &fixed) && v < fixed)
      out.push_back(name);
  }
  return out;
}

std::string affected_releases(const Knob& k) {
  std::pair<int, int> fixed;
  if (!k.affects.empty()) return k.affects;
  if (k.fixed_in == "unfixed") return "every release, upstream included (--kernel upstream turns it on)";
  if (parse_release(k.fixed_in, &fixed)) return "every release before " + k.fixed_in + " (--kernel VERSION below it)";
  if (k.fixed_in == "never released") return "none: the code only existed as a posted proposal";
  return "unknown (fixed in '" + k.fixed_in + "')";
}

void set_active_knobs(const std::vector<std::string>& names) {
  active().clear();
  active().insert(names.begin(), names.end());
}

bool knob_enabled(const std::string& name) {
  return active().count(name) > 0;
}

}  // namespace model
