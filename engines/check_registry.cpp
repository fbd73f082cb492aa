#include "engines/check_registry.hpp"

namespace engines {

namespace {
std::map<std::string, EngineCheck>& checks() {
  static std::map<std::string, EngineCheck> c;
  return c;
}

using MetadataChecker = std::function<std::vector<CheckViolation>(const CheckInput&)>;
std::map<std::string, MetadataChecker>& metadata_checkers() {
  static std::map<std::string, MetadataChecker> m;
  return m;
}
}  // namespace

void register_check(const EngineCheck& c) {
  checks()[c.name] = c;
}

const EngineCheck* find_check(const std::string& name) {
  auto it = checks().find(name);
  return it == checks().end() ? nullptr : &it->second;
}

std::vector<std::string> check_names() {
  std::vector<std::string> n;
  for (const auto& [k, v] : checks()) n.push_back(k);
  return n;
}

void register_metadata_checker(const std::string& engine,
                               std::function<std::vector<CheckViolation>(const CheckInput& in)> fn) {
  metadata_checkers()[engine] = std::move(fn);
}

void register_metadata_checks() {
  register_check({"metadata-check",
                  "the metadata of every engine device passes its engine's checker (era_check and stricter: "
                  "reference counts against the space map)",
                  [](const CheckInput& in) {
                    std::vector<CheckViolation> out;
                    for (const auto& [engine, fn] : metadata_checkers())
                      for (auto& v : fn(in)) out.push_back(std::move(v));
                    return out;
                  }});
}

}  // namespace engines
