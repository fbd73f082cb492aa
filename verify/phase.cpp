// The step executor: builds the storage world in a fresh simulation, runs each step in the
// thread a shell would (a trailing '&' gets its own), records what the top of the stack saw,
// and, in a recovery phase, reads back what the oracle and the engine checks need.
#include "verify/phase.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "engines/checks.hpp"
#include "engines/tools.hpp"
#include "model/dm/mapped_device.hpp"
#include "model/knobs.hpp"
#include "model/sync_io.hpp"
#include "model/world.hpp"
#include "sim/kernel.hpp"
#include "sim/simulation.hpp"
#include "sim/wire.hpp"

namespace verify {

using scenarios::CmdKind;
using scenarios::Command;

// ---- serialisation ----

std::string PhaseOutput::serialize() const {
  sim::WireWriter w;
  w.str("PHASE1");
  w.u64(finished);
  w.u64(steps.size());
  for (const auto& s : steps) {
    w.u64(s.index);
    w.str(s.text);
    w.u64(s.finished);
    w.u64(static_cast<uint64_t>(s.exit_code));
    w.u64(s.expect_failure);
    w.str(s.out);
    w.str(s.err);
    w.u64(s.start_ns);
    w.u64(s.end_ns);
    w.u64(s.dmesg_from);
    w.u64(s.dmesg_to);
  }
  io.write(w);
  w.u64(end_ns);
  w.u64(disks.size());
  for (const auto& d : disks) {
    w.str(d.trace);
    w.u64(d.disk_id);
    w.u64(d.sectors);
    w.u64(d.logical_block_size);
    w.u64(d.initial_zero);
    w.u64(d.discard_zeroes);
  }
  w.u64(data_map.size());
  for (const auto& e : data_map) {
    w.str(e.device);
    write_placement(w, e.at);
  }
  w.u64(claims.size());
  for (const auto& c : claims) {
    w.str(c.device);
    w.u64(c.ns);
  }
  w.u64(reads.size());
  for (const auto& r : reads) {
    w.str(r.device);
    w.u64(r.present);
    w.u64(r.values.size());
    for (const auto& [s, t] : r.values) {
      w.u64(s);
      w.u64(t);
    }
    w.u64(r.failed.size());
    for (uint64_t s : r.failed) w.u64(s);
  }
  for (const auto* list : {&check_violations, &check_notes}) {
    w.u64(list->size());
    for (const auto& [c, m] : *list) {
      w.str(c);
      w.str(m);
    }
  }
  w.u64(leaked_bios);
  w.str(journal.serialize());
  return w.take();
}

PhaseOutput PhaseOutput::deserialize(const std::string& bytes) {
  sim::WireReader r(bytes);
  if (r.str() != "PHASE1") throw std::runtime_error("not a phase output");
  PhaseOutput o;
  o.finished = r.u64();
  for (uint64_t n = r.u64(); n > 0; n--) {
    StepRecord s;
    s.index = r.u64();
    s.text = r.str();
    s.finished = r.u64();
    s.exit_code = static_cast<int>(r.u64());
    s.expect_failure = r.u64();
    s.out = r.str();
    s.err = r.str();
    s.start_ns = r.u64();
    s.end_ns = r.u64();
    s.dmesg_from = r.u64();
    s.dmesg_to = r.u64();
    o.steps.push_back(std::move(s));
  }
  o.io = TopIoLog::read(r);
  o.end_ns = r.u64();
  for (uint64_t n = r.u64(); n > 0; n--) {
    DiskState d;
    d.trace = r.str();
    d.disk_id = static_cast<uint32_t>(r.u64());
    d.sectors = r.u64();
    d.logical_block_size = static_cast<uint32_t>(r.u64());
    d.initial_zero = r.u64();
    d.discard_zeroes = r.u64();
    o.disks.push_back(std::move(d));
  }
  for (uint64_t n = r.u64(); n > 0; n--) {
    Extent e;
    e.device = r.str();
    e.at = read_placement(r);
    o.data_map.push_back(std::move(e));
  }
  for (uint64_t n = r.u64(); n > 0; n--) {
    Claim c;
    c.device = r.str();
    c.ns = r.u64();
    o.claims.push_back(std::move(c));
  }
  for (uint64_t n = r.u64(); n > 0; n--) {
    OracleRead rd;
    rd.device = r.str();
    rd.present = r.u64();
    for (uint64_t k = r.u64(); k > 0; k--) {
      const uint64_t s = r.u64();
      rd.values.emplace_back(s, r.u64());
    }
    for (uint64_t k = r.u64(); k > 0; k--) rd.failed.push_back(r.u64());
    o.reads.push_back(std::move(rd));
  }
  for (auto* list : {&o.check_violations, &o.check_notes}) {
    for (uint64_t n = r.u64(); n > 0; n--) {
      std::string c = r.str();
      list->emplace_back(c, r.str());
    }
  }
  o.leaked_bios = r.u64();
  o.journal = engines::Journal::deserialize(r.str());
  return o;
}

std::vector<std::pair<std::string, std::vector<uint64_t>>> sectors_to_check(const TopIoLog& log, uint64_t crash_ns,
                                                                            uint64_t limit) {
  std::map<std::string, std::set<uint64_t>> by_dev;
  for (const auto& io : log.ios) {
    if (io.kind == TopIo::Flush || io.submit_ns > crash_ns) continue;
    auto& set = by_dev[io.device];
    for (uint64_t s = io.sector; s < io.sector + io.sectors && set.size() < limit; s++) set.insert(s);
  }
  std::vector<std::pair<std::string, std::vector<uint64_t>>> out;
  for (auto& [d, set] : by_dev) out.emplace_back(d, std::vector<uint64_t>(set.begin(), set.end()));
  return out;
}

// ---- the executor ----

namespace {

class Executor {
 public:
  Executor(const PhaseInput& in, PhaseOutput& out, model::World& w) : in_(in), out_(out), world_(w) {}

