#include "language/command.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

#include "engines/module_params.hpp"
#include "engines/tool_registry.hpp"

namespace scenarios {

std::vector<Word> split_words(const std::string& line, std::optional<CommandError>* error) {
  std::vector<Word> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) i++;
    if (i >= line.size()) break;
    Word w{"", i};
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) {
      const char c = line[i];
      if (c == '"' || c == '\'') {
        const size_t end = line.find(c, i + 1);
        if (end == std::string::npos) {
          *error = CommandError{i, std::string("unterminated ") + (c == '"' ? "double" : "single") + " quote"};
          return words;
        }
        w.text += line.substr(i + 1, end - i - 1);
        i = end + 1;
      } else if (c == '$' && i + 1 < line.size() && line[i + 1] == '(') {
        const size_t end = line.find(')', i);
        if (end == std::string::npos) {
          *error = CommandError{i, "unterminated $("};
          return words;
        }
        w.text += line.substr(i, end - i + 1);
        i = end + 1;
      } else {
        w.text += c;
        i++;
      }
    }
    words.push_back(w);
  }
  return words;
}

std::optional<uint64_t> parse_size(const std::string& s, std::string* why) {
  auto bad = [why](const std::string& reason) -> std::optional<uint64_t> {
    if (why) *why = reason;
    return std::nullopt;
  };
  size_t i = 0;
  uint64_t n = 0;
  bool overflow = false;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); i++)
    overflow |= __builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, s[i] - '0', &n);
  if (i == 0) return bad("expected a number of bytes with an optional unit (s, K, M, G, T, KiB, ..., kB, MB, GB)");
  std::string unit = s.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  uint64_t mult = 0;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "s")
    mult = 512;  // sectors
  else if (unit == "k" || unit == "kib")
    mult = 1ULL << 10;
  else if (unit == "m" || unit == "mib")
    mult = 1ULL << 20;
  else if (unit == "g" || unit == "gib")
    mult = 1ULL << 30;
  else if (unit == "t" || unit == "tib")
    mult = 1ULL << 40;
  else if (unit == "kb")
    mult = 1000;
  else if (unit == "mb")
    mult = 1000 * 1000;
  else if (unit == "gb")
    mult = 1000ULL * 1000 * 1000;
  if (!mult) return bad("unknown unit '" + s.substr(i) + "' (s, K, M, G, T, KiB, MiB, GiB, TiB, kB, MB, GB)");
  uint64_t bytes = 0;
  if (overflow || __builtin_mul_overflow(n, mult, &bytes)) return bad("the size does not fit in 64 bits");
  return bytes;
}

std::string format_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes % 1024 == 0 && bytes >= 1024) {
    bytes /= 1024;
    u++;
  }
  return std::to_string(bytes) + units[u];
}

namespace {

// A non-negative decimal integer, digits only (no sign, no spaces), that fits in 64 bits.
bool parse_u64(const std::string& v, uint64_t* out, std::string* why) {
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) {
    *why = "expected a non-negative integer";
    return false;
  }
  uint64_t n = 0;
  for (char c : v)
    if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, c - '0', &n)) {
      *why = "the number does not fit in 64 bits";
      return false;
    }
  *out = n;
  return true;
}

struct Parser {
  const std::string& text;
  std::vector<Word> w;
  std::optional<CommandError>* error;
  size_t pos = 0;

  bool fail(size_t at, const std::string& msg) {
    if (!*error) *error = CommandError{at, msg};
    return false;
  }
  bool more() const { return pos < w.size(); }
  size_t here() const { return pos < w.size() ? w[pos].at : text.size(); }
  bool need(const char* what, std::string* out) {
    if (!more()) return fail(here(), std::string("expected ") + what);
    *out = w[pos++].text;
    return true;
  }
  bool at_end() {
    if (more()) return fail(w[pos].at, "unexpected argument '" + w[pos].text + "'");
    return true;
  }
};

