#include "explore/shrinker.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>

#include "explore/grammar.hpp"
#include "verify/process_pool.hpp"
#include "verify/results.hpp"

namespace explore {

namespace {

struct StepItem {
  std::string text;
  std::optional<scenarios::OutputExpectation> output, error;
};

std::string expectation(const char* key, const char* file_key, const scenarios::OutputExpectation& e) {
  if (e.kind == scenarios::OutputExpectation::Regex)
    return std::string("    ") + key + ": " + yaml_quoted(e.pattern) + "\n";
  const size_t colon = e.source.find(':');
  const std::string path = colon == std::string::npos ? e.source : e.source.substr(colon + 1);
  return std::string("    ") + file_key + ":" + path + "\n";
}

// One candidate: the steps and the rest of the file (explore settings may be simplified).
struct Candidate {
  std::vector<StepItem> steps;
  YAML::Node rest;  // the root mapping, steps excluded
};

std::string emit(const Candidate& c, const std::string& header) {
  std::string y = header;
  bool steps_done = false;
  auto write_steps = [&] {
    y += "steps:\n";
    for (const auto& s : c.steps) {
      if (!s.output && !s.error) {
        y += "  - " + yaml_quoted(s.text) + "\n";
        continue;
      }
      y += "  - run: " + yaml_quoted(s.text) + "\n";
      if (s.output) y += expectation("output", "output-file", *s.output);
      if (s.error) y += expectation("error", "error-file", *s.error);
    }
    steps_done = true;
  };
  for (const auto& kv : c.rest) {
    const std::string key = kv.first.Scalar();
    if (key == "expect" && !steps_done) write_steps();
    YAML::Emitter e;
    e << YAML::BeginMap << YAML::Key << key << YAML::Value << kv.second << YAML::EndMap;
    y += std::string(e.c_str()) + "\n";
    if (key == "disks" && !steps_done) write_steps();
  }
  if (!steps_done) write_steps();
  return y;
}

// Step numbers other parts of the file name (crash-after, no-writes-after) follow a removal of
// steps [from, to); false when a named step itself was removed.
bool renumber(YAML::Node& rest, size_t from, size_t to) {
  auto fix = [&](YAML::Node n) {
    const uint64_t k = n.as<uint64_t>();  // 1-based
    if (k > from && k <= to) return false;
    if (k > to) n = k - (to - from);
    return true;
  };
  if (rest["explore"] && rest["explore"]["crash-after"] && !fix(rest["explore"]["crash-after"])) return false;
  if (rest["expect"] && rest["expect"].IsSequence())
    for (auto item : rest["expect"])
      if (item.IsMap())
        for (auto kv : item)
          if (kv.second.IsMap() && kv.second["step"] && !fix(kv.second["step"])) return false;
  return true;
}

Candidate clone_of(const Candidate& c) {
  return Candidate{c.steps, YAML::Clone(c.rest)};
}

class Shrinker {
 public:
  Shrinker(const std::string& file, Signature sig, const ShrinkOptions& o,
           const std::function<void(const std::string&)>& progress)
      : file_(file), sig_(std::move(sig)), o_(o), progress_(progress), t0_(std::chrono::steady_clock::now()) {}

  double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }
  bool out_of_time() const { return elapsed() > o_.budget_s; }
  uint64_t attempts() const { return attempts_; }

