#include "sim/simulation.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <regex>
#include <simgrid/s4u.hpp>
#include <string>

#include "sim/runtime.hpp"
#include "sim/wire.hpp"

namespace sim {

SimResult simulate(const SimConfig& cfg, std::function<void()> main) {
  // Deliberately leaked: SimGrid's engine and parked actors cannot be torn down cleanly.
  auto* rt = new Runtime(cfg);
  return rt->run(std::move(main));
}

namespace {

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

SimResult failed(FindingKind kind, const std::string& title, const std::string& err) {
  SimResult r;
  r.status = kind == FindingKind::Crash ? RunStatus::Crashed : RunStatus::Budget;
  std::string tail = reproducible_text(err.size() > 4000 ? err.substr(err.size() - 4000) : err);
  r.findings.push_back({kind, 0, title, title + (tail.empty() ? "" : "\nlast stderr of the simulation:\n" + tail)});
  return r;
}

}  // namespace

std::string reproducible_text(const std::string& text) {
  // Source paths from assertions and sanitizers, relative to the project's top folder.
  static const std::regex path(
      R"((/[^\s:'"()]*/)((sim|model|engines|scenarios|verify|reports|cli|tests)/[^\s:'"()]+))");
  static const std::regex pid(R"(==\d+==)");
  static const std::regex address(R"(0x[0-9a-fA-F]{6,})");
  std::string s = std::regex_replace(text, path, "$2");
  s = std::regex_replace(s, pid, "==PID==");
  return std::regex_replace(s, address, "0x(address)");
}

namespace {

// The child's side: run `fn` with stderr going to `err_fd`, send its bytes through `out_fd`, exit.
[[noreturn]] void run_child_side(const std::function<std::string()>& fn, int out_fd, int err_fd) {
  // The parent's handlers (a test framework's, say) must not run in the simulation process.
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT}) ::signal(sig, SIG_DFL);
  ::dup2(err_fd, STDERR_FILENO);
  std::string bytes;
  int code = 0;
  try {
    bytes = fn();
  } catch (const std::exception& e) {
    bytes = e.what();
    code = 3;
  }
  write_all(out_fd, bytes);
  ::close(out_fd);
  ::_exit(code);
}

// Reads the child's result and stderr until both close or the deadline passes (timed_out).
void collect_child_output(int out_fd, int err_fd, double wall_timeout_s, ChildOutput& res) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wall_timeout_s);
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      res.timed_out = true;
      break;
    }
    int r = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? res.bytes : res.stderr_text).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
}

// How the child ended, in words (error) or ok.
void judge_child_exit(int status, double wall_timeout_s, ChildOutput& res) {
  if (res.timed_out) {
    res.error =
        "killed after the wall-clock budget of " + std::to_string(static_cast<long long>(wall_timeout_s)) + " s";
  } else if (WIFSIGNALED(status)) {
    res.error =
        std::string("died of signal ") + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
  } else if (WEXITSTATUS(status) != 0) {
    res.error = "failed: " + res.bytes;
  } else {
    res.ok = true;
  }
}

}  // namespace

ChildOutput run_in_child(const std::function<std::string()>& fn, double wall_timeout_s) {
  ChildOutput res;
  int out[2], err[2];
  if (::pipe(out) != 0) {
    res.error = std::string("cannot create a pipe: ") + std::strerror(errno);
    return res;
  }
  if (::pipe(err) != 0) {
    res.error = std::string("cannot create a pipe: ") + std::strerror(errno);
    ::close(out[0]);
    ::close(out[1]);
    return res;
  }
  ::fflush(stdout);
  ::fflush(stderr);
  const pid_t pid = ::fork();
  const int fork_errno = errno;
  if (pid == 0) {
    ::close(out[0]);
    ::close(err[0]);
    run_child_side(fn, out[1], err[1]);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    res.error = std::string("cannot fork: ") + std::strerror(fork_errno);
    ::close(out[0]);
    ::close(err[0]);
    return res;
  }
  collect_child_output(out[0], err[0], wall_timeout_s, res);
  if (res.timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  judge_child_exit(status, wall_timeout_s, res);
  return res;
}

SimResult run_isolated(const SimConfig& cfg, std::function<void()> main, double wall_timeout_s) {
  ChildOutput out = run_in_child([&] { return to_wire(simulate(cfg, main)); }, wall_timeout_s);
  if (out.timed_out)
    return failed(FindingKind::HarnessTimeout, "harness timeout: simulation " + out.error, out.stderr_text);
  if (!out.ok) return failed(FindingKind::Crash, "simulation process " + out.error, out.stderr_text);
  try {
    return from_wire<SimResult>(out.bytes, "simulation result");
  } catch (const std::exception& e) {
    return failed(FindingKind::Crash, std::string("simulation process sent no result: ") + e.what(), out.stderr_text);
  }
}

double measure_bare_simgrid_yield_ns(int iterations) {
  namespace sg4 = simgrid::s4u;
  int argc = 2;
  static char a0[] = "dmsim", a1[] = "--log=root.thresh:critical";
  char* argv[] = {a0, a1, nullptr};
  sg4::Engine e(&argc, argv);
  auto* zone = sg4::create_full_zone("bare");
  auto* host = zone->create_host("cpu0", 1e9);
  zone->seal();
  for (int a = 0; a < 2; a++)
    sg4::Actor::create("yielder", host, [iterations] {
      for (int i = 0; i < iterations; i++) sg4::this_actor::yield();
    });
  const auto t0 = std::chrono::steady_clock::now();
  e.run();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / (2.0 * iterations);
}

}  // namespace sim
