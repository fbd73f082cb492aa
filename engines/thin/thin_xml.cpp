#include "engines/thin/thin_xml.hpp"

#include <cctype>
#include <cstdint>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace engines::thin {

namespace {

using Attrs = std::vector<std::pair<std::string, std::string>>;

// What stops the restore: a malformed file (`line` set, expat's message) or the emitter's error.
struct Stop {
  int line = 0;
  std::string message;
};

// restore_emitter's side: the elements in document order, each checked as the tool checks it.
class Restorer {
 public:
  Restorer(const thin_restore_overrides& o, restore_metadata* out) : o_(o), out_(out) {}

  std::optional<std::string> start(const std::string& name, const Attrs& a) {
    if (name == "superblock") return superblock(a);
    if (name == "device") return device(a);
    if (name == "range_mapping") return range_mapping(a);
    if (name == "single_mapping") return single_mapping(a);
    return "unknown tag type";
  }

  std::optional<std::string> end(const std::string& name) {
    if (name == "superblock") {
      if (!in_superblock_) return "missing superblock";
      in_superblock_ = false;
      done_ = true;
    } else if (name == "device") {
      device_ = false;
    }
    return std::nullopt;
  }

  bool done() const { return done_; }

 private:
  // The attribute's value as a number no larger than `max`: else the tools' lexical_cast error.
  std::optional<std::string> number(const Attrs& a, const char* name, uint64_t max, uint64_t* v) {
    for (const auto& [k, val] : a) {
      if (k != name) continue;
      const bool digits = !val.empty() && val.size() <= 20 && val.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || (val.size() == 20 && val > "18446744073709551615") || std::stoull(val) > max)
        return "bad lexical cast: source type value could not be interpreted as target";
      *v = std::stoull(val);
      return std::nullopt;
    }
    return std::string("could not find attribute: ") + name;
  }
  static bool has(const Attrs& a, const char* name) {
    for (const auto& kv : a)
      if (kv.first == name) return true;
    return false;
  }

  // The tools evaluate each element's attributes as the arguments of one call, which GCC does
  // last to first: the last attribute missing or malformed is the one reported.
  std::optional<std::string> superblock(const Attrs& a) {
    uint64_t time = 0, trans = 0, flags = 0, version = 1, block_size = 0, nr = 0, snap = 0;
    if (has(a, "metadata_snap"))
      if (auto e = number(a, "metadata_snap", UINT64_MAX, &snap)) return e;
    if (auto e = number(a, "nr_data_blocks", UINT64_MAX, &nr)) return e;
    if (auto e = number(a, "data_block_size", UINT32_MAX, &block_size)) return e;
    if (has(a, "version"))
      if (auto e = number(a, "version", UINT32_MAX, &version)) return e;
    if (has(a, "flags"))
      if (auto e = number(a, "flags", UINT32_MAX, &flags)) return e;
    if (auto e = number(a, "transaction", UINT64_MAX, &trans)) return e;
    if (auto e = number(a, "time", UINT64_MAX, &time)) return e;
    if (!has(a, "uuid")) return "could not find attribute: uuid";
    in_superblock_ = true;
    out_->time = static_cast<uint32_t>(time);
    out_->trans_id = o_.transaction_id.value_or(trans);
    out_->version = static_cast<uint32_t>(version);
    out_->data_block_size = static_cast<uint32_t>(o_.data_block_size.value_or(block_size));
    out_->nr_data_blocks = o_.nr_data_blocks.value_or(nr);
    return std::nullopt;
  }

  std::optional<std::string> device(const Attrs& a) {
    uint64_t id = 0, mapped = 0, trans = 0, ctime = 0, stime = 0;
    if (auto e = number(a, "snap_time", UINT64_MAX, &stime)) return e;
    if (auto e = number(a, "creation_time", UINT64_MAX, &ctime)) return e;
    if (auto e = number(a, "transaction", UINT64_MAX, &trans)) return e;
    if (auto e = number(a, "mapped_blocks", UINT64_MAX, &mapped)) return e;
    if (auto e = number(a, "dev_id", UINT32_MAX, &id)) return e;
    if (!in_superblock_) return "missing superblock";
    if (!ids_.insert(id).second) return "Device already exists";
    restore_device d;
    d.dev_id = id;
    d.transaction_id = trans;
    d.creation_time = static_cast<uint32_t>(ctime);  // the tool truncates both times
    d.snapshotted_time = static_cast<uint32_t>(stime);
    out_->devices.push_back(std::move(d));
    device_ = true;
    return std::nullopt;
  }

  std::optional<std::string> map(uint64_t vblock, uint64_t data_block, uint64_t time) {
    if (!device_) return "not in device";
    if (data_block >= out_->nr_data_blocks)
      return "mapping beyond end of data device (" + std::to_string(data_block) +
             " >= " + std::to_string(out_->nr_data_blocks) + ")";
    out_->devices.back().mappings.push_back({vblock, data_block, static_cast<uint32_t>(time)});
    return std::nullopt;
  }

  std::optional<std::string> range_mapping(const Attrs& a) {
    uint64_t origin = 0, data = 0, len = 0, time = 0;
    if (auto e = number(a, "length", UINT64_MAX, &len)) return e;
    if (auto e = number(a, "time", UINT32_MAX, &time)) return e;
    if (auto e = number(a, "data_begin", UINT64_MAX, &data)) return e;
    if (auto e = number(a, "origin_begin", UINT64_MAX, &origin)) return e;
    for (uint64_t i = 0; i < len; i++)
      if (auto e = map(origin + i, data + i, time)) return e;
    return std::nullopt;
  }

