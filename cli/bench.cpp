// dmsim bench: parses the options, runs a workload of bench/ and prints its figures as a table
// or as JSON.
#include "bench/bench.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "verify/results.hpp"

namespace dmsim::cli {

namespace {

const char* kHelp =
    "usage: dmsim bench runtime|io|kcopyd|pdata|thin|clone|crash-search [--json] [--runs N]\n"
    "       dmsim bench fuzz-parser [--execs N] [--seed S] [--corpus DIR] [--findings DIR] [--json]\n"
    "\n"
    "runtime: context switches per second (two threads yielding, and a completion ping-pong),\n"
    "         mutex lock/unlock pairs per second (uncontended, lockdep and trace on),\n"
    "         queue_work + wait_for_completion round trips per second, and the bare SimGrid\n"
    "         yield cost as a yardstick. Figures are medians over N runs (default 5).\n"
    "pdata:   btree inserts, lookups and removes per second (50,000 u64 keys), and the metadata\n"
    "         blocks a commit writes after 1, 100 and 10,000 reference-count changes.\n"
    "thin:    simulated MB/s of a dd over a 256 MiB thin device that breaks sharing with a snapshot,\n"
    "         by pool block size and dd size, with 64 KiB and 512 KiB kcopyd sub-jobs, beside the\n"
    "         seed's table (1 GiB LV); and of 4 KiB writes provisioning fresh blocks (zeroing).\n"
    "clone:   simulated MB/s of dm-clone's background hydration (hdd source, sata-ssd destination) by\n"
    "         region size, threshold and batch size, with 64 KiB and 512 KiB kcopyd sub-jobs; and the\n"
    "         RFC's user-I/O tables by region size (random 4 KiB write IOPS and read latency at QD1,\n"
    "         sequential 1 MiB write MB/s), each as model over seed.\n"
    "fuzz-parser: N (default 1000000) inputs mutated from the scenario files under DIR (default\n"
    "         ./scenarios) with seed S (default 1), each parsed; every input must parse within\n"
    "         the language's limits or be refused with FILE:LINE:COL messages. Batches run in\n"
    "         child processes, so a crash or a hang (5 s per input) is a finding too. Prints\n"
    "         executions, executions/s, distinct error messages and the findings, each input\n"
    "         saved under the findings DIR (default ./fuzz-findings). Exit 1 on any finding.\n";

void print_table(const bench::Table& t, bool json) {
  if (json) {
    std::printf("{\"benchmark\": \"%s\", \"runs\": %d, \"median\": {", t.name.c_str(), t.runs);
    for (size_t i = 0; i < t.medians.size(); i++)
      std::printf("%s\"%s\": %.*f", i ? ", " : "", t.medians[i].key.c_str(), t.medians[i].decimals, t.medians[i].value);
    std::printf("}");
    for (const auto& f : t.derived) std::printf(", \"%s\": %.*f", f.key.c_str(), f.decimals, f.value);
    std::printf("}\n");
    return;
  }
  std::printf("dmsim bench %s (median of %d runs%s%s)\n", t.name.c_str(), t.runs, t.condition.empty() ? "" : ", ",
              t.condition.c_str());
  for (const auto* part : {&t.medians, &t.derived})
    for (const auto& f : *part)
      std::printf("  %-52s %14.*f%s%s\n", f.label.c_str(), f.decimals, f.value, f.unit.empty() ? "" : " ",
                  f.unit.c_str());
}

void print_crash_search(const std::vector<bench::CrashSearchMode>& rows, int runs, bool json) {
  if (json) {
    std::printf("{\"benchmark\": \"crash-search\", \"runs\": %d, \"modes\": {", runs);
    for (size_t i = 0; i < rows.size(); i++)
      std::printf("%s\"%s\": {\"found\": %s, \"recoveries\": %llu, \"median_ms\": %.1f}", i ? ", " : "",
                  rows[i].mode.c_str(), rows[i].found ? "true" : "false",
                  static_cast<unsigned long long>(rows[i].recoveries), rows[i].median_ms);
    std::printf("}}\n");
    return;
  }
  std::printf("dmsim bench crash-search: recoveries to the first confirmed violation (median of %d runs)\n", runs);
  for (const auto& r : rows)
    std::printf("  %-12s %-9s %8llu recoveries %10.1f ms\n", r.mode.c_str(), r.found ? "found" : "NOT FOUND",
                static_cast<unsigned long long>(r.recoveries), r.median_ms);
}

void print_fuzz_campaign(const bench::FuzzCampaign& c, bool json) {
  const auto& total = c.total;
  const double rate = total.executions / std::max(c.seconds, 1e-9);
  const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  if (json) {
    std::printf(
        "{\"benchmark\": \"fuzz-parser\", \"seed\": %llu, \"seeds_in_corpus\": %zu, \"executions\": %llu, "
        "\"executions_per_sec\": %.0f, \"seconds\": %.1f, \"parsed\": %llu, \"refused\": %llu, "
        "\"distinct_messages\": %zu, \"findings\": [",
        u(c.seed), c.seeds_in_corpus, u(total.executions), rate, c.seconds, u(total.parsed), u(total.refused),
        total.messages.size());
    for (size_t i = 0; i < total.findings.size(); i++)
      std::printf("%s{\"execution\": %llu, \"kind\": \"%s\", \"detail\": \"%s\", \"input\": \"%s\"}", i ? ", " : "",
                  u(total.findings[i].execution), verify::json_escape(total.findings[i].kind).c_str(),
                  verify::json_escape(total.findings[i].detail).c_str(), verify::json_escape(c.saved[i]).c_str());
    std::printf("]}\n");
    return;
  }
  std::printf("dmsim bench fuzz-parser (seed %llu, %zu seed file(s))\n", u(c.seed), c.seeds_in_corpus);
  std::printf("  %-40s %14llu\n", "executions", u(total.executions));
  std::printf("  %-40s %14.0f\n", "executions/s", rate);
  std::printf("  %-40s %14.1f\n", "seconds", c.seconds);
  std::printf("  %-40s %14llu\n", "parsed", u(total.parsed));
  std::printf("  %-40s %14llu\n", "refused with FILE:LINE:COL errors", u(total.refused));
  std::printf("  %-40s %14zu\n", "distinct error messages", total.messages.size());
  std::printf("  %-40s %14zu\n", "findings", total.findings.size());
  for (size_t i = 0; i < total.findings.size(); i++)
    std::printf("  finding %llu [%s] %s\n    input: %s\n", u(total.findings[i].execution),
                total.findings[i].kind.c_str(), total.findings[i].detail.c_str(), c.saved[i].c_str());
}

int bench_fuzz_parser(Args& args, bool json) {
  bench::FuzzOptions opt;
  opt.execs = static_cast<uint64_t>(
      parse_count(take_option(args, "--execs", "1000000", "bench"), "--execs", "bench", 1, 1000000000000L));
  opt.seed =
      static_cast<uint64_t>(parse_count(take_option(args, "--seed", "1", "bench"), "--seed", "bench", 0, 1L << 62));
  opt.corpus = take_option(args, "--corpus", "scenarios", "bench");
  opt.findings_dir = take_option(args, "--findings", "fuzz-findings", "bench");
  reject_leftovers(args, "bench");
  const bench::FuzzCampaign c = bench::fuzz_parser(opt);
  print_fuzz_campaign(c, json);
  return c.total.findings.empty() ? kExitOk : kExitViolation;
}

}  // namespace

int cmd_bench(const Args& in) {
  Args args = in;
  if (take_flag(args, "--help") || take_flag(args, "-h") || args.empty()) {
    std::fputs(kHelp, args.empty() && in.empty() ? stderr : stdout);
    return in.empty() ? kExitUsage : kExitOk;
  }
  const std::string what = args.front();
  args.erase(args.begin());
  const bool json = take_flag(args, "--json");
  if (what == "fuzz-parser") return bench_fuzz_parser(args, json);
  const int runs = static_cast<int>(parse_count(take_option(args, "--runs", "5", "bench"), "--runs", "bench", 1, 101));
  reject_leftovers(args, "bench");
  if (what == "crash-search") {
    print_crash_search(bench::crash_search(runs), runs, json);
    return kExitOk;
  }
  if (what == "runtime")
    print_table(bench::runtime(runs), json);
  else if (what == "io")
    print_table(bench::io(runs), json);
  else if (what == "clone")
    print_table(bench::clone(runs), json);
  else if (what == "kcopyd")
    print_table(bench::kcopyd(runs), json);
  else if (what == "pdata")
    print_table(bench::pdata(runs), json);
  else if (what == "thin")
    print_table(bench::thin(runs), json);
  else
    throw UsageError("unknown benchmark '" + what + "'", "see 'dmsim bench --help'");
  return kExitOk;
}

}  // namespace dmsim::cli
