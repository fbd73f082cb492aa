// thin_check, thin_dump, thin_restore and thin_delta as scenario steps, with the options, output
// and exit codes of thin-provisioning-tools 0.9.0 (thin_check.cc, thin_dump.cc,
// metadata_dumper.cc, xml_format.cc, thin_restore.cc, restore_emitter.cc, thin_delta.cc), as the
// installed 0.9.0 binaries were observed to behave. Files they name (thin_dump -o,
// thin_restore -i) are the test host's (model::World::file). Like the
// real tools they open the metadata device exclusively (refused while a table holds it) unless
// they read a metadata snapshot. Where dmsim's reader cannot say what the real tools would (the
// exact words for structural damage below a tree's root), the headline is theirs and the detail
// dmsim's. thin_check 0.9.0 never compares the data space map with the mappings (an over- or
// under-counted data block passes it), so dmsim's thin_check does not either; the reader's
// check() does, for dmsim's own checks.
#include "engines/thin/thin_tools.hpp"

#include <tuple>
#include <utility>

#include "engines/check_registry.hpp"
#include "engines/thin/thin.hpp"
#include "engines/thin/thin_xml.hpp"
#include "engines/tool_registry.hpp"
#include "model/sync_io.hpp"
#include "model/world.hpp"
#include "sim/kernel.hpp"

