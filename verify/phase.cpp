// A phase in its simulation: builds the storage world on new disks or crash images, runs the
// steps, lets them settle, reads back and checks what the phase must judge, and hands back
// what it recorded, also when a hang stops the run early.
#include "verify/phase.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "engines/module_params.hpp"
#include "model/dm/mapped_device.hpp"
#include "model/knobs.hpp"
#include "model/world.hpp"
#include "sim/assert.hpp"
#include "sim/kernel.hpp"
#include "sim/simulation.hpp"
#include "sim/wire.hpp"
#include "verify/data_map.hpp"
#include "verify/engine_checks.hpp"
#include "verify/read_back.hpp"
#include "verify/real_tools.hpp"
#include "verify/step_executor.hpp"

namespace verify {

namespace {

using scenarios::CmdKind;

const char* const kWhat = "phase output";

void add_disks(const PhaseInput& in, model::World& world) {
  for (size_t i = 0; i < in.scenario->disks.size(); i++) {
    const auto& spec = in.scenario->disks[i];
    model::DiskConfig c;
    c.name = spec.name;
    c.sectors = spec.bytes / 512;
    c.logical_block_size = spec.logical_block_size;
    c.write_cache = spec.write_cache;
    c.profile = spec.profile;
    c.initial_zero = spec.initial_zero;
    c.discard = spec.discard;
    c.discard_zeroes = spec.discard_zeroes;
    model::VolatileCacheDisk& d = world.add_disk(c);
    if (i < in.images.size()) d.load_media(in.images[i]);
  }
}

// The test host's files: the scenario's inputs, then what the steps before a crash wrote by then.
void add_host_files(const PhaseInput& in, model::World& world) {
  for (const auto& [path, bytes] : in.scenario->input_files) world.write_file(path, *bytes, 0);
  if (in.before_crash_files)
    for (const HostFileWrite& f : *in.before_crash_files)
      if (f.ns <= in.crash_ns) world.write_file(f.path, f.bytes, 0);
}

std::vector<DiskState> disk_states(const model::World& world) {
  std::vector<DiskState> out;
  for (model::VolatileCacheDisk* d : world.disks()) {
    std::ostringstream t;
    d->trace().save(t);
    DiskState s;
    s.trace = t.str();
    s.disk_id = d->disk_id();
    s.sectors = d->capacity();
    s.logical_block_size = d->limits.logical_block_size;
    s.initial_zero = d->config().initial_zero;
    s.discard_zeroes = d->config().discard_zeroes;
    out.push_back(std::move(s));
  }
  return out;
}

// Bios neither completed nor parked by a suspended device once everything settled (not at a
// power cut, where bios in flight are simply cut off).
uint64_t leaked_bios(model::World& world) {
  uint64_t parked = 0;
  for (const auto& name : world.dm().names())
    if (model::MappedDevice* md = world.dm().device(name)) parked += md->in_flight() + md->deferred_count();
  uint64_t in_flight = 0;
  for (model::VolatileCacheDisk* d : world.disks())
    for (const auto& rec : d->trace().records) in_flight += rec.complete_ns == model::IoRecord::kInFlight;
  const uint64_t used = model::bios_in_use();
  return in_flight == 0 && used > parked ? used - parked : 0;
}

// What the phase hands back besides its steps: the journal, the disks, the first phase's data
// map of every device its I/O or commits named, and (`check_leaks`) the leaked bios.
void capture(const PhaseInput& in, PhaseOutput& out, model::World& world, bool check_leaks) {
  out.journal = engines::journal();
  out.disks = disk_states(world);
  out.file_writes.clear();
  for (const auto& f : world.file_writes()) out.file_writes.push_back({f.path, f.ns, f.bytes});
  if (!in.before_crash) {
    std::set<std::string> devs;
    for (const auto& io : out.io.ios) devs.insert(io.device);
    for (const auto& [thin, origin] : engines::external_origins(engines::journal().events)) devs.insert(origin);
    for (const auto& c : engines::journal().commits) {
      devs.insert(c.metadata_device);
      if (!c.data_device.empty()) devs.insert(c.data_device);
    }
    out.data_map = data_map(world, devs);
  }
  if (check_leaks) out.leaked_bios = leaked_bios(world);
}

// Lets background I/O, timers and deferred work finish before reading back or checking.
void settle() {
  sim::udelay_sim(1.0);
}

// The phase's main thread, the shell ("sh").
void run_in_simulation(const PhaseInput& in, PhaseOutput& out, model::World& world) {
  KFRAME_NAMED("sh");
  // A run stopped by a hang still reports which steps ran and which never finished.
  sim::set_payload_provider([&out] {
    out.finished = false;
    return sim::to_wire(out);
  });
  // Like the world, the executor lives as long as the simulation process: steps still
  // running at a power cut keep using it until the run stops.
  auto* steps = new StepExecutor(in, out, world);
  steps->run_steps();
  const auto& all = in.scenario->steps;
  const bool power_cut = in.end_step < all.size() && all[in.end_step].cmd.kind == CmdKind::PowerCut;
  // Without a power cut the phase ends when every step has: a background step that never
  // returns is a hang, not something the end of the script may leave behind.
  if (!power_cut) steps->wait_background();
  out.end_ns = sim::ktime_get_ns();
  if (in.before_crash) {
    settle();
    out.reads = read_back(world, *in.before_crash, in.crash_ns, in.before_crash_journal);
    run_engine_checks(in, out);
    run_real_tools(in, out, world);
  } else if (!power_cut) {
    settle();
    run_engine_checks(in, out);
    run_real_tools(in, out, world);
  }
  capture(in, out, world, !power_cut);
  out.finished = true;
  sim::set_payload(sim::to_wire(out));
  if (power_cut) sim::request_stop();  // nothing after the cut counts
}

}  // namespace

std::vector<model::DiskImage> starting_images(const scenarios::Scenario& s) {
  const bool any = std::any_of(s.disks.begin(), s.disks.end(), [](const auto& d) { return d.image_bytes != nullptr; });
  std::vector<model::DiskImage> out;
  for (size_t i = 0; any && i < s.disks.size(); i++) {
    const auto& spec = s.disks[i];
    // Disk ids as World::add_disk gives them: in declaration order, from 1.
    model::DiskImage img(static_cast<uint32_t>(i + 1), spec.bytes / 512, spec.initial_zero);
    const std::string* bytes = spec.image_bytes.get();
    // REQUIRES: whole sectors within the disk (the parser refuses anything else).
    DMSIM_ASSERT(!bytes || (bytes->size() % 512 == 0 && bytes->size() <= spec.bytes), "an image fits its disk");
    for (uint64_t sec = 0; bytes && sec < bytes->size() / 512; sec++)
      img.apply(sec, model::Sector::of_bytes(reinterpret_cast<const uint8_t*>(bytes->data()) + sec * 512), 0);
    out.push_back(std::move(img));
  }
  return out;
}

PhaseRun run_phase(const PhaseInput& in, double wall_timeout_s) {
  // REQUIRES: a crash image for every disk, or none (new disks). Checked here, in the parent:
  // in the simulation an abort would read as a crash of the engine.
  DMSIM_ASSERT(in.images.empty() || in.images.size() == in.scenario->disks.size(),
               "a recovery starts from one image per scenario disk");
  PhaseRun run;
  run.sim = sim::run_isolated(
      in.config,
      [&in] {
        model::set_active_knobs(in.knobs);
        // A phase boots the machine: every module parameter starts at its default, whatever
        // the parent process (a test, a bench) left in the variables behind them.
        engines::reset_module_params();
        engines::journal() = engines::Journal{};
        auto* world = new model::World;
        add_disks(in, *world);
        add_host_files(in, *world);
        // Like the world, the output lives as long as the simulation process.
        run_in_simulation(in, *new PhaseOutput, *world);
      },
      wall_timeout_s);
  if (!run.sim.payload.empty()) run.out = sim::from_wire<PhaseOutput>(run.sim.payload, kWhat);
  return run;
}

}  // namespace verify
