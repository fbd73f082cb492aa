// dm-era's operations: I/O in era-block terms, checkpoints, metadata snapshots and
// era_invalidate on them, status (also of an inactive table), suspend (with and without
// noflush), loads with the same, a grown, a shrunk or another block size (refused: the
// metadata keeps its block size) before or after a suspend, reopening the metadata, power cuts.
#include "explore/grammar_rules.hpp"

namespace explore {

namespace {

struct EraWorld {
  uint32_t bs = 128;    // era block size in sectors (the metadata's)
  uint64_t len = 8192;  // the live table's length
  uint64_t data = 0;    // the data disk, in sectors: room to grow
  std::string profile = "nvme";
  bool suspended = false, background = false, snap = false;
  uint64_t inactive_len = 0;  // a loaded table waiting for resume (0: none)
  uint64_t last = 0;
};

const char* kDev = "/dev/mapper/eradev";

std::string table(uint64_t len, uint32_t bs) {
  return "dmsetup load eradev --table \"0 " + std::to_string(len) + " era /dev/meta /dev/data " + std::to_string(bs) +
         "\"";
}
std::string create(const EraWorld& w) {
  std::string t = table(w.len, w.bs);
  return "dmsetup create" + t.substr(std::string("dmsetup load").size());
}

bool active(const EraWorld& w) {
  return !w.suspended;
}
bool always(const EraWorld&) {
  return true;
}

void write(EraWorld& w, Rng& r, ScenarioText& t) {
  t.step(dd_write(r, kDev, w.bs, w.len, &w.last));
}
void write_bg(EraWorld& w, Rng& r, ScenarioText& t) {
  t.step(dd_write(r, kDev, w.bs, w.len, &w.last) + " &");
  w.background = true;
}
void wait(EraWorld& w, Rng&, ScenarioText& t) {
  t.step("wait");
  w.background = false;
}
void checkpoint(EraWorld&, Rng&, ScenarioText& t) {
  t.step("dmsetup message eradev 0 checkpoint");
}
void status(EraWorld&, Rng&, ScenarioText& t) {
  t.step("dmsetup status eradev");
}
void status_inactive(EraWorld&, Rng& r, ScenarioText& t) {
  t.step(r.chance(2) ? "dmsetup status --inactive eradev" : "dmsetup table --inactive eradev");
}
void take_snap(EraWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup message eradev 0 take_metadata_snap");
  w.snap = true;
}
void invalidate(EraWorld&, Rng& r, ScenarioText& t) {
  t.step("era_invalidate --written-since " + std::to_string(1 + r.below(4)) + " --metadata-snapshot /dev/meta");
}
void drop_snap(EraWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup message eradev 0 drop_metadata_snap");
  w.snap = false;
}
void suspend(EraWorld& w, Rng& r, ScenarioText& t) {
  t.step(r.chance(3) ? "dmsetup suspend --noflush eradev" : "dmsetup suspend eradev");
  w.suspended = true;
}
void resume(EraWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup resume eradev");
  w.suspended = false;
  if (w.inactive_len) w.len = w.inactive_len;
  w.inactive_len = 0;
  if (w.last * w.bs >= w.len) w.last = 0;
}
// A reload: the same table, a grown or a shrunk device, or another block size, which the
// metadata refuses.
void load(EraWorld& w, Rng& r, ScenarioText& t) {
  const uint64_t step = w.bs * (1 + r.below(16));
  switch (r.below(5)) {
    case 0:
      t.must_fail(table(w.len, w.bs * 2));
      return;
    case 1:
      w.inactive_len = std::min(w.data, w.len + step);
      break;
    case 2:
      w.inactive_len = w.len > step ? w.len - step : w.len;
      break;
    default:
      w.inactive_len = w.len;
  }
  t.step(table(w.inactive_len, w.bs));
}
void clear(EraWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup clear eradev");
  w.inactive_len = 0;
}
void reopen(EraWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup remove eradev");
  t.step(create(w));
  w.inactive_len = 0;  // a held metadata snapshot stays held: it is in the superblock
}
void sync(EraWorld&, Rng&, ScenarioText& t) {
  t.step(std::string("sync ") + kDev);
}
void sleep(EraWorld&, Rng& r, ScenarioText& t) {
  t.step(r.chance(2) ? "sleep 1" : "sleep 0.01");
}
void power_cut(EraWorld&, Rng&, ScenarioText& t) {
  t.step("power-cut");
}

void setup(EraWorld& w, size_t choice, ScenarioText& t) {
  struct Choice {
    uint32_t bs;
    uint64_t len;
    const char* profile;
  };
  // 64 blocks (one bitset word), a few hundred blocks, small blocks, large blocks.
  static const Choice choices[] = {
      {128, 8192, "nvme"}, {128, 40960, "sata-ssd"}, {8, 2048, "nvme"}, {1024, 65536, "sata-ssd"}, {64, 4096, "hdd"}};
  const Choice& c = choices[choice % std::size(choices)];
  w.bs = c.bs;
  w.len = c.len;
  w.data = c.len * 2;
  w.profile = c.profile;
  t.step(create(w));
}

std::string disks(const EraWorld& w) {
  return "  meta: {size: 4MiB, profile: " + w.profile +
         ", initial: zero}\n  data: {size: " + std::to_string(w.data * 512) + ", profile: " + w.profile + "}\n";
}

std::string no_machine(const EraWorld&) {
  return "";
}

void teardown(EraWorld& w, ScenarioText& t) {
  if (w.background) t.step("wait");
  if (w.suspended) t.step("dmsetup resume eradev");
  if (w.snap) t.step("dmsetup message eradev 0 drop_metadata_snap");
  t.step("dmsetup remove eradev");
  t.step("era_check /dev/meta");
}

// The device must exist at the end: the oracle reads it back.
void recovery(EraWorld& w, ScenarioText& t) {
  t.step(create(w));
  t.step("dmsetup status eradev");
}

}  // namespace

std::unique_ptr<Grammar> make_era_grammar() {
  GrammarSpec<EraWorld> g;
  g.engine = "era";
  g.about = "generated: dm-era operations (I/O, checkpoints, metadata snapshots, reloads, suspend/resume, power cut)";
  g.setups = 5;
  g.setup = setup;
  g.disks = disks;
  g.machine = no_machine;
  g.teardown = teardown;
  g.recovery = recovery;
  auto idle = [](const EraWorld& w) { return !w.background; };
  g.rules = {
      {"write", active, write, false, true},
      {"write-background", [](const EraWorld& w) { return active(w) && !w.background; }, write_bg, false, false},
      {"wait", [](const EraWorld& w) { return w.background; }, wait, false, false},
      {"checkpoint", always, checkpoint, false, true},
      {"status", always, status, false, true},
      {"status-inactive", [](const EraWorld& w) { return w.inactive_len != 0; }, status_inactive, false, false},
      {"take-metadata-snap", [](const EraWorld& w) { return !w.snap; }, take_snap, false, true},
      {"era-invalidate", [](const EraWorld& w) { return w.snap; }, invalidate, false, false},
      {"drop-metadata-snap", [](const EraWorld& w) { return w.snap; }, drop_snap, false, false},
      {"suspend", [](const EraWorld& w) { return !w.suspended && !w.background; }, suspend, false, true},
      {"resume", [](const EraWorld& w) { return w.suspended; }, resume, false, true},
      {"load", always, load, false, true},
      {"clear", [](const EraWorld& w) { return w.inactive_len != 0; }, clear, false, false},
      {"reopen", [](const EraWorld& w) { return !w.suspended && !w.background; }, reopen, false, true},
      {"sync", active, sync, false, false},
      {"sleep", idle, sleep, false, false},
      {"power-cut", always, power_cut, true, true},
  };
  return std::make_unique<RuleGrammar<EraWorld>>(std::move(g));
}

}  // namespace explore