namespace engines::thin {

namespace {

constexpr const char* kVersion = "0.9.0";

std::string usage(const std::string& tool) {
  if (tool == "thin_check")
    return "Usage: thin_check [options] {device|file}\nOptions:\n  {-q|--quiet}\n  {-h|--help}\n  {-V|--version}\n"
           "  {-m|--metadata-snap}\n  {--auto-repair}\n  {--override-mapping-root}\n  {--clear-needs-check-flag}\n"
           "  {--ignore-non-fatal-errors}\n  {--skip-mappings}\n  {--super-block-only}\n";
  if (tool == "thin_dump")
    return "Usage: thin_dump [options] {device|file}\nOptions:\n  {-h|--help}\n"
           "  {-f|--format} {xml|human_readable|custom}\n  {-r|--repair}\n  {-m|--metadata-snap} [block#]\n"
           "  {-o <xml file>}\n  {--dev-id} <dev-id>\n  {--skip-mappings}\n  {-V|--version}\n";
  if (tool == "thin_restore")
    return "Usage: thin_restore [options]\nOptions:\n  {-h|--help}\n  {-i|--input} <input xml file>\n"
           "  {-o|--output} <output device or file>\n  {--transaction-id} <natural>\n"
           "  {--data-block-size} <natural>\n  {--nr-data-blocks} <natural>\n  {-q|--quiet}\n  {-V|--version}\n";
  return "Usage: thin_delta [options] <device or file>\nOptions:\n  {--thin1, --snap1}\n  {--thin2, --snap2}\n"
         "  {-m, --metadata-snap} [block#]\n  {--verbose}\n  {-h|--help}\n  {-V|--version}\n";
}

struct ToolArgs {
  std::string device;
  bool help = false, version = false, quiet = false;
  bool metadata_snap = false;
  std::optional<uint64_t> snap_block;  // -m BLOCK (attached: -mN or --metadata-snap=N, as getopt's optional argument)
  // thin_check
  bool super_block_only = false, skip_mappings = false, ignore_non_fatal = false;
  // thin_dump
  bool repair = false;
  std::optional<uint64_t> dev_id;
  std::string output;  // thin_dump -o FILE; thin_restore -o DEV
  // thin_restore
  std::string input;
  bool extra_args = false;  // getopt's leftovers: thin_restore prints its usage alone
  thin_restore_overrides overrides;
  // thin_delta
  std::optional<uint64_t> snap1, snap2;
  bool verbose = false;
};

bool parse_u64(const std::string& v, uint64_t* out) {
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) return false;
  *out = std::stoull(v);
  return true;
}

// Empty, or what is wrong with the arguments (printed before the usage, as getopt and the tools
// do). The options that repair (--clear-needs-check-flag, --auto-repair) and other dump formats
// are not offered.
std::string parse(const std::string& tool, const std::vector<std::string>& args, ToolArgs* out) {
  const bool check = tool == "thin_check", dump = tool == "thin_dump", delta = tool == "thin_delta";
  const bool restore = tool == "thin_restore";
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    auto value = [&](std::string* v) {
      if (i + 1 >= args.size()) return false;
      *v = args[++i];
      return true;
    };
    std::string v;
    if (a == "-h" || a == "--help") {
      out->help = true;
    } else if (a == "-V" || a == "--version") {
      out->version = true;
    } else if (restore && (a == "-i" || a == "--input" || a == "-o" || a == "--output")) {
      if (!value(&v)) return "option '" + a + "' requires an argument";
      (a[1] == 'i' || a[2] == 'i' ? out->input : out->output) = v;
    } else if (restore && (a == "--transaction-id" || a == "--data-block-size" || a == "--nr-data-blocks")) {
      uint64_t n;
      if (!value(&v)) return "option '" + a + "' requires an argument";
      if (!parse_u64(v, &n)) return "couldn't parse " + a.substr(2) + " '" + v + "'";
      (a[2] == 't'   ? out->overrides.transaction_id
       : a[2] == 'd' ? out->overrides.data_block_size
                     : out->overrides.nr_data_blocks) = n;
    } else if (restore && (a == "-q" || a == "--quiet")) {
      out->quiet = true;
    } else if (restore && (a.empty() || a[0] != '-')) {
      out->extra_args = true;
    } else if (dump && a == "-o") {
      if (!value(&v)) return "option '-o' requires an argument";
      out->output = v;
    } else if (!restore && (a == "-m" || a == "--metadata-snap")) {
      out->metadata_snap = true;
    } else if ((dump || delta) && (a.rfind("-m", 0) == 0 || a.rfind("--metadata-snap=", 0) == 0)) {
      uint64_t b;
      const std::string n = a[1] == 'm' ? a.substr(2) : a.substr(a.find('=') + 1);
      if (!parse_u64(n, &b)) return "couldn't parse metadata snapshot block '" + n + "'";
      out->metadata_snap = true;
      out->snap_block = b;
    } else if (check && (a == "-q" || a == "--quiet")) {
      out->quiet = true;
    } else if (check && a == "--super-block-only") {
      out->super_block_only = true;
    } else if ((check || dump) && a == "--skip-mappings") {
      out->skip_mappings = true;
    } else if (check && a == "--ignore-non-fatal-errors") {
      out->ignore_non_fatal = true;
    } else if (check && (a == "--clear-needs-check-flag" || a == "--auto-repair" || a == "--override-mapping-root")) {
      return a + " is not supported by dmsim's " + tool;
    } else if (dump && (a == "-r" || a == "--repair")) {
      out->repair = true;
    } else if (dump && (a == "-f" || a == "--format")) {
      if (!value(&v)) return "option '" + a + "' requires an argument";
      if (v != "xml") return "dmsim's thin_dump writes xml only, not '" + v + "'";
    } else if (dump && a == "--dev-id") {
      uint64_t d;
      if (!value(&v)) return "option '--dev-id' requires an argument";
      if (!parse_u64(v, &d)) return "couldn't parse dev id '" + v + "'";
      out->dev_id = d;
    } else if (delta && (a == "--snap1" || a == "--thin1" || a == "--snap2" || a == "--thin2")) {
      uint64_t d;
      const bool first = a.back() == '1';
      if (!value(&v)) return "option '" + a + "' requires an argument";
      if (!parse_u64(v, &d)) return std::string("Couldn't parse thin id ") + (first ? "1" : "2") + ": '" + v + "'";
      (first ? out->snap1 : out->snap2) = d;
    } else if (delta && a == "--verbose") {
      out->verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      return tool + ": unrecognized option '" + a + "'";
    } else if (out->device.empty()) {
      out->device = a;
    } else {
      return "more than one device given ('" + out->device + "', '" + a + "')";
    }
  }
  if (out->help || out->version) return {};
  if (restore) {
    if (out->input.empty()) return "No input file provided.";
    if (out->output.empty()) return "No output file provided.";
    return {};
  }
  if (delta) {
    if (!out->snap1) return "--snap1 not specified.";
    if (!out->snap2) return "--snap2 not specified.";
    if (out->device.empty()) return "No input device provided.";
  }
  if (out->device.empty()) return "No input file provided.";
  return {};
}

