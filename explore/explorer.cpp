#include "explore/explorer.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <stdexcept>

#include "explore/grammar.hpp"
#include "sim/compiler_false_positives.hpp"
#include "verify/process_pool.hpp"
#include "verify/results.hpp"

namespace explore {

namespace fs = std::filesystem;

namespace {

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Every sequence of 1 to 3 operations of the small vocabulary, in order of length.
class Exhaustive {
 public:
  Exhaustive(std::vector<uint32_t> vocab, size_t setups) : v_(std::move(vocab)), setups_(setups) {
    const uint64_t k = v_.size();
    total_ = k + k * k + k * k * k;
  }
  uint64_t total() const { return total_; }
  bool done() const { return next_ >= total_; }
  Program next() {
    uint64_t i = next_++, k = v_.size(), len = 1, span = k;
    while (i >= span) {
      i -= span;
      len++;
      span *= k;
    }
    Program p;
    p.setup = static_cast<uint32_t>((next_ - 1) % setups_);
    p.seed = 0;
    for (uint64_t j = 0; j < len; j++, i /= k) p.ops.push_back(OpInst{v_[i % k], static_cast<uint32_t>(next_ * 7 + j)});
    return p;
  }

 private:
  std::vector<uint32_t> v_;
  size_t setups_;
  uint64_t total_ = 0, next_ = 0;
};

Program random_program(Rng& r, const Grammar& g, uint32_t power_cut) {
  Program p;
  p.setup = static_cast<uint32_t>(r.below(g.setups()));
  const size_t n = g.vocabulary().size();
  const uint64_t len = 3 + r.below(10);
  for (uint64_t i = 0; i < len; i++) {
    uint32_t op = static_cast<uint32_t>(r.below(n));
    if (op == power_cut) op = static_cast<uint32_t>(r.below(n));  // rarely in the middle
    p.ops.push_back(OpInst{op, static_cast<uint32_t>(r.next())});
  }
  if (r.chance(2)) p.ops.push_back(OpInst{power_cut, 0});
  p.seed = r.chance(2) ? 0 : 1 + r.below(1000);
  return p;
}

// A program that reached new states, changed a little: operations inserted, replaced or
// dropped, another schedule seed, another crash.
Program mutate(Rng& r, const Program& base, const Grammar& g, uint32_t power_cut) {
  Program p = base;
  const size_t n = g.vocabulary().size();
  const uint64_t edits = 1 + r.below(3);
  for (uint64_t e = 0; e < edits; e++) {
    const auto at = p.ops.empty() ? 0 : r.below(p.ops.size() + 1);
    switch (r.below(5)) {
      case 0:
      case 1:
        p.ops.insert(p.ops.begin() + static_cast<long>(at),
                     OpInst{static_cast<uint32_t>(r.below(n)), static_cast<uint32_t>(r.next())});
        break;
      case 2:
        if (!p.ops.empty()) p.ops[std::min<size_t>(at, p.ops.size() - 1)].arg = static_cast<uint32_t>(r.next());
        break;
      case 3:
        if (!p.ops.empty()) p.ops.erase(p.ops.begin() + static_cast<long>(std::min<size_t>(at, p.ops.size() - 1)));
        break;
      default:
        p.seed = r.chance(2) ? 0 : 1 + r.below(1000);
    }
  }
  // A power cut is only meaningful last.
  for (size_t i = 0; i + 1 < p.ops.size(); i++)
    if (p.ops[i].op == power_cut) p.ops.erase(p.ops.begin() + static_cast<long>(i--));
  if (r.chance(3)) p.ops.push_back(OpInst{power_cut, 0});
  return p;
}

struct Job {
  Program program;
  std::string kind;  // exhaustive, random, mutated
  std::string file, yaml;
  std::unique_ptr<scenarios::Scenario> scenario;
};

}  // namespace

ExploreSummary run_explore(const ExploreOptions& o, const std::function<void(const std::string&)>& progress) {
  const auto g = make_grammar(o.engine);
  if (!g) throw std::invalid_argument("no grammar for engine '" + o.engine + "'");
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const auto vocab = g->vocabulary();
  uint32_t power_cut = 0;
  for (uint32_t i = 0; i < vocab.size(); i++)
    if (vocab[i] == "power-cut") power_cut = i;

  ExploreSummary sum;
  Exhaustive ex(g->small_vocabulary(), g->setups());
  sum.exhaustive_total = ex.total();
  Rng rng(o.seed);
  std::set<std::string> states;
  std::vector<Program> corpus;  // programs that reached a new state
  std::map<std::string, size_t> seen_signatures;
  const size_t batch = static_cast<size_t>(o.jobs) * 2;
  const std::regex stop_re(o.stop_on.empty() ? "$^" : o.stop_on, std::regex::ECMAScript);
  double last_progress = 0;

  while (elapsed() < o.budget_s && (!o.max_runs || sum.runs < o.max_runs)) {
    std::vector<Job> jobs;
    for (size_t b = 0; b < batch && (!o.max_runs || sum.runs + jobs.size() < o.max_runs); b++) {
      Job j;
      // Half the runs go to the exhaustive sequences until they are done.
      if (!ex.done() && (rng.chance(2) || corpus.empty())) {
        j.program = ex.next();
        j.kind = "exhaustive";
      } else if (!corpus.empty() && rng.chance(2)) {
        j.program = mutate(rng, corpus[rng.below(corpus.size())], *g, power_cut);
        j.kind = "mutated";
      } else {
        j.program = random_program(rng, *g, power_cut);
        j.kind = "random";
      }
      const uint64_t n = sum.runs + jobs.size() + 1;
      const std::string name = o.engine + "-explore-" + std::to_string(o.seed) + "-" + std::to_string(n);
      j.file = (fs::path(o.out_dir) / "generated" / (name + ".yaml")).string();
      j.yaml = g->render(j.program, name).yaml;
      try {
        j.scenario = std::make_unique<scenarios::Scenario>(scenarios::parse_scenario(j.yaml, j.file));
      } catch (const scenarios::ScenarioError& e) {
        write_text(j.file, j.yaml);
        sum.generator_errors.push_back(j.file + ": " + (e.errors.empty() ? "" : e.errors[0]));
        continue;
      }
      if (o.keep_all) write_text(j.file, j.yaml);
      jobs.push_back(std::move(j));
    }
    if (jobs.empty()) break;
    std::vector<std::function<std::string()>> tasks;
    for (const auto& j : jobs)
      tasks.push_back([&j, &o] {
        verify::RunOptions opt;
        opt.keep_failures = 3;
        opt.wall_timeout_s = 120;
        return verify::results_to_json({verify::run_exploration(*j.scenario, j.program.seed, o.knobs, opt)});
      });
    const auto outs = verify::run_tasks(tasks, o.jobs, {});
    for (size_t i = 0; i < jobs.size(); i++) {
      Job& j = jobs[i];
      sum.runs++;
      (j.kind == "exhaustive" ? sum.exhaustive_runs : j.kind == "mutated" ? sum.mutated_runs : sum.random_runs)++;
      verify::UnitResult u;
      if (outs[i].ok) {
        u = verify::results_from_json(outs[i].bytes, "explore run")[0];
      } else {
        u.file = j.file;
        u.scenario = j.scenario->name;
        u.passed = false;
        u.verdict = "FAIL: the run's process " + outs[i].error;
        u.failures.push_back(verify::Exploration{});
        u.failures.back().violations.push_back(verify::Violation{"crash", "the run's process " + outs[i].error, ""});
      }
      sum.recoveries += u.recoveries;
      size_t fresh = 0;
      for (const auto& st : u.states) fresh += states.insert(st).second;
      if (fresh) corpus.push_back(j.program);
      if (u.passed || u.harness_timeout) continue;
      sum.failed_runs++;
      const Signature sig = signature_of(u);
      if (seen_signatures.count(sig.text())) continue;
      seen_signatures[sig.text()] = sum.findings.size();
      write_text(j.file, j.yaml);
      Finding f;
      f.signature = sig;
      f.file = j.file;
      f.run = sum.runs;
      f.seconds = elapsed();
      f.seed = j.program.seed;
      f.steps = j.scenario->steps.size();
      f.unit = u;
      if (progress)
        progress("finding " + std::to_string(sum.findings.size() + 1) + " after " + std::to_string(sum.runs) +
                 " run(s), " + std::to_string(static_cast<int>(f.seconds)) + " s: " + sig.text() + " in " + j.file);
      if (!o.stop_on.empty() &&
          std::regex_search("[" + sig.kind + "] " + f.unit.failures[0].violations[0].title, stop_re))
        sum.stopped_on_match = true;
      sum.findings.push_back(std::move(f));
    }
    sum.states = states.size();
    if (progress && (elapsed() - last_progress >= 5 || elapsed() >= o.budget_s)) {
      last_progress = elapsed();
      char line[256];
      std::snprintf(
          line, sizeof line, "[%.0fs] runs %llu (%.1f/s), failed %llu, distinct %zu, states %zu, exhaustive %llu/%llu",
          elapsed(), static_cast<unsigned long long>(sum.runs), sum.runs / std::max(elapsed(), 1e-9),
          static_cast<unsigned long long>(sum.failed_runs), sum.findings.size(), states.size(),
          static_cast<unsigned long long>(sum.exhaustive_runs), static_cast<unsigned long long>(sum.exhaustive_total));
      progress(line);
    }
    if ((o.stop_at_first && !sum.findings.empty()) || sum.stopped_on_match) break;
  }
  sum.search_seconds = elapsed();
  if (o.shrink)
    for (auto& f : sum.findings) {
      ShrinkOptions so;
      so.knobs = o.knobs;
      so.seed = f.seed;
      so.jobs = o.jobs;
      so.budget_s = o.shrink_budget_s;
      std::ifstream in(f.file);
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const std::string out = (fs::path(o.out_dir) / "shrunk" / fs::path(f.file).filename()).string();
      f.shrunk = shrink_scenario(text, f.file, out, f.signature, so, progress);
      if (f.shrunk.reproduced) {
        write_text(out, f.shrunk.yaml);
        f.shrunk_file = out;
      }
    }
  sum.seconds = elapsed();
  return sum;
}

namespace {
std::string q(const std::string& s) {
  DMSIM_GCC_BUG_105651(return "\"" + verify::json_escape(s) + "\"";)
}
}  // namespace

std::string summary_json(const ExploreOptions& o, const ExploreSummary& s) {
  std::string j = "{\"dmsim_explore\": 1, \"engine\": " + q(o.engine) + ", \"seed\": " + std::to_string(o.seed);
  j += ", \"knobs\": [";
  for (size_t i = 0; i < o.knobs.size(); i++) j += (i ? ", " : "") + q(o.knobs[i]);
  j += "], \"runs\": " + std::to_string(s.runs) + ", \"failed_runs\": " + std::to_string(s.failed_runs) +
       ", \"exhaustive_runs\": " + std::to_string(s.exhaustive_runs) +
       ", \"exhaustive_total\": " + std::to_string(s.exhaustive_total) +
       ", \"random_runs\": " + std::to_string(s.random_runs) + ", \"mutated_runs\": " + std::to_string(s.mutated_runs) +
       ", \"states\": " + std::to_string(s.states) + ", \"recoveries\": " + std::to_string(s.recoveries) +
       ", \"seconds\": " + std::to_string(s.seconds) + ", \"search_seconds\": " + std::to_string(s.search_seconds) +
       ", \"runs_per_second\": " + std::to_string(s.runs / std::max(s.search_seconds, 1e-9)) +
       ", \"stopped_on_match\": " + (s.stopped_on_match ? "true" : "false") + ", \"findings\": [";
  for (size_t i = 0; i < s.findings.size(); i++) {
    const Finding& f = s.findings[i];
    j += std::string(i ? ", " : "") + "{\"kind\": " + q(f.signature.kind) + ", \"match\": " + q(f.signature.match) +
         ", \"title\": " +
         q(f.unit.failures.empty() || f.unit.failures[0].violations.empty() ? ""
                                                                            : f.unit.failures[0].violations[0].title) +
         ", \"file\": " + q(f.file) + ", \"run\": " + std::to_string(f.run) +
         ", \"seconds\": " + std::to_string(f.seconds) + ", \"seed\": " + std::to_string(f.seed) +
         ", \"steps\": " + std::to_string(f.steps) + ", \"shrunk_file\": " + q(f.shrunk_file) +
         ", \"shrunk_steps\": " + std::to_string(f.shrunk.steps_after) + ", \"replay\": " + q(f.shrunk.replay) + "}";
  }
  j += "], \"generator_errors\": [";
  for (size_t i = 0; i < s.generator_errors.size(); i++) j += (i ? ", " : "") + q(s.generator_errors[i]);
  return j + "]}\n";
}

}  // namespace explore
