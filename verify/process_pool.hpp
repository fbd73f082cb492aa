// Runs tasks in up to N child processes at once (each simulation needs a process of its own,
// and a crash of one must not take the others down). The parent stays single-threaded: it
// forks, polls the children's pipes, and collects each task's output bytes in order.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace verify {

struct TaskOutput {
  bool ok = false;
  std::string bytes;  // what the task returned
  std::string error;  // why it did not
};

// `on_done(i, out)` is called as each task finishes (for progress lines).
std::vector<TaskOutput> run_tasks(const std::vector<std::function<std::string()>>& tasks, int jobs,
                                  const std::function<void(size_t, const TaskOutput&)>& on_done);

}  // namespace verify
