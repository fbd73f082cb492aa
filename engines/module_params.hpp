// Kernel module parameters (/sys/module/MODULE/parameters/NAME), which scenarios set with `echo`
// and read with `cat` as on a real machine. Each engine registers its own when it registers.
// They live as long as the simulated machine: a phase's process starts with every parameter at
// its default (reset_module_params), so a power cut, a reboot, forgets what was written.
#pragma once

#include <functional>
#include <string>
#include <variant>
#include <vector>

namespace engines {

struct ModuleParam {
  std::string module = "";  // as in sysfs: "dm_mod", "dm_snapshot"
  std::string name = "";
  std::string description = "";  // MODULE_PARM_DESC
  // module_param(name, uint|int, ...): the variable the parameter is; get, set and reset are made
  // from it, with the kernel's parsing (kstrtouint/kstrtoint) and its value when registered as
  // the default. Leave empty and give get/set/reset for a parameter with its own ops.
  std::variant<std::monostate, unsigned*, int*> value = {};
  bool writable = true;  // 0644; false: 0444, a write fails with "Permission denied"
  // The value as `cat` prints it, newline included ("512\n").
  std::function<std::string()> get = nullptr;
  // Stores what `echo` wrote (with echo's newline): "" on success, else the errno's text as
  // strerror gives it ("Invalid argument", "Numerical result out of range").
  std::function<std::string(const std::string&)> set = nullptr;
  // Back to the value the module has when loaded.
  std::function<void()> reset = nullptr;
};

// E.g. register_module_param({.module = "dm_snapshot", .name = "snapshot_cow_threshold",
//                             .description = "Maximum number of chunks being copied on write",
//                             .value = &cow_threshold});
// Registering the same module and name again replaces the earlier one.
void register_module_param(const ModuleParam& p);

const ModuleParam* find_module_param(const std::string& module, const std::string& name);
// Modules with parameters, and the parameters of one, in name order.
std::vector<std::string> module_param_modules();
std::vector<std::string> module_param_names(const std::string& module);
// Every parameter back to its default: a phase's process does this first, as a boot would.
void reset_module_params();

// The kernel's kstrtouint/kstrtoint(s, 0, ...) as param_set_uint/param_set_int use them: base
// from the prefix (0x hex, 0 octal), an optional sign, one trailing newline. "" or the errno text.
std::string parse_kernel_uint(const std::string& s, unsigned* out);
std::string parse_kernel_int(const std::string& s, int* out);

}  // namespace engines
