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

std::vector<TaskOutput> run_tasks(const std::vector<std::function<std::string()>>& tasks, int jobs,
                                  const std::function<void(size_t, const TaskOutput&)>& on_done) {
  std::vector<TaskOutput> out(tasks.size());
  struct Child {
    pid_t pid;
    int fd;
    size_t task;
    std::string data;
  };
  std::vector<Child> running;
  size_t next = 0;
  if (jobs < 1) jobs = 1;
  while (next < tasks.size() || !running.empty()) {
    while (next < tasks.size() && static_cast<int>(running.size()) < jobs) {
      int p[2];
      if (::pipe(p) != 0) {
        out[next].error = std::string("pipe: ") + std::strerror(errno);
        if (on_done) on_done(next, out[next]);
        next++;
        continue;
      }
      std::fflush(stdout);
      std::fflush(stderr);
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::close(p[0]);
        for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, SIG_DFL);
        std::string bytes;
        int code = 0;
        try {
          bytes = tasks[next]();
        } catch (const std::exception& e) {
          bytes = e.what();
          code = 3;
        }
        size_t off = 0;
        while (off < bytes.size()) {
          const ssize_t n = ::write(p[1], bytes.data() + off, bytes.size() - off);
          if (n <= 0 && errno != EINTR) break;
          if (n > 0) off += static_cast<size_t>(n);
        }
        ::close(p[1]);
        ::_exit(code);
      }
      ::close(p[1]);
      if (pid < 0) {
        ::close(p[0]);
        out[next].error = std::string("fork: ") + std::strerror(errno);
        if (on_done) on_done(next, out[next]);
      } else {
        running.push_back({pid, p[0], next, {}});
      }
      next++;
    }
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
      if (n > 0) {
        c.data.append(buf, static_cast<size_t>(n));
        i++;
        continue;
      }
      if (n < 0 && errno == EINTR) {
        i++;
        continue;
      }
      ::close(c.fd);
      int status = 0;
      while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
      }
      TaskOutput& o = out[c.task];
      if (WIFSIGNALED(status)) {
        o.error = std::string("died of signal ") + std::to_string(WTERMSIG(status)) + " (" +
                  ::strsignal(WTERMSIG(status)) + ")";
      } else if (WEXITSTATUS(status) != 0) {
        o.error = c.data.empty() ? "exited with " + std::to_string(WEXITSTATUS(status)) : c.data;
      } else {
        o.ok = true;
        o.bytes = std::move(c.data);
      }
      if (on_done) on_done(c.task, o);
      running.erase(running.begin() + static_cast<long>(i));
      fds.erase(fds.begin() + static_cast<long>(i));
    }
  }
  return out;
}

}  // namespace verify
