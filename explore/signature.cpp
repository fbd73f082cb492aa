#include "explore/signature.hpp"

#include <cctype>
#include <regex>

namespace explore {

namespace {
// The title as a regular expression: specials escaped, every run of digits any number.
std::string generalise(const std::string& title) {
  std::string out;
  for (size_t i = 0; i < title.size(); i++) {
    const char c = title[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i + 1 < title.size() && std::isdigit(static_cast<unsigned char>(title[i + 1]))) i++;
      out += "\\d+";
    } else if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) {
      out += std::string("\\") + c;
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

Signature signature_of(const verify::UnitResult& u) {
  for (const auto& e : u.failures)
    for (const auto& v : e.violations) return Signature{v.kind, generalise(v.title)};
  return {};
}

Signature signature_for(const scenarios::Scenario& s, const verify::UnitResult& u) {
  if (s.catalog) return Signature{s.catalog->detects, s.catalog->match};
  return signature_of(u);
}

bool reproduces(const Signature& sig, const verify::UnitResult& u) {
  if (sig.empty() || u.passed) return false;
  const std::regex re(sig.match, std::regex::ECMAScript);
  for (const auto& e : u.failures)
    for (const auto& v : e.violations)
      if (v.kind == sig.kind && (std::regex_search(v.title, re) || std::regex_search(v.detail, re))) return true;
  return false;
}

}  // namespace explore
