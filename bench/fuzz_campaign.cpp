// `dmsim bench fuzz-parser`: the parser fuzzer's inputs in batches of child processes. The input
// a child is parsing sits in memory shared with the parent, so when the child dies or hangs the
// parent knows which input did it.
#include <sys/mman.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "bench/bench.hpp"
#include "bench/measure.hpp"
#include "sim/simulation.hpp"
#include "sim/wire.hpp"

namespace bench {

namespace {

struct FuzzSlot {
  uint64_t execution;
  uint64_t size;
  char bytes[fuzz::kMaxInputBytes];
};

constexpr int kFuzzInputSeconds = 5;
constexpr uint64_t kBatch = 50000;
constexpr const char* kReportWhat = "fuzz batch report";

// Shared anonymous memory for one FuzzSlot, unmapped when it goes out of scope.
class SharedSlot {
 public:
  SharedSlot() {
    void* mem = ::mmap(nullptr, sizeof(FuzzSlot), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
    slot_ = static_cast<FuzzSlot*>(mem);
  }
  ~SharedSlot() { ::munmap(slot_, sizeof(FuzzSlot)); }
  SharedSlot(const SharedSlot&) = delete;
  SharedSlot& operator=(const SharedSlot&) = delete;
  FuzzSlot* operator->() const { return slot_; }

 private:
  FuzzSlot* slot_;
};

// Parses inputs [first, end) in this (child) process, recording each in the slot first.
fuzz::Report parse_batch(const fuzz::Mutator& mutator, uint64_t seed, uint64_t first, uint64_t end,
                         const SharedSlot& slot) {
  fuzz::Report rep;
  for (uint64_t i = first; i < end; i++) {
    const std::string input = mutator.input(seed, i);
    slot->execution = i;
    slot->size = input.size();
    std::memcpy(slot->bytes, input.data(), input.size());
    // SIGALRM's default action ends the child: a parse that does not return is a hang.
    itimerval limit{{0, 0}, {kFuzzInputSeconds, 0}}, off{};
    ::setitimer(ITIMER_REAL, &limit, nullptr);
    fuzz::Outcome o = fuzz::check_input(input);
    ::setitimer(ITIMER_REAL, &off, nullptr);
    if (o.finding) o.finding->execution = i;
    rep.add(o);
  }
  return rep;
}

// The child died or hung at slot->execution: reruns the inputs before it (deterministic, they
// passed), records the one that did it, and returns where to go on.
uint64_t record_dead_batch(const fuzz::Mutator& mutator, uint64_t seed, uint64_t first, uint64_t end,
                           const SharedSlot& slot, const std::string& error, fuzz::Report& total) {
  const uint64_t bad = slot->execution;
  if (bad < first || bad >= end) throw std::runtime_error("fuzz batch failed outside an input: " + error);
  fuzz::Finding f;
  f.execution = bad;
  f.kind = error.find("signal 14") != std::string::npos ? "hang" : "crash";
  f.detail = "the parsing process " + error;
  f.input.assign(slot->bytes, slot->size);
  if (bad > first) {
    auto redo = sim::run_in_child([&] { return sim::to_wire(fuzz::run(mutator, seed, first, bad)); }, 24 * 3600);
    if (!redo.ok) throw std::runtime_error("fuzz batch is not deterministic: " + redo.error);
    total.merge(sim::from_wire<fuzz::Report>(redo.bytes, kReportWhat));
  }
  total.executions++;
  total.findings.push_back(f);
  return bad + 1;
}

std::vector<std::string> save_findings(const FuzzOptions& opt, const fuzz::Report& total) {
  std::vector<std::string> saved;
  if (total.findings.empty()) return saved;
  std::filesystem::create_directories(opt.findings_dir);
  for (const auto& f : total.findings) {
    const std::string path = opt.findings_dir + "/finding-" + std::to_string(opt.seed) + "-" +
                             std::to_string(f.execution) + "-" + f.kind + ".yaml";
    std::ofstream(path, std::ios::binary) << f.input;
    saved.push_back(path);
  }
  return saved;
}

}  // namespace

FuzzCampaign fuzz_parser(const FuzzOptions& opt) {
  const fuzz::Mutator mutator(fuzz::load_corpus(opt.corpus));
  SharedSlot slot;
  FuzzCampaign c;
  c.seed = opt.seed;
  c.seeds_in_corpus = mutator.seeds().size();
  const auto t0 = Clock::now();
  uint64_t next = 0;
  while (next < opt.execs) {
    const uint64_t first = next, end = std::min(opt.execs, next + kBatch);
    slot->execution = UINT64_MAX;
    auto out =
        sim::run_in_child([&] { return sim::to_wire(parse_batch(mutator, opt.seed, first, end, slot)); }, 24 * 3600);
    if (out.ok) {
      c.total.merge(sim::from_wire<fuzz::Report>(out.bytes, kReportWhat));
      next = end;
    } else {
      next = record_dead_batch(mutator, opt.seed, first, end, slot, out.error, c.total);
    }
  }
  c.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  c.saved = save_findings(opt, c.total);
  return c;
}

}  // namespace bench
