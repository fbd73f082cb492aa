// Reports for people: a folder per failing exploration with a Markdown report (verdict,
// scenario, the exact replay command, the crash point and the writes it lost, the failing
// blocks with expected and found values, detector output with call traces, the transcript)
// and the same as a self-contained HTML page with the timeline and wait-for graph drawn
// (reports/html_report.hpp), an index.html of a check run, and JUnit XML for CI systems. Kept
// apart from the runner: it only reads results.
#pragma once

#include <string>
#include <vector>

#include "language/scenario.hpp"
#include "verify/runner.hpp"

namespace reports {

// Writes DIR/<scenario>-seed<N>-<k>/report.md and report.html for each failure of `u`;
// returns the report.md paths.
std::vector<std::string> write_unit_reports(const std::string& dir, const verify::UnitResult& u,
                                            const scenarios::Scenario* s);
// "<scenario>-seed<N>-<k>": the folder of the k-th (from 1) failure's reports.
std::string unit_report_folder(const verify::UnitResult& u, size_t k);
// Writes DIR/index.html listing every unit with links to the reports write_unit_reports wrote;
// returns its path.
std::string write_index_html(const std::string& dir, const std::vector<verify::UnitResult>& units);
std::string markdown_report(const verify::UnitResult& u, const verify::Exploration& e, const scenarios::Scenario* s);
// JUnit XML: one testsuite, one testcase per unit, a <failure> per failing unit.
std::string junit_xml(const std::vector<verify::UnitResult>& units, double seconds);

}  // namespace reports