ToolResult fail(const std::string& err, const std::string& out = "") {
  return ToolResult{1, out, err};
}

// -h and -V, which end a tool before it reads anything.
bool help_or_version(const std::string& tool, const ToolArgs& a, ToolResult* res) {
  if (a.help) *res = ToolResult{0, usage(tool), ""};
  if (!a.help && a.version) *res = ToolResult{0, std::string(kVersion) + "\n", ""};
  return a.help || a.version;
}

model::BlockDevice* open_device(const ToolArgs& a, std::string* error) {
  return open_tool_device(a.device, a.metadata_snap, "Couldn't stat path", error);
}

std::string superblock_attrs(const ThinMetadataReader& rd) {
  const thin_superblock_fields& sb = rd.view();
  // The uuid field as a C string: the kernel writes it zeroed, so the tools print it empty.
  std::string uuid;
  for (size_t i = 0; i < UUID_LEN && sb.uuid[i]; i++) uuid += static_cast<char>(sb.uuid[i]);
  return "uuid=\"" + uuid + "\" time=\"" + std::to_string(sb.time) + "\" transaction=\"" + std::to_string(sb.trans_id) +
         "\"";
}

std::string sizes_attrs(const ThinMetadataReader& rd) {
  return "data_block_size=\"" + std::to_string(rd.view().data_block_size) + "\" nr_data_blocks=\"" +
         std::to_string(rd.nr_data_blocks()) + "\"";
}

// ---- thin_dump ----

ToolResult dump(const ToolArgs& a) {
  std::string err;
  model::BlockDevice* b = open_device(a, &err);
  if (!b) return fail(err + "\n");
  ThinMetadataReader rd;
  if (rd.open(b, a.metadata_snap, &err, a.snap_block)) return fail(err + "\n");
  // The dumper reads the whole details tree first, then the top level of the mapping tree, and
  // fails at the first damage unless repairing; what it printed before stays printed.
  const std::string damage =
      "metadata contains errors (run thin_check for details).\nperhaps you wanted to run with "
      "--repair";
  std::map<uint64_t, disk_device_details> devs;
  std::vector<tree_damage> dmg;
  rd.devices(&devs, &dmg);
  if (!dmg.empty() && !a.repair) return fail(damage + "\n");
  const thin_superblock_fields& sb = rd.view();
  std::string out = "<superblock " + superblock_attrs(rd) + " flags=\"" + std::to_string(sb.flags) + "\" version=\"" +
                    std::to_string(sb.version) + "\" " + sizes_attrs(rd) + ">\n";
  std::map<uint64_t, uint64_t> roots;
  rd.mapping_roots(&roots, &dmg);
  if (!dmg.empty() && !a.repair) return fail(damage + "\n", out);
  for (const auto& [dev, d] : devs) {
    if (a.dev_id && *a.dev_id != dev) continue;
    out += "  <device dev_id=\"" + std::to_string(dev) + "\" mapped_blocks=\"" + std::to_string(d.mapped_blocks) +
           "\" transaction=\"" + std::to_string(d.transaction_id) + "\" creation_time=\"" +
           std::to_string(d.creation_time) + "\" snap_time=\"" + std::to_string(d.snapshotted_time) + "\">\n";
    if (!a.skip_mappings) {
      std::map<uint64_t, thin_mapping> m;
      const auto it = roots.find(dev);
      if (it == roots.end())
        dmg.push_back(tree_damage{dev, dev + 1, "no mapping tree"});
      else
        // The walk stops at the first damage: nothing after it is printed.
        rd.mappings(
            it->second,
            [&](uint64_t vb, const thin_mapping& x) {
              if (dmg.empty() || a.repair) m[vb] = x;
            },
            &dmg);
      out += format_mappings_xml(m);
      // 0.9.0 closes the device, prints the damage message without its newline, then again as
      // it exits.
      if (!dmg.empty() && !a.repair) return fail(damage + damage + "\n", out + "  </device>\n");
    }
    out += "  </device>\n";
  }
  return ToolResult{0, out + "</superblock>\n", ""};
}

