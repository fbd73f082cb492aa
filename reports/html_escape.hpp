// Escaping for the HTML reports: every piece of text a report shows (scenario files, names,
// kernel output) goes through here, so that nothing a scenario says can become markup.
#pragma once

#include <string>

namespace reports {

// Text and attribute values: & < > " ' as entities; control characters other than tab and
// newline (which a <pre> keeps) as U+FFFD, so no byte can end an element or start a script.
std::string html_escape(const std::string& s);

// A path for an href, relative as given: bytes other than letters, digits and -._~/ are
// percent-encoded, so that no scheme ("javascript:") or attribute break can come of it.
std::string href_path(const std::string& path);

// The path from directory `from` to `to` (both relative to the working directory or absolute),
// for links between report files and image folders that stay valid wherever the tree is moved.
std::string relative_path(const std::string& to, const std::string& from);

}  // namespace reports
