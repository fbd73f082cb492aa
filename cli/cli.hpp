// dmsim's subcommands. Each takes its arguments (after the subcommand name) and returns the
// process exit code: 0 ok, 1 a check failed or a violation was found, 2 bad usage or input.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace dmsim::cli {

constexpr int kExitOk = 0;
constexpr int kExitViolation = 1;
constexpr int kExitUsage = 2;

// Thrown for bad usage; main prints "dmsim: <what>" and the hint, and exits 2.
struct UsageError : std::runtime_error {
  UsageError(const std::string& what, std::string hint_) : std::runtime_error(what), hint(std::move(hint_)) {}
  std::string hint;
};

using Args = std::vector<std::string>;

int cmd_selftest(const Args& args);
int cmd_bench(const Args& args);
int cmd_run(const Args& args);
int cmd_check(const Args& args);
int cmd_merge(const Args& args);
int cmd_catalog(const Args& args);

// Small argument helpers shared by the subcommands.
bool take_flag(Args& args, const std::string& flag);
// Returns the value of "--name V" or "--name=V" and removes it; `fallback` when absent.
std::string take_option(Args& args, const std::string& name, const std::string& fallback, const std::string& cmd);
long parse_count(const std::string& text, const std::string& what, const std::string& cmd, long min, long max);
void reject_leftovers(const Args& args, const std::string& cmd);

}  // namespace dmsim::cli