  // Runs the candidates (in parallel) and returns the index of the first that reproduces, in
  // order, with its result; -1 when none does (or none parsed).
  long first_reproducing(const std::vector<Candidate>& cands, verify::UnitResult* unit,
                         const verify::RunOptions& extra = {}) {
    std::vector<scenarios::Scenario> parsed;
    std::vector<long> index;
    for (size_t i = 0; i < cands.size(); i++) {
      try {
        parsed.push_back(scenarios::parse_scenario(emit(cands[i], ""), file_));
        index.push_back(static_cast<long>(i));
      } catch (const scenarios::ScenarioError&) {
        // A removal that leaves the file invalid (a step naming a device never created) is
        // simply not a smaller reproduction.
      }
    }
    std::vector<std::function<std::string()>> tasks;
    for (const auto& s : parsed)
      tasks.push_back([this, &s, extra] {
        verify::RunOptions opt = extra;
        opt.stop_at_first_failure = true;
        opt.wall_timeout_s = 120;
        std::vector<std::string> knobs = s.explore.knobs;
        knobs.insert(knobs.end(), o_.knobs.begin(), o_.knobs.end());
        return verify::results_to_json({verify::run_exploration(s, o_.seed, knobs, opt)});
      });
    attempts_ += tasks.size();
    const auto outs = verify::run_tasks(tasks, o_.jobs, {});
    for (size_t i = 0; i < outs.size(); i++) {
      if (!outs[i].ok) continue;
      verify::UnitResult u = verify::results_from_json(outs[i].bytes, "shrink attempt")[0];
      if (!u.input_error.empty() || !reproduces(sig_, u)) continue;
      *unit = std::move(u);
      return index[i];
    }
    return -1;
  }

  // Tries the candidates in order, 2 x jobs at a time, until the budget ends; the first that
  // reproduces becomes `best` (true).
  bool adopt_first_reproducing(const std::vector<Candidate>& cands, Candidate& best, verify::UnitResult* unit) {
    const size_t per_batch = static_cast<size_t>(o_.jobs) * 2;
    for (size_t at = 0; at < cands.size() && !out_of_time(); at += per_batch) {
      const size_t n = std::min(per_batch, cands.size() - at);
      const std::vector<Candidate> batch(cands.begin() + static_cast<long>(at),
                                         cands.begin() + static_cast<long>(at + n));
      const long hit = first_reproducing(batch, unit);
      if (hit >= 0) {
        best = batch[static_cast<size_t>(hit)];
        return true;
      }
    }
    return false;
  }

  // Delta debugging over the steps: remove chunks of halving size while the failure stays.
  void drop_steps(Candidate& best, verify::UnitResult* unit) {
    size_t chunk = std::max<size_t>(best.steps.size() / 2, 1);
    while (chunk >= 1 && !out_of_time()) {
      bool progressed = false;
      std::vector<Candidate> cands;
      for (size_t from = 0; from < best.steps.size(); from += chunk) {
        Candidate c = clone_of(best);
        const size_t to = std::min(from + chunk, c.steps.size());
        if (to - from == c.steps.size()) continue;  // never the empty scenario
        if (!renumber(c.rest, from, to)) continue;
        c.steps.erase(c.steps.begin() + static_cast<long>(from), c.steps.begin() + static_cast<long>(to));
        cands.push_back(std::move(c));
      }
      if (adopt_first_reproducing(cands, best, unit)) {
        progressed = true;
        say("steps: " + std::to_string(best.steps.size()));
      }
      if (!progressed) {
        if (chunk == 1) break;
        chunk /= 2;
      } else {
        chunk = std::min(chunk, std::max<size_t>(best.steps.size() / 2, 1));
      }
    }
  }

