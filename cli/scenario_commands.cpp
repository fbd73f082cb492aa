// dmsim run, check, merge and catalog: the scenario side of the command line.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cli/cli.hpp"
#include "language/scenario.hpp"
#include "model/knobs.hpp"
#include "reports/report_writer.hpp"
#include "verify/process_pool.hpp"
#include "verify/results.hpp"
#include "verify/runner.hpp"

namespace dmsim::cli {

namespace fs = std::filesystem;

void take_knob_options(Args& args, const char* cmd, std::vector<std::string>* knobs) {
  for (std::string k; !(k = take_option(args, "--knob", "", cmd)).empty();) {
    if (!model::find_knob(k)) throw UsageError("unknown knob '" + k + "'", "run 'dmsim catalog' for the list");
    knobs->push_back(k);
  }
  const std::string kernel = take_option(args, "--kernel", "", cmd);
  if (!kernel.empty()) {
    std::string err;
    const auto ks = model::knobs_for_kernel(kernel, &err);
    if (!err.empty()) throw UsageError(err, "see 'dmsim " + std::string(cmd) + " --help'");
    knobs->insert(knobs->end(), ks.begin(), ks.end());
  }
}

namespace {

const char* kRunHelp =
    "usage: dmsim run FILE [--seed N] [--knob NAME]... [--kernel VERSION] [--report DIR]\n"
    "                      [--json FILE] [--trace FILE] [--crash-point K --crash-choice HEX]\n"
    "                      [--save-images DIR]\n"
    "\n"
    "Runs one scenario with one seed (0: SimGrid's own schedule; others perturb it), exploring\n"
    "the crash points and crash states its explore settings ask for, and prints the verdict.\n"
    "--knob turns a variant knob on (see dmsim catalog). --crash-point and --crash-choice\n"
    "replay one exploration exactly, as a report's replay command does. --kernel VERSION\n"
    "(5.10, 6.1, upstream) turns on every knob whose fix that release does not have. --trace\n"
    "writes the event trace of the steps before any power cut (every lock, wake-up, work item\n"
    "and I/O, with simulated times) to FILE. --save-images DIR writes the disks as files:\n"
    "DIR/<scenario>/seed-<N>[+<knob>...]/steps/<disk>.bin at the end of the steps (before any\n"
    "power cut), power-cut/ and crash-<k>/ for the power cut's durable state and each failing\n"
    "crash state kept (<disk>.bin as the recovery found it, recovered/<disk>.bin as it left it).\n"
    "--report DIR writes report.md and a self-contained report.html per failure kept.\n"
    "\n"
    "exit codes: 0 no violation, 1 a violation was found, 2 bad usage or a bad scenario file\n"
    "(--crash-point or --crash-choice that the scenario does not have included), 3 internal error\n";

const char* kCheckHelp =
    "usage: dmsim check PATH... [--jobs N] [--shard K/N] [--junit FILE] [--json FILE]\n"
    "                           [--report-dir DIR] [--knob NAME]... [--kernel VERSION]\n"
    "                           [--save-images DIR]\n"
    "\n"
    "Checks every scenario (*.yaml) under the paths: each seed it asks for is one unit, run in\n"
    "processes of its own, N at once. Catalog entries must pass with their knob off and be\n"
    "detected with it on. --shard K/N runs every N-th unit starting at the K-th, so that the\n"
    "shards of a batch scheduler together cover each unit exactly once; dmsim merge joins their\n"
    "JSON results. --knob and --kernel VERSION (5.10, 6.1, upstream: every knob whose fix that\n"
    "release lacks) run every scenario, catalog entries included, with those knobs on: does this\n"
    "kernel pass the corpus? --save-images DIR saves every unit's disk images as dmsim run does.\n"
    "--report-dir DIR writes report.md and report.html per failure kept and DIR/index.html.\n"
    "\n"
    "exit codes: 0 every unit passed, 1 a unit failed, 2 bad usage or a bad scenario file (a *.yaml\n"
    "that is not a regular file, such as a FIFO, is refused by name), 3 internal error\n";

const char* kMergeHelp =
    "usage: dmsim merge OUT.json IN.json...\n"
    "\n"
    "Joins the JSON results of several check shards into one, refusing a unit that appears\n"
    "twice. Exits 1 when the merged results contain a failure.\n";

const char* kCatalogHelp =
    "usage: dmsim catalog [--json] [--scenarios DIR] [--no-run] [--jobs N]\n"
    "\n"
    "Lists the variant knobs: each switches one historical bug back on, with the thread it comes\n"
    "from, the release that fixed it, the releases it affects and what its catalog scenario must\n"
    "detect. The catalog scenarios under DIR (default: ./scenarios) are run, knob off and on, and\n"
    "each knob is shown as detected or not; --no-run only lists.\n"
    "\n"
    "exit codes: 0 every catalog scenario detects its knob, 1 one does not, 2 bad usage\n";

// Every *.yaml under the paths. A *.yaml entry that is not a regular file (a FIFO, a device, a
// dangling link) is kept, so that loading refuses it by name rather than skipping it silently or
// blocking on it; directories named *.yaml are only walked.
std::vector<std::string> scenario_files(const std::vector<std::string>& paths) {
  std::set<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(p, ec)))
      throw UsageError("no such file or directory: " + p, "see 'dmsim check --help'");
    if (fs::is_directory(p, ec)) {
      for (fs::recursive_directory_iterator it(p, ec), end; it != end; it.increment(ec)) {
        if (ec) break;
        if ((it->path().extension() == ".yaml" || it->path().extension() == ".yml") && !it->is_directory(ec))
          files.insert(it->path().lexically_normal().string());
      }
      if (ec) throw UsageError("cannot list " + p + ": " + ec.message(), "");
    } else {
      files.insert(fs::path(p).lexically_normal().string());
    }
  }
  return {files.begin(), files.end()};
}

