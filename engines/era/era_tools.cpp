// era_invalidate, era_dump and era_check as scenario steps, with the options, output and exit
// codes of thin-provisioning-tools 0.9.0 (era/era_invalidate.cc, era_dump.cc, metadata_dump.cc,
// xml_format.cc, era_check.cc, superblock.cc). Like the real tools they open the metadata
// device exclusively (refused while a table holds it) unless they read a metadata snapshot.
// Where dmsim's reader cannot say what the real tools would (the on-disk space map, which the
// tools never read, or the exact range of a damaged subtree), the headline is theirs and the
// detail dmsim's.
#include "engines/era/era_tools.hpp"

#include "engines/era/era_reader.hpp"
#include "engines/tool_registry.hpp"
#include "model/world.hpp"

namespace engines::era {

namespace {

constexpr const char* kVersion = "0.9.0";

struct ToolArgs {
  std::string device;
  bool metadata_snap = false, logical = false, repair = false, quiet = false;
  bool help = false, version = false;
  bool have_since = false;
  uint32_t since = 0;
};

std::string usage(const std::string& tool) {
  if (tool == "era_check")
    return "Usage: era_check [options] {device|file}\nOptions:\n  {-q|--quiet}\n  {-h|--help}\n  {-V|--version}\n"
           "  {--super-block-only}\n";
  if (tool == "era_dump")
    return "Usage: era_dump [options] {device|file}\nOptions:\n  {-h|--help}\n  {-o <xml file>}\n  {-V|--version}\n"
           "  {--repair}\n  {--logical}\n";
  return "Usage: era_invalidate [options] --written-since <era> {device|file}\nOptions:\n  {-h|--help}\n"
         "  {-o <xml file>}\n  {--metadata-snapshot}\n  {-V|--version}\n";
}

// Empty, or what is wrong with the arguments. (-o FILE is not offered: a step's output is its
// stdout.)
std::string parse(const std::string& tool, const std::vector<std::string>& args, ToolArgs* out) {
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      out->help = true;
    } else if (a == "-V" || a == "--version") {
      out->version = true;
    } else if (tool == "era_invalidate" && a == "--written-since") {
      if (i + 1 >= args.size()) return "--written-since needs an era";
      const std::string& v = args[++i];
      if (v.empty() || v.size() > 10 || v.find_first_not_of("0123456789") != std::string::npos ||
          std::stoull(v) > 0xffffffffull)
        return "bad era '" + v + "'";
      out->since = static_cast<uint32_t>(std::stoull(v));
      out->have_since = true;
    } else if (tool == "era_invalidate" && a == "--metadata-snapshot") {
      out->metadata_snap = true;
    } else if (tool == "era_dump" && a == "--logical") {
      out->logical = true;
    } else if (tool == "era_dump" && a == "--repair") {
      out->repair = true;
    } else if (tool == "era_check" && (a == "-q" || a == "--quiet")) {
      out->quiet = true;
    } else if (tool == "era_check" && a == "--super-block-only") {
      // Parsed and ignored by era_check 0.9.0: it examines everything anyway.
    } else if (!a.empty() && a[0] == '-') {
      return "unrecognized option '" + a + "'";
    } else if (out->device.empty()) {
      out->device = a;
    } else {
      return "more than one device given ('" + out->device + "', '" + a + "')";
    }
  }
  if (out->help || out->version) return {};
  if (out->device.empty()) return "no metadata device given";
  if (tool == "era_invalidate" && !out->have_since) return "--written-since is required";
  return {};
}

ToolResult fail(const std::string& msg, const std::string& out = "") {
  return ToolResult{1, out, msg + "\n"};
}

// -h and -V, which end a tool before it reads anything.
bool help_or_version(const std::string& tool, const ToolArgs& a, ToolResult* res) {
  if (a.help) *res = ToolResult{0, usage(tool), ""};
  if (!a.help && a.version) *res = ToolResult{0, std::string(kVersion) + "\n", ""};
  return a.help || a.version;
}

model::BlockDevice* open_device(const ToolArgs& a, std::string* error) {
  return open_tool_device(a.device, a.metadata_snap, a.device + ": No such file or directory", error);
}

