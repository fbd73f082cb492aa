// dm-snapshot's checks. They read the COW and origin disks through content views, as a userland
// tool reading the images would; nothing they do reaches the simulated kernel's log.
//  - snapshot-merge-durable: after a power cut during a merge, every chunk the merge had copied
//    back whose exception the crash left no longer listed holds, on the origin, the COW's copy (or
//    what was written through the merging device afterwards): merged data was durable before its
//    exception was forgotten.
//  - snapshot-isolation: every snapshot device that exists at the end reads, where nothing was
//    written through it, what its origin held when it was first activated (the origin device's
//    original content or a write submitted before then), through any crash and recovery; judged
//    at every sector written through the origin or the snapshot, and at a sample of the rest.
//  - snapshot-no-leak: after a power cut, the exceptions a persistent COW device holds use exactly
//    the first data chunks in allocation order: none was skipped by committing a later one first.
//  - metadata-check (snapshot's part): each persistent COW device reads in the kernel's format,
//    and no two exceptions share a chunk, none points at the header or a metadata area, none lies
//    past the device.
#include <map>
#include <set>

#include "engines/checks.hpp"
#include "engines/content_view.hpp"
#include "engines/snapshot/exception_store.hpp"
#include "engines/snapshot/snapshot.hpp"
#include "model/content.hpp"
#include "model/sync_io.hpp"
#include "model/world.hpp"

