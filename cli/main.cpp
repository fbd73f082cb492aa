// dmsim: deterministic simulator and verification harness for device-mapper targets.
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/cli.hpp"

namespace {

const char* kUsage =
    "dmsim - deterministic simulator and verification harness for Linux device-mapper targets\n"
    "\n"
    "usage: dmsim <command> [options]\n"
    "\n"
    "commands:\n"
    "  selftest [--verbose] [--only NAME]   run the detector demonstrations and print their verdicts\n"
    "  bench runtime|io|kcopyd [--json] [--runs N]\n"
    "                                       measure the runtime, the I/O path and crash images,\n"
    "                                       or kcopyd's copy bandwidth\n"
    "  help [COMMAND]                       show this text, or a command's help\n"
    "\n"
    "options:\n"
    "  -h, --help      show help\n"
    "  --version       show the version\n"
    "\n"
    "exit codes: 0 ok, 1 a check failed or a violation was found, 2 bad usage or bad input\n";

int dispatch(const std::string& cmd, dmsim::cli::Args args) {
  using namespace dmsim::cli;
  if (cmd == "selftest") return cmd_selftest(args);
  if (cmd == "bench") return cmd_bench(args);
  throw UsageError("unknown command '" + cmd + "'", "run 'dmsim --help' for the list of commands");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dmsim::cli;
  Args args(argv + 1, argv + argc);
  try {
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
  } catch (const UsageError& e) {
    std::fprintf(stderr, "dmsim: %s\n%s\n", e.what(), e.hint.c_str());
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dmsim: %s\n", e.what());
    return kExitUsage;
  }
}
