#include "verify/real_tools.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engines/check_registry.hpp"
#include "engines/tool_registry.hpp"
#include "model/dm/mapped_device.hpp"
#include "verify/data_map.hpp"
#include "verify/engine_checks.hpp"

extern char** environ;

namespace verify {

namespace {

const char* const kCheck = "real-tools";

bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// A read-only device over an image in memory, for the simulated tool: it completes each bio in
// its submitter, so reading it takes no simulated time and leaves nothing in any disk's trace.
class ImageDevice : public model::BlockDevice {
 public:
  explicit ImageDevice(const std::string& bytes) : BlockDevice("dmsim-image", 7, 255), bytes_(bytes) {
    set_capacity(bytes.size() / 512);
  }
  void submit(model::Bio* bio) override {
    if (bio->op != model::ReqOp::Read) {
      bio->status = model::BLK_STS_IOERR;  // the tools only read
    } else {
      for (uint32_t i = 0; i < bio->size; i++)
        bio->data()[i] =
            model::Sector::of_bytes(reinterpret_cast<const uint8_t*>(bytes_.data()) + (bio->sector + i) * 512);
    }
    model::bio_endio(bio);
  }

 private:
  const std::string& bytes_;
};

// A private temporary file; removed when this goes.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& what) {
    const char* dir = std::getenv("TMPDIR");
    std::string templ = std::string(dir && *dir ? dir : "/tmp") + "/dmsim-" + what + "-XXXXXX";
    const int fd = ::mkstemp(templ.data());
    if (fd >= 0) {
      ::close(fd);
      path = templ;
    }
  }
  ~TempFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

struct Ran {
  int exit_code = 0;
  std::string output;  // stdout and stderr, as a terminal shows them
};

// Runs `tool image` outside the simulation (a process of its own), its output in a file.
Ran run_real(const std::string& tool, const std::string& image) {
  Ran r;
  TempFile out("tool-output");
  if (out.path.empty()) return {127, "cannot create a temporary file: " + std::string(std::strerror(errno))};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.path.c_str(), O_WRONLY | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> argv = {const_cast<char*>(tool.c_str()), const_cast<char*>(image.c_str()), nullptr};
  pid_t pid = 0;
  const int err = posix_spawn(&pid, tool.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) return {127, "cannot run " + tool + ": " + std::strerror(err)};
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  std::ifstream in(out.path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  return r;
}

// The simulated tool of the same name on a private copy of the image.
engines::ToolResult run_simulated(const std::string& tool, const std::string& bytes, model::World& world) {
  const engines::Tool* t = tool.empty() ? nullptr : engines::find_tool(tool);
  if (!t) return {0, "", ""};  // no simulated counterpart: nothing to compare with
  ImageDevice dev(bytes);
  const std::string path = "/dev/dmsim-real-tools-image";
  world.register_path(path, &dev);
  engines::ToolResult r = t->run({path});
  world.unregister_path(path);
  return r;
}

std::string quoted(const std::string& text) {
  std::string s;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) s += "  | " + line + "\n";
  return s.empty() ? "  | (no output)\n" : s;
}

// A metadata superblock is the device's first 4 KiB block.
constexpr uint64_t kSuperblockSectors = 8;

// One metadata device's image: its sectors through the mapping the phase built, from what the
// disks held when it began (`crash`) or hold now. False with `why` when a part has no place on
// a disk (a target whose mapping lives in its metadata). `superblock_written`: some sector of the
// first block holds bytes an engine wrote (not a disk's initial content or zeroes).
bool device_bytes(model::World& world, model::BlockDevice* b, bool crash, std::string* bytes, std::string* why,
                  bool* superblock_written) {
  *superblock_written = false;
  std::vector<Placement> where;
  place(world, b, 0, 0, b->capacity(), where);
  const auto disks = world.disks();
  uint8_t buf[512];
  for (const Placement& p : where) {
    if (!p.known()) {
      *why = "sectors " + std::to_string(p.sector) + "+" + std::to_string(p.sectors) + " have no place on a disk";
      return false;
    }
    for (uint64_t k = 0; k < p.sectors; k++) {
      if (p.disk < 0) {
        bytes->append(512, '\0');
        continue;
      }
      const model::VolatileCacheDisk* d = disks[static_cast<size_t>(p.disk)];
      const uint64_t s = p.disk_sector + k;
      const model::Sector sector = crash ? d->initial_media().read(s) : d->read_sector(s);
      if (bytes->size() < kSuperblockSectors * 512 && sector.bytes) *superblock_written = true;
      sector.to_bytes(buf);
      bytes->append(reinterpret_cast<const char*>(buf), sizeof buf);
    }
  }
  return true;
}

struct Judge {
  const engines::MetadataTool& row;
  const std::string& tool;       // the real tool's name
  const std::string& simulated;  // dmsim's counterpart ("": none)
  const std::string& real;       // the real tool's path
  model::World& world;
  PhaseOutput& out;
  ToolTally& tally;

