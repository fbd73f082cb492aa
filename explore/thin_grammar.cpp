// dm-thin's operations: I/O and discards in pool-block terms on thin devices, thin devices and
// snapshots created (origins suspended around create_snap, as lvm does) and deleted, metadata
// snapshots, pool status, pool reloads (same table or grown data) before or after a suspend,
// the whole stack suspended (with and without noflush) and reactivated, power cuts.
#include <algorithm>

#include "explore/grammar_rules.hpp"

namespace explore {

namespace {

constexpr uint32_t kBlock = 128;  // pool block size, sectors
constexpr uint64_t kThinLen = 262144;
constexpr int kMaxThins = 4;

struct ThinWorld {
  uint64_t pool_len = 262144, data = 524288;
  std::string features = "0";
  std::vector<int> thins;  // ids with an active device "thin<ID>"
  int next_id = 0;
  bool suspended = false, background = false, ever_background = false, metadata_snap = false;
  uint64_t inactive_len = 0;
  uint64_t last = 0;
  size_t quiet_from = 0;  // 1-based step after which nothing changed the pool (0: none)
};

std::string pool_table(const ThinWorld& w, uint64_t len) {
  return "\"0 " + std::to_string(len) + " thin-pool /dev/meta /dev/data " + std::to_string(kBlock) + " 0 " +
         w.features + "\"";
}
std::string dev(int id) {
  return "/dev/mapper/thin" + std::to_string(id);
}
std::string create_thin_dev(int id) {
  return "dmsetup create thin" + std::to_string(id) + " --table \"0 " + std::to_string(kThinLen) +
         " thin /dev/mapper/pool " + std::to_string(id) + "\"";
}

bool running(const ThinWorld& w) {
  return !w.suspended && !w.thins.empty();
}
bool always(const ThinWorld&) {
  return true;
}
void changed(ThinWorld& w) {
  w.quiet_from = 0;
}

int pick(const ThinWorld& w, Rng& r) {
  return w.thins[r.below(w.thins.size())];
}

void write(ThinWorld& w, Rng& r, ScenarioText& t) {
  t.step(dd_write(r, dev(pick(w, r)), kBlock, kThinLen, &w.last));
  changed(w);
}
void write_bg(ThinWorld& w, Rng& r, ScenarioText& t) {
  t.step(dd_write(r, dev(pick(w, r)), kBlock, kThinLen, &w.last) + " &");
  w.background = w.ever_background = true;
  changed(w);
}
void wait(ThinWorld& w, Rng&, ScenarioText& t) {
  t.step("wait");
  w.background = false;
}
void discard_op(ThinWorld& w, Rng& r, ScenarioText& t) {
  t.step(discard(r, dev(pick(w, r)), kBlock, kThinLen, &w.last));
  changed(w);
}
void create_thin(ThinWorld& w, Rng&, ScenarioText& t) {
  const int id = w.next_id++;
  t.step("dmsetup message pool 0 create_thin " + std::to_string(id));
  t.crash_after_here();  // recovery opens every thin: only crash once the message committed
  t.step(create_thin_dev(id));
  w.thins.push_back(id);
  changed(w);
}
void create_snap(ThinWorld& w, Rng& r, ScenarioText& t) {
  const int origin = pick(w, r), id = w.next_id++;
  t.step("dmsetup suspend thin" + std::to_string(origin));
  t.step("dmsetup message pool 0 create_snap " + std::to_string(id) + " " + std::to_string(origin));
  t.crash_after_here();
  t.step("dmsetup resume thin" + std::to_string(origin));
  t.step(create_thin_dev(id));
  w.thins.push_back(id);
  changed(w);
}
void delete_thin(ThinWorld& w, Rng& r, ScenarioText& t) {
  const int id = pick(w, r);
  t.step("dmsetup remove thin" + std::to_string(id));
  t.step("dmsetup message pool 0 delete " + std::to_string(id));
  w.thins.erase(std::find(w.thins.begin(), w.thins.end(), id));
  changed(w);
}
void status(ThinWorld& w, Rng& r, ScenarioText& t) {
  if (w.thins.empty() || r.chance(2))
    t.step("dmsetup status pool");
  else
    t.step("dmsetup status thin" + std::to_string(pick(w, r)));
}
void status_inactive(ThinWorld&, Rng& r, ScenarioText& t) {
  t.step(r.chance(2) ? "dmsetup status --inactive pool" : "dmsetup table --inactive pool");
}
void reserve_snap(ThinWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup message pool 0 reserve_metadata_snap");
  w.metadata_snap = true;
  changed(w);
}
void dump_snap(ThinWorld&, Rng&, ScenarioText& t) {
  t.step("thin_dump --metadata-snap /dev/meta");
}
void release_snap(ThinWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup message pool 0 release_metadata_snap");
  w.metadata_snap = false;
  changed(w);
}
// The stack suspended top-down and resumed bottom-up, as lvm does.
void suspend(ThinWorld& w, Rng& r, ScenarioText& t) {
  const std::string opt = r.chance(3) ? "--noflush " : "";
  for (int id : w.thins) t.step("dmsetup suspend " + opt + "thin" + std::to_string(id));
  t.step("dmsetup suspend " + opt + "pool");
  w.suspended = true;
}
void resume(ThinWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup resume pool");
  for (int id : w.thins) t.step("dmsetup resume thin" + std::to_string(id));
  w.suspended = false;
  if (w.inactive_len) {
    if (w.inactive_len != w.pool_len) changed(w);
    w.pool_len = w.inactive_len;
  }
  w.inactive_len = 0;
}
void load(ThinWorld& w, Rng& r, ScenarioText& t) {
  w.inactive_len = r.chance(2) ? w.pool_len : std::min(w.data, w.pool_len + kBlock * (1 + r.below(64)));
  t.step("dmsetup load pool --table " + pool_table(w, w.inactive_len));
}
void clear(ThinWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup clear pool");
  w.inactive_len = 0;
}
// The pool and its thins removed and activated again: the metadata is reopened.
void reactivate(ThinWorld& w, Rng&, ScenarioText& t) {
  for (int id : w.thins) t.step("dmsetup remove thin" + std::to_string(id));
  t.step("dmsetup remove pool");
  t.step("dmsetup create pool --table " + pool_table(w, w.pool_len));
  w.quiet_from = t.steps();
  for (int id : w.thins) t.step(create_thin_dev(id));
  w.inactive_len = 0;  // a held metadata snapshot stays held: it is in the superblock
}
// Only a pool never put in service since its activation writes nothing: once something
// changed, every commit writes its superblock (pmd->in_service is never cleared).
void sync(ThinWorld& w, Rng& r, ScenarioText& t) {
  t.step("sync " + dev(pick(w, r)));
}
void sleep(ThinWorld&, Rng& r, ScenarioText& t) {
  t.step(r.chance(2) ? "sleep 2" : "sleep 0.01");
}
void power_cut(ThinWorld&, Rng&, ScenarioText& t) {
  t.step("power-cut");
}

void setup(ThinWorld& w, size_t choice, ScenarioText& t) {
  // Block zeroing on and off, discard passdown on and off.
  static const char* const features[] = {"0", "1 skip_block_zeroing", "1 no_discard_passdown"};
  w.features = features[choice % 3];
  t.step("dmsetup create pool --table " + pool_table(w, w.pool_len));
  Rng none(0);
  create_thin(w, none, t);
}

std::string disks(const ThinWorld& w) {
  return "  meta: {size: 16MiB, profile: sata-ssd, initial: zero}\n  data: {size: " + std::to_string(w.data * 512) +
         ", profile: sata-ssd}\n";
}
std::string no_machine(const ThinWorld&) {
  return "";
}

void judge_flushes(const ThinWorld& w, ScenarioText& t) {
  // A user flush costs the data device one cache flush; concurrent flushes would share theirs.
  if (!w.ever_background) t.expect("max-flushes-per-flush: {disk: data, max: 1}");
}

void teardown(ThinWorld& w, ScenarioText& t) {
  if (w.background) t.step("wait");
  Rng none(0);
  if (w.suspended) resume(w, none, t);
  if (w.metadata_snap) {
    t.step("dmsetup message pool 0 release_metadata_snap");
    w.quiet_from = 0;
  }
  for (int id : w.thins) t.step("dmsetup remove thin" + std::to_string(id));
  t.step("dmsetup remove pool");
  t.step("thin_check /dev/meta");
  judge_flushes(w, t);
  if (w.quiet_from) t.expect("no-writes-after: {disk: meta, step: " + std::to_string(w.quiet_from) + "}");
}

// The device must exist at the end: the oracle reads it back.
void recovery(ThinWorld& w, ScenarioText& t) {
  t.step("dmsetup create pool --table " + pool_table(w, w.pool_len));
  for (int id : w.thins) t.step(create_thin_dev(id));
  t.step("dmsetup status pool");
  judge_flushes(w, t);
}

}  // namespace

std::unique_ptr<Grammar> make_thin_grammar() {
  GrammarSpec<ThinWorld> g;
  g.engine = "thin";
  g.about =
      "generated: dm-thin operations (I/O, discards, thins and snapshots, metadata snapshots, reloads, "
      "suspend/resume, reactivation, power cut)";
  g.setups = 3;
  g.setup = setup;
  g.disks = disks;
  g.machine = no_machine;
  g.teardown = teardown;
  g.recovery = recovery;
  g.rules = {
      {"write", running, write, false, true},
      {"write-background", [](const ThinWorld& w) { return running(w) && !w.background; }, write_bg, false, false},
      {"wait", [](const ThinWorld& w) { return w.background; }, wait, false, false},
      {"discard", running, discard_op, false, true},
      {"create-thin", [](const ThinWorld& w) { return !w.suspended && w.thins.size() < kMaxThins; }, create_thin, false,
       false},
      {"create-snap", [](const ThinWorld& w) { return running(w) && !w.background && w.thins.size() < kMaxThins; },
       create_snap, false, true},
      {"delete-thin", [](const ThinWorld& w) { return running(w) && !w.background && w.thins.size() > 1; }, delete_thin,
       false, false},
      {"status", always, status, false, true},
      {"status-inactive", [](const ThinWorld& w) { return w.inactive_len != 0; }, status_inactive, false, false},
      {"reserve-metadata-snap", [](const ThinWorld& w) { return !w.suspended && !w.metadata_snap; }, reserve_snap,
       false, false},
      {"thin-dump-snap", [](const ThinWorld& w) { return w.metadata_snap; }, dump_snap, false, false},
      {"release-metadata-snap", [](const ThinWorld& w) { return !w.suspended && w.metadata_snap; }, release_snap, false,
       false},
      {"suspend", [](const ThinWorld& w) { return !w.suspended && !w.background; }, suspend, false, true},
      {"resume", [](const ThinWorld& w) { return w.suspended; }, resume, false, true},
      {"load", always, load, false, true},
      {"clear", [](const ThinWorld& w) { return w.inactive_len != 0; }, clear, false, false},
      {"reactivate", [](const ThinWorld& w) { return !w.suspended && !w.background; }, reactivate, false, true},
      {"sync", running, sync, false, true},
      {"sleep", [](const ThinWorld& w) { return !w.background; }, sleep, false, false},
      {"power-cut", always, power_cut, true, true},
  };
  return std::make_unique<RuleGrammar<ThinWorld>>(std::move(g));
}

}  // namespace explore