ToolResult era_invalidate(const std::vector<std::string>& args) {
  ToolArgs a;
  if (std::string e = parse("era_invalidate", args, &a); !e.empty()) return fail("era_invalidate: " + e);
  ToolResult res;
  if (help_or_version("era_invalidate", a, &res)) return res;
  std::string err;
  model::BlockDevice* b = open_device(a, &err);
  if (!b) return fail(err);
  EraMetadataReader rd;
  if (rd.open(b, a.metadata_snap, &err)) return fail(err);
  std::vector<bool> marked;
  if (rd.written_since(a.since, &marked, &err)) return fail("metadata contains errors (run era_check for details).");
  return ToolResult{0, format_blocks_xml(marked), ""};
}

// era_dump's XML (xml_format.cc), written as it goes: on damage the real tool has printed
// everything before it when it fails.
class XmlDump {
 public:
  explicit XmlDump(const superblock_fields& sb) {
    // The tools never read the uuid: it is always printed empty.
    line("<superblock uuid=\"\" block_size=\"" + std::to_string(sb.data_block_size) + "\" nr_blocks=\"" +
         std::to_string(sb.nr_blocks) + "\" current_era=\"" + std::to_string(sb.current_era) + "\">");
    depth_++;
  }
  void writeset(uint32_t era, const writeset_metadata& w, const std::vector<bool>& bits) {
    line("<writeset era=\"" + std::to_string(era) + "\" nr_bits=\"" + std::to_string(w.nr_bits) + "\">");
    depth_++;
    for (size_t b = 0; b < bits.size(); b++)
      line("<bit block=\"" + std::to_string(b) + "\" value=\"" + (bits[b] ? "true" : "false") + "\"/>");
    depth_--;
    line("</writeset>");
  }
  void begin_era_array() {
    line("<era_array>");
    depth_++;
  }
  void era_array(const std::vector<uint32_t>& eras) {
    for (size_t b = 0; b < eras.size(); b++)
      line("<era block=\"" + std::to_string(b) + "\" era=\"" + std::to_string(eras[b]) + "\"/>");
    depth_--;
    line("</era_array>");
    depth_--;
    line("</superblock>");
  }
  std::string out;

 private:
  void line(const std::string& s) { out += std::string(2 * depth_, ' ') + s + "\n"; }
  int depth_ = 0;
};

ToolResult era_dump(const std::vector<std::string>& args) {
  ToolArgs a;
  if (std::string e = parse("era_dump", args, &a); !e.empty()) return fail("era_dump: " + e);
  ToolResult res;
  if (help_or_version("era_dump", a, &res)) return res;
  std::string err;
  model::BlockDevice* b = open_device(a, &err);
  if (!b) return fail(err);
  EraMetadataReader rd;
  if (rd.open(b, false, &err)) return fail(err);
  XmlDump x(rd.view());
  const std::string damage =
      "metadata contains errors (run era_check for details).\nperhaps you wanted to run with --repair ?";
  std::vector<uint32_t> eras;
  if (a.logical) {
    if (rd.logical_eras(&eras, &err) && !a.repair) return fail(damage, x.out + "  <era_array>\n");
  } else {
    std::map<uint32_t, writeset_metadata> ws;
    if (rd.writesets(&ws, &err) && !a.repair) return fail(damage, x.out);
    for (const auto& [era, w] : ws) {
      std::vector<bool> bits;
      if (rd.bitset_bits(w, &bits, &err) && !a.repair) return fail(damage, x.out);
      x.writeset(era, w, bits);
    }
    if (rd.era_array(&eras, &err) && !a.repair) return fail(damage, x.out + "  <era_array>\n");
  }
  x.begin_era_array();
  x.era_array(eras);
  return ToolResult{0, x.out, ""};
}

// era_check's report: nested lines, two spaces a level, on stderr.
struct Report {
  bool quiet;
  std::string err;
  bool damaged = false;
  void line(int depth, const std::string& s) {
    if (!quiet) err += std::string(2 * depth, ' ') + s + "\n";
  }
  void damage(int depth, const std::string& headline, const std::vector<std::string>& detail) {
    line(depth, headline);
    for (const auto& d : detail) line(depth + 1, d);
    damaged = true;
  }
};

