#include "reports/report_writer.hpp"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "reports/html_report.hpp"

namespace reports {

namespace fs = std::filesystem;

namespace {
std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
          o += ' ';
        else
          o += c;
    }
  }
  return o;
}

std::string slug(const std::string& s) {
  std::string o;
  for (char c : s) o += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return o;
}

std::string fence(const std::string& s) {
  return "```\n" + s + (s.empty() || s.back() == '\n' ? "" : "\n") + "```\n";
}
}  // namespace

std::string markdown_report(const verify::UnitResult& u, const verify::Exploration& e, const scenarios::Scenario* s) {
  std::string m = "# dmsim report: " + u.scenario + "\n\n";
  m += "**Verdict:** " + u.verdict + "\n\n";
  m += "- scenario file: `" + u.file + "`\n";
  if (s && !s->about.empty()) {
    std::string about = s->about;
    while (!about.empty() && about.back() == '\n') about.pop_back();
    m += "- about: " + about + "\n";
  }
  if (s && !s->source.empty()) m += "- source: " + s->source + "\n";
  m += "- seed: " + std::to_string(e.seed) + "\n";
  std::string knobs;
  for (const auto& k : e.knobs) knobs += (knobs.empty() ? "" : ", ") + k;
  m += "- knobs on: " + (knobs.empty() ? std::string("none (fixed behaviour)") : knobs) + "\n";
  m += "- replay exactly: `" + verify::replay_command(u, e) + "`\n";
  if (u.crash_points)
    m += "- search: " + std::to_string(u.crash_points) + " crash point(s), " + std::to_string(u.recoveries) +
         " crash state(s) recovered" +
         (u.z3.models || u.z3.ruled_out || u.z3.truncated
              ? "; Z3: " + std::to_string(u.z3.models) + " model(s) recovered (" + std::to_string(u.z3.unconfirmed) +
                    " unconfirmed), every other state ruled out at " + std::to_string(u.z3.ruled_out) +
                    " point(s), search truncated at " + std::to_string(u.z3.truncated)
              : std::string()) +
         "\n";
  for (const auto& n : u.notes) m += "- note: " + n + "\n";
  if (!e.images.empty())
    m += "- images: [`" + e.images + "/`](" + e.images + "/) (each disk as the recovery found it, `<disk>.bin`, " +
         "and as it left it, `recovered/<disk>.bin`)\n";
  if (!u.images.empty())
    m += "- images at the end of the steps" + std::string(e.crash_point >= 0 ? " before the power cut" : "") + ": [`" +
         u.images + "/steps/`](" + u.images + "/steps/)\n";
  m += "\n";
  if (e.crash_point >= 0) {
    m += "## Crash\n\nPower cut at " + std::to_string(e.crash_ns / 1000) + " us (" + e.crash_label +
         "), crash state `" + e.crash_state + "` (choice `" + e.choice_hex +
         "`). Writes that could be lost at that point:\n\n" + fence(e.lost_writes) + "\n";
  }
  m += "## Violations\n\n";
  for (const auto& v : e.violations) {
    m += "### " + v.kind + ": " + v.title + "\n\n";
    if (!v.detail.empty() && v.detail != v.title) m += fence(v.detail) + "\n";
  }
  if (s) {
    m += "## Scenario steps\n\n";
    std::string steps;
    for (const auto& st : s->steps) steps += st.cmd.text + "\n";
    m += fence(steps) + "\n";
  }
  m += "## Transcript\n\n" + fence(e.transcript);
  return m;
}

std::string unit_report_folder(const verify::UnitResult& u, size_t k) {
  return slug(u.scenario) + "-seed" + std::to_string(u.seed) + "-" + std::to_string(k);
}

std::vector<std::string> write_unit_reports(const std::string& dir, const verify::UnitResult& u,
                                            const scenarios::Scenario* s) {
  std::vector<std::string> paths;
  HtmlContext ctx;
  ctx.scenario = s;
  if (!u.failures.empty()) {
    std::ifstream in(s ? s->file : u.file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    ctx.scenario_text = text.str();
  }
  for (size_t i = 0; i < u.failures.size(); i++) {
    const fs::path d = fs::path(dir) / unit_report_folder(u, i + 1);
    fs::create_directories(d);
    const fs::path p = d / "report.md";
    std::ofstream(p) << markdown_report(u, u.failures[i], s);
    ctx.report_dir = d.string();
    std::ofstream(d / "report.html", std::ios::binary) << html_report(u, u.failures[i], ctx);
    paths.push_back(p.string());
  }
  return paths;
}

std::string write_index_html(const std::string& dir, const std::vector<verify::UnitResult>& units) {
  std::vector<std::vector<std::string>> links(units.size());
  for (size_t i = 0; i < units.size(); i++)
    for (size_t k = 0; k < units[i].failures.size(); k++)
      links[i].push_back(unit_report_folder(units[i], k + 1) + "/report.html");
  fs::create_directories(dir);
  const fs::path p = fs::path(dir) / "index.html";
  std::ofstream(p, std::ios::binary) << index_html(units, links);
  return p.string();
}

std::string junit_xml(const std::vector<verify::UnitResult>& units, double seconds) {
  size_t failures = 0, errors = 0;
  for (const auto& u : units) {
    errors += u.harness_timeout;
    failures += !u.passed && !u.harness_timeout;
  }
  char t[32];
  std::snprintf(t, sizeof t, "%.3f", seconds);
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"dmsim\" tests=\"" +
                  std::to_string(units.size()) + "\" failures=\"" + std::to_string(failures) + "\" errors=\"" +
                  std::to_string(errors) + "\" time=\"" + t + "\">\n  <testsuite name=\"dmsim check\" tests=\"" +
                  std::to_string(units.size()) + "\" failures=\"" + std::to_string(failures) + "\" errors=\"" +
                  std::to_string(errors) + "\" skipped=\"0\" time=\"" + t + "\">\n";
  for (const auto& u : units) {
    x += "    <testcase classname=\"" + xml_escape(u.file) + "\" name=\"" + xml_escape(u.scenario) + " seed " +
         std::to_string(u.seed) + "\" time=\"0\">\n";
    if (u.harness_timeout) {
      // Not a verdict about the engine: the harness could not finish the run in time.
      x += "      <error message=\"" + xml_escape(u.verdict) + "\" type=\"harness-timeout\"></error>\n";
    } else if (!u.passed) {
      std::string body;
      for (const auto& e : u.failures) {
        body += "replay: " + verify::replay_command(u, e) + "\n";
        for (const auto& v : e.violations) body += "[" + v.kind + "] " + v.title + "\n";
      }
      x += "      <failure message=\"" + xml_escape(u.verdict) + "\" type=\"violation\">" + xml_escape(body) +
           "</failure>\n";
    }
    x += "    </testcase>\n";
  }
  return x + "  </testsuite>\n</testsuites>\n";
}

}  // namespace reports