  // Both tools on one image; a failure of the real one, or a disagreement, is a violation.
  void image(const std::string& device, const std::string& what, const std::string& bytes) {
    TempFile img("image");
    {
      std::ofstream f(img.path, std::ios::binary);
      f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (img.path.empty() || !f) {
        out.check_notes.emplace_back(kCheck, "cannot write the " + what + " of " + device + " to a temporary file");
        return;
      }
    }
    const Ran r = run_real(real, img.path);
    const std::string misjudged = r.exit_code != 0 && row.known_misjudgement ? row.known_misjudgement(bytes) : "";
    if (!misjudged.empty()) {
      out.check_notes.emplace_back(kCheck,
                                   "real " + tool + " rejects the " + what + " of " + device + ": " + misjudged);
      return;
    }
    const engines::ToolResult sim = run_simulated(simulated, bytes, world);
    const std::string head = "the " + what + " of " + device;
    const std::string real_out = "real " + tool + " (" + real + "):\n" + quoted(r.output);
    const std::string sim_out = "dmsim's " + simulated + ":\n" + quoted(sim.out + sim.err);
    const std::string exit = " (exit " + std::to_string(r.exit_code) + ")";
    if (r.exit_code == 0) tally.passed++;
    if (r.exit_code != 0) tally.failed++;
    if (r.exit_code != 0 && sim.exit_code != 0)
      violation("real " + tool + " rejects " + head + exit + ", as dmsim's " + simulated + " does\n" + real_out +
                sim_out);
    else if (r.exit_code != 0)
      violation("real " + tool + " rejects " + head + exit +
                (simulated.empty() ? "" : " while dmsim's " + simulated + " accepts it") + "\n" + real_out);
    else if (sim.exit_code != 0)
      violation("dmsim's " + simulated + " rejects " + head + " (exit " + std::to_string(sim.exit_code) +
                ") while the real " + tool + " accepts it\n" + sim_out);
    else if (row.stricter)
      stricter(head, bytes);
  }

  // dmsim's stricter check on an image both tools accept.
  void stricter(const std::string& head, const std::string& bytes) {
    ImageDevice dev(bytes);
    const std::vector<std::string> problems = row.stricter(&dev);
    if (problems.empty()) return;
    std::string msg = "dmsim's stricter check rejects " + head + ", which the real " + tool + " accepts:\n";
    for (size_t i = 0; i < problems.size() && i < 8; i++) msg += "  | " + problems[i] + "\n";
    if (problems.size() > 8) msg += "  | (" + std::to_string(problems.size() - 8) + " more)\n";
    violation(msg);
  }

  void violation(const std::string& msg) { out.check_violations.emplace_back(kCheck, msg); }
};

// The metadata device at the end of the phase, or null with a note saying why not.
model::BlockDevice* device_at_end(model::World& world, const std::string& path, PhaseOutput& out) {
  model::BlockDevice* b = world.lookup(path);
  auto* md = dynamic_cast<model::MappedDevice*>(b);
  if (b && !(md && !md->live_table())) return b;
  out.check_notes.emplace_back(
      kCheck, "metadata device " + path + (b ? " has no live table" : " does not exist") + " at the end of the run");
  return nullptr;
}

}  // namespace

std::string real_tool_path(const std::string& tool) {
  std::string env = "DMSIM_" + tool;
  std::transform(env.begin(), env.end(), env.begin(), [](unsigned char c) { return std::toupper(c); });
  if (const char* v = std::getenv(env.c_str())) return *v && executable(v) ? v : "";
  std::string dirs = std::getenv("PATH") ? std::getenv("PATH") : "";
  dirs += ":/usr/sbin:/sbin";
  std::istringstream in(dirs);
  for (std::string d; std::getline(in, d, ':');)
    if (!d.empty() && executable(d + "/" + tool)) return d + "/" + tool;
  return "";
}

void run_real_tools(const PhaseInput& in, PhaseOutput& out, model::World& world) {
  const auto& expect = in.scenario->expect;
  if (std::find(expect.begin(), expect.end(), kCheck) == expect.end()) return;
  const engines::CheckInput ci = check_input(in, out);
  for (const engines::MetadataTool& row : engines::metadata_tools()) {
    const std::vector<std::string> devices = row.metadata_devices(ci);
    if (devices.empty()) continue;
    const std::string real = real_tool_path(row.tool);
    if (real.empty()) {
      out.missing_tools.push_back(row.tool);
      continue;
    }
    out.real_tools.push_back(ToolTally{row.tool, 0, 0});
    Judge judge{row, row.tool, row.simulated, real, world, out, out.real_tools.back()};
    for (const auto& path : devices) {
      model::BlockDevice* b = device_at_end(world, path, out);
      if (!b) continue;
      for (const bool crash : {true, false}) {
        if (crash && !in.before_crash) continue;  // only a recovery starts from a crash image
        std::string bytes, why;
        bool superblock_written;
        if (!device_bytes(world, b, crash, &bytes, &why, &superblock_written)) {
          out.check_notes.emplace_back(kCheck, "metadata device " + path + ": " + why);
          break;
        }
        // A power cut before the first superblock reached the media leaves no metadata to judge:
        // the engine formats such a device afresh (or refuses it), as the kernel does.
        if (crash && !superblock_written) {
          out.check_notes.emplace_back(kCheck, "the crash image of " + path +
                                                   " holds no metadata yet (no superblock reached the media): "
                                                   "not checked");
          continue;
        }
        judge.image(path, crash ? "crash image (before the recovery)" : "final image", bytes);
      }
    }
  }
}

}  // namespace verify
