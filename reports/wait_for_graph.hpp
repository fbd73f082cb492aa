// The wait-for graph of a deadlock report as SVG. The deadlock detector prints the graph as dot
// text at the end of its finding ("wait-for graph (dot):"); Graphviz's `dot -Tsvg` draws it.
// The graph is rebuilt from its nodes and edges with every label re-quoted before dot sees it,
// and dot's output is accepted only without links, scripts or event attributes, so text from a
// scenario cannot become markup even through Graphviz.
#pragma once

#include <string>

namespace reports {

// The dot text after "wait-for graph (dot):" in a finding's detail, or empty.
std::string dot_in_detail(const std::string& detail);

// The graph rebuilt with safely quoted labels; empty when `dot` is not the detector's format.
std::string requoted_dot(const std::string& dot);

// dot's XML output cut to an inline <svg> element (no prolog, doctype or comments), or empty
// when it holds anything but drawing (a link, a script, an event handler, foreign content).
std::string inline_svg(const std::string& dot_output);

struct RenderedGraph {
  std::string svg;  // an <svg> element, or empty
  std::string why;  // when empty: why not ("dot is not installed", dot's error output)
};

// Runs `dot -Tsvg` (found on PATH, killed after `timeout_s`) on the requoted graph.
RenderedGraph render_wait_for_graph(const std::string& dot, double timeout_s = 20);

}  // namespace reports