ToolResult thin_dump(const std::vector<std::string>& args) {
  ToolArgs a;
  if (std::string e = parse("thin_dump", args, &a); !e.empty()) return fail(e + "\n" + usage("thin_dump"));
  ToolResult res;
  if (help_or_version("thin_dump", a, &res)) return res;
  res = dump(a);
  // -o: the file is created before the device is opened, so a failed dump leaves what it printed.
  if (!a.output.empty()) model::World::get().write_file(a.output, std::exchange(res.out, {}), sim::ktime_get_ns());
  return res;
}

// ---- thin_restore ----

ToolResult thin_restore(const std::vector<std::string>& args) {
  ToolArgs a;
  // thin_restore leaves a blank line between its complaint and the usage.
  if (std::string e = parse("thin_restore", args, &a); !e.empty())
    return fail(e + (e.rfind("No ", 0) == 0 ? "\n\n" : "\n") + usage("thin_restore"));
  ToolResult res;
  if (help_or_version("thin_restore", a, &res)) return res;
  if (a.extra_args) return fail(usage("thin_restore"));
  const std::string hint =
      "\n\nThe output file should either be a block device,\nor an existing file.  The file needs to be large\n"
      "enough to hold the metadata.\n";
  std::string err;
  model::BlockDevice* b = open_tool_device(a.output, false, "Output file does not exist.", &err);
  if (!b) return fail(err + (err == "Output file does not exist." ? hint : "\n"));
  // The smallest metadata the tool lays out: superblock, space map roots and first bitmaps.
  if (b->capacity() < 8 * THIN_METADATA_BLOCK_SECTORS) return fail("Output file too small." + hint);
  const std::string* xml = model::World::get().file(a.input);
  if (!xml) return fail("Couldn't stat file\n");
  // The tool lays out new metadata before it reads the file: whatever stops it leaves no superblock.
  restore_metadata m;
  if (!parse_thin_xml(*xml, a.overrides, &m, &err)) {
    model::blkdev_issue_zeroout(b, 0, THIN_METADATA_BLOCK_SECTORS);
    return fail(err + "\n");
  }
  if (dm_pool_restore_metadata(b, m, &err)) return fail(err + "\n");
  return ToolResult{0, "", ""};
}

// ---- thin_check ----

// thin_check's report: nested lines, two spaces a level, on stderr.
struct Report {
  bool quiet;
  std::string err;
  bool fatal = false, non_fatal = false;
  void line(int depth, const std::string& s) {
    if (!quiet) err += std::string(2 * depth, ' ') + s + "\n";
  }
  void damage(const std::string& headline, const tree_damage& d) {
    line(1, headline);
    line(2, d.desc);
    fatal = true;
  }
};

