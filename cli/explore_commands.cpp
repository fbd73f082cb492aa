// dmsim explore and dmsim shrink: generated scenarios, and the smallest reproduction of a failure.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "cli/cli.hpp"
#include "explore/explorer.hpp"
#include "explore/grammar.hpp"
#include "explore/shrinker.hpp"
#include "language/scenario.hpp"
#include "reports/report_writer.hpp"
#include "verify/results.hpp"

namespace dmsim::cli {

namespace fs = std::filesystem;

namespace {

const char* kExploreHelp =
    "usage: dmsim explore --engine era|thin|clone|snapshot [--budget DURATION | --runs N] [--seed S] [--jobs N]\n"
    "                     [--knob NAME]... [--kernel VERSION] [--out DIR] [--json FILE] [--no-shrink]\n"
    "                     [--shrink-budget DURATION] [--stop-at-first | --stop-on REGEX] [--keep-all]\n"
    "\n"
    "Generates scenarios from the engine's grammar of operations (what users and tools do: create,\n"
    "load, suspend with and without noflush, resume, reloads that grow or shrink, messages and\n"
    "status also on inactive tables, writes and discards of sizes relative to the block or region,\n"
    "concurrent I/O, the engine's tools, metadata snapshots, power cuts and recovery) and runs each\n"
    "with its crash points, crash states and a schedule seed, until the budget ends (default 10m;\n"
    "DURATION is seconds or with s, m, h). Every sequence of up to three operations of a small\n"
    "vocabulary is run (bounded-exhaustive), interleaved with random longer programs, half of them\n"
    "mutations of programs that reached engine states not seen before. Each distinct failure is\n"
    "written as a scenario under DIR/generated/ (default DIR: explore-out), shrunk to DIR/shrunk/\n"
    "(unless --no-shrink; at most --shrink-budget each, default 3m) with a report under\n"
    "DIR/reports/. --stop-at-first ends the search at the first failure, --stop-on at the first whose\n"
    "\"[kind] title\" matches REGEX. --keep-all writes every generated scenario under DIR/generated/.\n"
    "Progress goes to stderr.\n"
    "\n"
    "exit codes: 0 nothing failed, 1 a failure was found, 2 bad usage, 3 internal error\n";

const char* kShrinkHelp =
    "usage: dmsim shrink FILE [--knob NAME]... [--kernel VERSION] [--seed N] [--jobs N] [--out FILE]\n"
    "                         [--budget DURATION] [--crash-point K --crash-choice HEX]\n"
    "\n"
    "Reduces a failing scenario while the same failure (its kind and a pattern of its title, or a\n"
    "catalog entry's detects) still reproduces: steps dropped, I/O shortened, made sequential and\n"
    "non-FUA, sleeps shortened, explore settings simplified; then the failing crash state is reduced\n"
    "to the fewest persisted writes that still fail. Writes the result to --out (default:\n"
    "FILE with .shrunk.yaml) with a comment saying what it reproduces and its replay command.\n"
    "--crash-point/--crash-choice start from that crash state. Default budget 5m.\n"
    "\n"
    "exit codes: 0 shrunk, 1 the scenario did not fail (nothing to shrink), 2 bad usage, 3 internal error\n";

double parse_duration(const std::string& text, const std::string& option, const std::string& cmd) {
  if (text.empty()) throw UsageError(option + " needs a duration", "see 'dmsim " + cmd + " --help'");
  double scale = 1;
  std::string num = text;
  switch (text.back()) {
    case 's':
      num.pop_back();
      break;
    case 'm':
      num.pop_back();
      scale = 60;
      break;
    case 'h':
      num.pop_back();
      scale = 3600;
      break;
    default:
      break;
  }
  size_t used = 0;
  double v = -1;
  try {
    v = std::stod(num, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != num.size() || num.empty() || !(v > 0) || v * scale > 7 * 86400)
    throw UsageError(
        option + " must be a positive duration such as 90, 90s, 10m or 1h (at most a week), got '" + text + "'",
        "see 'dmsim " + cmd + " --help'");
  return v * scale;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read " + path, "");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void print_finding(const explore::Finding& f) {
  std::printf("  %s\n    first seen: run %llu after %.1f s, %s (%zu steps, seed %llu)\n", f.signature.text().c_str(),
              static_cast<unsigned long long>(f.run), f.seconds, f.file.c_str(), f.steps,
              static_cast<unsigned long long>(f.seed));
  if (!f.unit.failures.empty() && !f.unit.failures[0].violations.empty())
    std::printf("    title: %s\n", f.unit.failures[0].violations[0].title.c_str());
  if (!f.shrunk_file.empty())
    std::printf("    shrunk: %s (%zu steps, %llu attempts, %.1f s)\n    replay: %s\n", f.shrunk_file.c_str(),
                f.shrunk.steps_after, static_cast<unsigned long long>(f.shrunk.attempts), f.shrunk.seconds,
                f.shrunk.replay.c_str());
  else if (f.shrunk.attempts)
    std::printf("    shrink: the failure did not reproduce from the file alone (schedule-dependent?)\n");
}

}  // namespace

int cmd_explore(const Args& in) {
  Args args = in;
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::fputs(kExploreHelp, stdout);
    return kExitOk;
  }
  explore::ExploreOptions o;
  o.engine = take_option(args, "--engine", "", "explore");
  const std::string budget = take_option(args, "--budget", "", "explore");
  const std::string runs = take_option(args, "--runs", "", "explore");
  o.seed =
      static_cast<uint64_t>(parse_count(take_option(args, "--seed", "1", "explore"), "--seed", "explore", 0, 1L << 40));
  o.jobs = static_cast<int>(parse_count(take_option(args, "--jobs", "1", "explore"), "--jobs", "explore", 1, 256));
  o.out_dir = take_option(args, "--out", "explore-out", "explore");
  const std::string json = take_option(args, "--json", "", "explore");
  const std::string shrink_budget = take_option(args, "--shrink-budget", "", "explore");
  o.shrink = !take_flag(args, "--no-shrink");
  o.stop_at_first = take_flag(args, "--stop-at-first");
  o.stop_on = take_option(args, "--stop-on", "", "explore");
  o.keep_all = take_flag(args, "--keep-all");
  if (!o.stop_on.empty()) try {
      std::regex check(o.stop_on, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw UsageError("--stop-on is not a regular expression: " + std::string(e.what()), "see 'dmsim explore --help'");
    }
  take_knob_options(args, "explore", &o.knobs);
  reject_leftovers(args, "explore");
  if (o.engine.empty()) throw UsageError("explore needs --engine (era, thin or clone)", "see 'dmsim explore --help'");
  if (!explore::make_grammar(o.engine))
    throw UsageError("no grammar for engine '" + o.engine + "' (era, thin, clone)", "see 'dmsim explore --help'");
  if (!budget.empty() && !runs.empty())
    throw UsageError("--budget and --runs exclude each other", "see 'dmsim explore --help'");
  if (!budget.empty()) o.budget_s = parse_duration(budget, "--budget", "explore");
  if (!runs.empty()) {
    o.max_runs = static_cast<uint64_t>(parse_count(runs, "--runs", "explore", 1, 100000000));
    o.budget_s = 1e18;
  }
  if (!shrink_budget.empty()) o.shrink_budget_s = parse_duration(shrink_budget, "--shrink-budget", "explore");
  require_writable_dir(o.out_dir, "--out", "explore");
  if (!json.empty()) require_writable_file(json, "--json", "explore");

  const explore::ExploreSummary s =
      explore::run_explore(o, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
  // Reports for each finding: of the shrunk reproduction when there is one.
  std::vector<std::string> reports;
  std::vector<verify::UnitResult> shown_units;
  for (const auto& f : s.findings) {
    const verify::UnitResult& u = f.shrunk_file.empty() ? f.unit : f.shrunk.unit;
    const std::string file = f.shrunk_file.empty() ? f.file : f.shrunk_file;
    std::unique_ptr<scenarios::Scenario> sc;
    try {
      sc = std::make_unique<scenarios::Scenario>(scenarios::load_scenario(file));
    } catch (const scenarios::ScenarioError&) {
    }
    verify::UnitResult shown = u;
    shown.file = file;
    for (const auto& p : reports::write_unit_reports((fs::path(o.out_dir) / "reports").string(), shown, sc.get()))
      reports.push_back(fs::path(p).replace_filename("report.html").string());
    shown_units.push_back(std::move(shown));
  }
  const std::string index =
      s.findings.empty() ? "" : reports::write_index_html((fs::path(o.out_dir) / "reports").string(), shown_units);
  std::printf(
      "explore %s: %llu run(s) in %.1f s (%.2f runs/s; %llu exhaustive of %llu, %llu random, %llu mutated), "
      "%llu recovery run(s), %llu engine state(s) seen\n",
      o.engine.c_str(), static_cast<unsigned long long>(s.runs), s.search_seconds,
      s.runs / std::max(s.search_seconds, 1e-9), static_cast<unsigned long long>(s.exhaustive_runs),
      static_cast<unsigned long long>(s.exhaustive_total), static_cast<unsigned long long>(s.random_runs),
      static_cast<unsigned long long>(s.mutated_runs), static_cast<unsigned long long>(s.recoveries),
      static_cast<unsigned long long>(s.states));
  std::printf("%llu failed run(s), %zu distinct failure(s)%s\n", static_cast<unsigned long long>(s.failed_runs),
              s.findings.size(), s.findings.empty() ? "" : ":");
  for (const auto& f : s.findings) print_finding(f);
  for (const auto& e : s.generator_errors) std::printf("generator error (a dmsim bug): %s\n", e.c_str());
  for (const auto& r : reports) std::printf("report: %s\n", r.c_str());
  if (!index.empty()) std::printf("report index: %s\n", index.c_str());
  if (!json.empty()) {
    std::ofstream out(json);
    out << explore::summary_json(o, s);
  }
  if (!s.generator_errors.empty()) return kExitInternal;
  return s.findings.empty() ? kExitOk : kExitViolation;
}

int cmd_shrink(const Args& in) {
  Args args = in;
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::fputs(kShrinkHelp, stdout);
    return kExitOk;
  }
  explore::ShrinkOptions o;
  o.seed =
      static_cast<uint64_t>(parse_count(take_option(args, "--seed", "0", "shrink"), "--seed", "shrink", 0, 1L << 40));
  o.jobs = static_cast<int>(parse_count(take_option(args, "--jobs", "1", "shrink"), "--jobs", "shrink", 1, 256));
  std::string out = take_option(args, "--out", "", "shrink");
  const std::string budget = take_option(args, "--budget", "", "shrink");
  const std::string point = take_option(args, "--crash-point", "", "shrink");
  const std::string choice = take_option(args, "--crash-choice", "", "shrink");
  take_knob_options(args, "shrink", &o.knobs);
  if (!budget.empty()) o.budget_s = parse_duration(budget, "--budget", "shrink");
  if (!point.empty()) o.crash_point = parse_count(point, "--crash-point", "shrink", 0, 1L << 30);
  if (!choice.empty()) {
    if (choice.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw UsageError("--crash-choice must be lowercase hexadecimal, got '" + choice + "'",
                       "see 'dmsim shrink --help'");
    if (point.empty())
      throw UsageError("--crash-choice needs --crash-point: a choice names a crash state of one crash point",
                       "see 'dmsim shrink --help'");
    o.crash_choice = choice;
  }
  if (args.size() != 1)
    throw UsageError(args.empty() ? "shrink needs a scenario file" : "unexpected argument '" + args[1] + "'",
                     "see 'dmsim shrink --help'");
  const std::string file = args[0];
  for (const auto& a : args)
    if (a.rfind("--", 0) == 0) throw UsageError("unknown option '" + a + "'", "see 'dmsim shrink --help'");
  const std::string text = read_file(file);
  scenarios::parse_scenario(text, file);  // a bad file is reported as such before anything runs
  if (out.empty()) out = (fs::path(file).parent_path() / (fs::path(file).stem().string() + ".shrunk.yaml")).string();
  const bool existed = fs::exists(out);
  require_writable_file(out, "--out", "shrink");  // may leave an empty file behind
  explore::ShrinkResult r;
  try {
    r = explore::shrink_scenario(text, file, out, {}, o,
                                 [](const std::string& l) { std::fprintf(stderr, "%s\n", l.c_str()); });
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what(), "see 'dmsim shrink --help'");
  }
  if (!r.reproduced) {
    std::error_code ec;
    if (!existed) fs::remove(out, ec);  // nothing shrunk: no empty result file either
    std::printf("%s: %s\n", file.c_str(),
                r.signature.empty() ? "passes: nothing to shrink"
                                    : ("the failure " + r.signature.text() + " did not reproduce").c_str());
    return kExitViolation;
  }
  std::ofstream f(out);
  f << r.yaml;
  std::printf("shrunk %s: %zu steps -> %zu in %llu attempts (%.1f s)\nreproduces %s\n", file.c_str(), r.steps_before,
              r.steps_after, static_cast<unsigned long long>(r.attempts), r.seconds, r.signature.text().c_str());
  if (r.crash_point >= 0)
    std::printf("crash state: %zu persisted write(s), was %zu\n", r.persisted_after, r.persisted_before);
  std::printf("wrote %s\nreplay: %s\n", out.c_str(), r.replay.c_str());
  return kExitOk;
}

}  // namespace dmsim::cli