  void run() {
    KFRAME_NAMED("sh");
    // A run stopped by a hang still reports which steps ran and which never finished.
    sim::set_payload_provider([this] {
      out_.finished = false;
      return out_.serialize();
    });
    const auto& steps = in_.scenario->steps;
    for (size_t i = in_.first_step; i < in_.end_step && i < steps.size(); i++) {
      const Command& c = steps[i].cmd;
      if (c.kind == CmdKind::PowerCut) break;
      out_.steps.push_back(StepRecord{i, c.text, false, 0, c.expect_failure, "", "", 0, 0, 0, 0});
      const size_t rec = out_.steps.size() - 1;
      // Each command is a process of its own, as from a shell; the shell waits for it.
      sim::Thread& t = sim::kthread_run([this, &c, rec] { run_step(c, rec); }, thread_name(c));
      if (c.background)
        background_.push_back(&t);
      else
        sim::join(t, true);
    }
    const bool power_cut = in_.end_step < steps.size() && steps[in_.end_step].cmd.kind == CmdKind::PowerCut;
    // Without a power cut the phase ends when every step has: a background step that never
    // returns is a hang, not something the end of the script may leave behind.
    if (!power_cut) wait_background();
    out_.end_ns = sim::ktime_get_ns();
    if (in_.before_crash) {
      settle();
      read_back();
      run_checks();
    } else if (!power_cut) {
      settle();
      run_checks();
    }
    capture(!power_cut);
    out_.finished = true;
    sim::set_payload(out_.serialize());
    if (power_cut) sim::request_stop();  // nothing after the cut counts
  }

 private:
  static std::string thread_name(const Command& c) {
    switch (c.kind) {
      case CmdKind::Dd:
        return "dd";
      case CmdKind::Sync:
        return "sync";
      case CmdKind::Blkdiscard:
        return "blkdiscard";
      case CmdKind::BlockdevGetsz:
        return "blockdev";
      case CmdKind::Sleep:
        return "sleep";
      case CmdKind::Tool:
        return c.tool;
      default:
        return "dmsetup";
    }
  }

