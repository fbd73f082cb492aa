// Self-contained HTML reports: one page per failing exploration (verdict and signature, the
// scenario file and the replay command, a timeline of the threads, the wait-for graph, the crash
// state, the violations, the transcript, links to saved images) and an index of a check run.
// Inline CSS and SVG only, no script and a Content-Security-Policy that forbids loading
// anything, every text escaped, and no timestamps: the same results give the same bytes.
#pragma once

#include <string>
#include <vector>

#include "language/scenario.hpp"
#include "verify/runner.hpp"

namespace reports {

// What a unit page needs besides the results, read by the caller so the page stays a function.
struct HtmlContext {
  const scenarios::Scenario* scenario = nullptr;  // for the about text and disk names, if loaded
  std::string scenario_text;                      // the scenario file as written
  std::string report_dir;                         // the directory the page is written to (links to images are relative)
  bool render_graphs = true;  // run Graphviz for wait-for graphs (tests of the page alone turn it off)
};

// "deadlock: deadlock: dmsetup:10 -> ..." for the first violation; empty without one.
std::string failure_signature(const verify::Exploration& e);

std::string html_report(const verify::UnitResult& u, const verify::Exploration& e, const HtmlContext& ctx);

// One row per unit: verdict, signature, links to `links[i]` (each unit's report.html paths,
// relative to the index).
std::string index_html(const std::vector<verify::UnitResult>& units,
                       const std::vector<std::vector<std::string>>& links);

}  // namespace reports
