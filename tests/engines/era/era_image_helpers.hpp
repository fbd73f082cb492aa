// Helpers for the interop tests with the real thin-provisioning-tools: a simulated disk written
// to an image file and an image file loaded into a simulated disk, and a tool run with its exit
// code and output.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model/disk_image.hpp"
#include "model/volatile_cache_disk.hpp"
#include "model/world.hpp"

extern char** environ;

namespace eratest {

constexpr const char* kEraCheck = "/usr/sbin/era_check";
constexpr const char* kEraDump = "/usr/sbin/era_dump";
constexpr const char* kEraRestore = "/usr/sbin/era_restore";

// Whether the real tools are installed (Debian: thin-provisioning-tools).
inline bool real_era_tools() {
  for (const char* t : {kEraCheck, kEraDump, kEraRestore})
    if (::access(t, X_OK) != 0) return false;
  return true;
}

// A scratch file of the test's own, removed at the end of the scope.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& name)
      : path((std::filesystem::temp_directory_path() / ("dmsim-era-" + name + "-" + std::to_string(::getpid())))
                 .string()) {}
  ~TempFile() { std::filesystem::remove(path); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// What a read of the disk returns now, sector by sector, into `path`.
inline void write_disk_to_file(const model::VolatileCacheDisk& d, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  uint8_t buf[512];
  for (uint64_t s = 0; s < d.config().sectors; s++) {
    d.read_sector(s).to_bytes(buf);
    out.write(reinterpret_cast<const char*>(buf), sizeof buf);
  }
}

// A zero-initialised disk named `name`, holding the bytes of the file at `path` (its size a
// multiple of 512).
inline model::VolatileCacheDisk& load_file_into_disk(model::World& w, const std::string& name,
                                                     const std::string& path) {
  const std::string bytes = read_file(path);
  model::DiskConfig c;
  c.name = name;
  c.sectors = bytes.size() / 512;
  c.initial_zero = true;
  model::VolatileCacheDisk& d = w.add_disk(c);
  model::DiskImage image(d.disk_id(), c.sectors, true);
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  for (uint64_t s = 0; s < c.sectors; s++) {
    bool zero = true;
    for (size_t i = 0; i < 512 && zero; i++) zero = p[s * 512 + i] == 0;
    if (!zero) image.apply(s, model::Sector::of_bytes(p + s * 512), 0);
  }
  d.load_media(image);
  return d;
}

struct ToolRun {
  int code = -1;  // exit code; 128 + signal when killed by one
  std::string out, err;
};

// Runs `argv` with its stdout and stderr captured in scratch files.
inline ToolRun run_tool(const std::vector<std::string>& argv_s) {
  TempFile out("tool-out"), err("tool-err");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> copy = argv_s;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ToolRun r;
  if (rc != 0) return r;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  r.out = read_file(out.path);
  r.err = read_file(err.path);
  return r;
}

}  // namespace eratest