  std::optional<std::string> single_mapping(const Attrs& a) {
    uint64_t origin = 0, data = 0, time = 0;
    if (auto e = number(a, "time", UINT32_MAX, &time)) return e;
    if (auto e = number(a, "data_block", UINT64_MAX, &data)) return e;
    if (auto e = number(a, "origin_block", UINT64_MAX, &origin)) return e;
    return map(origin, data, time);
  }

  const thin_restore_overrides& o_;
  restore_metadata* out_;
  bool in_superblock_ = false, device_ = false, done_ = false;
  std::set<uint64_t> ids_;
};

// A well-formedness checker for the subset the tools write (elements, attributes, character
// data, comments and processing instructions), with expat's messages and line numbers.
class Scanner {
 public:
  Scanner(const std::string& s, Restorer& r) : s_(s), r_(r) {}

  std::optional<Stop> run() {
    for (;;) {
      skip_space();
      if (i_ >= s_.size()) {
        if (!root_seen_ || !open_.empty()) return Stop{line_, "no element found"};
        return std::nullopt;
      }
      std::optional<Stop> st = s_[i_] == '<' ? markup() : text();
      if (st) return st;
    }
  }

 private:
  static bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':';
  }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) advance();
  }
  void advance() {
    if (s_[i_++] == '\n') line_++;
  }
  bool starts(const char* p) const { return s_.compare(i_, std::char_traits<char>::length(p), p) == 0; }
  std::string name() {
    const size_t b = i_;
    while (i_ < s_.size() && name_char(s_[i_])) i_++;
    return s_.substr(b, i_ - b);
  }
  // Skips to just past `end`; false at the end of the file.
  bool skip_past(const char* end) {
    while (i_ < s_.size() && !starts(end)) advance();
    if (i_ >= s_.size()) return false;
    i_ += std::char_traits<char>::length(end);
    return true;
  }
  static std::optional<Stop> emitter(const std::optional<std::string>& e) {
    if (e) return Stop{0, *e};
    return std::nullopt;
  }

  std::optional<Stop> text() {
    const int at = line_;
    if (open_.empty()) return Stop{at, root_seen_ ? "junk after document element" : "syntax error"};
    while (i_ < s_.size() && s_[i_] != '<') advance();  // character data: the tool ignores it
    return std::nullopt;
  }

  std::optional<Stop> markup() {
    const int at = line_;
    if (starts("<?")) return skip_past("?>") ? std::nullopt : std::optional<Stop>(Stop{at, "unclosed token"});
    if (starts("<!--")) return skip_past("-->") ? std::nullopt : std::optional<Stop>(Stop{at, "unclosed token"});
    if (starts("</")) {
      i_ += 2;
      const std::string n = name();
      skip_space();
      if (i_ >= s_.size()) return Stop{at, "unclosed token"};
      if (n.empty() || s_[i_] != '>') return Stop{line_, "not well-formed (invalid token)"};
      i_++;
      if (open_.empty() || open_.back() != n) return Stop{at, "mismatched tag"};
      open_.pop_back();
      return emitter(r_.end(n));
    }
    if (root_seen_ && open_.empty()) return Stop{at, "junk after document element"};
    i_++;
    const std::string n = name();
    if (n.empty()) return Stop{line_, "not well-formed (invalid token)"};
    Attrs attrs;
    for (;;) {
      skip_space();
      if (i_ >= s_.size()) return Stop{at, "unclosed token"};
      if (s_[i_] == '>' || starts("/>")) break;
      const std::string k = name();
      skip_space();
      if (i_ >= s_.size()) return Stop{at, "unclosed token"};
      if (k.empty() || s_[i_] != '=') return Stop{line_, "not well-formed (invalid token)"};
      i_++;
      skip_space();
      if (i_ >= s_.size()) return Stop{at, "unclosed token"};
      const char q = s_[i_];
      if (q != '"' && q != '\'') return Stop{line_, "not well-formed (invalid token)"};
      i_++;
      const size_t b = i_;
      while (i_ < s_.size() && s_[i_] != q && s_[i_] != '<') advance();
      if (i_ >= s_.size()) return Stop{at, "unclosed token"};
      if (s_[i_] == '<') return Stop{line_, "not well-formed (invalid token)"};
      for (const auto& kv : attrs)
        if (kv.first == k) return Stop{at, "duplicate attribute"};
      attrs.emplace_back(k, s_.substr(b, i_ - b));
      i_++;
    }
    const bool empty = s_[i_] == '/';
    i_ += empty ? 2 : 1;
    root_seen_ = true;
    if (auto st = emitter(r_.start(n, attrs))) return st;
    if (empty) return emitter(r_.end(n));
    open_.push_back(n);
    return std::nullopt;
  }

  const std::string& s_;
  Restorer& r_;
  size_t i_ = 0;
  int line_ = 1;
  bool root_seen_ = false;
  std::vector<std::string> open_;
};

}  // namespace

bool parse_thin_xml(const std::string& text, const thin_restore_overrides& o, restore_metadata* out,
                    std::string* error) {
  *out = restore_metadata{};
  Restorer r(o, out);
  std::optional<Stop> st = Scanner(text, r).run();
  if (!st && !r.done()) st = Stop{0, "missing superblock"};
  if (!st) return true;
  *error = st->line ? "Parse error at line " + std::to_string(st->line) + ":\n" + st->message + "\n" : st->message;
  return false;
}

}  // namespace engines::thin