// Parses every file first; any error stops everything before a simulation runs.
std::vector<scenarios::Scenario> load_all(const std::vector<std::string>& files) {
  std::vector<scenarios::Scenario> out;
  std::vector<std::string> errors;
  for (const auto& f : files) {
    try {
      out.push_back(scenarios::load_scenario(f));
    } catch (const scenarios::ScenarioError& e) {
      errors.insert(errors.end(), e.errors.begin(), e.errors.end());
    }
  }
  if (!errors.empty()) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    throw UsageError(std::to_string(errors.size()) + " error(s) in scenario files; nothing was run", "");
  }
  return out;
}

// Output files were checked before the run (require_writable_file); a failure now is still the
// environment's (a full disk), not dmsim's.
void write_file(const std::string& path, const std::string& text) {
  std::error_code ec;
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream out(path);
  out << text;
  out.close();
  if (ec || !out) throw UsageError("cannot write " + path, "");
}

// --save-images: where the images went and what their bytes are, in one line.
void print_images_line(const std::string& dir) {
  std::printf(
      "images: %s (unwritten sectors of an `initial: zero` disk are zeroes; data and other initial content "
      "are dmsim's tokens, as the deterministic bytes its reads return)\n",
      dir.c_str());
}

// The one line saying that real-tools was skipped, when any unit wanted a tool not installed.
void print_missing_tools(const std::vector<verify::UnitResult>& units) {
  std::set<std::string> missing;
  for (const auto& u : units) missing.insert(u.missing_tools.begin(), u.missing_tools.end());
  if (missing.empty()) return;
  std::string list;
  for (const auto& t : missing) list += (list.empty() ? "" : ", ") + t;
  std::printf("real-tools: skipped, %s not installed (thin-provisioning-tools)\n", list.c_str());
}

void print_unit(const verify::UnitResult& u) {
  std::printf("%s seed %llu: %s\n", u.file.c_str(), static_cast<unsigned long long>(u.seed), u.verdict.c_str());
  for (const auto& e : u.failures) {
    if (u.passed) break;
    std::printf("  replay: %s\n", verify::replay_command(u, e).c_str());
    if (e.crash_point >= 0) std::printf("  crash: %s, state %s\n", e.crash_label.c_str(), e.crash_state.c_str());
    for (const auto& v : e.violations) {
      std::printf("  [%s] %s\n", v.kind.c_str(), v.title.c_str());
      // A wrong output is only understood with both texts side by side, and a real tool's
      // verdict with its own words; the detail's first line is the title.
      const size_t from = v.kind == "real-tools" ? v.detail.find('\n') : 0;
      if (v.kind == "step-output" || (v.kind == "real-tools" && from != std::string::npos))
        for (size_t at = from + (v.kind == "real-tools"); at < v.detail.size();) {
          const size_t nl = v.detail.find('\n', at);
          std::printf("    %s\n", v.detail.substr(at, nl - at).c_str());
          at = nl == std::string::npos ? v.detail.size() : nl + 1;
        }
    }
  }
}

}  // namespace