  // $(blockdev --getsz DEV) and `blockdev --getsz DEV` in a table become DEV's size in sectors.
  std::string substitute(const std::string& s, std::string* err) {
    std::string out = s;
    for (size_t at; (at = out.find("`blockdev --getsz ")) != std::string::npos;) {
      const size_t end = out.find('`', at + 1);
      if (end == std::string::npos) break;
      out.replace(at, end - at + 1, "$(" + out.substr(at + 1, end - at - 1) + ")");
    }
    for (size_t at; (at = out.find("$(blockdev --getsz ")) != std::string::npos;) {
      const size_t end = out.find(')', at);
      const std::string dev = out.substr(at + 19, end - at - 19);
      model::BlockDevice* b = world_.lookup(dev);
      if (!b) {
        *err = "blockdev: cannot open " + dev + ": No such file or directory";
        return {};
      }
      out.replace(at, end - at + 1, std::to_string(b->capacity()));
    }
    return out;
  }

  // The record is looked up by index after the command: other steps add records meanwhile, so
  // a reference taken before it ran may dangle.
  void run_step(const Command& c, size_t rec) {
    out_.steps[rec].start_ns = sim::ktime_get_ns();
    out_.steps[rec].dmesg_from = dmesg_count();
    sim::trace_event("step", c.text);
    std::string out, err;
    const int code = execute(c, out, err);
    StepRecord& r = out_.steps[rec];
    r.exit_code = code;
    r.out = std::move(out);
    r.err = std::move(err);
    r.end_ns = sim::ktime_get_ns();
    r.dmesg_to = dmesg_count();
    r.finished = true;
    note_claims();
  }

  static size_t dmesg_count() { return sim::dmesg_lines(); }

  static int result(const model::DmResult& d, std::string& out, std::string& err) {
    out = d.output;
    err = d.error;
    return d.ok() ? 0 : 1;
  }

  int execute(const Command& c, std::string& out, std::string& err) {
    model::DmControl& dm = world_.dm();
    switch (c.kind) {
      case CmdKind::DmCreate:
      case CmdKind::DmLoad: {
        std::string table = substitute(c.table, &err);
        if (!err.empty()) return 1;
        return result(c.kind == CmdKind::DmCreate ? dm.create(c.name, table) : dm.load(c.name, table), out, err);
      }
      case CmdKind::DmClear:
        return result(dm.clear(c.name), out, err);
      case CmdKind::DmSuspend:
        return result(dm.suspend(c.name, c.noflush), out, err);
      case CmdKind::DmResume:
        return result(dm.resume(c.name, c.noflush), out, err);
      case CmdKind::DmStatus:
        return result(dm.status(c.name, c.noflush), out, err);
      case CmdKind::DmTable:
        return result(dm.table(c.name), out, err);
      case CmdKind::DmInfo:
        return result(dm.info(c.name), out, err);
      case CmdKind::DmMessage:
        return result(dm.message(c.name, c.sector, c.message), out, err);
      case CmdKind::DmRemove:
        return result(dm.remove(c.name), out, err);
      case CmdKind::Dd:
        return dd(c, out, err);
      case CmdKind::Sync:
        return sync(c, err);
      case CmdKind::Blkdiscard:
        return blkdiscard(c, err);
      case CmdKind::BlockdevGetsz: {
        model::BlockDevice* b = world_.lookup(c.device);
        if (!b) {
          err = "blockdev: cannot open " + c.device + ": No such file or directory";
          return 1;
        }
        out = std::to_string(b->capacity()) + "\n";
        return 0;
      }
      case CmdKind::Sleep:
        sim::udelay_sim(c.seconds);
        return 0;
      case CmdKind::Wait:
        wait_background();
        return 0;
      case CmdKind::Tool: {
        const engines::Tool* t = engines::find_tool(c.tool);
        engines::ToolResult tr = t->run(c.args);
        out = tr.out;
        err = tr.err;
        return tr.exit_code;
      }
      case CmdKind::PowerCut:
        return 0;
    }
    return 0;
  }

  // Opens a device path as the tool would, with the tool's own message when it does not exist.
  model::BlockDevice* open(const std::string& tool, const std::string& path, std::string& err) {
    model::BlockDevice* b = world_.lookup(path);
    if (b) return b;
    if (tool == "blkdiscard")
      err = "blkdiscard: cannot open " + path + ": No such file or directory";  // util-linux
    else if (tool == "sync")
      err = "sync: error opening '" + path + "': No such file or directory";  // coreutils
    else
      err = tool + ": failed to open '" + path + "': No such file or directory";  // coreutils dd
    return nullptr;
  }

