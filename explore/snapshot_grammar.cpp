// dm-snapshot's operations, as LVM and administrators issue them: writes to the origin and to
// the snapshot in chunk terms (in the foreground and background), status and table queries,
// snapshots of the same origin created and removed while writes run (lvcreate -s / lvremove, the
// origin suspended around the creation as LVM does), snapshots created and removed on another
// origin (which takes the same global lock), lvconvert --merge (the origin reloaded as
// snapshot-merge of a persistent snapshot), suspend and resume of the origin and of a snapshot,
// the module's COW throttle changed, sync, sleep and power cuts; where the origin's device is
// itself a dm table (`real`), a region of it turning slow (delay) or failing (error), as
// device-mapper-test-suite degrades devices. Setups: persistent and transient stores, one or two
// snapshots, small and tiny chunks, HDD and NVMe, a PREEMPT_RT kernel, a stacked origin device,
// the module loaded with one copy in flight allowed (snapshot_cow_threshold=1).
#include <algorithm>

#include "explore/grammar_rules.hpp"

namespace explore {

namespace {

struct SnapWorld {
  uint64_t len = 32768;
  uint64_t chunk = 8;   // the first snapshot's chunk, in sectors
  uint64_t chunk2 = 8;  // a second snapshot's
  std::string store = "P", store2 = "P";
  std::string origin_profile = "sata-ssd", cow_profile = "sata-ssd";
  std::string machine;
  bool snap = true;      // snap1 exists
  bool merging = false;  // the origin's table is snapshot-merge of snap1's COW
  bool snap2 = false;    // snap2 exists
  bool other = false;    // the other origin's snapshot exists
  bool origin_suspended = false, snap_suspended = false;
  bool background = false;
  uint64_t last = 0;
  // The origin's device is /dev/mapper/real (over /dev/base) instead of /dev/base itself; a
  // region of it may be slow or failing (aligned to every chunk size in use, so a write outside
  // it never copies a chunk inside it).
  bool stacked = false;
  uint64_t bad_at = 0, bad_len = 0;
  bool bad_error = false;
};

const char* kOrigin = "/dev/mapper/origin";
constexpr uint64_t kMaxChunk = 16;  // the largest chunk any setup uses, in sectors

const char* origin_device(const SnapWorld& w) {
  return w.stacked ? "/dev/mapper/real" : "/dev/base";
}

std::string snapshot_table(const SnapWorld& w, const char* cow, const std::string& store, uint64_t chunk) {
  return "\"0 " + std::to_string(w.len) + " snapshot " + origin_device(w) + " " + cow + " " + store + " " +
         std::to_string(chunk) + "\"";
}
std::string create_snap(const SnapWorld& w) {
  return "dmsetup create snap --table " + snapshot_table(w, "/dev/cow", w.store, w.chunk);
}
std::string create_snap2(const SnapWorld& w) {
  return "dmsetup create snap2 --table " + snapshot_table(w, "/dev/cow2", w.store2, w.chunk2);
}
std::string origin_table(const SnapWorld& w) {
  if (w.merging)
    return "\"0 " + std::to_string(w.len) + " snapshot-merge " + origin_device(w) + " /dev/cow " + w.store + " " +
           std::to_string(w.chunk) + "\"";
  return "\"0 " + std::to_string(w.len) + " snapshot-origin " + origin_device(w) + "\"";
}
std::string create_origin(const SnapWorld& w) {
  return "dmsetup create origin --table " + origin_table(w);
}
// The origin's device as a table: linear over /dev/base, with the bad region (if any) in between.
std::string real_table(const SnapWorld& w) {
  auto linear = [](uint64_t at, uint64_t n) {
    return std::to_string(at) + " " + std::to_string(n) + " linear /dev/base " + std::to_string(at);
  };
  if (!w.bad_len) return "'" + linear(0, w.len) + "'";
  std::string t = "'";
  if (w.bad_at) t += linear(0, w.bad_at) + "\n";
  t += std::to_string(w.bad_at) + " " + std::to_string(w.bad_len) +
       (w.bad_error ? " error" : " delay /dev/base " + std::to_string(w.bad_at) + " 200");
  const uint64_t end = w.bad_at + w.bad_len;
  if (end < w.len) t += "\n" + linear(end, w.len - end);
  return t + "'";
}

bool origin_live(const SnapWorld& w) {
  return !w.origin_suspended;
}
bool snap_live(const SnapWorld& w) {
  return w.snap && !w.snap_suspended;
}
// A transient snapshot does not survive a power cut, so nothing written to it is owed after one:
// only persistent snapshots are written through. Nor one that a failing region of the origin's
// device may have invalidated (its reads then fail).
bool snap_writable(const SnapWorld& w) {
  return snap_live(w) && w.store == "P" && !w.bad_error;
}
bool always(const SnapWorld&) {
  return true;
}
bool quiet(const SnapWorld& w) {
  return !w.background && !w.origin_suspended && !w.snap_suspended;
}

// A write to the origin; one that reaches a failing region fails (EIO), as does the copy of a
// chunk there, which invalidates the snapshots that had not preserved it.
void origin_dd(SnapWorld& w, Rng& r, ScenarioText& t, const char* suffix) {
  IoExtent e;
  const std::string cmd = dd_write(r, kOrigin, w.chunk, w.len, &w.last, &e) + suffix;
  if (w.bad_error && e.sector < w.bad_at + w.bad_len && w.bad_at < e.sector + e.sectors)
    t.must_fail(cmd);
  else
    t.step(cmd);
}
void write_origin(SnapWorld& w, Rng& r, ScenarioText& t) {
  origin_dd(w, r, t, "");
}
void write_origin_bg(SnapWorld& w, Rng& r, ScenarioText& t) {
  // Several writers at once: their copies overlap, and their completions with commits.
  const unsigned n = 1 + static_cast<unsigned>(r.below(3));
  for (unsigned i = 0; i < n; i++) origin_dd(w, r, t, " &");
  w.background = true;
}
// A region of the origin's device turns slow (200 ms per I/O) or starts failing every I/O.
void degrade_origin_device(SnapWorld& w, Rng& r, ScenarioText& t) {
  w.bad_len = r.chance(2) ? kMaxChunk : 8 * kMaxChunk;
  const uint64_t places[] = {0, w.last * w.chunk / kMaxChunk * kMaxChunk, w.len / 2, w.len - w.bad_len};
  w.bad_at = std::min(places[r.below(std::size(places))], w.len - w.bad_len);
  w.bad_error = r.chance(2);
  t.step("dmsetup load real --table " + real_table(w));
  t.step("dmsetup suspend real");
  t.step("dmsetup resume real");
}
// A large sequential write (dd bs=64k): many chunk copies at once, filling metadata areas.
void write_origin_large(SnapWorld& w, Rng& r, ScenarioText& t) {
  const uint64_t blocks = 1 + r.below(2), block = 128;  // 64 KiB
  const uint64_t at = r.below(w.len / block - blocks + 1);
  const std::string cmd = "dd if=/dev/urandom of=" + std::string(kOrigin) + " bs=64k count=" + std::to_string(blocks) +
                          " seek=" + std::to_string(at) + " oflag=direct" + (r.chance(2) ? " &" : "");
  const bool bad = w.bad_error && at * block < w.bad_at + w.bad_len && w.bad_at < (at + blocks) * block;
  if (bad)
    t.must_fail(cmd);
  else
    t.step(cmd);
  if (cmd.back() == '&') w.background = true;
}
void write_snap(SnapWorld& w, Rng& r, ScenarioText& t) {
  t.step(dd_write(r, "/dev/mapper/snap", w.chunk, w.len, &w.last));
}
void wait(SnapWorld& w, Rng&, ScenarioText& t) {
  t.step("wait");
  w.background = false;
}
void status(SnapWorld& w, Rng& r, ScenarioText& t) {
  const char* dev = w.merging ? "origin" : w.snap2 && r.chance(2) ? "snap2" : "snap";
  t.step(std::string(r.chance(4) ? "dmsetup table " : "dmsetup status ") + dev);
}
// lvcreate -s of the same origin: the snapshot is loaded while the origin is suspended, so that
// the origin's resume splits writes at the new smallest chunk.
void lvcreate(SnapWorld& w, Rng&, ScenarioText& t) {
  // LVM zeroes the start of a new COW volume: a COW left from an earlier snapshot begins anew.
  t.step("dd if=/dev/zero of=/dev/cow2 bs=4096 count=1 oflag=direct");
  t.step("dmsetup suspend origin");
  t.step(create_snap2(w));
  t.step("dmsetup resume origin");
  w.snap2 = true;
}
void lvremove(SnapWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup remove snap2");
  w.snap2 = false;
}
// A snapshot created or removed on another origin: the same global _origins_lock.
void other_origin(SnapWorld& w, Rng&, ScenarioText& t) {
  if (w.other)
    t.step("dmsetup remove othersnap");
  else
    t.step("dmsetup create othersnap --table \"0 16384 snapshot /dev/other /dev/othercow N 8\"");
  w.other = !w.other;
}
// lvconvert --merge of snap1: the snapshot goes and the origin's table becomes snapshot-merge,
// which copies the preserved chunks back in the background.
void merge(SnapWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup remove snap");
  w.snap = false;
  w.merging = true;
  t.step("dmsetup suspend origin");
  t.step("dmsetup load origin --table " + origin_table(w));
  t.step("dmsetup resume origin");
}
void suspend_origin(SnapWorld& w, Rng& r, ScenarioText& t) {
  t.step(r.chance(3) ? "dmsetup suspend --noflush origin" : "dmsetup suspend origin");
  w.origin_suspended = true;
}
void resume_origin(SnapWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup resume origin");
  w.origin_suspended = false;
}
// A reload of the snapshot's table as LVM does it: the new table takes the exceptions over at
// resume (handover); origin writes in between still copy through the old one.
void reload_snap(SnapWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup load snap --table " + snapshot_table(w, "/dev/cow", w.store, w.chunk));
  t.step("dmsetup suspend snap");
  t.step("dmsetup resume snap");
}
void suspend_snap(SnapWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup suspend snap");
  w.snap_suspended = true;
}
void resume_snap(SnapWorld& w, Rng&, ScenarioText& t) {
  t.step("dmsetup resume snap");
  w.snap_suspended = false;
}
void throttle(SnapWorld&, Rng& r, ScenarioText& t) {
  static const char* const values[] = {"1", "2", "16", "2048"};
  t.step(std::string("echo ") + values[r.below(std::size(values))] +
         " > /sys/module/dm_snapshot/parameters/snapshot_cow_threshold");
}
// A plain sync flushes every device (dmsim has no page cache), so it waits for a suspended
// snapshot's resume: with one suspended, only the origin is synced.
void sync(SnapWorld& w, Rng& r, ScenarioText& t) {
  t.step(r.chance(2) || w.snap_suspended ? std::string("sync ") + kOrigin : "sync");
}
void sleep(SnapWorld&, Rng& r, ScenarioText& t) {
  t.step(r.chance(2) ? "sleep 1" : "sleep 0.01");
}
void power_cut(SnapWorld&, Rng&, ScenarioText& t) {
  t.step("power-cut");
}

void setup(SnapWorld& w, size_t choice, ScenarioText& t) {
  struct Choice {
    uint64_t chunk;
    const char* store;
    const char* origin_profile;
    const char* cow_profile;
    bool second;
    const char* machine;
    bool stacked = false;
    const char* cow_threshold = nullptr;  // the module loaded with snapshot_cow_threshold=
  };
  static const Choice choices[] = {
      {8, "P", "sata-ssd", "sata-ssd", false, ""},
      {16, "N", "hdd", "hdd", false, ""},
      {16, "P", "nvme", "sata-ssd", true, ""},
      {1, "P", "nvme", "sata-ssd", false, ""},  // 512-byte chunks: 32 exceptions per metadata area
      {8, "P", "nvme", "nvme", false, "{preempt-rt: true}"},
      {1, "P", "nvme", "nvme", false, "", true},  // the origin's device a dm table (degradable)
      {8, "P", "hdd", "sata-ssd", false, "", true},
      {16, "N", "hdd", "hdd", false, "", false, "1"},  // one copy in flight per snapshot
  };
  const Choice& c = choices[choice % std::size(choices)];
  w.chunk = c.chunk;
  w.store = c.store;
  w.origin_profile = c.origin_profile;
  w.cow_profile = c.cow_profile;
  w.machine = c.machine;
  w.stacked = c.stacked;
  if (c.cow_threshold)
    t.step(std::string("echo ") + c.cow_threshold + " > /sys/module/dm_snapshot/parameters/snapshot_cow_threshold");
  if (w.stacked) t.step("dmsetup create real --table " + real_table(w));
  t.step(create_origin(w));
  t.step("dmsetup suspend origin");
  t.step(create_snap(w));
  if (c.second) {
    w.snap2 = true;
    t.step(create_snap2(w));
  }
  t.step("dmsetup resume origin");
}

std::string disks(const SnapWorld& w) {
  const std::string size = std::to_string(w.len * 512);
  return "  base: {size: " + size + ", profile: " + w.origin_profile +
         "}\n  cow: {size: 8MiB, profile: " + w.cow_profile +
         ", initial: zero}\n  cow2: {size: 8MiB, profile: " + w.cow_profile +
         ", initial: zero}\n  other: {size: 8MiB, profile: hdd}\n  othercow: {size: 4MiB, profile: hdd}\n";
}
std::string machine(const SnapWorld& w) {
  return w.machine;
}

void teardown(SnapWorld& w, ScenarioText& t) {
  if (w.background) t.step("wait");
  if (w.snap_suspended) t.step("dmsetup resume snap");
  if (w.origin_suspended) t.step("dmsetup resume origin");
  if (w.other) t.step("dmsetup remove othersnap");
}

// After a reboot the origin's device is whole again (a degraded region is a fault of the run).
void recreate_real(SnapWorld& w, ScenarioText& t) {
  if (!w.stacked) return;
  w.bad_len = 0;
  t.step("dmsetup create real --table " + real_table(w));
}

// After a reboot the persistent snapshots come back from their COW devices (a transient one is
// gone: it would be a new snapshot, so it is not re-created), under the origin as LVM stacks them.
void recovery(SnapWorld& w, ScenarioText& t) {
  recreate_real(w, t);
  if (w.merging) {
    // The other snapshots first: the merge starts as soon as the merging origin resumes, and
    // preserves what it overwrites only in snapshots already there.
    if (w.snap2 && w.store2 == "P") t.step(create_snap2(w));
    t.step(create_origin(w));
  } else {
    t.step(create_origin(w));
    t.step("dmsetup suspend origin");
    if (w.snap && w.store == "P") t.step(create_snap(w));
    if (w.snap2 && w.store2 == "P") t.step(create_snap2(w));
    t.step("dmsetup resume origin");
  }
  if (w.merging) {
    t.step("sleep 1");  // the merge goes on from where the crash left it
    t.step("dmsetup status origin");
  } else if (w.snap && w.store == "P") {
    t.step("dmsetup status snap");
  }
}

}  // namespace

std::unique_ptr<Grammar> make_snapshot_grammar() {
  GrammarSpec<SnapWorld> g;
  g.engine = "snapshot";
  g.about =
      "generated: dm-snapshot operations (origin and snapshot I/O, lvcreate/lvremove, suspend/resume, "
      "COW throttle, power cut)";
  g.setups = 8;
  g.setup = setup;
  g.disks = disks;
  g.machine = machine;
  g.teardown = teardown;
  g.recovery = recovery;
  g.rules = {
      {"write-origin", origin_live, write_origin, false, true},
      {"write-origin-background", [](const SnapWorld& w) { return origin_live(w) && !w.background; }, write_origin_bg,
       false, true},
      {"write-origin-large", [](const SnapWorld& w) { return origin_live(w) && !w.background; }, write_origin_large,
       false, false},
      {"wait", [](const SnapWorld& w) { return w.background; }, wait, false, false},
      {"write-snapshot", snap_writable, write_snap, false, true},
      {"status", [](const SnapWorld& w) { return w.snap || w.merging; }, status, false, true},
      {"merge", [](const SnapWorld& w) { return quiet(w) && w.snap && w.store == "P" && !w.bad_error; }, merge, false,
       true},
      {"lvcreate", [](const SnapWorld& w) { return quiet(w) && !w.snap2; }, lvcreate, false, false},
      {"lvremove", [](const SnapWorld& w) { return w.snap2 && !w.origin_suspended; }, lvremove, false, false},
      {"other-origin", always, other_origin, false, true},
      {"suspend-origin", [](const SnapWorld& w) { return !w.origin_suspended && !w.background; }, suspend_origin, false,
       false},
      {"resume-origin", [](const SnapWorld& w) { return w.origin_suspended; }, resume_origin, false, false},
      {"suspend-snapshot", [](const SnapWorld& w) { return snap_live(w) && !w.background; }, suspend_snap, false,
       false},
      {"reload-snapshot", [](const SnapWorld& w) { return snap_live(w) && !w.background; }, reload_snap, false, false},
      {"resume-snapshot", [](const SnapWorld& w) { return w.snap_suspended; }, resume_snap, false, false},
      {"cow-threshold", always, throttle, false, true},
      {"sync", [](const SnapWorld& w) { return !w.origin_suspended; }, sync, false, false},
      {"sleep", [](const SnapWorld& w) { return !w.background; }, sleep, false, false},
      {"degrade-origin-device", [](const SnapWorld& w) { return w.stacked && !w.bad_len && !w.merging && quiet(w); },
       degrade_origin_device, false, true},
      {"power-cut", always, power_cut, true, true},
  };
  return std::make_unique<RuleGrammar<SnapWorld>>(std::move(g));
}

}  // namespace explore
