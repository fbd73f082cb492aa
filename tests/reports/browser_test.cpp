// The HTML reports in a real browser: a failing check run of the era table-swap deadlock
// (knob era.status_in_worker on) writes report.html and index.html, and headless Chromium
// loads them. The DOM it reads back must hold every section, the console must stay silent (the
// pages have no script, so any message is a blocked load or a policy violation), and a
// screenshot is kept under the build directory. Chromium missing is a failure, not a skip:
// dmsim.sh installs it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct Ran {
  int code = -1;  // -1: killed at the deadline or by a signal
  bool timed_out = false;
  std::string out, err;
};

// Runs ARGV[0] (looked up on PATH) with a deadline, collecting stdout and stderr.
Ran run(const std::vector<std::string>& args, int timeout_s) {
  int out[2], err[2];
  if (::pipe(out) != 0 || ::pipe(err) != 0) return {};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addclose(&fa, err[0]);
  std::vector<std::string> a = args;
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  // A process group of its own, so that a hung browser is killed with its helper processes.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  Ran r;
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    r.err = "cannot start " + args[0];
    return r;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      r.timed_out = true;
      break;
    }
    if (::poll(fds, 2, static_cast<int>(std::min<long long>(left, 500))) < 0) continue;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
      }
    }
  }
  if (r.timed_out) ::kill(-pid, SIGKILL);
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!r.timed_out && WIFEXITED(status)) r.code = WEXITSTATUS(status);
  return r;
}

std::string chromium_path() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin");
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && ::access((d + "/chromium").c_str(), X_OK) == 0) return d + "/chromium";
  return "";
}

// A throwaway profile directory, removed when this goes.
struct Profile {
  std::string path;
  Profile() {
    const char* tmp = std::getenv("TMPDIR");
    std::string t = std::string(tmp && *tmp ? tmp : "/tmp") + "/dmsim-chromium-XXXXXX";
    if (::mkdtemp(t.data())) path = t;
  }
  ~Profile() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

struct Page {
  std::string dom;
  std::vector<std::string> console;  // every console message Chromium logged
};

// Loads `file` in headless Chromium with a fresh profile; `extra` adds e.g. --dump-dom.
Ran chromium(const std::string& file, const std::vector<std::string>& extra) {
  Profile profile;
  REQUIRE(!profile.path.empty());
  std::vector<std::string> args{chromium_path(),
                                "--headless",
                                "--no-sandbox",
                                "--disable-gpu",
                                "--no-first-run",
                                "--disable-extensions",
                                "--user-data-dir=" + profile.path,
                                "--enable-logging=stderr",
                                "--v=0"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("file://" + fs::absolute(file).string());
  const Ran r = run(args, 20);
  INFO(r.err);
  REQUIRE(!r.timed_out);
  REQUIRE(r.code == 0);
  return r;
}

Page load(const std::string& file) {
  const Ran r = chromium(file, {"--dump-dom"});
  Page p;
  p.dom = r.out;
  std::istringstream lines(r.err);
  for (std::string l; std::getline(lines, l);)
    if (l.find(":CONSOLE") != std::string::npos) p.console.push_back(l);
  return p;
}

void require_chromium() {
  if (chromium_path().empty())
    FAIL(
        "chromium is not installed: the HTML report tests need it (./dmsim.sh installs it; by hand: apt-get "
        "install -y chromium)");
}

// A failing check of one scenario into a fresh report directory under the build's artifacts.
std::string failing_check(const std::string& name) {
  const std::string dir = std::string(DMSIM_ARTIFACT_DIR) + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Ran r = run(
      {DMSIM_BINARY, "check", std::string(DMSIM_SOURCE_DIR) + "/scenarios/era/catalog/table-swap-status-deadlock.yaml",
       "--knob", "era.status_in_worker", "--report-dir", dir + "/reports"},
      60);
  INFO(r.out + r.err);
  REQUIRE(r.code == 1);  // the deadlock is a violation
  return dir;
}

bool has_id(const std::string& dom, const std::string& id) {
  return dom.find("id=\"" + id + "\"") != std::string::npos;
}

const char* kReport = "/reports/era-table-swap-status-deadlock-seed0-1/report.html";

}  // namespace

TEST_CASE("browser: the console capture sees a blocked script (the check below can fail)", "[reports][browser]") {
  require_chromium();
  const std::string dir = std::string(DMSIM_ARTIFACT_DIR) + "/html-console-control";
  fs::create_directories(dir);
  std::ofstream(dir + "/control.html")
      << "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">"
         "</head><body><script>document.title='ran'</script></body></html>\n";
  const Page p = load(dir + "/control.html");
  REQUIRE(!p.console.empty());
  REQUIRE(p.dom.find("<title>ran</title>") == std::string::npos);
}

TEST_CASE("browser: a deadlock's report.html shows every section, draws both graphs and logs nothing",
          "[reports][browser]") {
  require_chromium();
  const std::string dir = failing_check("html-report-unit");
  const std::string page = dir + kReport;
  REQUIRE(fs::exists(page));
  const Page p = load(page);
  INFO(p.dom.substr(0, 2000));
  for (const char* id : {"verdict", "signature", "scenario", "scenario-yaml", "replay-command", "timeline-svg",
                         "wait-for-graph", "wait-for-svg", "crash-state", "violations", "kernel-log", "images"})
    CHECK(has_id(p.dom, id));
  CHECK(p.dom.find("FAIL: deadlock") != std::string::npos);
  CHECK(p.dom.find("--knob era.status_in_worker") != std::string::npos);
  // The timeline has the two deadlocked threads; the graph has the lock between them.
  CHECK(p.dom.find("dmsetup:10") != std::string::npos);
  CHECK(p.dom.find("synchronize_srcu md-&gt;io_barrier") != std::string::npos);
  CHECK(p.dom.find("mutex md-&gt;suspend_lock") != std::string::npos);
  for (const auto& line : p.console) UNSCOPED_INFO("console: " << line);
  CHECK(p.console.empty());
  const std::string png = std::string(DMSIM_ARTIFACT_DIR) + "/html-report-unit.png";
  fs::remove(png);
  chromium(page, {"--screenshot=" + png, "--window-size=1280,2000", "--hide-scrollbars"});
  REQUIRE(fs::file_size(png) > 10000);
  std::printf("report screenshot: %s\n", png.c_str());
}

TEST_CASE("browser: index.html lists the check's units and links their reports", "[reports][browser]") {
  require_chromium();
  const std::string dir = failing_check("html-report-index");
  const Page p = load(dir + "/reports/index.html");
  CHECK(has_id(p.dom, "units"));
  CHECK(has_id(p.dom, "totals"));
  CHECK(p.dom.find("1 unit(s), 1 failed") != std::string::npos);
  CHECK(p.dom.find("href=\"era-table-swap-status-deadlock-seed0-1/report.html\"") != std::string::npos);
  CHECK(p.dom.find("deadlock: deadlock: dmsetup:10") != std::string::npos);
  for (const auto& line : p.console) UNSCOPED_INFO("console: " << line);
  CHECK(p.console.empty());
  const std::string png = std::string(DMSIM_ARTIFACT_DIR) + "/html-report-index.png";
  fs::remove(png);
  chromium(dir + "/reports/index.html", {"--screenshot=" + png, "--window-size=1280,800"});
  REQUIRE(fs::exists(png));
  std::printf("index screenshot: %s\n", png.c_str());
}