ToolResult thin_check(const std::vector<std::string>& args) {
  ToolArgs a;
  if (std::string e = parse("thin_check", args, &a); !e.empty())
    return fail(a.quiet && e.rfind("No input", 0) == 0 ? "" : e + "\n" + usage("thin_check"));
  ToolResult res;
  if (help_or_version("thin_check", a, &res)) return res;
  std::string err;
  model::BlockDevice* b = open_device(a, &err);
  if (!b) return fail(a.quiet ? "" : err + "\n");
  Report rep{a.quiet, ""};
  if (b->capacity() < THIN_METADATA_BLOCK_SECTORS) {
    rep.line(0, "Metadata device/file too small.  Is this binary metadata?");
    return fail(rep.err);
  }
  if (a.metadata_snap) {
    // -m looks for the snapshot before it reports anything, and fails without a word of the rest.
    ThinMetadataReader snap;
    if (const int r = snap.open(b, true, &err))
      return fail(a.quiet ? "" : (r == -ENODATA ? "No metadata snapshot found." : err) + "\n");
  }
  rep.line(0, "examining superblock");
  ThinMetadataReader rd;
  // Only the live superblock's checksum is judged; -m then reads the snapshot's trees.
  const int r = rd.open(b, false, &err);
  if (r || !rd.superblock_read()) {
    rep.line(1, "superblock is corrupt");
    rep.line(2, err);
    return fail(rep.err);
  }
  std::string out;
  // With -m everything after the superblock's checksum is the snapshot's: its transaction id, its
  // trees; its space maps were wiped by the kernel, so their counts are not checked.
  ThinMetadataReader view;
  view.open(b, a.metadata_snap, &err);
  if (!a.quiet)
    out = "TRANSACTION_ID=" + std::to_string(view.view().trans_id) +
          "\nMETADATA_FREE_BLOCKS=" + std::to_string(rd.device_blocks() - 1) + "\n";
  if (a.super_block_only) return ToolResult{0, out, rep.err};

  rep.line(0, "examining devices tree");
  std::vector<tree_damage> dmg;
  view.tools_check_devices(&dmg);
  for (const auto& d : dmg) rep.damage("missing devices: " + format_range(d), d);
  dmg.clear();
  if (a.skip_mappings) {
    rep.line(0, "examining top level of mapping tree");
    std::map<uint64_t, uint64_t> roots;
    view.mapping_roots(&roots, &dmg);
    for (const auto& d : dmg) rep.damage("missing all mappings for devices: " + format_range(d), d);
    return ToolResult{rep.fatal ? 1 : 0, out, rep.err};
  }
  rep.line(0, "examining mapping tree");
  std::map<uint64_t, std::vector<tree_damage>> by_dev;
  view.tools_check_mappings(&dmg, &by_dev);
  for (const auto& d : dmg) rep.damage("missing all mappings for devices: " + format_range(d), d);
  for (const auto& [dev, md] : by_dev)
    for (const auto& d : md)
      rep.damage("thin device " + std::to_string(dev) + " is missing mappings " + format_range(d), d);
  if (rep.fatal || a.metadata_snap) return ToolResult{rep.fatal ? 1 : 0, out, rep.err};

  // Only when the trees are whole: every metadata block's count against the references found.
  rep.line(0, "checking space map counts");
  // The tools read the metadata snapshot and both space maps here, to count their blocks: a
  // damaged block ends the check (its message unnested, as the tool's last words).
  if (std::string e = rd.counting_error(); !e.empty()) {
    if (!a.quiet) rep.err += e + "\n";
    return ToolResult{1, out, rep.err};
  }
  const thin_check_result cr = rd.check(false);
  for (const auto& [blk, diff] : cr.metadata_count_diffs) {
    rep.line(1, "metadata reference counts differ for block " + std::to_string(blk) + ", expected " +
                    std::to_string(diff.first) + ", but got " + std::to_string(diff.second));
    (diff.second > diff.first ? rep.non_fatal : rep.fatal) = true;
  }
  // dmsim's reader could not open or read the metadata space map: the real tool would have thrown.
  // (It only reports a data space map it cannot read, and goes on.)
  for (const auto& p : cr.problems)
    if (p.rfind("metadata space map", 0) == 0) {
      rep.line(1, p);
      rep.fatal = true;
    }
  const bool ok = !rep.fatal && (!rep.non_fatal || a.ignore_non_fatal);
  return ToolResult{ok ? 0 : 1, out, rep.err};
}

// ---- thin_delta ----

enum class DeltaKind { same, different, left_only, right_only };

