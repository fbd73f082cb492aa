// Userland metadata tools that scenarios can run as steps (era_invalidate, era_dump, thin_dump,
// ...). Each engine registers its own; they read metadata devices the way the real tools do.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace model {
class BlockDevice;
}

namespace engines {

struct ToolResult {
  int exit_code = 0;
  std::string out, err;
};

struct Tool {
  std::string name;
  std::string usage;
  // Checks the arguments before anything runs: empty, or what is wrong.
  std::function<std::string(const std::vector<std::string>& args)> check;
  // Runs in a simulated thread with the storage world in place.
  std::function<ToolResult(const std::vector<std::string>& args)> run;
};

void register_tool(const Tool& t);

// The metadata device a tool names, opened as thin-provisioning-tools open it: exclusively (refused
// while a live table holds it) unless the tool only reads a metadata snapshot. Null with *error:
// `missing` when there is no such device, else the tools' "Device or resource busy" line.
model::BlockDevice* open_tool_device(const std::string& path, bool metadata_snap, const std::string& missing,
                                     std::string* error);
const Tool* find_tool(const std::string& name);
std::vector<std::string> tool_names();

}  // namespace engines