  TopIo& log_io(TopIo::Kind k, const std::string& dev, model::BlockDevice* b, uint64_t sector, uint64_t sectors,
                uint64_t id, bool fua) {
    TopIo io;
    io.kind = k;
    io.device = dev;
    io.sector = sector;
    io.sectors = sectors;
    io.id = id;
    io.fua = fua;
    io.submit_ns = sim::ktime_get_ns();
    if (k != TopIo::Flush) place(b, sector, sector, sectors, 0, io.placed);
    io.journal_at = engines::journal().events.size();
    out_.io.ios.push_back(io);
    return out_.io.ios.back();
  }

  void acked(size_t at, model::BlkStatus st) {
    TopIo& io = out_.io.ios[at];
    io.ack_ns = sim::ktime_get_ns();
    io.acked = st == model::BLK_STS_OK;
    io.status = st;
  }

  int flush_device(const std::string& path, model::BlockDevice* b) {
    model::Bio* bio = model::bio_alloc_flush(b);
    log_io(TopIo::Flush, path, b, 0, 0, bio->id, false);
    const size_t at = out_.io.ios.size() - 1;
    const model::BlkStatus st = model::submit_bio_wait(bio);
    model::bio_put(bio);
    acked(at, st);
    return st == model::BLK_STS_OK ? 0 : 1;
  }

  // dd's closing statistics as coreutils prints them, on success and on failure alike (without
  // the timing, which would break determinism).
  static std::string dd_summary(uint64_t records_in, uint64_t records_out, uint64_t bytes) {
    return std::to_string(records_in) + "+0 records in\n" + std::to_string(records_out) + "+0 records out\n" +
           std::to_string(bytes) + " bytes copied\n";
  }

  // dd to a block device, one bio per block as with O_DIRECT. The run decides the bounds, with
  // the device's size now (a dm device may have grown by load and resume): lseek past the end
  // fails (EINVAL); blkdev_write_iter refuses a write at the end (ENOSPC) and cuts one crossing
  // it short, and dd, retrying the rest, then gets ENOSPC: the block counts as read, not written.
  int dd(const Command& c, std::string& out, std::string& err) {
    KFRAME_NAMED("dd");
    model::BlockDevice* b = open("dd", c.device, err);
    if (!b) return 1;
    // The parser admits only blocks of whole sectors, at most kMaxDdBlockBytes: one bio each.
    if (c.bs == 0 || c.bs % 512 || c.bs > scenarios::kMaxDdBlockBytes)
      throw std::logic_error("dd block size " + std::to_string(c.bs) + " passed the parser");
    const uint64_t size = b->capacity() > UINT64_MAX / 512 ? UINT64_MAX : b->capacity() * 512;
    uint64_t pos = 0;
    if (__builtin_mul_overflow(c.seek, c.bs, &pos) || pos > size) {
      err = "dd: " + c.device + ": cannot seek: Invalid argument";
      out = dd_summary(0, 0, 0);
      return 1;
    }
    const std::string writing = "dd: error writing '" + c.device + "': ";
    uint64_t done = 0, bytes = 0;
    for (uint64_t i = 0; i < c.count; i++) {
      if (pos >= size) {
        err = writing + "No space left on device";
        out = dd_summary(done + 1, done, bytes);
        return 1;
      }
      const uint64_t len = std::min(c.bs, size - pos);
      const uint64_t sector = pos / 512;
      const uint32_t n = static_cast<uint32_t>(len / 512);
      if (sector + n > model::kMaxTokenSectors) {
        // Beyond what a content token can name (only a dm device larger than any disk gets here).
        err = writing + "File too large (dmsim models devices up to " +
              scenarios::format_size(scenarios::kMaxDeviceBytes) + ")";
        out = dd_summary(done + 1, done, bytes);
        return 1;
      }
      const unsigned flags = model::REQ_SYNC | (c.fua ? unsigned{model::REQ_FUA} : 0u);
      model::Bio* bio = model::bio_alloc(b, model::ReqOp::Write, flags, sector, n);
      for (uint32_t k = 0; k < n; k++)
        bio->data()[k] =
            model::Sector::of_token(c.zero_source ? model::kZeroToken : model::written_token(bio->id, sector + k));
      log_io(c.zero_source ? TopIo::Zero : TopIo::Data, c.device, b, sector, n, bio->id, c.fua);
      const size_t at = out_.io.ios.size() - 1;
      const model::BlkStatus st = model::submit_bio_wait(bio);
      model::bio_put(bio);
      acked(at, st);
      if (st != model::BLK_STS_OK) {
        err = writing + (st == model::BLK_STS_NOTSUPP ? "Operation not supported" : "Input/output error");
        out = dd_summary(done + 1, done, bytes);
        return 1;
      }
      bytes += len;
      pos += len;
      if (len < c.bs) {  // a short write at the end; the retry of the rest gets ENOSPC
        err = writing + "No space left on device";
        out = dd_summary(done + 1, done, bytes);
        return 1;
      }
      done++;
    }
    if (c.fsync_at_end && flush_device(c.device, b)) {
      err = "dd: fsync failed for '" + c.device + "': Input/output error";
      out = dd_summary(done, done, bytes);
      return 1;
    }
    out = dd_summary(done, done, bytes);
    return 0;
  }