const char* kind_name(DeltaKind k) {
  switch (k) {
    case DeltaKind::same:
      return "same";
    case DeltaKind::different:
      return "different";
    case DeltaKind::left_only:
      return "left_only";
    default:
      return "right_only";
  }
}

struct DeltaRun {
  DeltaKind kind;
  uint64_t begin, length, left_data, right_data;
};

// The vblocks of either device, by kind, in runs: consecutive vblocks of one kind, and with
// `verbose` also consecutive data blocks on each side that has them (the time is not compared).
std::vector<DeltaRun> delta_runs(const std::map<uint64_t, thin_mapping>& left,
                                 const std::map<uint64_t, thin_mapping>& right, bool verbose) {
  std::vector<DeltaRun> runs;
  auto add = [&](DeltaKind k, uint64_t vb, uint64_t l, uint64_t r) {
    if (!runs.empty()) {
      DeltaRun& last = runs.back();
      const bool next = last.kind == k && last.begin + last.length == vb;
      const bool left_on = (k != DeltaKind::right_only) && l != last.left_data + last.length;
      const bool right_on =
          (k == DeltaKind::different || k == DeltaKind::right_only) && r != last.right_data + last.length;
      if (next && !(verbose && (left_on || right_on))) {
        last.length++;
        return;
      }
    }
    runs.push_back(DeltaRun{k, vb, 1, l, r});
  };
  auto li = left.begin();
  auto ri = right.begin();
  while (li != left.end() || ri != right.end()) {
    if (ri == right.end() || (li != left.end() && li->first < ri->first)) {
      add(DeltaKind::left_only, li->first, li->second.data_block, 0);
      ++li;
    } else if (li == left.end() || ri->first < li->first) {
      add(DeltaKind::right_only, ri->first, 0, ri->second.data_block);
      ++ri;
    } else {
      const bool same = li->second.data_block == ri->second.data_block;
      add(same ? DeltaKind::same : DeltaKind::different, li->first, li->second.data_block, ri->second.data_block);
      ++li;
      ++ri;
    }
  }
  return runs;
}

std::string delta_xml(const std::vector<DeltaRun>& runs, bool verbose) {
  std::string out;
  const auto attr = [](const char* n, uint64_t v) { return std::string(" ") + n + "=\"" + std::to_string(v) + "\""; };
  for (size_t i = 0; i < runs.size(); i++) {
    const DeltaRun& r = runs[i];
    if (!verbose) {
      out += std::string("    <") + kind_name(r.kind) + attr("begin", r.begin) + attr("length", r.length) + "/>\n";
      continue;
    }
    if (i == 0 || runs[i - 1].kind != r.kind) out += std::string("    <") + kind_name(r.kind) + ">\n";
    out += "      <range" + attr("begin", r.begin);
    if (r.kind == DeltaKind::different)
      out += attr("left_data_begin", r.left_data) + attr("right_data_begin", r.right_data);
    else
      out += attr("data_begin", r.kind == DeltaKind::right_only ? r.right_data : r.left_data);
    out += attr("length", r.length) + "/>\n";
    if (i + 1 == runs.size() || runs[i + 1].kind != r.kind) out += std::string("    </") + kind_name(r.kind) + ">\n";
  }
  return out;
}