  // One candidate per simplification of one step or of the explore settings.
  std::vector<Candidate> simplifications(const Candidate& best) {
    std::vector<Candidate> out;
    auto with_step = [&](size_t i, const std::string& text) {
      Candidate c = clone_of(best);
      c.steps[i].text = text;
      out.push_back(std::move(c));
    };
    for (size_t i = 0; i < best.steps.size(); i++) {
      const std::string& t = best.steps[i].text;
      if (t.size() > 2 && t.compare(t.size() - 2, 2, " &") == 0) with_step(i, t.substr(0, t.size() - 2));
      if (const size_t p = t.find(",dsync"); p != std::string::npos) with_step(i, t.substr(0, p) + t.substr(p + 6));
      if (const size_t p = t.find(" count="); p != std::string::npos) {
        const size_t end = t.find(' ', p + 1);
        const std::string n = t.substr(p + 7, end == std::string::npos ? std::string::npos : end - p - 7);
        if (n != "1") with_step(i, t.substr(0, p) + " count=1" + (end == std::string::npos ? "" : t.substr(end)));
      }
      if (t.rfind("sleep ", 0) == 0 && t != "sleep 0.01") with_step(i, "sleep 0.01");
    }
    if (best.rest["explore"] && best.rest["explore"].IsMap()) {
      auto with_explore = [&](const char* key, const std::string& value) {
        const YAML::Node cur = best.rest["explore"][key];
        if (cur && cur.Scalar() == value) return;
        Candidate c = clone_of(best);
        c.rest["explore"][key] = value;
        out.push_back(std::move(c));
      };
      if (best.rest["explore"]["seeds"]) with_explore("seeds", "1");
      // Strictly simpler each time, so that the loop ends: durable < random:1 < anything else.
      const YAML::Node cs = best.rest["explore"]["crash-states"];
      const std::string states = cs ? cs.Scalar() : "durable";
      if (states != "durable") with_explore("crash-states", "durable");
      if (states != "durable" && states != "random:1") with_explore("crash-states", "random:1");
      if (const YAML::Node m = best.rest["explore"]["max-crash-points"]; m && m.as<uint64_t>() > 1)
        with_explore("max-crash-points", std::to_string(m.as<uint64_t>() / 2));
    }
    return out;
  }

  void simplify(Candidate& best, verify::UnitResult* unit) {
    for (bool progressed = true; progressed && !out_of_time();) {
      progressed = false;
      if (adopt_first_reproducing(simplifications(best), best, unit)) {
        progressed = true;
        say("simplified");
      }
    }
  }

  // The failing crash state with as few persisted writes as still fail: each persisted write
  // is dropped in turn (greedy), the crash point kept.
  void minimise_crash_state(const Candidate& best, verify::UnitResult* unit, ShrinkResult* r) {
    const verify::Exploration* failing = nullptr;
    for (const auto& e : unit->failures)
      for (const auto& v : e.violations)
        if (!failing && v.kind == sig_.kind && e.crash_point >= 0 && !e.choice_hex.empty()) failing = &e;
    if (!failing) return;
    r->crash_point = failing->crash_point;
    std::string choice = failing->choice_hex;
    // The crash state the user named, while the steps (and so the crash points) are as given.
    if (o_.crash_point && o_.crash_choice && best.steps.size() == r->steps_before) {
      r->crash_point = *o_.crash_point;
      choice = *o_.crash_choice;
    }
    auto popcount = [](const std::string& hex) {
      size_t n = 0;
      for (char c : hex) n += static_cast<size_t>(__builtin_popcount(std::stoi(std::string(1, c), nullptr, 16)));
      return n;
    };
    r->persisted_before = popcount(choice);
    for (size_t bit = 0; bit < choice.size() * 4 && !out_of_time();) {
      std::vector<std::string> tries;
      std::vector<size_t> bits;
      for (; bit < choice.size() * 4 && tries.size() < static_cast<size_t>(o_.jobs) * 2; bit++) {
        const size_t digit = choice.size() - 1 - bit / 4;
        const int v = std::stoi(std::string(1, choice[digit]), nullptr, 16);
        if (!(v & (1 << (bit % 4)))) continue;
        std::string c = choice;
        c[digit] = "0123456789abcdef"[v & ~(1 << (bit % 4))];
        tries.push_back(c);
        bits.push_back(bit);
      }
      if (tries.empty()) break;
      std::vector<Candidate> same(tries.size(), best);
      // Each attempt replays one crash state; candidates differ only in the choice.
      for (size_t i = 0; i < tries.size(); i++) {
        verify::RunOptions extra;
        extra.only_crash_point = r->crash_point;
        extra.only_choice = tries[i];
        verify::UnitResult u;
        if (first_reproducing({same[i]}, &u, extra) == 0) {
          choice = tries[i];
          *unit = std::move(u);
          say("crash state: " + std::to_string(popcount(choice)) + " persisted write(s)");
        }
      }
    }
    r->crash_choice = choice;
    r->persisted_after = popcount(choice);
  }

