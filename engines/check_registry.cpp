#include "engines/check_registry.hpp"

#include "engines/named_registry.hpp"

namespace engines {

namespace {
NamedRegistry<EngineCheck>& checks() {
  static NamedRegistry<EngineCheck> r;
  return r;
}

using MetadataChecker = std::function<std::vector<CheckViolation>(const CheckInput&)>;
NamedRegistry<MetadataChecker>& metadata_checkers() {  // by engine
  static NamedRegistry<MetadataChecker> r;
  return r;
}
}  // namespace

void register_check(const EngineCheck& c) {
  checks().add(c.name, c);
}

const EngineCheck* find_check(const std::string& name) {
  return checks().find(name);
}

std::vector<std::string> check_names() {
  return checks().names();
}

void register_metadata_checker(const std::string& engine,
                               std::function<std::vector<CheckViolation>(const CheckInput& in)> fn) {
  metadata_checkers().add(engine, std::move(fn));
}

void register_metadata_checks() {
  register_check({"metadata-check",
                  "the metadata of every engine device passes its engine's checker (era_check and stricter: "
                  "reference counts against the space map)",
                  [](const CheckInput& in) {
                    std::vector<CheckViolation> out;
                    for (const auto& [engine, fn] : metadata_checkers().items())
                      for (auto& v : fn(in)) out.push_back(std::move(v));
                    return out;
                  }});
}

}  // namespace engines
