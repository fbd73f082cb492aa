// The HTML report writer on its own: escaping, determinism, the sections a page has, the
// wait-for graph's dot handling, and the thread timeline it draws.
#include "reports/html_report.hpp"

#include <catch2/catch.hpp>

#include "reports/html_escape.hpp"
#include "reports/svg_timeline.hpp"
#include "reports/wait_for_graph.hpp"
#include "verify/results.hpp"
#include "verify/thread_timeline.hpp"

using namespace reports;

namespace {

const char* kHostile = "</pre><script>alert(1)</script><img src=x onerror=alert(2)>\"'&\x01";

// A failure whose every text field carries markup, as a scenario file could.
verify::UnitResult hostile_unit() {
  verify::UnitResult u;
  u.file = "scenarios/<b>x</b>.yaml";
  u.scenario = "<script>name</script>";
  u.seed = 7;
  u.passed = false;
  u.verdict = std::string("FAIL: deadlock: ") + kHostile;
  verify::Exploration e;
  e.seed = 7;
  e.knobs = {"era.<i>knob</i>"};
  e.crash_point = 2;
  e.crash_ns = 1500000000;
  e.crash_label = kHostile;
  e.crash_state = "random 3";
  e.choice_hex = "a1";
  e.lost_writes = "disk 0: io #12 (WRITE 0+8, acknowledged): persisted\ndisk 0: io #13 (WRITE 8+8, in flight): lost\n" +
                  std::string(kHostile) + "\n";
  e.violations = {{"deadlock", kHostile, std::string("detail ") + kHostile}};
  e.transcript = std::string("$ dmsetup status\n") + kHostile + "\n";
  e.images = "img/<dir>";
  e.timeline = verify::thread_timeline(
      {"[    0.000000000] 1 sh: spawn <t> <t>:2", "[    0.000000000] 2 <t> f: mutex_lock <lock>",
       "[    1.000000000] 2 <t> f: block <obj> wait_for_completion"},
      2000000000, "recovery");
  u.failures.push_back(e);
  return u;
}

HtmlContext context(const std::string& scenario_text) {
  HtmlContext ctx;
  ctx.scenario_text = scenario_text;
  ctx.report_dir = "reports/unit-1";
  ctx.render_graphs = false;
  return ctx;
}

const char* kDot =
    "digraph waitfor {\n  rankdir=LR;\n  n0 [label=\"dmsetup:10\", shape=box];\n  n1 [label=\"mutex m\", "
    "shape=ellipse];\n  n0 -> n1 [label=\"mutex_lock\"];\n  n1 -> n0 [label=\"owner\"];\n}\n";

}  // namespace

