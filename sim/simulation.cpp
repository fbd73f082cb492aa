#include "sim/simulation.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "sim/runtime.hpp"

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
  std::string tail = err.size() > 4000 ? err.substr(err.size() - 4000) : err;
  r.findings.push_back({kind, 0, title, title + (tail.empty() ? "" : "\nlast stderr of the simulation:\n" + tail)});
  return r;
}

}  // namespace

SimResult run_isolated(const SimConfig& cfg, std::function<void()> main, double wall_timeout_s) {
  int out[2], err[2];
  if (::pipe(out) != 0 || ::pipe(err) != 0) return failed(FindingKind::Crash, "cannot create pipes", std::strerror(errno));
  ::fflush(stdout);
  ::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) return failed(FindingKind::Crash, "cannot fork a simulation process", std::strerror(errno));
  if (pid == 0) {
    ::close(out[0]);
    ::close(err[0]);
    ::dup2(err[1], STDERR_FILENO);
    std::string bytes;
    try {
      bytes = simulate(cfg, std::move(main)).serialize();
    } catch (const std::exception& e) {
      bytes = failed(FindingKind::Crash, std::string("simulation threw: ") + e.what(), "").serialize();
    }
    write_all(out[1], bytes);
    ::close(out[1]);
    ::_exit(0);
  }
  ::close(out[1]);
  ::close(err[1]);
  std::string data, errtext;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wall_timeout_s);
  bool timed_out = false;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int r = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? data : errtext).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
      }
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return failed(FindingKind::Budget,
                  "wall-clock budget exceeded: simulation killed after " + std::to_string(wall_timeout_s) + " s", errtext);
  if (WIFSIGNALED(status))
    return failed(FindingKind::Crash,
                  std::string("simulation process died: signal ") + std::to_string(WTERMSIG(status)) + " (" +
                      ::strsignal(WTERMSIG(status)) + ")",
                  errtext);
  try {
    return SimResult::deserialize(data);
  } catch (const std::exception& e) {
    return failed(FindingKind::Crash, std::string("simulation process sent no result: ") + e.what(), errtext);
  }
}

}  // namespace sim
