// The shell that runs a phase's steps in its simulation: each command in the thread a shell
// would run it in (a trailing '&' gets its own), as dmsetup, dd, sync, blkdiscard, blockdev,
// sleep, wait, echo and cat (of module parameters) or a tool would, with their messages and
// exit codes. It records each step as it
// ran, every I/O it issued at the top of the stack (placed below the stack when submitted),
// and which top devices a table held open when each step ended.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/world.hpp"
#include "sim/kernel.hpp"
#include "verify/phase.hpp"

namespace verify {

class StepExecutor {
 public:
  // REQUIRES: `in`, `out` and `world` outlive every step thread (the simulation process).
  StepExecutor(const PhaseInput& in, PhaseOutput& out, model::World& world) : in_(in), out_(out), world_(world) {}

  // Runs steps [in.first_step, in.end_step) up to a power cut, waiting for each but the ones
  // sent to the background.
  void run_steps();
  // Waits for every step sent to the background so far.
  void wait_background();

 private:
  void run_step(const scenarios::Command& c, size_t rec);
  int execute(const scenarios::Command& c, std::string& out, std::string& err);
  std::string substitute(const std::string& s, std::string* err);
  model::BlockDevice* open(const std::string& tool, const std::string& path, std::string& err);
  size_t log_io(TopIo::Kind k, const std::string& dev, model::BlockDevice* b, uint64_t sector, uint64_t sectors,
                uint64_t id, bool fua);
  void acked(size_t at, model::BlkStatus st);
  int flush_device(const std::string& path, model::BlockDevice* b);
  int dd(const scenarios::Command& c, std::string& out, std::string& err);
  int sync(const scenarios::Command& c, std::string& err);
  int blkdiscard(const scenarios::Command& c, std::string& err);
  int write_param(const scenarios::Command& c, std::string& err);
  void note_claims();

  const PhaseInput& in_;
  PhaseOutput& out_;
  model::World& world_;
  std::vector<sim::Thread*> background_;
};

}  // namespace verify
