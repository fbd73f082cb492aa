#include "verify/process_pool.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

namespace verify {

namespace {

struct Child {
  pid_t pid;
  int fd;  // the read end of the child's pipe
  size_t task;
  std::string data;
};

// In the child: runs the task and writes what it returned, or why it threw (exit 3), to `fd`.
[[noreturn]] void run_child(const std::function<std::string()>& task, int fd) {
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, SIG_DFL);
  std::string bytes;
  int code = 0;
  try {
    bytes = task();
  } catch (const std::exception& e) {
    bytes = e.what();
    code = 3;
  }
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0 && errno != EINTR) break;
    if (n > 0) off += static_cast<size_t>(n);
  }
  ::close(fd);
  ::_exit(code);
}

// Forks a child for task `i`; false, with `out.error` saying why, when it could not.
bool start_child(const std::function<std::string()>& task, size_t i, std::vector<Child>& running, TaskOutput& out) {
  int p[2];
  if (::pipe(p) != 0) {
    out.error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    run_child(task, p[1]);
  }
  ::close(p[1]);
  if (pid < 0) {
    ::close(p[0]);
    out.error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  running.push_back({pid, p[0], i, {}});
  return true;
}

// Reaps a child whose pipe has closed: its task's output, or why there is none.
TaskOutput reap(Child& c) {
  ::close(c.fd);
  int status = 0;
  while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  TaskOutput o;
  if (WIFSIGNALED(status)) {
    o.error =
        std::string("died of signal ") + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
  } else if (WEXITSTATUS(status) != 0) {
    o.error = c.data.empty() ? "exited with " + std::to_string(WEXITSTATUS(status)) : c.data;
  } else {
    o.ok = true;
    o.bytes = std::move(c.data);
  }
  return o;
}

}  // namespace

std::vector<TaskOutput> run_tasks(const std::vector<std::function<std::string()>>& tasks, int jobs,
                                  const std::function<void(size_t, const TaskOutput&)>& on_done) {
  std::vector<TaskOutput> out(tasks.size());
  std::vector<Child> running;
  size_t next = 0;
  if (jobs < 1) jobs = 1;
  while (next < tasks.size() || !running.empty()) {
    for (; next < tasks.size() && static_cast<int>(running.size()) < jobs; next++)
      if (!start_child(tasks[next], next, running, out[next]) && on_done) on_done(next, out[next]);
    if (running.empty()) continue;
    std::vector<pollfd> fds;
    for (const auto& c : running) fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
    for (size_t i = 0; i < running.size();) {
      Child& c = running[i];
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        i++;
        continue;
      }
      char buf[65536];
      const ssize_t n = ::read(c.fd, buf, sizeof buf);
      if (n > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) c.data.append(buf, static_cast<size_t>(n));
        i++;
        continue;
      }
      out[c.task] = reap(c);
      if (on_done) on_done(c.task, out[c.task]);
      running.erase(running.begin() + static_cast<long>(i));
      fds.erase(fds.begin() + static_cast<long>(i));
    }
  }
  return out;
}

}  // namespace verify
