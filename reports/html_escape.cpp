#include "reports/html_escape.hpp"

#include <filesystem>

namespace reports {

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
          o += "&#xFFFD;";
        else
          o += c;
    }
  }
  return o;
}

std::string href_path(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : path) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || c == '/') {
      o += static_cast<char>(c);
    } else {
      o += '%';
      o += hex[c >> 4];
      o += hex[c & 15];
    }
  }
  return o;
}

std::string relative_path(const std::string& to, const std::string& from) {
  namespace fs = std::filesystem;
  const fs::path rel = fs::absolute(to).lexically_normal().lexically_relative(fs::absolute(from).lexically_normal());
  return rel.empty() ? to : rel.generic_string();
}

}  // namespace reports
