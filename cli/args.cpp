#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli/cli.hpp"
#include "language/scenario.hpp"

namespace dmsim::cli {

int run_guarded(const std::function<int()>& body) {
  static const char kReport[] = "please report this as a bug, with the command line and the scenario file";
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "dmsim: %s\n", e.what());
    if (!e.hint.empty()) std::fprintf(stderr, "%s\n", e.hint.c_str());
    return kExitUsage;
  } catch (const scenarios::ScenarioError& e) {
    for (const auto& line : e.errors) std::fprintf(stderr, "%s\n", line.c_str());
    return kExitUsage;
  } catch (const std::exception& e) {
    // Bad input is diagnosed as UsageError or ScenarioError; anything else is dmsim's own fault.
    std::fprintf(stderr, "dmsim: internal error: %s\n%s\n", e.what(), kReport);
    return kExitInternal;
  } catch (...) {
    std::fprintf(stderr, "dmsim: internal error: an exception of unknown type\n%s\n", kReport);
    return kExitInternal;
  }
}

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

void require_writable_file(const std::string& path, const std::string& option, const std::string& cmd) {
  namespace fs = std::filesystem;
  const std::string hint = "see 'dmsim " + cmd + " --help'";
  std::error_code ec;
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) throw UsageError("cannot write " + option + " " + path + ": " + ec.message(), hint);
  // Opened for appending, so that an existing file is not emptied before the run replaces it.
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (!f) throw UsageError("cannot write " + option + " " + path + ": " + std::strerror(errno), hint);
  std::fclose(f);
}

void require_writable_dir(const std::string& path, const std::string& option, const std::string& cmd) {
  namespace fs = std::filesystem;
  const std::string hint = "see 'dmsim " + cmd + " --help'";
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path) || ::access(path.c_str(), W_OK | X_OK) != 0)
    throw UsageError("cannot write " + option + " " + path + ": " +
                         (ec                        ? ec.message()
                          : !fs::is_directory(path) ? "not a directory"
                                                    : std::strerror(errno)),
                     hint);
}

void reject_leftovers(const Args& args, const std::string& cmd) {
  if (!args.empty()) throw UsageError("unexpected argument '" + args.front() + "'", "see 'dmsim " + cmd + " --help'");
}

}  // namespace dmsim::cli