ToolResult thin_delta(const std::vector<std::string>& args) {
  ToolArgs a;
  if (std::string e = parse("thin_delta", args, &a); !e.empty()) return fail(e + "\n" + usage("thin_delta"));
  ToolResult res;
  if (help_or_version("thin_delta", a, &res)) return res;
  // Every failure after the arguments prints its message and the usage.
  auto failed = [](const std::string& msg) { return fail(msg + "\n" + usage("thin_delta")); };
  std::string err;
  model::BlockDevice* b = open_device(a, &err);
  if (!b) return failed(err);
  ThinMetadataReader rd;
  if (rd.open(b, a.metadata_snap, &err, a.snap_block)) return failed(err);
  if (std::string e = rd.metadata_index_error(); !e.empty()) return failed(e);
  // A device's subtree is looked up in the top level (whose damage surfaces as the node's own
  // error), then walked (whose damage gets the tool's own words).
  std::map<uint64_t, uint64_t> roots;
  std::vector<tree_damage> dmg;
  rd.mapping_roots(&roots, &dmg);
  if (!dmg.empty()) return failed(dmg.front().desc);
  std::map<uint64_t, thin_mapping> left, right;
  for (const auto& [which, dev, into] : {std::tuple{"snap1", *a.snap1, &left}, std::tuple{"snap2", *a.snap2, &right}}) {
    const auto it = roots.find(dev);
    if (it == roots.end())
      return failed(std::string("Unable to find mapping tree for ") + which + " (" + std::to_string(dev) + ")");
    rd.mappings(
        it->second, [into](uint64_t vb, const thin_mapping& m) { (*into)[vb] = m; }, &dmg);
    if (!dmg.empty()) return failed("damage in mapping tree, please run thin_check");
  }
  // thin_delta (unlike thin_dump) names the superblock's metadata snapshot when it holds one.
  std::string out = "<superblock " + superblock_attrs(rd) + " " + sizes_attrs(rd);
  if (rd.view().held_root) out += " metadata_snap=\"" + std::to_string(rd.view().held_root) + "\"";
  out += ">\n";
  out += "  <diff left=\"" + std::to_string(*a.snap1) + "\" right=\"" + std::to_string(*a.snap2) + "\">\n";
  out += delta_xml(delta_runs(left, right, a.verbose), a.verbose);
  out += "  </diff>\n</superblock>\n";
  return ToolResult{0, out, ""};
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

std::string format_mappings_xml(const std::map<uint64_t, thin_mapping>& mappings) {
  std::string out;
  auto emit = [&](uint64_t vb, const thin_mapping& m, uint64_t len) {
    if (len == 1)
      out += "    <single_mapping origin_block=\"" + std::to_string(vb) + "\" data_block=\"" +
             std::to_string(m.data_block) + "\" time=\"" + std::to_string(m.time) + "\"/>\n";
    else
      out += "    <range_mapping origin_begin=\"" + std::to_string(vb) + "\" data_begin=\"" +
             std::to_string(m.data_block) + "\" length=\"" + std::to_string(len) + "\" time=\"" +
             std::to_string(m.time) + "\"/>\n";
  };
  uint64_t begin = 0, len = 0;
  thin_mapping first;
  for (const auto& [vb, m] : mappings) {
    if (len && vb == begin + len && m.data_block == first.data_block + len && m.time == first.time) {
      len++;
      continue;
    }
    if (len) emit(begin, first, len);
    begin = vb;
    first = m;
    len = 1;
  }
  if (len) emit(begin, first, len);
  return out;
}

// Beyond thin_check 0.9.0: every data block's space map count against the mappings that
// reference it (fewer counts than references: the block can be handed out while still mapped).
std::vector<std::string> stricter_check(model::BlockDevice* image) {
  ThinMetadataReader rd;
  std::string err;
  if (rd.open(image, false, &err)) return {err};
  return rd.check(true).problems;
}

void register_thin_tools() {
  register_tool(make("thin_check", "thin_check [-q] [-m] [--super-block-only] [--skip-mappings] DEV", thin_check));
  register_tool(
      make("thin_dump", "thin_dump [-m[BLOCK]] [--dev-id ID] [--skip-mappings] [-r] [-o FILE] DEV", thin_dump));
  register_tool(make("thin_restore",
                     "thin_restore -i FILE -o DEV [--transaction-id N] [--data-block-size N] [--nr-data-blocks N] [-q]",
                     thin_restore));
  register_tool(make("thin_delta", "thin_delta --snap1 ID --snap2 ID [-m[BLOCK]] [--verbose] DEV", thin_delta));
  register_metadata_tool({"thin", "thin_check", "thin_check",
                          [](const CheckInput&) { return thin_pool_metadata_devices(); },
                          [](const std::string&) { return std::string(); }, stricter_check});
}

}  // namespace engines::thin
