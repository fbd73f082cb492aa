#include "reports/svg_timeline.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "reports/html_escape.hpp"

namespace reports {

namespace {

constexpr double kWidth = 1200, kLabel = 260, kRight = 20, kTop = 48, kLane = 26, kBottom = 34;
constexpr double kPlot = kWidth - kLabel - kRight;

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

// A failure often comes seconds after the interesting part (a hung-task report 120 s after a
// deadlock), so each gap between consecutive event times gets a width that grows with the log
// of its length: short bursts stay readable, long waits stay visibly long.
class TimeAxis {
 public:
  explicit TimeAxis(const verify::ThreadTimeline& t) {
    std::set<uint64_t> times{0, t.end_ns};
    for (const auto& th : t.threads) {
      times.insert(th.start_ns);
      times.insert(th.end_ns);
      for (const auto& s : th.spans) times.insert(s.start_ns), times.insert(s.end_ns);
    }
    for (const auto& m : t.marks) times.insert(m.t_ns);
    const double unit = std::max(static_cast<double>(t.end_ns) / 100000.0, 1000.0);
    double at = 0;
    uint64_t prev = *times.begin();
    for (uint64_t x : times) {
      at += std::log1p(static_cast<double>(x - prev) / unit);
      pos_[x] = at;
      prev = x;
    }
    total_ = at > 0 ? at : 1;
  }
  double x(uint64_t t) const {
    auto it = pos_.lower_bound(t);
    const double p = it == pos_.end() ? total_ : it->second;
    return kLabel + kPlot * p / total_;
  }
  const std::map<uint64_t, double>& times() const { return pos_; }