  int sync(const Command& c, std::string& err) {
    std::vector<std::string> devs;
    if (!c.device.empty()) {
      devs.push_back(c.device);
    } else {
      std::set<std::string> seen;
      for (const auto& io : out_.io.ios)
        if (seen.insert(io.device).second) devs.push_back(io.device);
    }
    int rc = 0;
    for (const auto& d : devs) {
      model::BlockDevice* b = open("sync", d, err);
      if (!b) return 1;
      if (flush_device(d, b)) {
        err = "sync: error syncing '" + d + "': Input/output error";
        rc = 1;
      }
    }
    return rc;
  }

  // blkdiscard as util-linux runs it: the offset must be aligned to the device's sector size and
  // not past its end, the length is cut at the end; then BLKDISCARD, which the kernel issues as
  // bios of at most UINT_MAX bytes rounded down to the discard granularity (bio_discard_limit),
  // here one after another.
  int blkdiscard(const Command& c, std::string& err) {
    model::BlockDevice* b = open("blkdiscard", c.device, err);
    if (!b) return 1;
    const std::string who = "blkdiscard: " + c.device + ": ";
    const uint64_t size = b->capacity() > UINT64_MAX / 512 ? UINT64_MAX : b->capacity() * 512;
    const uint64_t secsize = b->limits.logical_block_size;
    if (c.offset % secsize) {
      err = who + "offset " + std::to_string(c.offset) + " is not aligned to sector size " + std::to_string(secsize);
      return 1;
    }
    if (c.offset > size) {
      err = who + "offset is greater than device size";
      return 1;
    }
    uint64_t end = c.offset + c.length;
    if (end < c.offset || end > size) end = size;
    if ((end - c.offset) % secsize) {
      err = who + "length " + std::to_string(end - c.offset) + " is not aligned to sector size " +
            std::to_string(secsize);
      return 1;
    }
    const uint64_t gran = std::max<uint64_t>(b->limits.discard_granularity, 512);
    const uint64_t max_sectors = (UINT32_MAX / gran * gran) >> 9;
    for (uint64_t start = c.offset / 512; start < end / 512;) {
      const uint64_t len = std::min(max_sectors, end / 512 - start);
      model::Bio* bio = model::bio_alloc(b, model::ReqOp::Discard, 0, start, static_cast<uint32_t>(len));
      log_io(TopIo::Discard, c.device, b, start, len, bio->id, false);
      const size_t at = out_.io.ios.size() - 1;
      const model::BlkStatus st = model::submit_bio_wait(bio);
      model::bio_put(bio);
      acked(at, st);
      if (st == model::BLK_STS_NOTSUPP) {
        err = who + "BLKDISCARD ioctl failed: Operation not supported";
        return 1;
      }
      if (st != model::BLK_STS_OK) {
        err = who + "BLKDISCARD ioctl failed: Input/output error";
        return 1;
      }
      start += len;
    }
    return 0;
  }

  void wait_background() {
    for (sim::Thread* t : background_) sim::join(*t, true);
    background_.clear();
  }

  // Lets background I/O, timers and deferred work finish before reading back or checking.
  void settle() { sim::udelay_sim(1.0); }

