#include "reports/wait_for_graph.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace reports {

namespace {

const char* kMarker = "wait-for graph (dot):\n";

std::string dot_quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c == '\n' ? ' ' : c;
  }
  return o + "\"";
}

bool is_node_id(const std::string& s) {
  return s.size() > 1 && s[0] == 'n' && s.find_first_not_of("0123456789", 1) == std::string::npos;
}

// One line of the detector's graph: `  nI [label="...", shape=box];` or `  nA -> nB [label="..."];`.
// The label is read up to its last quote, so quotes inside it cannot end it early.
bool requote_line(const std::string& line, std::string* out) {
  const size_t open = line.find(" [label=\"");
  if (open == std::string::npos) return false;
  const std::string head = line.substr(line.find_first_not_of(' '), open - line.find_first_not_of(' '));
  const std::string tail = line.substr(open + 9);
  std::string shape;
  size_t end;
  if ((end = tail.rfind("\", shape=box];")) != std::string::npos && end + 14 == tail.size()) {
    shape = ", shape=box";
  } else if ((end = tail.rfind("\", shape=ellipse];")) != std::string::npos && end + 18 == tail.size()) {
    shape = ", shape=ellipse";
  } else if ((end = tail.rfind("\"];")) == std::string::npos || end + 3 != tail.size()) {
    return false;
  }
  const size_t arrow = head.find(" -> ");
  if (arrow == std::string::npos ? !is_node_id(head)
                                 : !is_node_id(head.substr(0, arrow)) || !is_node_id(head.substr(arrow + 4)))
    return false;
  *out += "  " + head + " [label=" + dot_quote(tail.substr(0, end)) + shape + "];\n";
  return true;
}

// A private temporary file, removed when this goes.
struct TempFile {
  std::string path;
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    std::string templ = std::string(dir && *dir ? dir : "/tmp") + "/dmsim-dot-XXXXXX";
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

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `dot -Tsvg IN -o OUT`, its messages in ERR; the exit status, or -1 when killed at the deadline.
int run_dot(const TempFile& in, const TempFile& out, const TempFile& err, double timeout_s, std::string* why) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, err.path.c_str(), O_WRONLY | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<std::string> args{"dot", "-Tsvg", in.path, "-o", out.path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "dot", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    *why = rc == ENOENT ? "Graphviz's dot is not installed (not found on PATH)"
                        : std::string("cannot run dot: ") + std::strerror(rc);
    return 127;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      *why = "dot did not finish within " + std::to_string(static_cast<int>(timeout_s)) + " s";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace

std::string dot_in_detail(const std::string& detail) {
  const size_t at = detail.find(kMarker);
  if (at == std::string::npos) return "";
  const size_t from = at + std::strlen(kMarker);
  const size_t close = detail.find("\n}", from);
  return close == std::string::npos ? detail.substr(from) : detail.substr(from, close + 2 - from) + "\n";
}

std::string requoted_dot(const std::string& dot) {
  std::istringstream lines(dot);
  std::string line, out;
  if (!std::getline(lines, line) || line != "digraph waitfor {") return "";
  out =
      "digraph waitfor {\n  rankdir=LR;\n  node [fontname=\"sans-serif\", fontsize=11];\n"
      "  edge [fontname=\"sans-serif\", fontsize=9];\n";
  bool closed = false;
  while (std::getline(lines, line)) {
    if (line == "}") {
      closed = true;
      break;
    }
    if (line == "  rankdir=LR;") continue;
    if (!requote_line(line, &out)) return "";
  }
  return closed ? out + "}\n" : "";
}

std::string inline_svg(const std::string& dot_output) {
  const size_t start = dot_output.find("<svg");
  const size_t end = dot_output.rfind("</svg>");
  if (start == std::string::npos || end == std::string::npos || end < start) return "";
  std::string svg;
  for (size_t i = start; i < end + 6;) {
    if (dot_output.compare(i, 4, "<!--") == 0) {
      const size_t c = dot_output.find("-->", i + 4);
      if (c == std::string::npos || c > end) return "";
      i = c + 3;
      continue;
    }
    svg += dot_output[i++];
  }
  std::string lower = svg;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* bad : {"<script", "<a ", "<a>", "href", "javascript:", "<foreignobject", "<iframe", "<style",
                          "<image", "<use", "<animate", "<set", "<!doctype", "<?", "<![cdata["})
    if (lower.find(bad) != std::string::npos) return "";
  // Event handler attributes (onload=, onclick= ...): " on" followed by letters and '='.
  for (size_t p = lower.find(" on"); p != std::string::npos; p = lower.find(" on", p + 1)) {
    size_t q = p + 3;
    while (q < lower.size() && lower[q] >= 'a' && lower[q] <= 'z') q++;
    while (q < lower.size() && lower[q] == ' ') q++;
    if (q > p + 3 && q < lower.size() && lower[q] == '=') return "";
  }
  return "<svg id=\"wait-for-svg\"" + svg.substr(4) + "\n";
}

RenderedGraph render_wait_for_graph(const std::string& dot, double timeout_s) {
  RenderedGraph g;
  const std::string safe = requoted_dot(dot);
  if (safe.empty()) {
    g.why = "the graph is not in the deadlock detector's dot format; shown as text";
    return g;
  }
  TempFile in, out, err;
  if (in.path.empty() || out.path.empty() || err.path.empty()) {
    g.why = std::string("cannot create a temporary file: ") + std::strerror(errno);
    return g;
  }
  std::ofstream(in.path, std::ios::binary) << safe;
  const int rc = run_dot(in, out, err, timeout_s, &g.why);
  if (!g.why.empty()) return g;
  if (rc != 0) {
    g.why = "dot -Tsvg failed (exit " + std::to_string(rc) + "): " + slurp(err.path);
    return g;
  }
  g.svg = inline_svg(slurp(out.path));
  if (g.svg.empty()) g.why = "dot's SVG held more than a drawing (links, scripts or foreign content); not inlined";
  return g;
}

}  // namespace reports
