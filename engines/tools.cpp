#include "engines/tools.hpp"

#include <map>

#include "model/targets/simple_targets.hpp"

namespace engines {

namespace {
std::map<std::string, Tool>& tools() {
  static std::map<std::string, Tool> t;
  return t;
}
}  // namespace

void register_tool(const Tool& t) {
  tools()[t.name] = t;
}

const Tool* find_tool(const std::string& name) {
  auto it = tools().find(name);
  return it == tools().end() ? nullptr : &it->second;
}

std::vector<std::string> tool_names() {
  std::vector<std::string> n;
  for (const auto& [k, v] : tools()) n.push_back(k);
  return n;
}

void register_engines() {
  model::register_simple_targets();
  // Engines add their registration here as they arrive.
}

}  // namespace engines

#include "engines/checks.hpp"

namespace engines {

namespace {
std::map<std::string, EngineCheck>& checks() {
  static std::map<std::string, EngineCheck> c;
  return c;
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

}  // namespace engines