 private:
  std::map<uint64_t, double> pos_;
  double total_ = 1;
};

// Tick labels: seconds with at most 6 decimals, trailing zeros dropped ("1.081043", "121").
std::string tick_text(uint64_t ns) {
  char b[40];
  std::snprintf(b, sizeof b, "%.6f", static_cast<double>(ns) / 1e9);
  std::string s = b;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string truncated(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 1) + "~";
}

std::string lane_name(const verify::TimelineThread& th) {
  return th.name + ":" + std::to_string(th.pid);
}

std::string span_title(const verify::TimelineThread& th, const verify::TimelineSpan& s) {
  const char* verb = s.kind == "blocked" ? " blocked in "
                     : s.kind == "held"  ? " held "
                     : s.kind == "run"   ? " ran "
                                         : " idle in ";
  return lane_name(th) + verb + s.what + ", " + seconds_text(s.start_ns) + " s to " + seconds_text(s.end_ns) + " s" +
         (s.open ? " (still so when the run ended)" : "");
}

std::string rect(double x0, double x1, double y, double h, const std::string& cls, const std::string& title) {
  const double w = std::max(x1 - x0, 2.0);
  return "<rect class=\"" + cls + "\" x=\"" + num(x0) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" +
         num(h) + "\"><title>" + html_escape(title) + "</title></rect>\n";
}

std::string ticks(const TimeAxis& ax, double bottom) {
  std::string s;
  double last = -1e9;
  const auto& times = ax.times();
  for (auto it = times.begin(); it != times.end(); ++it) {
    const double x = ax.x(it->first);
    const bool at_end = std::next(it) == times.end();
    if (x - last < 80 && !(at_end && x - last > 50)) continue;
    last = x;
    s += "<line class=\"grid\" x1=\"" + num(x) + "\" y1=\"" + num(kTop - 6) + "\" x2=\"" + num(x) + "\" y2=\"" +
         num(bottom) + "\"/>\n<text class=\"tick\" x=\"" + num(x) + "\" y=\"" + num(bottom + 14) + "\"" +
         (at_end ? " text-anchor=\"end\"" : "") + ">" + html_escape(tick_text(it->first)) + " s</text>\n";
  }
  return s;
}

// Steps that start at the same time share one mark, numbered "4-6".
std::string marks(const verify::ThreadTimeline& t, const TimeAxis& ax, double bottom) {
  std::string s;
  int step = 0;
  for (size_t i = 0; i < t.marks.size(); i++) {
    const verify::TimelineMark& m = t.marks[i];
    const double x = ax.x(m.t_ns);
    std::string text = seconds_text(m.t_ns) + " s: " + m.label;
    const int first = step + 1;
    if (m.kind == "step") {
      step++;
      while (i + 1 < t.marks.size() && t.marks[i + 1].kind == "step" && t.marks[i + 1].t_ns == m.t_ns) {
        text += "\n" + t.marks[++i].label;
        step++;
      }
    }
    const std::string title = "<title>" + html_escape(text) + "</title>";
    if (m.kind == "finding") {
      s += "<g class=\"finding\"><line x1=\"" + num(x) + "\" y1=\"" + num(kTop - 22) + "\" x2=\"" + num(x) +
           "\" y2=\"" + num(bottom) + "\"/><circle cx=\"" + num(x) + "\" cy=\"" + num(kTop - 26) + "\" r=\"6\"/>" +
           title + "</g>\n";
    } else {
      s += "<g class=\"step\"><path d=\"M" + num(x - 5) + " " + num(kTop - 20) + " L" + num(x + 5) + " " +
           num(kTop - 20) + " L" + num(x) + " " + num(kTop - 10) + " Z\"/><text x=\"" + num(x) + "\" y=\"" +
           num(kTop - 24) + "\">" + std::to_string(first);
      if (step > first) {
        s += '-';
        s += std::to_string(step);
      }
      s += "</text>" + title + "</g>\n";
    }
  }
  return s;
}

std::string lane(const verify::TimelineThread& th, const TimeAxis& ax, double y) {
  std::string s = "<g class=\"lane\" data-pid=\"" + std::to_string(th.pid) + "\">\n";
  const std::string who = lane_name(th) + (th.step.empty() ? "" : " $ " + th.step);
  s += "<text class=\"name\" x=\"6\" y=\"" + num(y + 15) + "\">" + html_escape(truncated(who, 38)) + "<title>" +
       html_escape(who) + "</title></text>\n";
  s += rect(ax.x(th.start_ns), ax.x(th.end_ns), y + 11, 3, "life",
            lane_name(th) + " from " + seconds_text(th.start_ns) + " s" +
                (th.exited ? " until it exited at " + seconds_text(th.end_ns) + " s" : ", still there at the end"));
  for (const auto& sp : th.spans) {
    const double x0 = ax.x(sp.start_ns), x1 = ax.x(sp.end_ns);
    const std::string cls = sp.kind + (sp.open ? " open" : "");
    if (sp.kind == "held") {
      s += rect(x0, x1, y + 18, 5, cls, span_title(th, sp));
      continue;
    }
    s += rect(x0, x1, y + 4, 12, cls, span_title(th, sp));
    // Long waits carry their object in the bar, so the picture reads without hovering.
    if (sp.kind == "blocked" && x1 - x0 > 80)
      s += "<text class=\"inbar\" x=\"" + num(x0 + 4) + "\" y=\"" + num(y + 14) + "\">" +
           html_escape(truncated(sp.what, static_cast<size_t>((x1 - x0 - 8) / 6.2))) + "</text>\n";
  }
  return s + "</g>\n";
}

const char* kStyle =
    "<style>.grid{stroke:#e4e4e4}.tick{font-size:10px;text-anchor:middle;fill:#555}"
    ".name{font-size:11px;fill:#222}.life{fill:#c8c8c8}.run{fill:#4c9a4c}.blocked{fill:#c9302c}"
    ".idle{fill:#efefef;stroke:#bbb;stroke-width:.5}.held{fill:#2f6db5;fill-opacity:.7}"
    ".open{stroke:#000;stroke-width:1}.inbar{font-size:10px;fill:#fff;pointer-events:none}"
    ".finding line{stroke:#c9302c;stroke-dasharray:4 3}.finding circle{fill:#c9302c}"
    ".step path{fill:#777}.step text{font-size:9px;text-anchor:middle;fill:#555}</style>\n";

}  // namespace

std::string seconds_text(uint64_t ns) {
  char b[40];
  std::snprintf(b, sizeof b, "%llu.%09llu", static_cast<unsigned long long>(ns / 1000000000ULL),
                static_cast<unsigned long long>(ns % 1000000000ULL));
  return b;
}

std::string svg_timeline(const verify::ThreadTimeline& t) {
  if (t.empty()) return "";
  const TimeAxis ax(t);
  const double bottom = kTop + kLane * static_cast<double>(t.threads.size()) + 4;
  const double height = bottom + kBottom;
  std::string s = "<svg id=\"timeline-svg\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 " +
                  num(kWidth) + " " + num(height) + "\" width=\"" + num(kWidth) + "\" height=\"" + num(height) +
                  "\" font-family=\"sans-serif\">\n<title>Threads over simulated time (" + html_escape(t.phase) +
                  ")</title>\n" + kStyle + ticks(ax, bottom);
  for (size_t i = 0; i < t.threads.size(); i++) s += lane(t.threads[i], ax, kTop + kLane * static_cast<double>(i));
  s += marks(t, ax, bottom);
  return s + "</svg>\n";
}

}  // namespace reports
