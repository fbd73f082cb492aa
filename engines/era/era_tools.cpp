// era_invalidate, era_dump and era_check as scenario steps, with the options and output of
// thin-provisioning-tools. Like the real tools they open the metadata device exclusively
// (refused while a table holds it) unless they read a metadata snapshot.
#include "engines/era/era_tools.hpp"

#include "engines/era/era_reader.hpp"
#include "engines/tool_registry.hpp"
#include "model/world.hpp"

namespace engines::era {

namespace {

struct ToolArgs {
  std::string device;
  bool metadata_snap = false, logical = false, quiet = false, super_block_only = false;
  bool have_since = false;
  uint32_t since = 0;
};

// Empty, or what is wrong with the arguments.
std::string parse(const std::string& tool, const std::vector<std::string>& args, ToolArgs* out) {
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (tool == "era_invalidate" && a == "--written-since") {
      if (i + 1 >= args.size()) return "--written-since needs an era";
      const std::string& v = args[++i];
      if (v.empty() || v.size() > 10 || v.find_first_not_of("0123456789") != std::string::npos ||
          std::stoull(v) > 0xffffffffull)
        return "bad era '" + v + "'";
      out->since = static_cast<uint32_t>(std::stoull(v));
      out->have_since = true;
    } else if ((tool == "era_invalidate" || tool == "era_dump") && (a == "--metadata-snapshot" || a == "-m")) {
      out->metadata_snap = true;
    } else if (tool == "era_dump" && a == "--logical") {
      out->logical = true;
    } else if (tool == "era_check" && (a == "-q" || a == "--quiet")) {
      out->quiet = true;
    } else if (tool == "era_check" && a == "--super-block-only") {
      out->super_block_only = true;
    } else if (!a.empty() && a[0] == '-') {
      return "unknown option '" + a + "'";
    } else if (out->device.empty()) {
      out->device = a;
    } else {
      return "more than one device given ('" + out->device + "', '" + a + "')";
    }
  }
  if (out->device.empty()) return "no metadata device given";
  if (tool == "era_invalidate" && !out->have_since) return "--written-since is required";
  return {};
}

ToolResult fail(const std::string& msg) {
  return ToolResult{1, "", msg + "\n"};
}

// A failure while reading: what persistent-data said first, then the tool's own line.
ToolResult fail(const EraMetadataReader& rd, const std::string& msg) {
  std::string err;
  for (const auto& m : rd.messages()) err += m + "\n";
  return ToolResult{1, "", err + msg + "\n"};
}

// Opens the reader, refusing a device a live table holds (exclusive open) unless reading a
// metadata snapshot, as the tools do.
bool open_reader(const std::string& tool, const ToolArgs& a, EraMetadataReader* rd, ToolResult* res) {
  model::World& w = model::World::get();
  model::BlockDevice* b = w.lookup(a.device);
  if (!b) {
    *res = fail(tool + ": Couldn't stat path '" + a.device + "': No such file or directory");
    return false;
  }
  if (!a.metadata_snap && w.open_count(b) > 0) {
    *res = fail(tool + ": Couldn't open '" + a.device + "' exclusively: Device or resource busy");
    return false;
  }
  std::string err;
  if (rd->open(b, a.metadata_snap, &err)) {
    *res = fail(*rd, tool + ": " + err);
    return false;
  }
  return true;
}

ToolResult era_invalidate(const std::vector<std::string>& args) {
  ToolArgs a;
  if (std::string e = parse("era_invalidate", args, &a); !e.empty()) return fail("era_invalidate: " + e);
  EraMetadataReader rd;
  ToolResult res;
  if (!open_reader("era_invalidate", a, &rd, &res)) return res;
  std::vector<bool> marked;
  std::string err;
  if (rd.written_since(a.since, &marked, &err)) return fail(rd, "era_invalidate: " + err);
  return ToolResult{0, format_blocks_xml(marked), ""};
}

ToolResult era_dump(const std::vector<std::string>& args) {
  ToolArgs a;
  if (std::string e = parse("era_dump", args, &a); !e.empty()) return fail("era_dump: " + e);
  EraMetadataReader rd;
  ToolResult res;
  if (!open_reader("era_dump", a, &rd, &res)) return res;
  const superblock_fields& sb = rd.view();
  std::string out = "<superblock uuid=\"\" block_size=\"" + std::to_string(sb.data_block_size) + "\" nr_blocks=\"" +
                    std::to_string(sb.nr_blocks) + "\" current_era=\"" + std::to_string(rd.live().current_era) +
                    "\">\n";
  std::string err;
  std::vector<uint32_t> eras;
  if (a.logical) {
    if (rd.logical_eras(&eras, &err)) return fail(rd, "era_dump: " + err);
  } else {
    std::map<uint32_t, writeset_metadata> ws;
    if (rd.writesets(&ws, &err)) return fail(rd, "era_dump: " + err);
    for (const auto& [era, w] : ws) {
      out += "  <writeset era=\"" + std::to_string(era) + "\" nr_bits=\"" + std::to_string(w.nr_bits) + "\">\n";
      std::vector<bool> bits;
      if (rd.bitset_bits(w, &bits, &err)) return fail(rd, "era_dump: " + err);
      for (size_t b = 0; b < bits.size();) {
        if (!bits[b]) {
          b++;
          continue;
        }
        size_t e = b;
        while (e < bits.size() && bits[e]) e++;
        out += "    <marked block_begin=\"" + std::to_string(b) + "\" len=\"" + std::to_string(e - b) + "\"/>\n";
        b = e;
      }
      out += "  </writeset>\n";
    }
    if (rd.era_array(&eras, &err)) return fail(rd, "era_dump: " + err);
  }
  out += "  <era_array>\n";
  for (size_t b = 0; b < eras.size(); b++)
    out += "    <era block=\"" + std::to_string(b) + "\" era=\"" + std::to_string(eras[b]) + "\"/>\n";
  out += "  </era_array>\n</superblock>\n";
  return ToolResult{0, out, ""};
}

ToolResult era_check(const std::vector<std::string>& args) {
  ToolArgs a;
  if (std::string e = parse("era_check", args, &a); !e.empty()) return fail("era_check: " + e);
  EraMetadataReader rd;
  ToolResult res;
  if (!open_reader("era_check", a, &rd, &res)) return res;
  if (a.super_block_only) return ToolResult{0, a.quiet ? "" : "examining superblock\n", ""};
  const auto problems = rd.check();
  if (problems.empty()) return ToolResult{0, a.quiet ? "" : "examining superblock\nexamining writesets\n", ""};
  std::string err;
  for (const auto& m : rd.messages()) err += m + "\n";
  for (const auto& p : problems) err += p + "\n";
  return ToolResult{1, "", a.quiet ? "" : err};
}

Tool make(const std::string& name, const std::string& usage, ToolResult (*run)(const std::vector<std::string>&)) {
  Tool t;
  t.name = name;
  t.usage = usage;
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
  register_tool(make("era_dump", "era_dump [--logical] [--metadata-snapshot] DEV", era_dump));
  register_tool(make("era_check", "era_check [-q] [--super-block-only] DEV", era_check));
}

}  // namespace engines::era
