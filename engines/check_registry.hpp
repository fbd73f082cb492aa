// The registry behind engines/checks.hpp, and the one check it defines itself.
#pragma once

#include "engines/checks.hpp"
#include "model/block_device.hpp"

namespace engines {

// "metadata-check": every engine's metadata checker (register_metadata_checker) over the devices
// of its own targets.
void register_metadata_checks();

// The real userland checker of each engine's metadata (thin-provisioning-tools), one row per
// engine, for the `real-tools` check: the real tool, dmsim's simulated tool asked on the same
// images, and the devices of the running simulation that hold that engine's metadata.
struct MetadataTool {
  std::string engine;     // "era"
  std::string tool;       // the installed binary: "era_check"
  std::string simulated;  // the tool registry's counterpart: "era_check" ("": none)
  std::function<std::vector<std::string>(const CheckInput& in)> metadata_devices;
  // Why the real tool is known to reject this image although the kernel writes such metadata
  // ("" when its verdict stands); such an image is noted as not judged, never passed.
  std::function<std::string(const std::string& image)> known_misjudgement;
  // dmsim's own check, stricter than the real tool, on an image both tools accept: the problems
  // it finds (none: the image is sound). Optional. Thin: the data space map's counts against
  // the mappings, which thin_check 0.9.0 does not compare.
  std::function<std::vector<std::string>(model::BlockDevice* image)> stricter;
};
// The rows, by engine; register_metadata_checks() adds dm-era's (thin_check joins with thin).
std::vector<MetadataTool> metadata_tools();
void register_metadata_tool(const MetadataTool& row);
void unregister_metadata_tool(const std::string& engine);  // for tests

}  // namespace engines
