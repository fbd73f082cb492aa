#include "engines/tool_registry.hpp"

#include "engines/named_registry.hpp"

namespace engines {

namespace {
NamedRegistry<Tool>& tools() {
  static NamedRegistry<Tool> r;
  return r;
}
}  // namespace

void register_tool(const Tool& t) {
  tools().add(t.name, t);
}

const Tool* find_tool(const std::string& name) {
  return tools().find(name);
}

std::vector<std::string> tool_names() {
  return tools().names();
}

}  // namespace engines
