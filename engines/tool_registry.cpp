#include "engines/tool_registry.hpp"

#include <map>

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

}  // namespace engines