TEST_CASE("html_escape turns every markup character into an entity and control bytes into U+FFFD", "[reports]") {
  REQUIRE(html_escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  REQUIRE(html_escape(std::string("a\x01\x7f"
                                  "b\n\tc")) == "a&#xFFFD;&#xFFFD;b\n\tc");
  REQUIRE(html_escape("plain text: 1.5 s") == "plain text: 1.5 s");
}

TEST_CASE("href_path percent-encodes everything that could start a scheme or end an attribute", "[reports]") {
  REQUIRE(href_path("javascript:alert(1)") == "javascript%3Aalert%281%29");
  REQUIRE(href_path("a b/\"c\"/seed-1+era.x") == "a%20b/%22c%22/seed-1%2Bera.x");
  REQUIRE(relative_path("out/images/s/seed-0", "out/reports/s-seed0-1") == "../../images/s/seed-0");
}

TEST_CASE("no text of a scenario or a result becomes markup in a unit report", "[reports]") {
  const verify::UnitResult u = hostile_unit();
  const std::string html = html_report(u, u.failures[0], context(std::string("name: x\nabout: ") + kHostile));
  REQUIRE(html.find("<script") == std::string::npos);
  REQUIRE(html.find("<img") == std::string::npos);
  REQUIRE(html.find("&lt;img src=x onerror=alert(2)&gt;") != std::string::npos);
  REQUIRE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  REQUIRE(html.find('\x01') == std::string::npos);
  // Every <pre> the page opens is closed by the page, not by the text inside it.
  size_t opened = 0, closed = 0;
  for (size_t p = html.find("<pre"); p != std::string::npos; p = html.find("<pre", p + 1)) opened++;
  for (size_t p = html.find("</pre>"); p != std::string::npos; p = html.find("</pre>", p + 1)) closed++;
  REQUIRE(opened == closed);
  // Links to images are relative paths with no scheme.
  REQUIRE(html.find("href=\"../../img/%3Cdir%3E/\"") != std::string::npos);
}

TEST_CASE("the index escapes units and links each report", "[reports]") {
  const verify::UnitResult u = hostile_unit();
  const std::string html = index_html({u}, {{"x-seed7-1/report.html"}});
  REQUIRE(html.find("<script") == std::string::npos);
  REQUIRE(html.find("id=\"units\"") != std::string::npos);
  REQUIRE(html.find("<a href=\"x-seed7-1/report.html\">report 1</a>") != std::string::npos);
  REQUIRE(html.find("1 unit(s), 1 failed") != std::string::npos);
}

TEST_CASE("a unit report has every section by id and the same input gives the same bytes", "[reports]") {
  const verify::UnitResult u = hostile_unit();
  const std::string a = html_report(u, u.failures[0], context("name: x\n"));
  const std::string b = html_report(u, u.failures[0], context("name: x\n"));
  REQUIRE(a == b);
  for (const char* id :
       {"verdict", "signature", "scenario", "replay-command", "scenario-yaml", "timeline", "timeline-svg", "wait-for",
        "crash-state", "crash-writes", "violations", "kernel-log", "transcript", "images"})
    REQUIRE(a.find(std::string("id=\"") + id + "\"") != std::string::npos);
  // The policy forbids loading anything and running any script.
  REQUIRE(a.find("default-src 'none'") != std::string::npos);
  // The crash state's writes, sorted into persisted and lost.
  REQUIRE(a.find("1 persisted, 1 lost, 0 torn") != std::string::npos);
}

TEST_CASE("the only URL in a page is the SVG namespace: nothing is fetched", "[reports]") {
  const verify::UnitResult u = hostile_unit();
  std::string html = html_report(u, u.failures[0], context("name: x\n"));
  const std::string ns = "http://www.w3.org/2000/svg";
  for (size_t p = html.find(ns); p != std::string::npos; p = html.find(ns)) html.erase(p, ns.size());
  REQUIRE(html.find("http:") == std::string::npos);
  REQUIRE(html.find("https:") == std::string::npos);
}

TEST_CASE("the wait-for graph is read from a finding's detail and requoted before dot sees it", "[reports]") {
  const std::string detail = std::string("deadlock: a -> b\n\nwait-for graph (dot):\n") + kDot;
  REQUIRE(dot_in_detail(detail) == kDot);
  REQUIRE(dot_in_detail("no graph here").empty());
  const std::string safe = requoted_dot(kDot);
  REQUIRE(safe.find("n0 [label=\"dmsetup:10\", shape=box];") != std::string::npos);
  REQUIRE(safe.find("n1 -> n0 [label=\"owner\"];") != std::string::npos);
  // A quote in a name cannot add dot attributes (a URL that dot would turn into a link).
  const std::string evil =
      requoted_dot("digraph waitfor {\n  n0 [label=\"x\", URL=\"javascript:alert(1)\", shape=box];\n}\n");
  REQUIRE(evil.find("label=\"x\\\", URL=\\\"javascript:alert(1)\", shape=box") != std::string::npos);
  REQUIRE(requoted_dot("digraph other {\n}\n").empty());
  REQUIRE(requoted_dot("digraph waitfor {\n  n0 -> evil [label=\"x\"];\n}\n").empty());
}

TEST_CASE("dot's SVG is inlined only when it is a drawing", "[reports]") {
  const std::string ok =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<!-- Generated by graphviz -->\n<svg width=\"10pt\"><g><title>n0"
      "</title><text>only on it</text></g></svg>\n";
  REQUIRE(inline_svg(ok) ==
          "<svg id=\"wait-for-svg\" width=\"10pt\"><g><title>n0</title><text>only on it</text></g></svg>\n");
  REQUIRE(inline_svg("<svg><script>alert(1)</script></svg>").empty());
  REQUIRE(inline_svg("<svg><a xlink:href=\"javascript:x\"><text>t</text></a></svg>").empty());
  REQUIRE(inline_svg("<svg onload=\"alert(1)\"></svg>").empty());
  REQUIRE(inline_svg("<svg><foreignObject><div/></foreignObject></svg>").empty());
  REQUIRE(inline_svg("not svg").empty());
}

TEST_CASE("dot draws the detector's wait-for graph as SVG", "[reports]") {
  const RenderedGraph g = render_wait_for_graph(kDot);
  INFO(g.why);
  REQUIRE(g.svg.rfind("<svg id=\"wait-for-svg\"", 0) == 0);
  REQUIRE(g.svg.find("dmsetup:10") != std::string::npos);
  REQUIRE(render_wait_for_graph(kDot).svg == g.svg);  // deterministic
}

TEST_CASE("the timeline reads who ran, waited and held what from trace lines", "[reports]") {
  const std::vector<std::string> trace = {
      "[    0.000000000] 1 sh sh: spawn dmsetup dmsetup:10",
      "[    0.000000000] 10 dmsetup: step dmsetup status eradev &",
      "[    0.000000000] 10 dmsetup table_status: srcu_read_lock md->io_barrier idx 0",
      "[    0.000000000] 10 dmsetup f: mutex_lock c->lock",
      "[    0.000000000] 10 dmsetup f: mutex_unlock c->lock",
      "[    0.000001000] 10 dmsetup perform_rpc: block rpc->complete wait_for_completion",
      "[    0.000001000] 1 sh sh: spawn kworker/u2:0 kworker/u2:0:11",
      "[    0.000002000] 11 kworker/u2:0 process_one_work: work_start era->worker seq 1",
      "[    0.000002000] 11 kworker/u2:0 f: down_read bufio io lock trylock",
      "[    0.000003000] 11 kworker/u2:0 f: up_read bufio io lock",
      "[    0.000004000] 11 kworker/u2:0 process_one_work: work_end era->worker seq 1",
      "[    0.000004000] 11 kworker/u2:0 worker_thread: block dm-era worker_thread",
      "[    2.000000000] - -: finding deadlock: deadlock: dmsetup:10 -> x",
      "not a trace line",
  };
  const verify::ThreadTimeline t = verify::thread_timeline(trace, 3000000000, "steps");
  REQUIRE(t.events == 13);
  REQUIRE(t.end_ns == 3000000000);
  REQUIRE(t.instant == 1);  // c->lock, taken and dropped at once
  REQUIRE(t.threads.size() == 3);
  const verify::TimelineThread& d = t.threads[1];
  REQUIRE(d.pid == 10);
  REQUIRE(d.name == "dmsetup");
  REQUIRE(d.step == "dmsetup status eradev &");
  REQUIRE(d.spans ==
          std::vector<verify::TimelineSpan>{{"held", "srcu read md->io_barrier", 0, 3000000000, true},
                                            {"blocked", "wait_for_completion rpc->complete", 1000, 3000000000, true}});
  const verify::TimelineThread& k = t.threads[2];
  REQUIRE(k.name == "kworker/u2:0");
  REQUIRE(k.spans == std::vector<verify::TimelineSpan>{{"run", "work era->worker", 2000, 4000, false},
                                                       {"held", "rwsem (read) bufio io lock", 2000, 3000, false},
                                                       {"idle", "worker_thread dm-era", 4000, 3000000000, true}});
  REQUIRE(t.marks.size() == 2);
  REQUIRE(t.marks[1].kind == "finding");
  REQUIRE(t.marks[1].t_ns == 2000000000);
}

TEST_CASE("the timeline stays within its caps and says how much it left out", "[reports]") {
  std::vector<std::string> trace;
  for (int i = 0; i < 50; i++) {
    const std::string pid = std::to_string(i + 2);
    trace.push_back("[    0.000000000] 1 sh: spawn w w:" + pid);
    trace.push_back("[    0.00000" + std::to_string(i % 10) + "000] " + pid + " w f: mutex_lock m" + pid);
    trace.push_back("[    0.000020000] " + pid + " w f: mutex_unlock m" + pid);
  }
  verify::TimelineCaps caps;
  caps.threads = 10;
  caps.spans = 5;
  const verify::ThreadTimeline t = verify::thread_timeline(trace, 100000, "steps", caps);
  REQUIRE(t.threads.size() == 10);
  REQUIRE(t.dropped_threads == 41);  // sh and 50 workers
  size_t spans = 0;
  for (const auto& th : t.threads) spans += th.spans.size();
  REQUIRE(spans == 5);
  REQUIRE(t.dropped_spans == 45);
}

TEST_CASE("a failure's timeline survives the results JSON round trip", "[reports]") {
  verify::UnitResult u = hostile_unit();
  const std::string json = verify::results_to_json({u});
  const verify::UnitResult back = verify::results_from_json(json, "x.json").at(0);
  REQUIRE(back.failures.at(0).timeline == u.failures[0].timeline);
  REQUIRE(!back.failures[0].timeline.empty());
  REQUIRE(verify::results_to_json({back}) == json);
}

TEST_CASE("the timeline SVG has a lane per thread and a mark per finding", "[reports]") {
  const verify::UnitResult u = hostile_unit();
  const std::string svg = svg_timeline(u.failures[0].timeline);
  REQUIRE(svg.rfind("<svg id=\"timeline-svg\"", 0) == 0);
  size_t lanes = 0;
  for (size_t p = svg.find("class=\"lane\""); p != std::string::npos; p = svg.find("class=\"lane\"", p + 1)) lanes++;
  REQUIRE(lanes == 2);
  REQUIRE(svg.find("&lt;t&gt;:2") != std::string::npos);
  REQUIRE(svg_timeline(verify::ThreadTimeline{}).empty());
}