int cmd_run(const Args& in) {
  Args args = in;
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::fputs(kRunHelp, stdout);
    return kExitOk;
  }
  verify::RunOptions opt;
  const uint64_t seed =
      static_cast<uint64_t>(parse_count(take_option(args, "--seed", "0", "run"), "--seed", "run", 0, 1L << 40));
  take_knob_options(args, "run", &opt.extra_knobs);
  const std::string report = take_option(args, "--report", "", "run");
  opt.trace_path = take_option(args, "--trace", "", "run");
  opt.save_images = take_option(args, "--save-images", "", "run");
  const std::string json = take_option(args, "--json", "", "run");
  const std::string point = take_option(args, "--crash-point", "", "run");
  const std::string choice = take_option(args, "--crash-choice", "", "run");
  if (!point.empty()) opt.only_crash_point = parse_count(point, "--crash-point", "run", 0, 1L << 30);
  if (!choice.empty()) {
    // The number of digits depends on the crash point, so the runner checks the length.
    if (choice.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw UsageError("--crash-choice must be lowercase hexadecimal, got '" + choice + "'", "see 'dmsim run --help'");
    if (point.empty())
      throw UsageError("--crash-choice needs --crash-point: a choice names a crash state of one crash point",
                       "see 'dmsim run --help'");
    opt.only_choice = choice;
  }
  if (args.size() != 1)
    throw UsageError(args.empty() ? "run needs a scenario file" : "unexpected argument '" + args[1] + "'",
                     "see 'dmsim run --help'");
  auto scen = load_all({args[0]});
  const scenarios::Scenario& s = scen[0];
  // Output paths are checked before the run, so that a long run does not end in a lost result.
  if (!opt.trace_path.empty()) require_writable_file(opt.trace_path, "--trace", "run");
  if (!json.empty()) require_writable_file(json, "--json", "run");
  if (!report.empty()) require_writable_dir(report, "--report", "run");
  if (!opt.save_images.empty()) require_writable_dir(opt.save_images, "--save-images", "run");
  std::vector<std::string> knobs = s.explore.knobs;
  knobs.insert(knobs.end(), opt.extra_knobs.begin(), opt.extra_knobs.end());
  verify::UnitResult u = verify::run_exploration(s, seed, knobs, opt);
  if (!u.input_error.empty()) throw UsageError(u.input_error, "see 'dmsim run --help'");
  if (!u.failures.empty()) std::fputs(u.failures[0].transcript.c_str(), stdout);
  print_unit(u);
  print_missing_tools({u});
  if (!u.images.empty()) print_images_line(u.images);
  if (!report.empty())
    for (const auto& p : reports::write_unit_reports(report, u, &s)) std::printf("report: %s\n", p.c_str());
  if (!json.empty()) write_file(json, verify::results_to_json({u}));
  return u.passed ? kExitOk : kExitViolation;
}

