#include "verify/step_executor.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "engines/module_params.hpp"
#include "engines/tool_registry.hpp"
#include "model/sync_io.hpp"
#include "verify/data_map.hpp"

namespace verify {

using scenarios::CmdKind;
using scenarios::Command;

namespace {

std::string thread_name(const Command& c) {
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
    case CmdKind::ParamWrite:
      return "echo";
    case CmdKind::ParamRead:
      return "cat";
    default:
      return "dmsetup";
  }
}

int result(const model::DmResult& d, std::string& out, std::string& err) {
  out = d.output;
  err = d.error;
  return d.ok() ? 0 : 1;
}

// dd's closing statistics as coreutils prints them, on success and on failure alike (without
// the timing, which would break determinism).
std::string dd_summary(uint64_t records_in, uint64_t records_out, uint64_t bytes) {
  return std::to_string(records_in) + "+0 records in\n" + std::to_string(records_out) + "+0 records out\n" +
         std::to_string(bytes) + " bytes copied\n";
}

}  // namespace

void StepExecutor::run_steps() {
  const auto& steps = in_.scenario->steps;
  for (size_t i = in_.first_step; i < in_.end_step && i < steps.size(); i++) {
    const Command& c = steps[i].cmd;
    if (c.kind == CmdKind::PowerCut) break;
    StepRecord step;
    step.index = i;
    step.text = c.text;
    step.expect_failure = c.expect_failure;
    step.dmesg_from = step.dmesg_to = sim::dmesg_lines();  // a window even if it never gets to run
    out_.steps.push_back(std::move(step));
    const size_t rec = out_.steps.size() - 1;
    // Each command is a process of its own, as from a shell; the shell waits for it.
    sim::Thread& t = sim::kthread_run([this, &c, rec] { run_step(c, rec); }, thread_name(c));
    if (c.background)
      background_.push_back(&t);
    else
      sim::join(t, true);
  }
}

void StepExecutor::wait_background() {
  for (sim::Thread* t : background_) sim::join(*t, true);
  background_.clear();
}

// The record is looked up by index after the command: other steps add records meanwhile, so
// a reference taken before it ran may dangle.
void StepExecutor::run_step(const Command& c, size_t rec) {
  out_.steps[rec].start_ns = sim::ktime_get_ns();
  out_.steps[rec].dmesg_from = sim::dmesg_lines();
  sim::trace_event("step", c.text);
  std::string out, err;
  const int code = execute(c, out, err);
  StepRecord& r = out_.steps[rec];
  r.exit_code = code;
  r.out = std::move(out);
  r.err = std::move(err);
  r.end_ns = sim::ktime_get_ns();
  r.dmesg_to = sim::dmesg_lines();
  r.finished = true;
  note_claims();
  for (auto& sig : world_.dm().state_signatures())
    if (std::find(out_.states.begin(), out_.states.end(), sig) == out_.states.end()) out_.states.push_back(sig);
}

int StepExecutor::execute(const Command& c, std::string& out, std::string& err) {
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
      return result(dm.status(c.name, c.noflush, c.inactive), out, err);
    case CmdKind::DmTable:
      return result(dm.table(c.name, c.inactive), out, err);
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
    case CmdKind::ParamWrite:
      return write_param(c, err);
    case CmdKind::ParamRead: {
      const engines::ModuleParam* p = engines::find_module_param(c.module, c.param);
      if (!p->get) {  // a write-only (0200) parameter
        err = "cat: /sys/module/" + c.module + "/parameters/" + c.param + ": Permission denied";
        return 1;
      }
      out = p->get();
      return 0;
    }
    case CmdKind::PowerCut:
      return 0;
  }
  return 0;
}

// A write to /sys/module/M/parameters/P as bash's echo makes it: a parameter without write
// permission (0444) cannot be opened for writing; a value its setter refuses fails the write.
int StepExecutor::write_param(const Command& c, std::string& err) {
  const engines::ModuleParam* p = engines::find_module_param(c.module, c.param);
  if (!p->writable || !p->set) {
    err = "/sys/module/" + c.module + "/parameters/" + c.param + ": Permission denied";
    return 1;
  }
  const std::string e = p->set(c.value);
  if (e.empty()) return 0;
  err = "echo: write error: " + e;
  return 1;
}

