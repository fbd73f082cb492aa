#include "engines/tool_registry.hpp"

#include "engines/named_registry.hpp"
#include "model/world.hpp"

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

model::BlockDevice* open_tool_device(const std::string& path, bool metadata_snap, const std::string& missing,
                                     std::string* error) {
  model::World& w = model::World::get();
  model::BlockDevice* b = w.lookup(path);
  if (!b) {
    *error = missing;
    return nullptr;
  }
  if (!metadata_snap && w.open_count(b) > 0) {
    *error = "Couldn't open '" + path + "' exclusively: Device or resource busy";
    return nullptr;
  }
  return b;
}

}  // namespace engines