bool parse_dmsetup(Parser& p, Command& c) {
  std::string sub;
  if (!p.need("a dmsetup command (create, load, clear, suspend, resume, status, table, info, message, remove)", &sub))
    return false;
  const size_t sub_at = p.w[p.pos - 1].at;
  if (sub == "create" || sub == "load" || sub == "reload") {
    c.kind = sub == "create" ? CmdKind::DmCreate : CmdKind::DmLoad;
    if (!p.need("a device name", &c.name)) return false;
    std::string opt;
    if (!p.need("--table \"TABLE\"", &opt)) return false;
    if (opt != "--table") return p.fail(p.w[p.pos - 1].at, "expected --table, got '" + opt + "'");
    if (!p.need("a table after --table", &c.table)) return false;
    return p.at_end();
  }
  if (sub == "suspend" || sub == "status" || sub == "resume" || sub == "table") {
    c.kind = sub == "suspend"  ? CmdKind::DmSuspend
             : sub == "status" ? CmdKind::DmStatus
             : sub == "table"  ? CmdKind::DmTable
                               : CmdKind::DmResume;
    const bool query = sub == "status" || sub == "table";
    while (p.more() && p.w[p.pos].text.rfind("--", 0) == 0) {
      const std::string o = p.w[p.pos].text;
      if (o == "--noflush" && sub != "table")
        c.noflush = true;
      else if (o == "--inactive" && query)  // dmsetup's global option: the inactive table's lines
        c.inactive = true;
      else if (!(!query && o == "--nolockfs"))
        return p.fail(p.w[p.pos].at, "unknown option '" + o + "' for dmsetup " + sub);
      p.pos++;
    }
    if (!p.need("a device name", &c.name)) return false;
    return p.at_end();
  }
  if (sub == "info" || sub == "remove" || sub == "clear") {
    c.kind = sub == "info" ? CmdKind::DmInfo : sub == "clear" ? CmdKind::DmClear : CmdKind::DmRemove;
    if (!p.need("a device name", &c.name)) return false;
    return p.at_end();
  }
  if (sub == "message") {
    c.kind = CmdKind::DmMessage;
    std::string sector;
    if (!p.need("a device name", &c.name) || !p.need("a sector", &sector)) return false;
    std::string why;
    if (!parse_u64(sector, &c.sector, &why)) return p.fail(p.w[p.pos - 1].at, "bad sector '" + sector + "': " + why);
    if (!p.more()) return p.fail(p.here(), "expected a message");
    for (; p.more(); p.pos++) c.message += (c.message.empty() ? "" : " ") + p.w[p.pos].text;
    return true;
  }
  return p.fail(sub_at, "unknown dmsetup command '" + sub + "'");
}

