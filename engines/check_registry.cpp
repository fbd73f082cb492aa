#include "engines/check_registry.hpp"

#include <map>
#include <set>

#include "engines/era/era.hpp"
#include "engines/era/era_target.hpp"
#include "engines/named_registry.hpp"
#include "model/world.hpp"

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

// The metadata devices of the era tables built in this simulation, for the era devices that
// exist now or that the steps wrote to or era_map saw (a removed device keeps its table).
std::vector<std::string> era_metadata_devices(const CheckInput& in) {
  const std::string prefix = "/dev/mapper/";
  std::set<std::string> names;
  for (const auto& n : model::World::get().dm().names()) names.insert(n);
  for (const auto& e : in.events)
    if (e.device.rfind(prefix, 0) == 0) names.insert(e.device.substr(prefix.size()));
  for (const auto& w : in.writes)
    if (w.device.rfind(prefix, 0) == 0) names.insert(w.device.substr(prefix.size()));
  std::set<std::string> out;
  for (const auto& n : names)
    if (const era::era_table_info* t = era::era_table_for(n)) out.insert(t->metadata_dev);
  return {out.begin(), out.end()};
}

std::map<std::string, MetadataTool>& tool_rows() {
  static std::map<std::string, MetadataTool> rows;
  return rows;
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
  register_metadata_tool({"era", "era_check", "era_check", era_metadata_devices, era::era_check_misjudges, {}});
}

std::vector<MetadataTool> metadata_tools() {
  std::vector<MetadataTool> out;
  for (const auto& [engine, row] : tool_rows()) out.push_back(row);
  return out;
}

void register_metadata_tool(const MetadataTool& row) {
  tool_rows()[row.engine] = row;
}

void unregister_metadata_tool(const std::string& engine) {
  tool_rows().erase(engine);
}

}  // namespace engines