  void say(const std::string& what) {
    if (progress_)
      progress_("[shrink " + std::to_string(static_cast<int>(elapsed())) + "s, " + std::to_string(attempts_) +
                " attempts] " + what);
  }

 private:
  std::string file_;
  Signature sig_;
  ShrinkOptions o_;
  std::function<void(const std::string&)> progress_;
  std::chrono::steady_clock::time_point t0_;
  uint64_t attempts_ = 0;
};

std::string step_text(const scenarios::Step& s) {
  const std::string& t = s.cmd.text;
  return s.cmd.expect_failure && t.rfind('!', 0) != 0 ? "! " + t : t;
}

}  // namespace

ShrinkResult shrink_scenario(const std::string& yaml, const std::string& file, const std::string& out_file,
                             Signature sig, const ShrinkOptions& o,
                             const std::function<void(const std::string&)>& progress) {
  ShrinkResult r;
  const scenarios::Scenario original = scenarios::parse_scenario(yaml, file);
  Candidate best;
  for (const auto& s : original.steps) best.steps.push_back(StepItem{step_text(s), s.output, s.error});
  const YAML::Node root = YAML::Load(yaml);
  best.rest = YAML::Node(YAML::NodeType::Map);
  for (const auto& kv : root)
    if (kv.first.Scalar() != "steps") best.rest[kv.first.Scalar()] = YAML::Clone(kv.second);
  r.steps_before = best.steps.size();

  // The input must fail first, with the signature asked for (or any, which then becomes it).
  Shrinker sh(file, sig, o, progress);
  verify::UnitResult unit;
  if (sig.empty()) {
    verify::RunOptions opt;
    opt.stop_at_first_failure = true;
    std::vector<std::string> knobs = original.explore.knobs;
    knobs.insert(knobs.end(), o.knobs.begin(), o.knobs.end());
    opt.only_crash_point = o.crash_point;
    opt.only_choice = o.crash_choice;
    unit = verify::run_exploration(original, o.seed, knobs, opt);
    if (!unit.input_error.empty()) throw std::invalid_argument(unit.input_error);
    sig = signature_for(original, unit);
    if (sig.empty()) return r;
    sh = Shrinker(file, sig, o, progress);
  }
  r.signature = sig;
  verify::RunOptions given;  // --crash-point/--crash-choice: the first check replays that state
  given.only_crash_point = o.crash_point;
  given.only_choice = o.crash_choice;
  if (sh.first_reproducing({best}, &unit, given) != 0) return r;
  r.reproduced = true;
  sh.drop_steps(best, &unit);
  sh.simplify(best, &unit);
  sh.drop_steps(best, &unit);
  sh.minimise_crash_state(best, &unit, &r);
  r.steps_after = best.steps.size();
  r.attempts = sh.attempts();
  r.seconds = sh.elapsed();
  r.unit = unit;
  std::string replay = "dmsim run " + out_file + " --seed " + std::to_string(o.seed);
  for (const auto& k : o.knobs) replay += " --knob " + k;
  if (r.crash_point >= 0)
    replay += " --crash-point " + std::to_string(r.crash_point) + " --crash-choice " + r.crash_choice;
  r.replay = replay;
  std::string header = "# shrunk by dmsim shrink from " + file + " (" + std::to_string(r.steps_before) +
                       " steps, now " + std::to_string(r.steps_after) + "; " + std::to_string(r.attempts) +
                       " attempts)\n";
  header += "# reproduces " + sig.text() + "\n";
  header += "# replay: " + replay + "\n";
  if (r.crash_point >= 0)
    header += "# crash state: " + std::to_string(r.persisted_after) + " persisted write(s) (was " +
              std::to_string(r.persisted_before) + ")\n";
  r.yaml = emit(best, header);
  return r;
}

}  // namespace explore