  void read_back() {
    KFRAME_NAMED("oracle_read_back");
    for (auto& [dev, sectors] : sectors_to_check(*in_.before_crash, in_.crash_ns, 1 << 20)) {
      OracleRead rd;
      rd.device = dev;
      model::BlockDevice* b = world_.lookup(dev);
      rd.present = b != nullptr;
      size_t i = 0;
      while (b && i < sectors.size()) {
        // One read per run of consecutive sectors, at most 256 at a time.
        size_t j = i + 1;
        while (j < sectors.size() && sectors[j] == sectors[j - 1] + 1 && j - i < 256) j++;
        std::vector<model::Sector> data;
        const uint64_t first = sectors[i];
        const uint32_t n = static_cast<uint32_t>(j - i);
        if (first + n > b->capacity() || model::blk_read(b, first, n, &data) != model::BLK_STS_OK) {
          for (size_t k = i; k < j; k++) rd.failed.push_back(sectors[k]);
        } else {
          for (uint32_t k = 0; k < n; k++) rd.values.emplace_back(first + k, data[k].token);
        }
        i = j;
      }
      out_.reads.push_back(std::move(rd));
    }
  }

  void run_checks() {
    engines::CheckInput ci;
    ci.crash_ns = in_.crash_ns;
    ci.after_crash = in_.before_crash != nullptr;
    const size_t events_before_phase = in_.before_crash_journal ? in_.before_crash_journal->events.size() : 0;
    auto add = [&ci, events_before_phase](const TopIo& io, bool before_crash, uint64_t until_ns) {
      if (io.kind == TopIo::Flush || io.submit_ns > until_ns) return;
      engines::TopWrite w;
      w.device = io.device;
      w.sector = io.sector;
      w.sectors = io.sectors;
      w.id = io.id;
      w.submit_ns = io.submit_ns;
      w.ack_ns = io.ack_ns;
      w.acked = io.acked && io.ack_ns <= until_ns && io.status == 0;
      w.discard = io.kind == TopIo::Discard;
      w.before_crash = before_crash;
      w.events_before = io.journal_at + (before_crash ? 0 : events_before_phase);
      ci.writes.push_back(w);
    };
    if (in_.before_crash) {
      for (const auto& io : in_.before_crash->ios) add(io, true, in_.crash_ns);
      if (in_.before_crash_journal) ci.events = in_.before_crash_journal->events;
    }
    for (const auto& io : out_.io.ios) add(io, false, UINT64_MAX);
    const auto& mine = engines::journal().events;
    ci.events.insert(ci.events.end(), mine.begin(), mine.end());
    ci.removed_at = removed_devices();
    for (const auto& name : in_.scenario->expect) {
      const engines::EngineCheck* check = engines::find_check(name);
      if (!check) continue;
      for (const auto& v : check->run(ci))
        (v.cannot_judge ? out_.check_notes : out_.check_violations).emplace_back(v.check, v.message);
    }
  }

  // The dm devices this phase's steps removed and did not create again, with the step (1-based).
  std::map<std::string, size_t> removed_devices() const {
    std::map<std::string, size_t> out;
    for (const auto& st : out_.steps) {
      if (!st.finished || st.exit_code != 0) continue;
      const Command& c = in_.scenario->steps[st.index].cmd;
      if (c.kind == CmdKind::DmRemove) out["/dev/mapper/" + c.name] = st.index + 1;
      if (c.kind == CmdKind::DmCreate) out.erase("/dev/mapper/" + c.name);
    }
    return out;
  }

  int disk_index(const model::Disk* d) const {
    const auto disks = world_.disks();
    return static_cast<int>(std::find(disks.begin(), disks.end(), d) - disks.begin());
  }

