#include "bench/parser_fuzz.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <typeinfo>

#include "language/scenario.hpp"

namespace bench::fuzz {

// The fuzzer judges the language from outside, in the language's own terms.
using namespace scenarios;

namespace {

// splitmix64: input i's randomness depends on (seed, i) only.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
};

// The language's words and YAML's syntax, including the values the limits are about.
const std::vector<std::string>& dictionary() {
  static const std::vector<std::string> words = {
      // keys
      "name: ", "about: ", "source: ", "disks:", "steps:", "expect:", "explore:", "catalog:", "size: ", "profile: ",
      "write_cache: ", "logical_block_size: ", "initial: ", "discard: ", "discard_zeroes: ", "crash-points: ",
      "crash-states: ", "seeds: ", "knobs: ", "preempt-rate: ", "preempt-at: ", "max-crash-points: ", "knob: ",
      "detects: ", "run: ", "output: ", "output-file: ", "error: ", "error-file: ", "kind: ", "match: ",
      "- run: dmsetup status x\n    output: '^0 8 linear $'\n", "detects: {kind: deadlock, match: 'srcu'}",
      // values
      "sata-ssd", "nvme", "hdd", "instant", "zero", "random", "true", "false", "512", "4096", "none", "steps",
      "every-io", "every-flush", "z3", "z3+random:", "z3+random:0", "prefix", "(unclosed", "[a-", "\\d+", "durable",
      "all<=", "all<=0", "random:", "random:0", "random:1", "era.status_in_worker", "no-deadlock", "block-device",
      "deadlock", "atomic_read", "queue_work",
      // commands
      "dmsetup create ", "dmsetup load ", "dmsetup suspend ", "dmsetup resume ", "dmsetup status ", "dmsetup message ",
      "dmsetup remove ", "dmsetup clear ", "dmsetup table ", "dmsetup info ", "--table ", "--noflush ", "--nolockfs ",
      "\"0 2048 linear /dev/sda 0\"", "$(blockdev --getsz /dev/sda)", "`blockdev --getsz /dev/sda`",
      "era /dev/sda /dev/sdb 128", "dd ", "if=/dev/zero ", "if=/dev/urandom ", "of=/dev/sda ", "of=/dev/mapper/x ",
      "bs=", "count=", "seek=", "oflag=direct", "oflag=direct,dsync", "conv=fsync", "status=none", "sync",
      "blkdiscard ", "-o ", "-l ", "blockdev --getsz ", "sleep ", "wait", "power-cut", "echo b > /proc/sysrq-trigger",
      "echo 64 > /sys/module/dm_mod/parameters/kcopyd_subjob_size_kb", "cat /sys/module/", "echo -n ", ">",
      "/parameters/", "era_check ", "era_dump ", "era_invalidate ", "/dev/sda", "/dev/mapper/x", "/dev/vg/lv", " &",
      "! ",
      // numbers and sizes
      "0", "1", "-1", "+1", "18446744073709551615", "18446744073709551616", "99999999999999999999999", "16777217TiB",
      "32TiB", "33TiB", "1T", "2T", "64M", "65M", "1MiB", "4k", "1s", "nan", "inf", "-inf", "1e400", "1e-400", "0x10",
      "1.5", ".5", "1e6", "1000001",
      // YAML
      "---\n", "...\n", "&a ", "*a", "!!str ", "!!int ", "!x ", "? ", ": ", "- ", "{", "}", "[", "]", ", ", "|\n",
      ">\n", "<<: ", "#", "\"", "'", "\\", "\t", "~", "null", "%YAML 1.2\n", "%TAG ! tag:x,2000:\n", "\r\n"};
  return words;
}

const char kInteresting[] = {':', '-', ' ', '\n', '"', '\'', '{',  '}',  '[', ']', '&', '*', '!', '#',
                             '|', '>', '%', '@',  '`', '\t', '\0', '\r', '?', ',', '$', '(', ')', '\\'};

const std::vector<std::string>& numbers() {
  static const std::vector<std::string> n = {
      "0",   "1",     "-1",    "4294967296", "18446744073709551615", "18446744073709551616", "16777217", "9999999999",
      "nan", "1e400", "65536", "131072"};
  return n;
}

std::vector<size_t> line_starts(const std::string& t) {
  std::vector<size_t> s{0};
  for (size_t i = 0; i < t.size(); i++)
    if (t[i] == '\n' && i + 1 < t.size()) s.push_back(i + 1);
  return s;
}

// [begin, end) of line k, the newline included when there is one.
std::pair<size_t, size_t> line_range(const std::string& t, const std::vector<size_t>& starts, size_t k) {
  const size_t b = starts[k];
  const size_t nl = t.find('\n', b);
  return {b, nl == std::string::npos ? t.size() : nl + 1};
}

bool word_char(char c) {
  return !std::isspace(static_cast<unsigned char>(c)) && !std::strchr(":{}[],\"'#&*!|>", c);
}

// The mutations, each one step of the random walk from a seed. Every one draws from `r` in a
// fixed order (a draw per statement), so input i is the same whatever the compiler.
using Seeds = std::vector<std::string>;

void flip_bit(std::string& t, Rng& r, const Seeds&) {
  if (t.empty()) return;
  const char bit = static_cast<char>(1 << r.below(8));
  t[r.below(t.size())] ^= bit;
}

// A byte becomes one of the syntax characters.
void syntax_byte(std::string& t, Rng& r, const Seeds&) {
  if (t.empty()) return;
  const char ch = kInteresting[r.below(sizeof kInteresting)];
  t[r.below(t.size())] = ch;
}

void splice_token(std::string& t, Rng& r, const Seeds&) {
  const auto& dict = dictionary();
  const std::string& token = dict[r.below(dict.size())];
  t.insert(r.below(t.size() + 1), token);
}

// The word around a random byte becomes a dictionary token.
void replace_word(std::string& t, Rng& r, const Seeds&) {
  if (t.empty()) return;
  const auto& dict = dictionary();
  size_t b = r.below(t.size());
  while (b > 0 && word_char(t[b - 1])) b--;
  size_t e = b;
  while (e < t.size() && word_char(t[e])) e++;
  t.replace(b, e - b, dict[r.below(dict.size())]);
}

// A line again, right after itself or at the start of another line.
void duplicate_line(std::string& t, Rng& r, const Seeds&) {
  const auto starts = line_starts(t);
  const auto [b, e] = line_range(t, starts, r.below(starts.size()));
  std::string line = t.substr(b, e - b);
  if (line.empty() || line.back() != '\n') line += '\n';
  t.insert(r.below(2) ? e : starts[r.below(starts.size())], line);
}

void delete_line(std::string& t, Rng& r, const Seeds&) {
  const auto starts = line_starts(t);
  const auto [b, e] = line_range(t, starts, r.below(starts.size()));
  t.erase(b, e - b);
}

void swap_lines(std::string& t, Rng& r, const Seeds&) {
  const auto starts = line_starts(t);
  size_t a = r.below(starts.size()), c = r.below(starts.size());
  if (a == c) return;
  if (a > c) std::swap(a, c);
  const auto [ab, ae] = line_range(t, starts, a);
  const auto [cb, ce] = line_range(t, starts, c);
  std::string la = t.substr(ab, ae - ab), lc = t.substr(cb, ce - cb);
  if (la.empty() || la.back() != '\n') la += '\n';
  if (lc.empty() || lc.back() != '\n') lc += '\n';
  t = t.substr(0, ab) + lc + t.substr(ae, cb - ae) + la + t.substr(ce);
}

// One to four lines of another seed, at the start of a line.
void splice_seed_lines(std::string& t, Rng& r, const Seeds& seeds) {
  const std::string& other = seeds[r.below(seeds.size())];
  const auto os = line_starts(other);
  const size_t k = r.below(os.size()), n = 1 + r.below(4);
  const size_t b = os[k], e = k + n < os.size() ? os[k + n] : other.size();
  const auto starts = line_starts(t);
  t.insert(starts[r.below(starts.size())], other.substr(b, e - b));
}

void truncate_text(std::string& t, Rng& r, const Seeds&) {
  t.resize(r.below(t.size() + 1));
}

// A number becomes one of the values the limits are about.
void interesting_number(std::string& t, Rng& r, const Seeds&) {
  std::vector<size_t> at;
  for (size_t i = 0; i < t.size(); i++)
    if (std::isdigit(static_cast<unsigned char>(t[i])) &&
        (i == 0 || !std::isdigit(static_cast<unsigned char>(t[i - 1]))))
      at.push_back(i);
  if (at.empty()) return;
  const size_t b = at[r.below(at.size())];
  size_t e = b;
  while (e < t.size() && std::isdigit(static_cast<unsigned char>(t[e]))) e++;
  t.replace(b, e - b, numbers()[r.below(numbers().size())]);
}

// Up to 64 bytes again, anywhere.
void copy_chunk(std::string& t, Rng& r, const Seeds&) {
  if (t.empty()) return;
  const size_t b = r.below(t.size()), n = 1 + r.below(std::min<size_t>(64, t.size() - b));
  t.insert(r.below(t.size() + 1), t.substr(b, n));
}

void insert_byte(std::string& t, Rng& r, const Seeds&) {
  const char byte = static_cast<char>(r.below(256));
  t.insert(t.begin() + static_cast<long>(r.below(t.size() + 1)), byte);
}

// Up to 32 bytes gone.
void delete_chunk(std::string& t, Rng& r, const Seeds&) {
  if (t.empty()) return;
  const size_t b = r.below(t.size());
  t.erase(b, 1 + r.below(std::min<size_t>(32, t.size() - b)));
}

using Mutation = void (*)(std::string&, Rng&, const Seeds&);
constexpr Mutation kMutations[] = {flip_bit,    syntax_byte, splice_token,      replace_word,  duplicate_line,
                                   delete_line, swap_lines,  splice_seed_lines, truncate_text, interesting_number,
                                   copy_chunk,  insert_byte, delete_chunk};

void mutate_once(std::string& t, Rng& r, const Seeds& seeds) {
  kMutations[r.below(std::size(kMutations))](t, r, seeds);
}

bool all_digits(const std::string& s, size_t b, size_t e) {
  if (b >= e) return false;
  for (size_t i = b; i < e; i++)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

bool well_formed_message(const std::string& m) {
  const std::string file = kFuzzFile;
  if (m.rfind(file + ":", 0) != 0) return false;
  const size_t l = file.size() + 1, c = m.find(':', l);
  if (c == std::string::npos || !all_digits(m, l, c)) return false;
  const size_t rest = m.find(": ", c + 1);
  if (rest == std::string::npos || !all_digits(m, c + 1, rest)) return false;
  return rest + 2 < m.size() && m.find_first_of("\n\r") == std::string::npos;
}

namespace {

std::string type_name(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && d ? d.get() : t.name();
}

// A scenario with every key of the language, so that mutations reach each one from the start.
const char* kBuiltinSeed = R"(name: every-key
about: "a seed for the parser fuzzer: every key once"
source: dmsim
disks:
  sda: {size: 64MiB, profile: sata-ssd, write_cache: true, logical_block_size: 512, initial: zero, discard: true, discard_zeroes: false}
  vg/lv: {size: 1GiB, profile: nvme}
steps:
  - dmsetup create x --table "0 $(blockdev --getsz /dev/sda) linear /dev/sda 0"
  - dd if=/dev/urandom of=/dev/mapper/x bs=4k count=2 seek=1 oflag=direct,dsync conv=fsync
  - dmsetup suspend --noflush x
  - dmsetup load x --table "0 2048 linear /dev/vg/lv 0"
  - dmsetup resume x
  - dmsetup status x &
  - sleep 0.5
  - wait
  - blkdiscard -o 4096 -l 8192 /dev/mapper/x
  - blockdev --getsz /dev/vg/lv
  - sync /dev/mapper/x
  - dmsetup message x 0 checkpoint
  - ! dmsetup remove nonexistent
  - power-cut
  - dmsetup create x --table "0 2048 linear /dev/sda 0"
  - dmsetup table x
  - dmsetup info x
  - dmsetup remove x
expect: [no-deadlock, no-hung-task, block-device]
explore: {crash-points: every-flush, crash-states: random:4, seeds: 2, preempt-rate: 0.5, preempt-at: [atomic_read], max-crash-points: 40, knobs: [era.status_in_worker]}
catalog: {knob: era.status_in_worker, detects: deadlock}
)";

}  // namespace

std::string normalise_message(const std::string& m) {
  // Past "FILE:LINE:COL: ".
  size_t from = 0;
  for (int colons = 0; colons < 3 && from != std::string::npos; colons++) {
    from = m.find(':', from);
    if (from != std::string::npos) from++;
  }
  std::string body = from == std::string::npos ? m : m.substr(std::min(from + 1, m.size()));
  std::string out;
  for (size_t i = 0; i < body.size(); i++) {
    const char ch = body[i];
    if (ch == '\'') {
      const size_t end = body.find('\'', i + 1);
      if (end != std::string::npos) {
        out += "'*'";
        i = end;
        continue;
      }
    }
    if (std::isdigit(static_cast<unsigned char>(ch))) {
      out += 'N';
      while (i + 1 < body.size() && std::isdigit(static_cast<unsigned char>(body[i + 1]))) i++;
      continue;
    }
    out += ch;
  }
  return out;
}

Outcome check_input(const std::string& text) {
  Outcome o;
  auto finding = [&](const std::string& kind, const std::string& detail) {
    o.finding = Finding{0, kind, detail, text};
  };
  try {
    parse_scenario(text, kFuzzFile);
    // That it keeps the language's limits, parse_scenario asserts: a breach is an abort.
    o.parsed = true;
  } catch (const ScenarioError& e) {
    if (e.errors.empty()) finding("bad-message", "a ScenarioError without messages");
    for (const auto& m : e.errors) {
      if (!well_formed_message(m)) {
        finding("bad-message", "not FILE:LINE:COL: message: " + m);
        break;
      }
      o.messages.push_back(normalise_message(m));
    }
  } catch (const std::exception& e) {
    finding("exception", type_name(typeid(e)) + ": " + e.what());
  } catch (...) {
    finding("exception", "an exception that is not a std::exception");
  }
  return o;
}

Mutator::Mutator(std::vector<std::string> seeds) : seeds_(std::move(seeds)) {
  if (seeds_.empty()) seeds_.push_back(kBuiltinSeed);
}

std::string Mutator::input(uint64_t seed, uint64_t i) const {
  Rng r{seed * 0x2545f4914f6cdd1dULL ^ (i + 1) * 0x9e3779b97f4a7c15ULL};
  r.next();
  std::string t = seeds_[r.below(seeds_.size())];
  // Mostly a few mutations (the parser's deeper checks need an almost valid file), sometimes many.
  const uint64_t n = 1ULL << r.below(5);
  for (uint64_t k = 0; k < n; k++) {
    mutate_once(t, r, seeds_);
    if (t.size() > kMaxInputBytes) t.resize(kMaxInputBytes);
  }
  return t;
}

void Report::add(const Outcome& o) {
  executions++;
  (o.parsed ? parsed : refused)++;
  for (const auto& m : o.messages)
    if (messages.size() < 100000 || messages.count(m)) messages[m]++;
  if (o.finding && findings.size() < 1000) findings.push_back(*o.finding);
}

void Report::merge(const Report& other) {
  executions += other.executions;
  parsed += other.parsed;
  refused += other.refused;
  for (const auto& [m, n] : other.messages) messages[m] += n;
  for (const auto& f : other.findings)
    if (findings.size() < 1000) findings.push_back(f);
}

Report run(const Mutator& m, uint64_t seed, uint64_t first, uint64_t end) {
  Report rep;
  for (uint64_t i = first; i < end; i++) {
    Outcome o = check_input(m.input(seed, i));
    if (o.finding) o.finding->execution = i;
    rep.add(o);
  }
  return rep;
}

std::vector<std::string> load_corpus(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if ((p.extension() == ".yaml" || p.extension() == ".yml") && it->is_regular_file(ec)) files.push_back(p.string());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> seeds{kBuiltinSeed};
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (in && ss.str().size() <= kMaxInputBytes) seeds.push_back(ss.str());
  }
  return seeds;
}

}  // namespace bench::fuzz
