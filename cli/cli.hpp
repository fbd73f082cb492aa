// dmsim's subcommands. Each takes its arguments (after the subcommand name) and returns the
// process exit code: 0 ok, 1 a check failed or a violation was found, 2 bad usage or input
// (thrown as UsageError or scenarios::ScenarioError), 3 an internal error (any other exception:
// a bug of dmsim, not of its input).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dmsim::cli {

constexpr int kExitOk = 0;
constexpr int kExitViolation = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInternal = 3;

// Thrown for bad usage; main prints "dmsim: <what>" and the hint, and exits 2.
struct UsageError : std::runtime_error {
  UsageError(const std::string& what, std::string hint_) : std::runtime_error(what), hint(std::move(hint_)) {}
  std::string hint;
};

using Args = std::vector<std::string>;

// Runs a command and maps what it throws to the exit code, with the message on stderr:
// UsageError -> "dmsim: WHAT" and the hint, 2; ScenarioError -> its FILE:LINE:COL lines, 2; any
// other exception -> "dmsim: internal error: WHAT" and a request to report it, 3.
int run_guarded(const std::function<int()>& body);

int cmd_selftest(const Args& args);
int cmd_bench(const Args& args);
int cmd_run(const Args& args);
int cmd_check(const Args& args);
int cmd_merge(const Args& args);
int cmd_catalog(const Args& args);
int cmd_explore(const Args& args);
int cmd_shrink(const Args& args);

// Small argument helpers shared by the subcommands.
bool take_flag(Args& args, const std::string& flag);
// Returns the value of "--name V" or "--name=V" and removes it; `fallback` when absent.
std::string take_option(Args& args, const std::string& name, const std::string& fallback, const std::string& cmd);
long parse_count(const std::string& text, const std::string& what, const std::string& cmd, long min, long max);
void reject_leftovers(const Args& args, const std::string& cmd);
// --knob NAME (repeatable) and --kernel VERSION: the knobs a run turns on, appended to `knobs`.
void take_knob_options(Args& args, const char* cmd, std::vector<std::string>* knobs);
// Output paths, checked before anything runs: a file that can be opened for writing (its
// directory is created), or a directory that exists or can be created. UsageError otherwise.
void require_writable_file(const std::string& path, const std::string& option, const std::string& cmd);
void require_writable_dir(const std::string& path, const std::string& option, const std::string& cmd);

}  // namespace dmsim::cli