namespace {

struct CheckOptions {
  int jobs = 1;
  long shard_k = 1, shard_n = 1;
  std::string junit, json, report_dir;
  verify::RunOptions run;
  std::vector<std::string> paths;
};

CheckOptions parse_check_options(Args args) {
  CheckOptions o;
  o.jobs = static_cast<int>(parse_count(take_option(args, "--jobs", "1", "check"), "--jobs", "check", 1, 256));
  const std::string shard = take_option(args, "--shard", "1/1", "check");
  o.junit = take_option(args, "--junit", "", "check");
  o.json = take_option(args, "--json", "", "check");
  o.report_dir = take_option(args, "--report-dir", "", "check");
  o.run.save_images = take_option(args, "--save-images", "", "check");
  take_knob_options(args, "check", &o.run.extra_knobs);
  const size_t slash = shard.find('/');
  if (slash == std::string::npos)
    throw UsageError("--shard must be K/N, got '" + shard + "'", "see 'dmsim check --help'");
  o.shard_n = parse_count(shard.substr(slash + 1), "N of --shard", "check", 1, 100000);
  o.shard_k = parse_count(shard.substr(0, slash), "K of --shard", "check", 1, o.shard_n);
  for (const auto& a : args)
    if (a.rfind("--", 0) == 0) throw UsageError("unknown option '" + a + "'", "see 'dmsim check --help'");
  if (args.empty()) throw UsageError("check needs at least one path", "see 'dmsim check --help'");
  o.paths = args;
  return o;
}

using Unit = std::pair<const scenarios::Scenario*, uint64_t>;

// Runs every unit in a process of its own, `jobs` at a time, printing a progress line as each
// ends; a unit whose process died fails with what killed it.
std::vector<verify::UnitResult> run_units(const std::vector<Unit>& units, const CheckOptions& o,
                                          std::chrono::steady_clock::time_point t0) {
  std::vector<std::function<std::string()>> tasks;
  for (const auto& [s, seed] : units)
    tasks.push_back([s = s, seed = seed, &o] { return verify::results_to_json({verify::run_unit(*s, seed, o.run)}); });
  size_t done = 0;
  std::vector<verify::UnitResult> results(units.size());
  verify::run_tasks(tasks, o.jobs, [&](size_t i, const verify::TaskOutput& out) {
    done++;
    verify::UnitResult u;
    if (out.ok) {
      u = verify::results_from_json(out.bytes, "unit output")[0];
    } else {
      u.file = units[i].first->file;
      u.scenario = units[i].first->name;
      u.seed = units[i].second;
      u.passed = false;
      u.verdict = "FAIL: the unit's process " + out.error;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[%zu/%zu %.1fs] %s seed %llu: %s\n", done, units.size(), secs, u.file.c_str(),
                 static_cast<unsigned long long>(u.seed), u.verdict.c_str());
    results[i] = std::move(u);
  });
  return results;
}

// The table of verdicts, the totals line, then the failing units in full. Returns the failures.
size_t print_check_summary(const std::vector<verify::UnitResult>& results, double secs) {
  size_t failed = 0;
  uint64_t explorations = 0, recoveries = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> tools;  // real tool -> (passed, failed)
  std::printf("\n%-48s %5s %6s %6s  %s\n", "scenario", "seed", "runs", "recov", "verdict");
  for (const auto& u : results) {
    failed += !u.passed;
    explorations += u.explorations;
    recoveries += u.recoveries;
    for (const auto& t : u.real_tools) {
      tools[t.tool].first += t.passed;
      tools[t.tool].second += t.failed;
    }
    std::printf("%-48s %5llu %6llu %6llu  %s\n", u.file.c_str(), static_cast<unsigned long long>(u.seed),
                static_cast<unsigned long long>(u.explorations), static_cast<unsigned long long>(u.recoveries),
                u.verdict.c_str());
  }
  std::printf("\n%zu unit(s), %zu failed, %llu exploration(s), %llu recovery run(s), %.1f s\n", results.size(), failed,
              static_cast<unsigned long long>(explorations), static_cast<unsigned long long>(recoveries), secs);
  for (const auto& [tool, n] : tools)
    std::printf("real %s: %llu image(s) passed, %llu failed\n", tool.c_str(), static_cast<unsigned long long>(n.first),
                static_cast<unsigned long long>(n.second));
  print_missing_tools(results);
  if (!results.empty() && !results[0].images.empty())
    print_images_line(fs::path(results[0].images).parent_path().parent_path().string());
  for (const auto& u : results)
    if (!u.passed) print_unit(u);
  return failed;
}

void write_check_outputs(const CheckOptions& o, const std::vector<scenarios::Scenario>& all,
                         const std::vector<verify::UnitResult>& results, double secs) {
  if (!o.json.empty()) write_file(o.json, verify::results_to_json(results));
  if (!o.junit.empty()) write_file(o.junit, reports::junit_xml(results, secs));
  if (o.report_dir.empty()) return;
  std::map<std::string, const scenarios::Scenario*> by_file;
  for (const auto& s : all) by_file[s.file] = &s;
  for (const auto& u : results)
    for (const auto& p : reports::write_unit_reports(o.report_dir, u, by_file[u.file]))
      std::printf("report: %s\n", p.c_str());
  std::printf("report index: %s\n", reports::write_index_html(o.report_dir, results).c_str());
}

}  // namespace