namespace engines::snapshot {

namespace {

constexpr const char* kMergeDurable = "snapshot-merge-durable";
constexpr const char* kIsolation = "snapshot-isolation";
constexpr const char* kNoLeak = "snapshot-no-leak";
// A check reads at most this many sectors of one snapshot: those written through the origin or
// the snapshot, and one in kSampleStride of the others.
constexpr uint64_t kMaxSectorsRead = uint64_t{1} << 16;
constexpr uint64_t kSampleStride = 512;
constexpr size_t kMaxReported = 8;

// The COW devices of the run's snapshots, by path (their first SnapshotDevice event).
std::set<std::string> cow_devices(const CheckInput& in) {
  std::set<std::string> out;
  for (const JournalEvent& e : in.events)
    if (e.kind == JournalEvent::SnapshotDevice || e.kind == JournalEvent::SnapshotMerge) out.insert(e.metadata_device);
  return out;
}

std::vector<CheckViolation> merge_durable(const CheckInput& in) {
  std::vector<CheckViolation> out;
  if (!in.after_crash) return out;
  // The merges the phase before the crash started, by COW device.
  std::map<std::string, std::vector<size_t>> merges;
  // The first phase ran on past the crash point: only the merge steps begun before it count.
  for (size_t i = 0; i < in.events_before_phase; i++)
    if (in.events[i].kind == JournalEvent::SnapshotMerge && in.events[i].at_ns <= in.crash_ns)
      merges[in.events[i].metadata_device].push_back(i);
  for (const auto& [cow_path, indexes] : merges) {
    const JournalEvent& first = in.events[indexes.front()];
    model::VolatileCacheDisk* cow = scenario_disk(cow_path);
    // A stacked origin device is followed through the tables live now.
    uint64_t origin_at0 = 0;
    model::VolatileCacheDisk* origin = disk_place(first.origin_device, 0, &origin_at0);
    const model::BlockDevice* origin_dev = model::World::get().lookup(first.origin_device);
    if (!cow || !origin) {
      out.push_back({kMergeDurable,
                     "merge of " + first.device + ": " + cow_path + " or " + first.origin_device +
                         " is not a disk of the scenario, its crash state cannot be read",
                     true});
      continue;
    }
    ContentView view(cow->capacity(), [cow](uint64_t s) { return cow->initial_media().read(s); });
    const PersistentCowContents c = read_persistent_cow(&view);
    if (!c.error.empty()) continue;  // metadata-check reports an unreadable COW device
    std::set<std::pair<chunk_t, chunk_t>> durable;
    for (const dm_exception& e : c.exceptions) durable.insert({e.old_chunk, e.new_chunk});
    size_t reported = 0;
    for (size_t i : indexes) {
      const JournalEvent& m = in.events[i];
      const uint64_t cs = m.block_sectors;
      for (uint64_t k = 0; k < m.nr_blocks; k++) {
        const chunk_t old_chunk = m.old_chunk + k, new_chunk = m.new_chunk + k;
        if (durable.count({old_chunk, new_chunk})) continue;  // the merge starts over from the COW
        for (uint64_t off = 0; off < cs; off++) {
          const uint64_t sector = old_chunk * cs + off;
          if (sector >= origin_dev->capacity()) break;
          uint64_t x = 0;
          if (disk_place(first.origin_device, sector, &x) != origin) continue;  // not on the same disk
          const model::Sector have = origin->initial_media().read(x);
          const model::Sector copy = cow->initial_media().read(new_chunk * cs + off);
          if (have == copy) continue;
          // A later write through the merging device may own the sector instead.
          bool rewritten = false;
          for (const TopWrite& w : in.writes) {
            if (!w.before_crash || w.device != m.device || w.events_before <= i || sector < w.sector ||
                sector >= w.sector + w.sectors)
              continue;
            if (w.discard ||
                (w.zero ? have.token == model::kZeroToken : have.token == model::written_token(w.id, sector)))
              rewritten = true;
          }
          if (rewritten) continue;
          if (reported++ < kMaxReported)
            out.push_back({kMergeDurable,
                           m.device + ": chunk " + std::to_string(old_chunk) + " was merged from COW chunk " +
                               std::to_string(new_chunk) + " of " + cow_path + " and its exception is gone from the " +
                               "COW metadata the crash left, but origin sector " + std::to_string(sector) + " of " +
                               m.origin_device + " does not hold the COW's copy: the merged data was lost"});
          break;
        }
      }
    }
    if (reported > kMaxReported)
      out.push_back({kMergeDurable, std::to_string(reported - kMaxReported) + " more merged chunks lost"});
  }
  return out;
}

bool covers(const TopWrite& w, uint64_t sector) {
  return sector >= w.sector && sector < w.sector + w.sectors;
}

// What the origin held at `sector` when the snapshot of event `at` was first activated: the
// original content of the device its table names (a scenario disk's initial or loaded token), or
// any write submitted before then through that device or the origin's top device.
std::set<model::Token> origin_at_activation(const CheckInput& in, const JournalEvent& e, size_t at, uint64_t sector,
                                            bool* known) {
  std::set<model::Token> legal;
  *known = false;
  // A stacked origin device is followed through the tables live now (assumed to map as they did).
  uint64_t x = 0;
  if (model::VolatileCacheDisk* d = disk_place(e.data_device, sector, &x)) {
    *known = true;
    if (at >= in.events_before_phase) {
      legal.insert(d->initial_media().read(x).token);  // activated in this phase: as the phase found it
    } else {
      legal.insert(d->initial_media().initial(x).token);
      const auto& w = d->initial_media().written();
      if (auto it = w.find(x); it != w.end() && it->second.seq == 0) legal.insert(it->second.content.token);
    }
  }
  // A merge into the origin under way by then puts the merged snapshot's writes there too.
  std::set<std::string> merged_cows, sources = {e.origin_device, e.data_device};
  for (size_t i = 0; i < at; i++)
    if (in.events[i].kind == JournalEvent::SnapshotMerge && in.events[i].origin_device == e.data_device)
      merged_cows.insert(in.events[i].metadata_device);
  for (size_t i = 0; i < at; i++)
    if (in.events[i].kind == JournalEvent::SnapshotDevice && merged_cows.count(in.events[i].metadata_device))
      sources.insert(in.events[i].device);
  for (const TopWrite& w : in.writes)
    if (sources.count(w.device) && !w.discard && covers(w, sector) && w.events_before <= at)
      legal.insert(w.zero ? model::kZeroToken : model::written_token(w.id, sector));
  return legal;
}

std::vector<CheckViolation> isolation(const CheckInput& in) {
  std::vector<CheckViolation> out;
  // Snapshot device -> the activation it is judged by. A snapshot the phase before the crash
  // activated only after the crash point is the recovery's to activate.
  const std::map<std::string, size_t> first = snapshot_references(
      in.events, [&](size_t i) { return !(i < in.events_before_phase && in.events[i].at_ns > in.crash_ns); });
  for (const auto& [path, at] : first) {
    const JournalEvent& e = in.events[at];
    model::BlockDevice* snap = model::World::get().lookup(path);
    if (!snap) continue;  // removed (or merged) by the end: nothing to read
    const uint64_t len = snap->capacity();
    // The sectors any write touched through the origin or the snapshot (where isolation can
    // break), and a sparse sample of the rest; at most kMaxSectorsRead.
    std::set<uint64_t> sectors;
    for (const TopWrite& w : in.writes)
      if (w.device == e.origin_device || w.device == e.data_device || w.device == path)
        for (uint64_t x = w.sector; x < w.sector + w.sectors && x < len && sectors.size() < kMaxSectorsRead; x++)
          sectors.insert(x);
    for (uint64_t x = 0; x < len && sectors.size() < kMaxSectorsRead; x += kSampleStride) sectors.insert(x);
    size_t bad = 0, unknown = 0;
    std::string detail;
    for (auto it = sectors.begin(); it != sectors.end();) {
      // A run of consecutive sectors, read in one bio of at most 8.
      const uint64_t first_sector = *it;
      uint32_t n = 0;
      while (it != sectors.end() && *it == first_sector + n && n < 8) {
        ++it;
        ++n;
      }
      std::vector<model::Sector> data;
      if (model::blk_read(snap, first_sector, n, &data) != model::BLK_STS_OK) {
        out.push_back({kIsolation,
                       path + ": reading sector " + std::to_string(first_sector) +
                           " fails (an invalidated or overflowed snapshot): isolation not judged",
                       true});
        break;
      }
      for (uint32_t i = 0; i < n; i++) {
        const uint64_t s = first_sector + i;
        bool known = false;
        std::set<model::Token> legal = origin_at_activation(in, e, at, s, &known);
        for (const TopWrite& w : in.writes)
          if (w.device == path && covers(w, s))
            legal.insert(w.discard || w.zero ? model::kZeroToken : model::written_token(w.id, s));
        if (legal.count(data[i].token)) continue;
        if (!known) {
          unknown++;
          continue;
        }
        if (bad++ < kMaxReported)
          detail += "  sector " + std::to_string(s) + ": " + model::describe_token(data[i].token) + "\n";
      }
    }
    if (unknown)
      out.push_back({kIsolation,
                     path + ": the origin " + e.data_device + " is not a disk of the scenario; " +
                         std::to_string(unknown) + " sector(s) could not be judged",
                     true});
    if (bad) {
      // For triage: an invalidation before the crash that the COW device may have forgotten.
      std::string why;
      for (size_t i = 0; i < in.events_before_phase && why.empty(); i++)
        if (in.events[i].kind == JournalEvent::SnapshotInvalid && in.events[i].metadata_device == e.metadata_device &&
            (!in.after_crash || in.events[i].at_ns <= in.crash_ns))
          why = "the snapshot on " + e.metadata_device + " was invalidated at " + std::to_string(in.events[i].at_ns) +
                " ns, before the crash; the invalid flag goes to the header without REQ_PREFLUSH|REQ_FUA "
                "(write_header), so a crash may forget it and the snapshot comes back valid without the "
                "chunks it stopped preserving\n";
      out.push_back({kIsolation, path + ": " + std::to_string(bad) +
                                     " sector(s) read neither what the origin held when the snapshot was taken nor "
                                     "anything written through the snapshot\n" +
                                     why + detail});
    }
  }
  return out;
}

// Chunks are allocated in order from chunk 2 (after the header and the first area), skipping each
// metadata area; exceptions are committed in the same order, so what a crash leaves is a prefix.
std::vector<CheckViolation> no_leak(const CheckInput& in) {
  std::vector<CheckViolation> out;
  if (!in.after_crash) return out;
  for (const std::string& path : cow_devices(in)) {
    model::VolatileCacheDisk* d = scenario_disk(path);
    if (!d) continue;
    ContentView view(d->capacity(), [d](uint64_t s) { return d->initial_media().read(s); });
    const PersistentCowContents c = read_persistent_cow(&view);
    if (!c.formatted || !c.error.empty() || !c.valid || !c.chunk_size) continue;
    const uint64_t stride = exceptions_per_area(c.chunk_size) + 1;
    std::set<chunk_t> used;
    for (const dm_exception& e : c.exceptions) used.insert(e.new_chunk);
    if (used.empty()) continue;
    std::string skipped;
    size_t n = 0;
    for (chunk_t chunk = 2; chunk < *used.rbegin(); chunk++) {
      if (chunk % stride == 1 || used.count(chunk)) continue;
      if (n++ < kMaxReported) {
        skipped += ' ';
        skipped += std::to_string(chunk);
      }
    }
    if (n)
      out.push_back({kNoLeak, "snapshot COW " + path + ": " + std::to_string(n) +
                                  " data chunk(s) before the last one in use hold no exception in the metadata the "
                                  "crash left (allocated, then skipped by a later exception's commit: leaked):" +
                                  skipped});
  }
  return out;
}

std::vector<CheckViolation> snapshot_metadata_check(const CheckInput& in) {
  std::vector<CheckViolation> out;
  for (const std::string& path : cow_devices(in)) {
    model::VolatileCacheDisk* d = scenario_disk(path);
    if (!d) continue;  // a COW device above dm: judged where it lives
    ContentView view(d->capacity(), [d](uint64_t s) { return d->read_sector(s); });
    const PersistentCowContents c = read_persistent_cow(&view);
    if (!c.formatted) continue;  // a transient snapshot's COW, or never initialised
    auto bad = [&](const std::string& what) {
      out.push_back({"metadata-check", "snapshot COW " + path + ": " + what});
    };
    if (!c.error.empty()) {
      bad(c.error);
      continue;
    }
    if (!c.chunk_size) continue;
    const uint64_t chunks = d->capacity() / c.chunk_size;
    const uint64_t stride = exceptions_per_area(c.chunk_size) + 1;
    std::set<chunk_t> olds, news;
    for (const dm_exception& e : c.exceptions) {
      if (e.new_chunk >= chunks)
        bad("exception " + std::to_string(e.old_chunk) + " -> " + std::to_string(e.new_chunk) +
            " lies past the device");
      else if (e.new_chunk == 0 || e.new_chunk % stride == 1)
        bad("exception " + std::to_string(e.old_chunk) + " -> " + std::to_string(e.new_chunk) +
            " points at the header or a metadata area");
      if (!olds.insert(e.old_chunk).second) bad("origin chunk " + std::to_string(e.old_chunk) + " is preserved twice");
      if (!news.insert(e.new_chunk).second) bad("COW chunk " + std::to_string(e.new_chunk) + " holds two exceptions");
      if (out.size() >= kMaxReported) break;
    }
  }
  return out;
}

}  // namespace

void register_snapshot_checks() {
  register_check({kMergeDurable,
                  "after a power cut during a snapshot merge, every merged chunk whose exception is gone from the "
                  "COW metadata holds the COW's copy on the origin",
                  merge_durable});
  register_check({kIsolation,
                  "every snapshot reads, where nothing was written through it, what its origin held when it was "
                  "first activated (after any crash and recovery)",
                  isolation});
  register_check({kNoLeak,
                  "after a power cut, a persistent snapshot's exceptions use exactly the first data chunks of its COW "
                  "device in allocation order (no chunk leaked)",
                  no_leak});
  register_metadata_checker("snapshot", snapshot_metadata_check);
}

}  // namespace engines::snapshot
