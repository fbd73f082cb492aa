#include <algorithm>

#include "cli/cli.hpp"

namespace dmsim::cli {

bool take_flag(Args& args, const std::string& flag) {
  auto it = std::find(args.begin(), args.end(), flag);
  if (it == args.end()) return false;
  args.erase(it);
  return true;
}

std::string take_option(Args& args, const std::string& name, const std::string& fallback, const std::string& cmd) {
  for (size_t i = 0; i < args.size(); i++) {
    if (args[i] == name) {
      if (i + 1 >= args.size()) throw UsageError(name + " needs a value", "see 'dmsim " + cmd + " --help'");
      std::string v = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      return v;
    }
    if (args[i].rfind(name + "=", 0) == 0) {
      std::string v = args[i].substr(name.size() + 1);
      args.erase(args.begin() + static_cast<long>(i));
      return v;
    }
  }
  return fallback;
}

long parse_count(const std::string& text, const std::string& what, const std::string& cmd, long min, long max) {
  size_t used = 0;
  long v = 0;
  try {
    v = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || v < min || v > max)
    throw UsageError(what + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                         ", got '" + text + "'",
                     "see 'dmsim " + cmd + " --help'");
  return v;
}

void reject_leftovers(const Args& args, const std::string& cmd) {
  if (!args.empty()) throw UsageError("unexpected argument '" + args.front() + "'", "see 'dmsim " + cmd + " --help'");
}

}  // namespace dmsim::cli