int cmd_check(const Args& in) {
  Args args = in;
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::fputs(kCheckHelp, stdout);
    return kExitOk;
  }
  const CheckOptions o = parse_check_options(args);
  const auto files = scenario_files(o.paths);
  if (files.empty()) throw UsageError("no scenario files (*.yaml) under the given paths", "");
  const auto all = load_all(files);
  if (!o.json.empty()) require_writable_file(o.json, "--json", "check");
  if (!o.junit.empty()) require_writable_file(o.junit, "--junit", "check");
  if (!o.report_dir.empty()) require_writable_dir(o.report_dir, "--report-dir", "check");
  if (!o.run.save_images.empty()) require_writable_dir(o.run.save_images, "--save-images", "check");
  // Units: every seed of every scenario, in file order; this shard takes every N-th.
  std::vector<Unit> units;
  for (const auto& ref : verify::plan_units(all, o.shard_k, o.shard_n, !o.run.extra_knobs.empty()))
    units.emplace_back(&all[ref.scenario], ref.seed);
  std::fprintf(stderr, "dmsim check: %zu scenario(s), %zu unit(s) in shard %ld/%ld, %d job(s)\n", all.size(),
               units.size(), o.shard_k, o.shard_n, o.jobs);
  const auto t0 = std::chrono::steady_clock::now();
  const auto results = run_units(units, o, t0);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const size_t failed = print_check_summary(results, secs);
  write_check_outputs(o, all, results, secs);
  return failed ? kExitViolation : kExitOk;
}

int cmd_merge(const Args& in) {
  Args args = in;
  if (take_flag(args, "--help") || take_flag(args, "-h") || args.size() < 2) {
    std::fputs(kMergeHelp, args.size() < 2 && in.size() < 2 ? stderr : stdout);
    return in.size() < 2 && !(in.size() == 1 && (in[0] == "--help" || in[0] == "-h")) ? kExitUsage : kExitOk;
  }
  std::vector<verify::UnitResult> all;
  std::set<std::pair<std::string, uint64_t>> seen;
  for (size_t i = 1; i < args.size(); i++) {
    std::error_code ec;
    if (!fs::is_regular_file(args[i], ec)) throw UsageError("cannot read " + args[i] + ": not a regular file", "");
    std::ifstream f(args[i]);
    if (!f) throw UsageError("cannot read " + args[i], "");
    std::stringstream ss;
    ss << f.rdbuf();
    std::vector<verify::UnitResult> part;
    try {
      part = verify::results_from_json(ss.str(), args[i]);
    } catch (const std::exception& e) {
      throw UsageError(e.what(), "");
    }
    for (auto& u : part) {
      if (!seen.insert({u.file, u.seed}).second)
        throw UsageError(args[i] + ": unit " + u.file + " seed " + std::to_string(u.seed) + " appears twice", "");
      all.push_back(std::move(u));
    }
  }
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return std::tie(a.file, a.seed) < std::tie(b.file, b.seed); });
  write_file(args[0], verify::results_to_json(all));
  size_t failed = 0;
  for (const auto& u : all) failed += !u.passed;
  std::printf("merged %zu unit(s) from %zu file(s) into %s: %zu failed\n", all.size(), args.size() - 1, args[0].c_str(),
              failed);
  return failed ? kExitViolation : kExitOk;
}

