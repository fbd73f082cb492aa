// dm-clone's operations: I/O and discards in region terms, hydration enabled and disabled,
// its throttle and batch changed, status, suspend (with and without noflush), reloads of the
// same table or refused ones (another region size or length), reopening the metadata, power
// cuts; on 64- and 32-bit kernels, small devices and ones past 2 TiB.
#include <algorithm>

#include "explore/grammar_rules.hpp"

namespace explore {

namespace {

struct CloneWorld {
  uint64_t rs = 64, len = 16384, disk = 16384;
  std::string features = "1 no_hydration";
  std::string machine;
  std::string meta = "16MiB";
  bool suspended = false, background = false, ever_background = false;
  bool inactive = false;
  uint64_t last = 0;
};

const char* kDev = "/dev/mapper/cl";

std::string table(const CloneWorld& w, uint64_t len, uint64_t rs) {
  return "\"0 " + std::to_string(len) + " clone /dev/meta /dev/dest /dev/src " + std::to_string(rs) + " " + w.features +
         "\"";
}
std::string create(const CloneWorld& w) {
  return "dmsetup create cl --table " + table(w, w.len, w.rs);
}

bool active(const CloneWorld& w) {
  return !w.suspended;
}
bool always(const CloneWorld&) {
  return true;
}

void write(CloneWorld& w, Rng& r, ScenarioText& t) {
  t.step(dd_write(r, kDev, w.rs, w.len, &w.last));
}
void write_bg(CloneWorld& w, Rng& r, ScenarioText& t) {
  t.step(dd_write(r, kDev, w.rs, w.len, &w.last) + " &");
  w.background = w.ever_background = true;
}
void wait(CloneWorld& w, Rng&, ScenarioText& t) {
  t.step("wait");
  w.background = false;
}
void discard_op(CloneWorld& w, Rng& r, ScenarioText& t) {
  t.step(discard(r, kDev, w.rs, w.len, &w.last));
}
void hydration(CloneWorld&, Rng& r, ScenarioText& t) {
  switch (r.below(4)) {
    case 0:
      t.step("dmsetup message cl 0 disable_hydration");
      break;
    case 1:
      t.step("dmsetup message cl 0 hydration_threshold " + std::to_string(1 + r.below(8)));
      break;
    case 2:
      t.step("dmsetup message cl 0 hydration_batch_size " + std::to_string(1 + r.below(4)));
      break;
    default:
      t.step("dmsetup message cl 0 enable_hydration");
  }
}
void status(CloneWorld& w, Rng& r, ScenarioText& t) {
  if (w.inactive && r.chance(2))
    t.step("dmsetup status --inactive cl");
  else
    t.step(r.chance(4) ? "dmsetup table cl" : "dmsetup status cl");
}
void suspend(CloneWorld& w, Rng& r, ScenarioText& t) {
  t.step(r.chance(3) ? "dmsetup suspend --noflush cl" : "dmsetup suspend cl");
  w.suspended = true;
}
void resume(CloneWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup resume cl");
  w.suspended = false;
  w.inactive = false;
}
// A reload of the same table, or one the metadata refuses: another region size or length.
void load(CloneWorld& w, Rng& r, ScenarioText& t) {
  switch (r.below(6)) {
    case 0:
      t.must_fail("dmsetup load cl --table " + table(w, w.len, w.rs * 2));
      return;
    case 1:
      if (w.len > w.rs) {
        t.must_fail("dmsetup load cl --table " + table(w, w.len - w.rs, w.rs));
        return;
      }
      [[fallthrough]];
    default:
      t.step("dmsetup load cl --table " + table(w, w.len, w.rs));
      w.inactive = true;
  }
}
void clear(CloneWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup clear cl");
  w.inactive = false;
}
void reopen(CloneWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup remove cl");
  t.step(create(w));
  w.inactive = false;
}
void sync(CloneWorld&, Rng&, ScenarioText& t) {
  t.step(std::string("sync ") + kDev);
}
void sleep(CloneWorld&, Rng& r, ScenarioText& t) {
  t.step(r.chance(2) ? "sleep 2" : "sleep 0.01");
}
void power_cut(CloneWorld&, Rng&, ScenarioText& t) {
  t.step("power-cut");
}

void setup(CloneWorld& w, size_t choice, ScenarioText& t) {
  struct Choice {
    uint64_t rs, len;
    const char* features;
    const char* machine;
  };
  static const Choice choices[] = {
      {64, 16384, "1 no_hydration", ""},
      {8, 16384, "0", ""},
      {128, 131072, "1 no_hydration", ""},
      {64, 16384, "2 no_hydration discard_rw_src", ""},
      {8, 8192, "1 discard_rw_src", ""},
      // Past 2 TiB on a 32-bit kernel: 8 MiB regions, the last ones beyond sector 2^32.
      {16384, 4295000064ULL, "1 no_hydration", "{bits-per-long: 32}"},
  };
  const Choice& c = choices[choice % std::size(choices)];
  w.rs = c.rs;
  w.len = c.len;
  w.disk = c.len;
  w.features = c.features;
  w.machine = c.machine;
  t.step(create(w));
}

std::string disks(const CloneWorld& w) {
  const std::string size = std::to_string(w.disk * 512);
  return "  meta: {size: " + w.meta + ", profile: nvme, initial: zero}\n  dest: {size: " + size +
         ", profile: nvme}\n  src: {size: " + size + ", profile: sata-ssd}\n";
}
std::string machine(const CloneWorld& w) {
  return w.machine;
}

void judge_flushes(const CloneWorld& w, ScenarioText& t) {
  // A user flush costs the destination one cache flush; concurrent flushes would share theirs.
  if (!w.ever_background) t.expect("max-flushes-per-flush: {disk: dest, max: 1}");
}

void teardown(CloneWorld& w, ScenarioText& t) {
  if (w.background) t.step("wait");
  if (w.suspended) t.step("dmsetup resume cl");
  t.step("dmsetup remove cl");
  judge_flushes(w, t);
}

// The device must exist at the end: the oracle reads it back.
// Recovery brings the clone up without hydration: what it reads is judged as it was at the
// crash, and each recovery does not copy the rest of the device.
void recovery(CloneWorld& w, ScenarioText& t) {
  CloneWorld inspect = w;
  const bool rw_src = w.features.find("discard_rw_src") != std::string::npos;
  inspect.features = rw_src ? "2 no_hydration discard_rw_src" : "1 no_hydration";
  t.step(create(inspect));
  t.step("dmsetup status cl");
  judge_flushes(w, t);
}

}  // namespace

std::unique_ptr<Grammar> make_clone_grammar() {
  GrammarSpec<CloneWorld> g;
  g.engine = "clone";
  g.about = "generated: dm-clone operations (I/O, discards, hydration control, reloads, suspend/resume, power cut)";
  g.setups = 6;
  g.setup = setup;
  g.disks = disks;
  g.machine = machine;
  g.teardown = teardown;
  g.recovery = recovery;
  g.rules = {
      {"write", active, write, false, true},
      {"write-background", [](const CloneWorld& w) { return active(w) && !w.background; }, write_bg, false, false},
      {"wait", [](const CloneWorld& w) { return w.background; }, wait, false, false},
      {"discard", active, discard_op, false, true},
      {"hydration", always, hydration, false, true},
      {"status", always, status, false, true},
      {"suspend", [](const CloneWorld& w) { return !w.suspended && !w.background; }, suspend, false, true},
      {"resume", [](const CloneWorld& w) { return w.suspended; }, resume, false, false},
      {"load", always, load, false, false},
      {"clear", [](const CloneWorld& w) { return w.inactive; }, clear, false, false},
      {"reopen", [](const CloneWorld& w) { return !w.suspended && !w.background; }, reopen, false, true},
      {"sync", active, sync, false, true},
      {"sleep", [](const CloneWorld& w) { return !w.background; }, sleep, false, true},
      {"power-cut", always, power_cut, true, true},
  };
  return std::make_unique<RuleGrammar<CloneWorld>>(std::move(g));
}

}  // namespace explore