// check_superblock (era/superblock.cc): the fields era_check judges; the flags, uuid, block
// sizes of the data, nr_blocks, the current writeset and metadata_snap are not looked at.
void check_superblock(const superblock_fields& sb, uint64_t nr_metadata_blocks, Report* rep) {
  auto invalid = [&](const std::string& msg) { rep->damage(1, "superblock is invalid", {msg}); };
  if (sb.blocknr >= nr_metadata_blocks)
    invalid("blocknr out of bounds: " + std::to_string(sb.blocknr) + " >= " + std::to_string(nr_metadata_blocks));
  if (sb.magic != SUPERBLOCK_MAGIC) invalid("magic is incorrect: " + std::to_string(sb.magic));
  if (sb.version > MAX_ERA_VERSION || sb.version < MIN_ERA_VERSION)
    invalid("version incorrect: " + std::to_string(sb.version));
  if (sb.metadata_block_size != (DM_ERA_METADATA_BLOCK_SIZE >> 9))
    invalid("metadata block size incorrect: " + std::to_string(sb.metadata_block_size));
  if (sb.writeset_tree_root == SUPERBLOCK_LOCATION) invalid("writeset tree root points back to the superblock");
  if (sb.era_array_root == SUPERBLOCK_LOCATION) invalid("era array root points back to the superblock");
  if (sb.writeset_tree_root == sb.era_array_root)
    invalid("writeset tree root and era array both point to the same block: " + std::to_string(sb.era_array_root));
}

// check_writeset_tree and check_era_array. An array of no entries counts as damaged: the
// tools' walk compares the highest index seen with nr_entries - 1, unsigned.
void check_trees(EraMetadataReader& rd, Report* rep) {
  const superblock_fields& sb = rd.live();
  std::string err;
  std::map<uint32_t, writeset_metadata> ws;
  if (rd.writesets(&ws, &err)) rep->damage(0, "missing eras from writeset tree", {err});
  for (const auto& [era, w] : ws) {
    std::vector<bool> bits;
    const std::string era_line = "Era: " + std::to_string(era);
    if (w.nr_bits == 0)
      rep->damage(0, "damaged writeset", {"missing bits", era_line, "Missing bits: [64, 0)"});
    else if (rd.bitset_bits(w, &bits, &err))
      rep->damage(0, "damaged writeset", {err, era_line, "Missing bits: [0, " + std::to_string(w.nr_bits) + ")"});
  }
  std::vector<uint32_t> eras;
  if (sb.nr_blocks == 0) {
    rep->damage(0, "missing eras from era array", {"missing blocks", "Effected eras: [1, 0)"});
  } else if (rd.era_array(&eras, &err)) {
    rep->damage(0, "missing eras from era array", {err, "Effected eras: [0, " + std::to_string(sb.nr_blocks) + ")"});
  }
  for (size_t b = 0; b < eras.size(); b++)
    if (eras[b] > sb.current_era)
      rep->damage(0, "invalid era in era array",
                  {"era too great", "block: " + std::to_string(b) + ", era: " + std::to_string(eras[b])});
}

ToolResult era_check(const std::vector<std::string>& args) {
  ToolArgs a;
  if (std::string e = parse("era_check", args, &a); !e.empty()) return fail("era_check: " + e);
  ToolResult res;
  if (help_or_version("era_check", a, &res)) return res;
  std::string err;
  model::BlockDevice* b = open_device(a, &err);
  if (!b) return fail(a.quiet ? "" : err);
  Report rep{a.quiet, ""};
  rep.line(0, "examining superblock");
  EraMetadataReader rd;
  const int r = rd.open(b, false, &err);
  // A superblock that fails its checksum is fatal.
  if (!rd.superblock_read()) {
    rep.damage(1, "superblock is corrupt", {err});
    return ToolResult{1, "", rep.err};
  }
  check_superblock(rd.live(), b->capacity() / (DM_ERA_METADATA_BLOCK_SIZE >> 9), &rep);
  // dmsim reads the trees through the on-disk space map, which the tools never read: in dmsim
  // an unreadable one is fatal too.
  if (!rep.damaged && r) rep.damage(1, "superblock is invalid", {err});
  if (!rep.damaged) check_trees(rd, &rep);
  return ToolResult{rep.damaged ? 1 : 0, "", rep.err};
}

Tool make(const std::string& name, const std::string& synopsis, ToolResult (*run)(const std::vector<std::string>&)) {
  Tool t;
  t.name = name;
  t.usage = synopsis;
  t.check = [name](const std::vector<std::string>& args) {
    ToolArgs a;
    return parse(name, args, &a);
  };
  t.run = run;
  return t;
}

}  // namespace

void register_era_tools() {
  register_tool(make("era_invalidate", "era_invalidate --written-since ERA [--metadata-snapshot] DEV", era_invalidate));
  register_tool(make("era_dump", "era_dump [--logical] [--repair] DEV", era_dump));
  register_tool(make("era_check", "era_check [-q] DEV", era_check));
}

}  // namespace engines::era
