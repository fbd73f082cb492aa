#include "reports/html_report.hpp"

#include <set>

#include "reports/html_escape.hpp"
#include "reports/svg_timeline.hpp"
#include "reports/wait_for_graph.hpp"

namespace reports {

namespace {

using verify::Exploration;
using verify::UnitResult;

const char* kStyle = R"(<style>
body{font-family:sans-serif;margin:0 auto;max-width:1260px;padding:0 16px 40px;color:#222;line-height:1.4}
h1{font-size:22px;margin:18px 0 6px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:28px}
h3{font-size:14px;margin:14px 0 4px}pre{background:#f6f6f6;border:1px solid #e2e2e2;padding:8px;overflow:auto;
font-size:12px;white-space:pre-wrap;word-break:break-word}code{font-size:12px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.verdict{font-size:15px;font-weight:bold;padding:8px;border-radius:4px}
.fail{background:#fbe3e3;color:#8a1f1b}.pass{background:#e3f4e3;color:#1d5e1d}.note{color:#666;font-size:13px}
.figure{overflow:auto;border:1px solid #e2e2e2;padding:4px}#wait-for-svg{max-width:100%;height:auto}nav a{margin-right:12px;font-size:13px}
.persisted{color:#1d5e1d}.lost{color:#8a1f1b;font-weight:bold}.torn{color:#8a5a00;font-weight:bold}
.legend span{display:inline-block;margin-right:14px;font-size:12px}.legend i{display:inline-block;width:18px;
height:10px;margin-right:4px;vertical-align:middle}
</style>
)";

std::string head(const std::string& title) {
  // The policy forbids every fetch and every script: a report can be opened from anywhere.
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         html_escape(title) + "</title>\n" + kStyle + "</head>\n<body>\n";
}

std::string pre(const std::string& id, const std::string& text) {
  return "<pre" + (id.empty() ? std::string() : " id=\"" + id + "\"") + ">" + html_escape(text) + "</pre>\n";
}

std::string row(const std::string& name, const std::string& value_html) {
  return "<tr><th>" + html_escape(name) + "</th><td>" + value_html + "</td></tr>\n";
}

std::string joined(const std::vector<std::string>& v, const std::string& none) {
  std::string s;
  for (const auto& k : v) s += (s.empty() ? "" : ", ") + k;
  return s.empty() ? none : s;
}

bool passed_style(const UnitResult& u) {
  return u.passed;
}

std::string search_text(const UnitResult& u) {
  if (!u.crash_points) return std::to_string(u.explorations) + " exploration(s)";
  std::string s =
      std::to_string(u.crash_points) + " crash point(s), " + std::to_string(u.recoveries) + " crash state(s) recovered";
  if (u.z3.models || u.z3.ruled_out || u.z3.truncated)
    s += "; Z3: " + std::to_string(u.z3.models) + " model(s) (" + std::to_string(u.z3.unconfirmed) +
         " unconfirmed), every other state ruled out at " + std::to_string(u.z3.ruled_out) +
         " point(s), search truncated at " + std::to_string(u.z3.truncated);
  return s;
}

std::string summary_section(const UnitResult& u, const Exploration& e, const HtmlContext& ctx) {
  const scenarios::Scenario* s = ctx.scenario;
  std::string h = "<section id=\"summary\">\n<p id=\"verdict\" class=\"verdict " +
                  std::string(passed_style(u) ? "pass" : "fail") + "\">" + html_escape(u.verdict) + "</p>\n";
  h += "<p>Failure signature: <code id=\"signature\">" + html_escape(failure_signature(e)) + "</code></p>\n<table>\n";
  h += row("scenario", html_escape(u.scenario));
  h += row("file", "<code>" + html_escape(u.file) + "</code>");
  if (s && !s->about.empty()) h += row("about", html_escape(s->about));
  if (s && !s->source.empty()) h += row("source", html_escape(s->source));
  h += row("seed", std::to_string(e.seed));
  h += row("knobs on", html_escape(joined(e.knobs, "none (fixed behaviour)")));
  if (!u.catalog.empty()) h += row("catalog detection", html_escape(u.catalog));
  h += row("search", html_escape(search_text(u)));
  for (const auto& n : u.notes) h += row("note", html_escape(n));
  return h + "</table>\n</section>\n";
}

std::string scenario_section(const UnitResult& u, const Exploration& e, const HtmlContext& ctx) {
  std::string h = "<section id=\"scenario\">\n<h2>Scenario and replay</h2>\n<p>Replay exactly:</p>\n" +
                  pre("replay-command", verify::replay_command(u, e));
  h += "<h3>" + html_escape(u.file) + "</h3>\n";
  h += ctx.scenario_text.empty() ? "<p class=\"note\">The scenario file could not be read.</p>\n"
                                 : pre("scenario-yaml", ctx.scenario_text);
  return h + "</section>\n";
}

std::string legend() {
  return "<p class=\"legend\"><span><i style=\"background:#4c9a4c\"></i>running a work item</span>"
         "<span><i style=\"background:#c9302c\"></i>blocked</span><span><i style=\"background:#efefef;"
         "border:1px solid #bbb\"></i>idle (waiting for work, sleeping)</span><span><i style=\"background:#2f6db5\">"
         "</i>holding a lock</span><span><i style=\"border:1px solid #000\"></i>still so at the end</span>"
         "<span>&#9660; step started</span><span style=\"color:#c9302c\">&#9679; finding</span></p>\n";
}

// What every thread still waited for or held when the run ended: the deadlock in words.
std::string open_table(const verify::ThreadTimeline& t) {
  std::string rows;
  for (const auto& th : t.threads)
    for (const auto& sp : th.spans)
      if (sp.open && sp.kind != "idle")
        rows += "<tr><td>" + html_escape(th.name + ":" + std::to_string(th.pid)) + "</td><td>" +
                (sp.kind == "held"  ? "holds"
                 : sp.kind == "run" ? "runs"
                                    : "blocked in") +
                "</td><td><code>" + html_escape(sp.what) + "</code></td><td>" + seconds_text(sp.start_ns) +
                " s</td></tr>\n";
  if (rows.empty()) return "";
  return "<h3>When the run ended</h3>\n<table id=\"open-at-end\">\n<tr><th>thread</th><th></th><th>what</th>"
         "<th>since</th></tr>\n" +
         rows + "</table>\n";
}

std::string timeline_section(const Exploration& e) {
  const verify::ThreadTimeline& t = e.timeline;
  std::string h = "<section id=\"timeline\">\n<h2>Timeline of threads</h2>\n";
  if (t.empty())
    return h + "<p class=\"note\">No thread timeline was recorded for this failure (a run keeps one for its first " +
           std::to_string(verify::kTimelineFailures) + " failures).</p>\n</section>\n";
  h += "<p class=\"note\">Simulated time of the " +
       std::string(t.phase == "recovery" ? "recovery after the power cut" : "steps") + ", " +
       std::to_string(t.threads.size()) + " thread(s), from " + std::to_string(t.events) +
       " trace events. The axis is compressed: long quiet stretches are drawn shorter, ticks give true times. "
       "Hover a bar for what it is.";
  if (t.instant)
    h += " " + std::to_string(t.instant) + " zero-length interval(s) (a lock taken and dropped at once) are not drawn.";
  if (t.dropped_threads || t.dropped_spans || t.dropped_marks)
    h += " Left out over the size caps: " + std::to_string(t.dropped_threads) + " thread(s), " +
         std::to_string(t.dropped_spans) + " interval(s), " + std::to_string(t.dropped_marks) + " mark(s).";
  h += "</p>\n" + legend() + "<div class=\"figure\">\n" + svg_timeline(t) + "</div>\n" + open_table(t);
  std::string marks;
  for (const auto& m : t.marks)
    marks += "<li>" + seconds_text(m.t_ns) + " s " + (m.kind == "finding" ? "<b>finding</b> " : "") +
             html_escape(m.label) + "</li>\n";
  if (!marks.empty()) h += "<h3>Steps and findings</h3>\n<ul id=\"timeline-marks\">\n" + marks + "</ul>\n";
  return h + "</section>\n";
}

std::string wait_for_section(const Exploration& e, const HtmlContext& ctx) {
  std::string h = "<section id=\"wait-for\">\n<h2>Wait-for graph</h2>\n";
  std::set<std::string> seen;
  for (const auto& v : e.violations) {
    const std::string dot = dot_in_detail(v.detail);
    if (dot.empty() || !seen.insert(dot).second) continue;
    h += "<h3>" + html_escape(v.kind + ": " + v.title) + "</h3>\n";
    const RenderedGraph g = ctx.render_graphs ? render_wait_for_graph(dot) : RenderedGraph{"", "rendering is off"};
    if (!g.svg.empty() && seen.size() == 1) {
      h += "<div class=\"figure\" id=\"wait-for-graph\">\n" + g.svg + "</div>\n";
    } else {
      h += "<p class=\"note\">Not drawn: " + html_escape(g.svg.empty() ? g.why : "only the first graph is drawn") +
           ". The dot text:</p>\n" + pre(seen.size() == 1 ? "wait-for-dot" : "", dot);
    }
  }
  if (seen.empty()) h += "<p class=\"note\">No violation of this exploration carries a wait-for graph.</p>\n";
  return h + "</section>\n";
}

// "disk 0: io #12 (WRITE|FUA 0+8, acknowledged): persisted" as a table row, or empty when the
// line is not in that form.
std::string lost_write_row(const std::string& line, const scenarios::Scenario* s) {
  const size_t colon = line.find(": io #");
  const size_t paren = line.find(" (", colon == std::string::npos ? 0 : colon);
  const size_t close = line.rfind("): ");
  if (line.rfind("disk ", 0) != 0 || colon == std::string::npos || paren == std::string::npos ||
      close == std::string::npos || close < paren)
    return "";
  const std::string disk_no = line.substr(5, colon - 5);
  std::string disk = "disk " + disk_no;
  if (s && !disk_no.empty() && disk_no.size() < 6 && disk_no.find_first_not_of("0123456789") == std::string::npos &&
      std::stoul(disk_no) < s->disks.size())
    disk = s->disks[std::stoul(disk_no)].name;
  const std::string request = line.substr(paren + 2, close - paren - 2);
  const std::string outcome = line.substr(close + 3);
  const std::string cls = outcome == "persisted" ? "persisted" : outcome == "lost" ? "lost" : "torn";
  return "<tr class=\"" + cls + "\"><td>" + html_escape(disk) + "</td><td>" +
         html_escape(line.substr(colon + 2, paren - colon - 2)) + "</td><td><code>" + html_escape(request) +
         "</code></td><td>" + html_escape(outcome) + "</td></tr>\n";
}

std::string crash_section(const Exploration& e, const HtmlContext& ctx) {
  std::string h = "<section id=\"crash-state\">\n<h2>Crash state</h2>\n";
  if (e.crash_point < 0)
    return h + "<p>No power cut: this failure happened in the steps, before any crash.</p>\n</section>\n";
  h += "<table>\n" + row("crash point", std::to_string(e.crash_point) + " (" + html_escape(e.crash_label) + ")") +
       row("power cut at", seconds_text(e.crash_ns) + " s") + row("crash state", html_escape(e.crash_state)) +
       row("choice", "<code>" + html_escape(e.choice_hex) + "</code> (one bit per block that may persist)") +
       "</table>\n";
  std::string rows, other;
  size_t counts[3] = {0, 0, 0};
  size_t start = 0;
  while (start < e.lost_writes.size()) {
    size_t nl = e.lost_writes.find('\n', start);
    if (nl == std::string::npos) nl = e.lost_writes.size();
    const std::string line = e.lost_writes.substr(start, nl - start);
    start = nl + 1;
    const std::string r = lost_write_row(line, ctx.scenario);
    if (r.empty()) {
      other += line + "\n";
      continue;
    }
    counts[r.find("\"persisted\"") != std::string::npos ? 0 : r.find("\"lost\"") != std::string::npos ? 1 : 2]++;
    rows += r;
  }
  if (!rows.empty())
    h += "<p>Writes still in the volatile caches at the power cut: " + std::to_string(counts[0]) + " persisted, " +
         std::to_string(counts[1]) + " lost, " + std::to_string(counts[2]) +
         " torn.</p>\n<table id=\"crash-writes\">\n<tr><th>disk</th><th>io</th><th>request</th><th>in this "
         "state</th></tr>\n" +
         rows + "</table>\n";
  if (!other.empty()) h += pre("", other);
  return h + "</section>\n";
}

std::string violations_section(const Exploration& e) {
  std::string h = "<section id=\"violations\">\n<h2>Violations</h2>\n";
  for (size_t i = 0; i < e.violations.size(); i++) {
    const verify::Violation& v = e.violations[i];
    h += "<h3 id=\"violation-" + std::to_string(i + 1) + "\">" + html_escape(v.kind + ": " + v.title) + "</h3>\n";
    if (!v.detail.empty() && v.detail != v.title) h += pre("", v.detail);
  }
  return h + "</section>\n";
}

std::string transcript_section(const Exploration& e) {
  return "<section id=\"kernel-log\">\n<h2>Transcript and kernel messages</h2>\n<p class=\"note\">The steps as a "
         "shell ran them, with their output; the detectors' kernel-style reports are under Violations.</p>\n" +
         pre("transcript", e.transcript) + "</section>\n";
}

std::string link(const std::string& target, const std::string& text) {
  return "<a href=\"" + href_path(target) + "\">" + html_escape(text) + "</a>";
}

std::string images_section(const UnitResult& u, const Exploration& e, const HtmlContext& ctx) {
  std::string h = "<section id=\"images\">\n<h2>Disk images</h2>\n";
  if (e.images.empty() && u.images.empty())
    return h + "<p class=\"note\">None saved (run with <code>--save-images DIR</code>).</p>\n</section>\n";
  h += "<ul>\n";
  if (!e.images.empty()) {
    const std::string dir = relative_path(e.images, ctx.report_dir);
    h += "<li>" + link(dir + "/", e.images + "/") +
         ": each disk as the recovery found it (<code>&lt;disk&gt;.bin</code>)";
    h += ", and as it left it: " + link(dir + "/recovered/", "recovered/") + "</li>\n";
  }
  if (!u.images.empty())
    h += "<li>" + link(relative_path(u.images, ctx.report_dir) + "/steps/", u.images + "/steps/") +
         ": the disks at the end of the steps" + (e.crash_point >= 0 ? " before the power cut" : "") + "</li>\n";
  return h + "</ul>\n</section>\n";
}

}  // namespace

std::string failure_signature(const Exploration& e) {
  return e.violations.empty() ? "" : e.violations[0].kind + ": " + e.violations[0].title;
}

std::string html_report(const UnitResult& u, const Exploration& e, const HtmlContext& ctx) {
  std::string h = head("dmsim report: " + u.scenario);
  h += "<h1>dmsim report: " + html_escape(u.scenario) + "</h1>\n";
  h += "<nav><a href=\"#scenario\">scenario</a><a href=\"#timeline\">timeline</a><a href=\"#wait-for\">wait-for "
       "graph</a><a href=\"#crash-state\">crash state</a><a href=\"#violations\">violations</a><a "
       "href=\"#kernel-log\">transcript</a><a href=\"#images\">images</a></nav>\n";
  h += summary_section(u, e, ctx) + scenario_section(u, e, ctx) + timeline_section(e) + wait_for_section(e, ctx) +
       crash_section(e, ctx) + violations_section(e) + transcript_section(e) + images_section(u, e, ctx);
  return h + "</body>\n</html>\n";
}

std::string index_html(const std::vector<UnitResult>& units, const std::vector<std::vector<std::string>>& links) {
  size_t failed = 0;
  for (const auto& u : units) failed += !u.passed;
  std::string h = head("dmsim check: " + std::to_string(units.size()) + " unit(s)");
  h += "<h1>dmsim check</h1>\n<p id=\"totals\" class=\"verdict " + std::string(failed ? "fail" : "pass") + "\">" +
       std::to_string(units.size()) + " unit(s), " + std::to_string(failed) + " failed</p>\n";
  h += "<table id=\"units\">\n<tr><th>file</th><th>scenario</th><th>seed</th><th>knobs</th><th>verdict</th>"
       "<th>signature</th><th>reports</th></tr>\n";
  for (size_t i = 0; i < units.size(); i++) {
    const UnitResult& u = units[i];
    std::string reps;
    for (size_t k = 0; i < links.size() && k < links[i].size(); k++)
      reps += std::string(k ? " " : "") + link(links[i][k], "report " + std::to_string(k + 1));
    h += "<tr class=\"" + std::string(u.passed ? "pass" : "fail") + "\"><td><code>" + html_escape(u.file) +
         "</code></td><td>" + html_escape(u.scenario) + "</td><td>" + std::to_string(u.seed) + "</td><td>" +
         html_escape(joined(u.knobs, "")) + "</td><td>" + html_escape(u.verdict) + "</td><td><code>" +
         html_escape(u.failures.empty() ? "" : failure_signature(u.failures[0])) + "</code></td><td>" + reps +
         "</td></tr>\n";
  }
  return h + "</table>\n</body>\n</html>\n";
}

}  // namespace reports