namespace {

// A knob's line in the catalog: its catalog scenario, if any, and what running it showed.
struct CatalogRow {
  const model::Knob* knob = nullptr;
  std::string file;     // the catalog scenario ("" when it has none)
  std::string status;   // detected, NOT DETECTED, not run, no catalog scenario
  std::string verdict;  // the run's verdict ("" when not run)
};

// Runs the catalog scenario of each knob that has one (both legs), `jobs` at a time.
std::map<std::string, verify::UnitResult> run_catalog(const std::vector<const scenarios::Scenario*>& list, int jobs) {
  std::map<std::string, verify::UnitResult> result_of;
  std::vector<std::function<std::string()>> tasks;
  for (const auto* sc : list) tasks.push_back([sc] { return verify::results_to_json({verify::run_unit(*sc, 0, {})}); });
  verify::run_tasks(tasks, jobs, [&](size_t i, const verify::TaskOutput& o) {
    verify::UnitResult u;
    if (o.ok) {
      u = verify::results_from_json(o.bytes, "unit output")[0];
    } else {
      u.passed = false;
      u.verdict = "FAIL: the unit's process " + o.error;
    }
    std::fprintf(stderr, "%s: %s\n", list[i]->catalog->knob.c_str(), u.verdict.c_str());
    result_of[list[i]->catalog->knob] = std::move(u);
  });
  return result_of;
}

void print_catalog_json(const std::vector<CatalogRow>& rows) {
  std::printf("[");
  for (size_t i = 0; i < rows.size(); i++) {
    const model::Knob& k = *rows[i].knob;
    std::printf(
        "%s{\"knob\": \"%s\", \"fixed_in\": \"%s\", \"affects\": \"%s\", \"detects\": \"%s\", "
        "\"source\": \"%s\", \"description\": \"%s\", \"scenario\": \"%s\", \"status\": \"%s\", "
        "\"verdict\": \"%s\"}",
        i ? ", " : "", verify::json_escape(k.name).c_str(), verify::json_escape(k.fixed_in).c_str(),
        verify::json_escape(model::affected_releases(k)).c_str(), verify::json_escape(k.detects).c_str(),
        verify::json_escape(k.source).c_str(), verify::json_escape(k.description).c_str(),
        verify::json_escape(rows[i].file).c_str(), verify::json_escape(rows[i].status).c_str(),
        verify::json_escape(rows[i].verdict).c_str());
  }
  std::printf("]\n");
}

void print_catalog_text(const std::vector<CatalogRow>& rows, size_t with_scenario, size_t missed) {
  for (const auto& r : rows) {
    const model::Knob& k = *r.knob;
    std::printf("%s\n", k.name.c_str());
    std::printf("  fixed in:    %s\n", k.fixed_in.c_str());
    std::printf("  affects:     %s\n", model::affected_releases(k).c_str());
    std::printf("  source:      %s\n", k.source.c_str());
    std::printf("  restores:    %s\n", k.description.c_str());
    std::printf("  detected as: %s\n", k.detects.c_str());
    if (!r.file.empty()) std::printf("  scenario:    %s\n", r.file.c_str());
    std::printf("  status:      %s%s\n\n", r.status.c_str(), r.verdict.empty() ? "" : (" (" + r.verdict + ")").c_str());
  }
  std::printf("%zu knob(s), %zu with a catalog scenario, %zu not detected\n", rows.size(), with_scenario, missed);
}

}  // namespace

int cmd_catalog(const Args& in) {
  Args args = in;
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::fputs(kCatalogHelp, stdout);
    return kExitOk;
  }
  const bool json = take_flag(args, "--json");
  const bool no_run = take_flag(args, "--no-run");
  const int jobs =
      static_cast<int>(parse_count(take_option(args, "--jobs", "1", "catalog"), "--jobs", "catalog", 1, 256));
  std::string dir = take_option(args, "--scenarios", "", "catalog");
  reject_leftovers(args, "catalog");
  if (dir.empty() && fs::is_directory("scenarios")) dir = "scenarios";
  const auto knobs = model::all_knobs();
  std::vector<scenarios::Scenario> all;
  if (!dir.empty()) all = load_all(scenario_files({dir}));
  std::map<std::string, const scenarios::Scenario*> scenario_of;
  for (const auto& sc : all)
    if (sc.catalog) scenario_of[sc.catalog->knob] = &sc;
  std::vector<const scenarios::Scenario*> list;
  for (const auto& k : knobs)
    if (scenario_of.count(k.name)) list.push_back(scenario_of[k.name]);
  const auto result_of = no_run ? std::map<std::string, verify::UnitResult>{} : run_catalog(list, jobs);
  std::vector<CatalogRow> rows;
  size_t missed = 0;
  for (const auto& k : knobs) {
    CatalogRow r{&k, "", "no catalog scenario", ""};
    if (scenario_of.count(k.name)) {
      r.file = scenario_of[k.name]->file;
      r.status = "not run";
    }
    if (auto it = result_of.find(k.name); it != result_of.end()) {
      r.status = it->second.passed ? "detected" : "NOT DETECTED";
      r.verdict = it->second.verdict;
    }
    missed += r.status == "NOT DETECTED";
    rows.push_back(r);
  }
  if (json)
    print_catalog_json(rows);
  else
    print_catalog_text(rows, scenario_of.size(), missed);
  return missed ? kExitViolation : kExitOk;
}

}  // namespace dmsim::cli