  // Where sectors [sector, sector + len) of `b` live below the stack now, as placements of the
  // top device's sectors from `top_sector` on.
  void place(model::BlockDevice* b, uint64_t top_sector, uint64_t sector, uint64_t len, int depth,
             std::vector<Placement>& out) const {
    auto* d = dynamic_cast<model::Disk*>(b);
    if (d) {
      out.push_back(Placement{top_sector, len, disk_index(d), sector, false});
      return;
    }
    auto* md = dynamic_cast<model::MappedDevice*>(b);
    model::DmTable* t = md ? md->live_table() : nullptr;
    if (!t || depth > 16) {
      out.push_back(Placement{top_sector, len, -1, 0, false});
      return;
    }
    for (uint64_t s = sector; s < sector + len;) {
      const model::DmTarget* ti = t->find_target(s);
      if (!ti) {
        out.push_back(Placement{top_sector + (s - sector), sector + len - s, -1, 0, false});
        return;
      }
      const uint64_t n = std::min(sector + len, ti->begin + ti->len) - s;
      model::BlockDevice* leg = nullptr;
      uint64_t leg_sector = 0;
      if (ti->type->locate && !ti->type->locate(const_cast<model::DmTarget*>(ti), s, &leg, &leg_sector))
        place(leg, top_sector + (s - sector), leg_sector, n, depth + 1, out);
      else
        out.push_back(Placement{top_sector + (s - sector), n, -1, 0, ti->type->reads_zeroes_unless_written});
      s += n;
    }
  }

  // Records which top devices a table holds open now: a target owns what they hold from then on.
  void note_claims() {
    const auto in_use = world_.dm().devices_in_use();
    std::set<std::string> seen;
    auto note = [&](const std::string& dev) {
      if (!seen.insert(dev).second) return;
      model::BlockDevice* b = world_.lookup(dev);
      if (b && std::find(in_use.begin(), in_use.end(), b) != in_use.end())
        out_.claims.push_back(Claim{dev, sim::ktime_get_ns()});
    };
    if (in_.before_crash)
      for (const auto& io : in_.before_crash->ios) note(io.device);
    for (const auto& io : out_.io.ios) note(io.device);
  }

  void capture(bool check_leaks) {
    out_.journal = engines::journal();
    for (model::Disk* d : world_.disks()) {
      std::ostringstream t;
      d->trace().save(t);
      DiskState s;
      s.trace = t.str();
      s.disk_id = d->disk_id();
      s.sectors = d->capacity();
      s.logical_block_size = d->limits.logical_block_size;
      s.initial_zero = d->config().initial_zero;
      s.discard_zeroes = d->config().discard_zeroes;
      out_.disks.push_back(std::move(s));
    }
    if (!in_.before_crash) {
      std::set<std::string> devs;
      for (const auto& io : out_.io.ios) devs.insert(io.device);
      for (const auto& c : engines::journal().commits) devs.insert(c.metadata_device);
      for (const auto& dev : devs)
        if (model::BlockDevice* b = world_.lookup(dev)) {
          std::vector<Placement> where;
          place(b, 0, 0, b->capacity(), 0, where);
          for (const auto& p : where) out_.data_map.push_back(Extent{dev, p});
        }
    }
    // Bios neither completed nor parked by a suspended device once everything settled (not
    // at a power cut, where bios in flight are simply cut off).
    if (!check_leaks) return;
    uint64_t parked = 0;
    for (const auto& name : world_.dm().names())
      if (model::MappedDevice* md = world_.dm().device(name)) parked += md->in_flight() + md->deferred_count();
    uint64_t in_flight = 0;
    for (model::Disk* d : world_.disks())
      for (const auto& rec : d->trace().records) in_flight += rec.complete_ns == model::IoRecord::kInFlight;
    const uint64_t used = model::bios_in_use();
    out_.leaked_bios = in_flight == 0 && used > parked ? used - parked : 0;
  }

  const PhaseInput& in_;
  PhaseOutput& out_;
  model::World& world_;
  std::vector<sim::Thread*> background_;
};

}  // namespace

PhaseRun run_phase(const PhaseInput& in, double wall_timeout_s) {
  PhaseRun run;
  run.sim = sim::run_isolated(
      in.config,
      [&in] {
        model::set_active_knobs(in.knobs);
        engines::journal() = engines::Journal{};
        auto* world = new model::World;
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
          model::Disk& d = world->add_disk(c);
          if (i < in.images.size()) d.load_media(in.images[i]);
        }
        // Like the world, the executor lives as long as the simulation process: steps still
        // running at a power cut keep using it until the run stops.
        auto* out = new PhaseOutput;
        (new Executor(in, *out, *world))->run();
      },
      wall_timeout_s);
  if (!run.sim.payload.empty()) run.out = PhaseOutput::deserialize(run.sim.payload);
  return run;
}

}  // namespace verify