// $(blockdev --getsz DEV) and `blockdev --getsz DEV` in a table become DEV's size in sectors.
std::string StepExecutor::substitute(const std::string& s, std::string* err) {
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

// Opens a device path as the tool would, with the tool's own message when it does not exist.
model::BlockDevice* StepExecutor::open(const std::string& tool, const std::string& path, std::string& err) {
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

// Logs an I/O at its submission, placed below the stack as the tables map it now; its index.
size_t StepExecutor::log_io(TopIo::Kind k, const std::string& dev, model::BlockDevice* b, uint64_t sector,
                            uint64_t sectors, uint64_t id, bool fua) {
  TopIo io;
  io.kind = k;
  io.device = dev;
  io.sector = sector;
  io.sectors = sectors;
  io.id = id;
  io.fua = fua;
  io.submit_ns = sim::ktime_get_ns();
  if (k != TopIo::Flush) place(world_, b, sector, sector, sectors, io.placed);
  io.journal_at = engines::journal().events.size();
  out_.io.ios.push_back(io);
  return out_.io.ios.size() - 1;
}

void StepExecutor::acked(size_t at, model::BlkStatus st) {
  TopIo& io = out_.io.ios[at];
  io.ack_ns = sim::ktime_get_ns();
  io.acked = st == model::BLK_STS_OK;
  io.status = st;
}

int StepExecutor::flush_device(const std::string& path, model::BlockDevice* b) {
  model::Bio* bio = model::bio_alloc_flush(b);
  const size_t at = log_io(TopIo::Flush, path, b, 0, 0, bio->id, false);
  const model::BlkStatus st = model::submit_bio_wait(bio);
  model::bio_put(bio);
  acked(at, st);
  return st == model::BLK_STS_OK ? 0 : 1;
}

// dd to a block device, one bio per block as with O_DIRECT. The run decides the bounds, with
// the device's size now (a dm device may have grown by load and resume): lseek past the end
// fails (EINVAL); blkdev_write_iter refuses a write at the end (ENOSPC) and cuts one crossing
// it short, and dd, retrying the rest, then gets ENOSPC: the block counts as read, not written.
int StepExecutor::dd(const Command& c, std::string& out, std::string& err) {
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
    const size_t at = log_io(c.zero_source ? TopIo::Zero : TopIo::Data, c.device, b, sector, n, bio->id, c.fua);
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

int StepExecutor::sync(const Command& c, std::string& err) {
  std::vector<std::string> devs;
  if (!c.device.empty()) {
    devs.push_back(c.device);
  } else {
    // sync(2) flushes the devices that exist: one written and removed since is not opened.
    std::set<std::string> seen;
    for (const auto& io : out_.io.ios)
      if (seen.insert(io.device).second && world_.lookup(io.device)) devs.push_back(io.device);
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
int StepExecutor::blkdiscard(const Command& c, std::string& err) {
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
    err =
        who + "length " + std::to_string(end - c.offset) + " is not aligned to sector size " + std::to_string(secsize);
    return 1;
  }
  const uint64_t gran = std::max<uint64_t>(b->limits.discard_granularity, 512);
  const uint64_t max_sectors = (UINT32_MAX / gran * gran) >> 9;
  for (uint64_t start = c.offset / 512; start < end / 512;) {
    const uint64_t len = std::min(max_sectors, end / 512 - start);
    model::Bio* bio = model::bio_alloc(b, model::ReqOp::Discard, 0, start, static_cast<uint32_t>(len));
    const size_t at = log_io(TopIo::Discard, c.device, b, start, len, bio->id, false);
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

// Records which top devices a table holds open now: a target owns what they hold from then on.
void StepExecutor::note_claims() {
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

}  // namespace verify