// oflag=FLAG[,FLAG...], the value `v` at offset `vat` of the line.
bool parse_oflag(Parser& p, Command& c, const std::string& v, size_t vat) {
  size_t from = 0;
  while (from <= v.size()) {
    const size_t comma = v.find(',', from);
    const std::string f = v.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    if (f == "sync" || f == "dsync")
      c.fua = true;  // O_DIRECT|O_DSYNC writes are REQ_FUA
    else if (f != "direct")
      return p.fail(vat + from, "unsupported oflag '" + f + "' (direct, sync, dsync)");
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return true;
}

bool parse_dd(Parser& p, Command& c) {
  c.kind = CmdKind::Dd;
  bool have_if = false, have_of = false, have_count = false;
  size_t seek_at = 0;
  for (; p.more(); p.pos++) {
    const Word& word = p.w[p.pos];
    const size_t eq = word.text.find('=');
    if (eq == std::string::npos) return p.fail(word.at, "expected KEY=VALUE, got '" + word.text + "'");
    const std::string k = word.text.substr(0, eq), v = word.text.substr(eq + 1);
    const size_t vat = word.at + eq + 1;
    if (k == "if") {
      if (v != "/dev/zero" && v != "/dev/urandom") return p.fail(vat, "if= must be /dev/zero or /dev/urandom");
      c.zero_source = v == "/dev/zero";
      have_if = true;
    } else if (k == "of") {
      c.device = v;
      c.device_at = vat;
      have_of = true;
    } else if (k == "bs") {
      std::string why;
      auto s = parse_size(v, &why);
      if (!s) return p.fail(vat, "bad block size '" + v + "': " + why);
      if (*s == 0 || *s % 512) return p.fail(vat, "bad block size '" + v + "': expected a multiple of 512 bytes");
      if (*s > kMaxDdBlockBytes)
        return p.fail(vat, "block size '" + v + "' is above dmsim's maximum of " + format_size(kMaxDdBlockBytes) +
                               " (each block is one bio held in memory; use a smaller bs and a larger count)");
      c.bs = *s;
    } else if (k == "count" || k == "seek") {
      std::string why;
      uint64_t n = 0;
      if (!parse_u64(v, &n, &why)) return p.fail(vat, "bad number '" + v + "' for " + k + "=: " + why);
      (k == "count" ? c.count : c.seek) = n;
      have_count |= k == "count";
      if (k == "seek") seek_at = vat;
    } else if (k == "oflag") {
      if (!parse_oflag(p, c, v, vat)) return false;
    } else if (k == "conv") {
      if (v != "fsync" && v != "fdatasync") return p.fail(vat, "unsupported conv '" + v + "' (fsync, fdatasync)");
      c.fsync_at_end = true;
    } else if (k == "status" || k == "iflag") {
      // accepted and ignored: no effect in dmsim
    } else {
      return p.fail(word.at, "unknown dd operand '" + k + "'");
    }
  }
  if (!have_if) return p.fail(p.text.size(), "dd needs if=/dev/zero or if=/dev/urandom");
  if (!have_of) return p.fail(p.text.size(), "dd needs of=DEVICE");
  if (!have_count) return p.fail(p.text.size(), "dd needs count=N");
  // Where the first block goes is known from the text; whether it fits the device is known only
  // at run time (a dm device may have been grown by load and resume).
  uint64_t start = 0;
  if (__builtin_mul_overflow(c.seek, c.bs, &start) || start > kMaxDeviceBytes)
    return p.fail(seek_at, "dd seeks beyond " + format_size(kMaxDeviceBytes) +
                               ", the largest device dmsim models (seek=" + std::to_string(c.seek) + " blocks of " +
                               std::to_string(c.bs) + " bytes)");
  return true;
}

bool parse_number_option(Parser& p, uint64_t* out) {
  std::string v, why;
  if (!p.need("a size", &v)) return false;
  auto s = parse_size(v, &why);
  if (!s) return p.fail(p.w[p.pos - 1].at, "bad size '" + v + "': " + why);
  *out = *s;
  return true;
}

// sync [DEVICE]
bool parse_sync(Parser& p, Command& c) {
  c.kind = CmdKind::Sync;
  if (p.more()) {
    c.device = p.w[p.pos].text;
    c.device_at = p.w[p.pos].at;
    p.pos++;
  }
  return p.at_end();
}

// blkdiscard [-o|--offset BYTES] [-l|--length BYTES] DEVICE
bool parse_blkdiscard(Parser& p, Command& c) {
  c.kind = CmdKind::Blkdiscard;
  while (p.more() && p.w[p.pos].text.size() > 1 && p.w[p.pos].text[0] == '-') {
    const std::string o = p.w[p.pos++].text;
    if (o == "-o" || o == "--offset") {
      if (!parse_number_option(p, &c.offset)) return false;
    } else if (o == "-l" || o == "--length") {
      if (!parse_number_option(p, &c.length)) return false;
    } else {
      return p.fail(p.w[p.pos - 1].at, "unknown blkdiscard option '" + o + "'");
    }
  }
  if (!p.need("a device", &c.device)) return false;
  c.device_at = p.w[p.pos - 1].at;
  // Every logical block size is a multiple of 512, so these fail on any device; the run checks
  // the device's own sector size and end, as util-linux does.
  if (c.offset % 512 || (c.length != UINT64_MAX && c.length % 512))
    p.fail(c.device_at, "blkdiscard offset and length must be multiples of 512");
  else if (c.offset > kMaxDeviceBytes)
    p.fail(c.device_at,
           "blkdiscard offset is beyond " + format_size(kMaxDeviceBytes) + ", the largest device dmsim models");
  return p.at_end();
}

// blockdev --getsz DEVICE
bool parse_blockdev(Parser& p, Command& c) {
  c.kind = CmdKind::BlockdevGetsz;
  std::string o;
  if (!p.need("--getsz", &o)) return false;
  if (o != "--getsz") return p.fail(p.w[p.pos - 1].at, "only blockdev --getsz is supported");
  if (!p.need("a device", &c.device)) return false;
  c.device_at = p.w[p.pos - 1].at;
  return p.at_end();
}

// sleep SECONDS
bool parse_sleep(Parser& p, Command& c) {
  c.kind = CmdKind::Sleep;
  std::string v;
  if (!p.need("seconds", &v)) return false;
  char* end = nullptr;
  c.seconds = std::strtod(v.c_str(), &end);
  // nan, inf and overflowing values (1e400) would stop or wrap the simulated clock.
  if (v.empty() || *end || !std::isfinite(c.seconds) || c.seconds < 0 || c.seconds > kMaxSleepSeconds)
    p.fail(p.w[p.pos - 1].at, "bad number of seconds '" + v + "': expected a finite number from 0 to " +
                                  std::to_string(static_cast<uint64_t>(kMaxSleepSeconds)));
  return p.at_end();
}

bool parse_wait(Parser& p, Command& c) {
  c.kind = CmdKind::Wait;
  return p.at_end();
}

bool parse_power_cut(Parser& p, Command& c) {
  c.kind = CmdKind::PowerCut;
  return p.at_end();
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// /sys/module/MODULE/parameters/NAME, `path` at offset `at`: a parameter some engine registered.
bool parse_param_path(Parser& p, Command& c, const std::string& path, size_t at, const char* cmd) {
  const std::string prefix = "/sys/module/";
  const size_t slash = path.find('/', prefix.size());
  const std::string middle = "/parameters/";
  if (path.rfind(prefix, 0) != 0 || slash == std::string::npos || path.compare(slash, middle.size(), middle) != 0 ||
      path.find('/', slash + middle.size()) != std::string::npos)
    return p.fail(at, std::string(cmd) + ": dmsim has no file '" + path +
                          "' (module parameters are /sys/module/MODULE/parameters/NAME)");
  c.module = path.substr(prefix.size(), slash - prefix.size());
  c.param = path.substr(slash + middle.size());
  const std::vector<std::string> params = engines::module_param_names(c.module);
  if (params.empty())
    return p.fail(at + prefix.size(), "no module '" + c.module +
                                          "' with parameters (has: " + joined(engines::module_param_modules()) + ")");
  if (!engines::find_module_param(c.module, c.param))
    return p.fail(at + slash + middle.size(),
                  "no parameter '" + c.param + "' in module " + c.module + " (has: " + joined(params) + ")");
  return true;
}

// echo [-n] VALUE... > FILE: a module parameter written through sysfs, or `echo b >
// /proc/sysrq-trigger`, the kernel's immediate reboot: a power cut. What the value means is the
// parameter's business when the step runs, as it is the kernel's.
bool parse_echo(Parser& p, Command& c) {
  bool newline = true;
  if (p.more() && p.w[p.pos].text == "-n") {
    newline = false;
    p.pos++;
  }
  const size_t value_at = p.here();
  std::vector<std::string> value;
  while (p.more() && p.w[p.pos].text.rfind('>', 0) != 0) value.push_back(p.w[p.pos++].text);
  if (!p.more())
    return p.fail(p.here(),
                  "expected '> /sys/module/MODULE/parameters/NAME' (dmsim's echo writes module parameters and "
                  "/proc/sysrq-trigger)");
  // "> FILE", ">FILE", and ">>" alike: a sysfs attribute takes each write whole.
  const Word& redirect = p.w[p.pos++];
  const size_t arrows = redirect.text.rfind(">>", 0) == 0 ? 2 : 1;
  std::string file = redirect.text.substr(arrows);
  size_t file_at = redirect.at + arrows;
  if (file.empty()) {
    if (!p.need("a file after '>'", &file)) return false;
    file_at = p.w[p.pos - 1].at;
  }
  for (const auto& v : value) c.value += (c.value.empty() ? "" : " ") + v;
  if (file == "/proc/sysrq-trigger") {
    if (c.value != "b")
      return p.fail(value_at, "only 'echo b > /proc/sysrq-trigger' (an immediate reboot: a power cut) is supported");
    c.value.clear();
    c.kind = CmdKind::PowerCut;
    return p.at_end();
  }
  c.kind = CmdKind::ParamWrite;
  if (newline) c.value += "\n";
  if (!parse_param_path(p, c, file, file_at, "echo")) return false;
  return p.at_end();
}

// cat /sys/module/MODULE/parameters/NAME
bool parse_cat(Parser& p, Command& c) {
  c.kind = CmdKind::ParamRead;
  std::string file;
  if (!p.need("/sys/module/MODULE/parameters/NAME", &file)) return false;
  if (!parse_param_path(p, c, file, p.w[p.pos - 1].at, "cat")) return false;
  return p.at_end();
}

// The commands dmsim itself knows, each with its parser; what is not here may be an engine's tool.
using CommandParser = bool (*)(Parser&, Command&);
const std::map<std::string, CommandParser>& builtin_commands() {
  static const std::map<std::string, CommandParser> commands = {
      {"dmsetup", parse_dmsetup},   {"dd", parse_dd},       {"sync", parse_sync}, {"blkdiscard", parse_blkdiscard},
      {"blockdev", parse_blockdev}, {"sleep", parse_sleep}, {"wait", parse_wait}, {"power-cut", parse_power_cut},
      {"echo", parse_echo},         {"cat", parse_cat}};
  return commands;
}

// An engine's metadata tool: its arguments as written, judged by the tool's own check.
bool parse_tool(Parser& p, Command& c, const engines::Tool& tool, size_t tool_at) {
  c.kind = CmdKind::Tool;
  for (; p.more(); p.pos++) c.args.push_back(p.w[p.pos].text);
  const std::string problem = tool.check ? tool.check(c.args) : std::string();
  if (!problem.empty()) return p.fail(tool_at, c.tool + ": " + problem + " (usage: " + tool.usage + ")");
  return true;
}

// A trailing '&' (a word of its own or the end of the last one) runs the step in the background.
void take_background_mark(Parser& p, Command& c) {
  if (!p.w.empty() && p.w.back().text == "&") {
    c.background = true;
    p.w.pop_back();
  } else if (!p.w.empty() && p.w.back().text.size() > 1 && p.w.back().text.back() == '&') {
    c.background = true;
    p.w.back().text.pop_back();
  }
}

}  // namespace

Command parse_command(const std::string& raw, std::optional<CommandError>* error) {
  Command c;
  c.text = raw;
  Parser p{raw, split_words(raw, error), error};
  if (*error) return c;
  take_background_mark(p, c);
  if (!p.w.empty() && p.w.front().text == "!") {
    c.expect_failure = true;
    p.pos++;
  }
  std::string cmd;
  if (!p.need("a command", &cmd)) return c;
  const size_t cmd_at = p.w[p.pos - 1].at;
  const auto builtin = builtin_commands().find(cmd);
  if (builtin != builtin_commands().end()) {
    builtin->second(p, c);
  } else if (const engines::Tool* tool = engines::find_tool(cmd)) {
    c.tool = cmd;
    parse_tool(p, c, *tool, cmd_at);
  } else {
    p.fail(cmd_at, "unknown command '" + cmd + "'");
  }
  if ((c.kind == CmdKind::PowerCut || c.kind == CmdKind::Wait) && c.background && !*error)
    p.fail(raw.size(), "'" + cmd + "' cannot run in the background");
  return c;
}

}  // namespace scenarios
