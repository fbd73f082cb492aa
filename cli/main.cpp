// dmsim: deterministic simulator and verification harness for device-mapper targets.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/cli.hpp"
#include "engines/engine_registry.hpp"

namespace {

const char* kUsage =
    "dmsim - deterministic simulator and verification harness for Linux device-mapper targets\n"
    "\n"
    "usage: dmsim <command> [options]\n"
    "\n"
    "commands:\n"
    "  run FILE [--seed N] [--knob NAME]... [--report DIR]\n"
    "                                       run one scenario and judge it\n"
    "  check PATH... [--jobs N] [--shard K/N] [--junit FILE] [--json FILE] [--report-dir DIR]\n"
    "                                       explore every scenario under the paths (the CI gate)\n"
    "  explore --engine era|thin|clone|snapshot [--budget 10m | --runs N] [--jobs N] [--knob NAME]...\n"
    "                                       generate scenarios, run them, shrink what fails\n"
    "  shrink FILE [--knob NAME]... [--seed N]\n"
    "                                       reduce a failing scenario to a minimal reproduction\n"
    "  merge OUT.json IN.json...            join the JSON results of check shards\n"
    "  catalog [--json]                     list the variant knobs (historical bugs)\n"
    "  selftest [--verbose] [--only NAME]   run the detector demonstrations and print their verdicts\n"
    "  bench runtime|io|kcopyd|thin|clone|crash-search [--json] [--runs N]\n"
    "                                       measure the runtime, the I/O path and crash images,\n"
    "                                       kcopyd's copy bandwidth, dm-thin and dm-clone\n"
    "                                       throughput, or the crash-state search\n"
    "  bench fuzz-parser [--execs N] [--seed S] [--json]\n"
    "                                       fuzz the scenario parser with mutated scenario files\n"
    "  help [COMMAND]                       show this text, or a command's help\n"
    "\n"
    "options:\n"
    "  -h, --help      show help\n"
    "  --version       show the version\n"
    "\n"
    "exit codes: 0 ok, 1 a check failed or a violation was found, 2 bad usage or bad input,\n"
    "            3 internal error (a bug in dmsim: please report it)\n";

// A failed assert() in this process (simulations run in children, which reset the handler) is
// an internal error too: say so and exit with its code instead of dumping core.
void on_abort(int) {
  static const char msg[] =
      "dmsim: internal error: aborted (a failed internal assertion)\n"
      "please report this as a bug, with the command line and the scenario file\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  ::_exit(dmsim::cli::kExitInternal);
}

int dispatch(const std::string& cmd, dmsim::cli::Args args) {
  using namespace dmsim::cli;
  if (cmd == "selftest") return cmd_selftest(args);
  if (cmd == "bench") return cmd_bench(args);
  if (cmd == "run") return cmd_run(args);
  if (cmd == "check") return cmd_check(args);
  if (cmd == "merge") return cmd_merge(args);
  if (cmd == "catalog") return cmd_catalog(args);
  if (cmd == "explore") return cmd_explore(args);
  if (cmd == "shrink") return cmd_shrink(args);
  throw UsageError("unknown command '" + cmd + "'", "run 'dmsim --help' for the list of commands");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dmsim::cli;
  Args args(argv + 1, argv + argc);
  std::signal(SIGABRT, on_abort);
  return run_guarded([&args]() -> int {
    engines::register_engines();  // targets, knobs and tools, before any scenario is parsed
    if (args.empty()) {
      std::fputs(kUsage, stderr);
      return kExitUsage;
    }
    const std::string cmd = args.front();
    args.erase(args.begin());
    if (cmd == "-h" || cmd == "--help") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (cmd == "--version") {
      std::puts("dmsim 0.1");
      return kExitOk;
    }
    if (cmd == "help") {
      if (args.empty()) {
        std::fputs(kUsage, stdout);
        return kExitOk;
      }
      return dispatch(args.front(), {"--help"});
    }
    return dispatch(cmd, args);
  });
}
