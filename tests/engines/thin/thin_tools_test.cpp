// dmsim's thin_check, thin_dump and thin_delta against the real thin-provisioning-tools 0.9.0 on
// the same images: images the real thin_restore wrote (so the reader is tested apart from dmsim's
// writer), the same images damaged on purpose, and images dmsim's pool metadata wrote. Each
// test is skipped, with a warning, where the real tools are not installed.
#include "engines/thin/thin_tools.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <sstream>

#include "engines/check_registry.hpp"
#include "engines/thin/thin_metadata.hpp"
#include "engines/thin/thin_reader.hpp"
#include "engines/tool_registry.hpp"
#include "tests/engines/engine_test_helpers.hpp"
#include "tests/engines/thin/thin_tools_image.hpp"
#include "tests/model/model_test_helpers.hpp"
#include "tests/verify/verify_test_helpers.hpp"
#include "verify/runner.hpp"

using namespace modeltest;
using namespace engines::thin;
using eratest::run_tool;
using eratest::TempFile;

namespace {

bool skip_without_tools() {
  if (thintest::real_thin_tools()) return false;
  WARN(
      "skipped: thin-provisioning-tools (/usr/sbin/thin_check, thin_dump, thin_delta, thin_restore) are not installed");
  return true;
}

engines::ToolResult dmsim_tool(const std::string& tool, const std::vector<std::string>& args) {
  verifytest::register_once();
  const engines::Tool* t = engines::find_tool(tool);
  REQUIRE(t);
  return t->run(args);
}

// Two devices sharing a range (a snapshot), a run broken by a time, and a lone far block.
const std::string kTwoDevices =
    "<superblock uuid=\"\" time=\"3\" transaction=\"7\" flags=\"0\" version=\"2\" data_block_size=\"128\" "
    "nr_data_blocks=\"1000\">\n"
    "  <device dev_id=\"1\" mapped_blocks=\"6\" transaction=\"2\" creation_time=\"0\" snap_time=\"2\">\n"
    "    <range_mapping origin_begin=\"0\" data_begin=\"10\" length=\"3\" time=\"0\"/>\n"
    "    <single_mapping origin_block=\"5\" data_block=\"20\" time=\"1\"/>\n"
    "    <single_mapping origin_block=\"6\" data_block=\"21\" time=\"2\"/>\n"
    "    <single_mapping origin_block=\"100\" data_block=\"31\" time=\"2\"/>\n"
    "  </device>\n"
    "  <device dev_id=\"2\" mapped_blocks=\"4\" transaction=\"3\" creation_time=\"2\" snap_time=\"2\">\n"
    "    <range_mapping origin_begin=\"0\" data_begin=\"10\" length=\"3\" time=\"0\"/>\n"
    "    <single_mapping origin_block=\"5\" data_block=\"22\" time=\"2\"/>\n"
    "  </device>\n"
    "</superblock>\n";

// 3,000 mappings in one run (several leaves), then runs broken by a gap in the data and a time.
std::string many_mappings_xml() {
  std::string x =
      "<superblock uuid=\"\" time=\"3\" transaction=\"1\" flags=\"0\" version=\"2\" data_block_size=\"128\" "
      "nr_data_blocks=\"100000\">\n"
      "  <device dev_id=\"7\" mapped_blocks=\"3003\" transaction=\"0\" creation_time=\"0\" snap_time=\"0\">\n";
  for (int i = 0; i < 3000; i++)
    x += "    <single_mapping origin_block=\"" + std::to_string(i) + "\" data_block=\"" + std::to_string(i + 5) +
         "\" time=\"1\"/>\n";
  x += "    <single_mapping origin_block=\"3000\" data_block=\"4000\" time=\"1\"/>\n";
  x += "    <single_mapping origin_block=\"3001\" data_block=\"4001\" time=\"2\"/>\n";
  x += "    <single_mapping origin_block=\"3002\" data_block=\"4002\" time=\"2\"/>\n";
  return x + "  </device>\n</superblock>\n";
}

// The real thin_restore's image of `xml`, `mib` MiB.
void restore(const std::string& xml, const std::string& image, uint64_t mib = 4) {
  TempFile in("thin-in.xml");
  eratest::write_file(in.path, xml);
  eratest::write_file(image, "");
  std::filesystem::resize_file(image, mib << 20);
  const auto r = run_tool({thintest::kThinRestore, "-i", in.path, "-o", image});
  INFO(r.err);
  REQUIRE(r.code == 0);
}

// dmsim's tool on the image file, in a simulation of its own (a process of its own: what it
// returns comes back through files).
eratest::ToolRun dmsim_on_image(const std::string& tool, std::vector<std::string> args, const std::string& image) {
  TempFile code("sim-code"), out("sim-out"), err("sim-err");
  SimResult r = run_world([&](model::World& w) {
    eratest::load_file_into_disk(w, "meta", image);
    args.push_back("/dev/meta");
    const engines::ToolResult ours = dmsim_tool(tool, args);
    eratest::write_file(code.path, std::to_string(ours.exit_code));
    eratest::write_file(out.path, ours.out);
    eratest::write_file(err.path, ours.err);
  });
  REQUIRE_CLEAN(r);
  eratest::ToolRun run;
  run.code = std::stoi(eratest::read_file(code.path));
  run.out = eratest::read_file(out.path);
  run.err = eratest::read_file(err.path);
  return run;
}

// One tool, real and dmsim's, on the image file: the same exit code, stdout and stderr.
void same_as_real(const std::string& tool, const char* real_path, const std::vector<std::string>& args,
                  const std::string& image) {
  std::vector<std::string> real_argv = {real_path};
  real_argv.insert(real_argv.end(), args.begin(), args.end());
  real_argv.push_back(image);
  const auto real = run_tool(real_argv);
  const auto ours = dmsim_on_image(tool, args, image);
  std::string shown;
  for (const auto& a : args) shown += " " + a;
  INFO(tool << shown << "\nreal (exit " << real.code << "):\n"
            << real.out << "[stderr]\n"
            << real.err << "\ndmsim's (exit " << ours.code << "):\n"
            << ours.out << "[stderr]\n"
            << ours.err);
  CHECK(ours.code == real.code);
  CHECK(ours.out == real.out);
  CHECK(ours.err == real.err);
}

// The reader's full check of an image file, as lines: "P problem", "L leak", "M block" and
// "D block" for a metadata or data block whose count differs.
struct CheckLines {
  std::vector<std::string> problems, leaks;
  std::set<uint64_t> metadata_diffs, data_diffs;
  std::string text;
};
CheckLines reader_check(const std::string& image) {
  TempFile lines("sim-check");
  SimResult r = run_world([&](model::World& w) {
    model::VolatileCacheDisk& d = eratest::load_file_into_disk(w, "meta", image);
    ThinMetadataReader rd;
    std::string err, text;
    if (rd.open(&d, false, &err)) {
      eratest::write_file(lines.path, "P " + err + "\n");
      return;
    }
    const thin_check_result res = rd.check();
    for (const auto& p : res.problems) text += "P " + p + "\n";
    for (const auto& l : res.leaks) text += "L " + l + "\n";
    for (const auto& [b, diff] : res.metadata_count_diffs) text += "M " + std::to_string(b) + "\n";
    for (const auto& [b, diff] : res.data_count_diffs) text += "D " + std::to_string(b) + "\n";
    eratest::write_file(lines.path, text);
  });
  REQUIRE_CLEAN(r);
  CheckLines c;
  c.text = eratest::read_file(lines.path);
  std::istringstream in(c.text);
  for (std::string l; std::getline(in, l);) {
    if (l.size() < 2) continue;
    const std::string rest = l.substr(2);
    if (l[0] == 'P') c.problems.push_back(rest);
    if (l[0] == 'L') c.leaks.push_back(rest);
    if (l[0] == 'M') c.metadata_diffs.insert(std::stoull(rest));
    if (l[0] == 'D') c.data_diffs.insert(std::stoull(rest));
  }
  return c;
}

}  // namespace

TEST_CASE("thin_dump of an image the real thin_restore wrote prints what the real thin_dump prints", "[thin][tools]") {
  if (skip_without_tools()) return;
  TempFile a("dump-a.img"), b("dump-b.img");
  restore(kTwoDevices, a.path);
  restore(many_mappings_xml(), b.path, 8);
  // The restored XML comes back as it went in: the runs are thin_dump's own.
  const auto real = run_tool({thintest::kThinDump, a.path});
  REQUIRE(real.out == kTwoDevices);
  for (const std::string& img : {a.path, b.path}) {
    same_as_real("thin_dump", thintest::kThinDump, {}, img);
    same_as_real("thin_dump", thintest::kThinDump, {"--skip-mappings"}, img);
  }
  same_as_real("thin_dump", thintest::kThinDump, {"--dev-id", "2"}, a.path);
  // No metadata snapshot in a restored image.
  same_as_real("thin_dump", thintest::kThinDump, {"-m"}, a.path);
}

TEST_CASE("thin_check passes a good image with the real thin_check's report, and -m without a snapshot fails both",
          "[thin][tools]") {
  if (skip_without_tools()) return;
  TempFile a("check-a.img"), b("check-b.img");
  restore(kTwoDevices, a.path);
  restore(many_mappings_xml(), b.path, 8);
  for (const std::string& img : {a.path, b.path}) {
    same_as_real("thin_check", thintest::kThinCheck, {}, img);
    same_as_real("thin_check", thintest::kThinCheck, {"-q"}, img);
    same_as_real("thin_check", thintest::kThinCheck, {"--skip-mappings"}, img);
    same_as_real("thin_check", thintest::kThinCheck, {"--super-block-only"}, img);
    same_as_real("thin_check", thintest::kThinCheck, {"-m"}, img);
    const CheckLines c = reader_check(img);
    INFO(c.text);
    REQUIRE(c.text.empty());
  }
}

TEST_CASE(
    "a flipped byte in a mapping leaf, the top level, the details tree or the superblock fails both thin_checks "
    "and thin_dumps alike",
    "[thin][tools]") {
  if (skip_without_tools()) return;
  TempFile a("flip-a.img");
  restore(kTwoDevices, a.path);
  thintest::Image clean(a.path);
  const uint64_t dev1_root = clean.node_value(clean.mapping_root(), 0);
  const std::vector<std::pair<std::string, std::pair<uint64_t, size_t>>> flips = {
      {"device 1's mapping leaf", {dev1_root, 100}},
      {"the top level of the mapping tree", {clean.mapping_root(), 100}},
      {"the details tree", {clean.details_root(), 100}},
      {"the superblock", {0, 200}},
  };
  for (const auto& [what, where] : flips) {
    INFO("a byte flipped in " << what);
    TempFile img("flipped.img");
    thintest::Image im(a.path);
    im.path = img.path;
    im.flip(where.first, where.second);
    im.save();
    const auto real = run_tool({thintest::kThinCheck, img.path});
    REQUIRE(real.code == 1);
    same_as_real("thin_check", thintest::kThinCheck, {}, img.path);
    same_as_real("thin_dump", thintest::kThinDump, {}, img.path);
    same_as_real("thin_delta", thintest::kThinDelta, {"--snap1", "1", "--snap2", "2"}, img.path);
    REQUIRE(!reader_check(img.path).problems.empty());
  }
}

TEST_CASE("metadata space-map counts above or below the references fail both thin_checks with the same lines",
          "[thin][tools]") {
  if (skip_without_tools()) return;
  TempFile a("mcount-a.img");
  restore(kTwoDevices, a.path);
  thintest::Image clean(a.path);
  const uint64_t bitmap = clean.metadata_bitmap();
  const uint64_t dev1_root = clean.node_value(clean.mapping_root(), 0);
  struct Case {
    const char* what;
    uint64_t block;
    unsigned count;
    bool leak;
  };
  for (const Case& c : {Case{"an unreferenced block counted (a leak)", 500, 1, true},
                        Case{"a leaf counted twice (a leak)", dev1_root, 2, true},
                        Case{"the top level's root not counted", clean.mapping_root(), 0, false}}) {
    INFO(c.what);
    TempFile img("mcount.img");
    thintest::Image im(a.path);
    im.path = img.path;
    im.set_count(bitmap, c.block, c.count);
    im.save();
    const auto real = run_tool({thintest::kThinCheck, img.path});
    REQUIRE(real.code == 1);
    REQUIRE(real.err.find("metadata reference counts differ for block " + std::to_string(c.block)) !=
            std::string::npos);
    same_as_real("thin_check", thintest::kThinCheck, {}, img.path);
    same_as_real("thin_check", thintest::kThinCheck, {"--ignore-non-fatal-errors"}, img.path);
    const CheckLines res = reader_check(img.path);
    INFO(res.text);
    REQUIRE(res.metadata_diffs == std::set<uint64_t>{c.block});
    REQUIRE(res.problems.empty() == c.leak);
    REQUIRE(res.leaks.empty() == !c.leak);
  }
}

TEST_CASE(
    "a data block's space-map count off from its mappings passes the real thin_check 0.9.0 and dmsim's, while "
    "the reader's check reports it",
    "[thin][tools]") {
  if (skip_without_tools()) return;
  TempFile a("dcount-a.img");
  restore(kTwoDevices, a.path);
  thintest::Image clean(a.path);
  const uint64_t bitmap = clean.data_bitmap();
  struct Case {
    const char* what;
    uint64_t block;
    unsigned count;
    bool leak;
  };
  // Data block 10 is mapped by both devices through two distinct leaves: count 2.
  for (const Case& c : {Case{"a shared block counted once", 10, 1, false}, Case{"a block counted twice", 20, 2, true},
                        Case{"an unmapped block counted", 500, 1, true}}) {
    INFO(c.what);
    TempFile img("dcount.img");
    thintest::Image im(a.path);
    im.path = img.path;
    im.set_count(bitmap, c.block, c.count);
    im.save();
    // 0.9.0 never compares the data space map with the mappings.
    const auto real = run_tool({thintest::kThinCheck, img.path});
    REQUIRE(real.code == 0);
    same_as_real("thin_check", thintest::kThinCheck, {}, img.path);
    const CheckLines res = reader_check(img.path);
    INFO(res.text);
    REQUIRE(res.data_diffs == std::set<uint64_t>{c.block});
    REQUIRE(res.metadata_diffs.empty());
    REQUIRE(res.problems.empty() == c.leak);
    REQUIRE(res.leaks.empty() == !c.leak);
  }
}

TEST_CASE("thin_delta prints what the real thin_delta prints, plain and verbose, and fails alike on a missing device",
          "[thin][tools]") {
  if (skip_without_tools()) return;
  // Same (data equal, time not), different with a run broken on the right, left and right only.
  const std::string xml =
      "<superblock uuid=\"\" time=\"3\" transaction=\"7\" flags=\"0\" version=\"2\" data_block_size=\"128\" "
      "nr_data_blocks=\"1000\">\n"
      "  <device dev_id=\"1\" mapped_blocks=\"9\" transaction=\"2\" creation_time=\"0\" snap_time=\"2\">\n"
      "    <single_mapping origin_block=\"0\" data_block=\"10\" time=\"0\"/>\n"
      "    <single_mapping origin_block=\"1\" data_block=\"50\" time=\"0\"/>\n"
      "    <range_mapping origin_begin=\"2\" data_begin=\"12\" length=\"2\" time=\"0\"/>\n"
      "    <range_mapping origin_begin=\"4\" data_begin=\"60\" length=\"3\" time=\"0\"/>\n"
      "    <single_mapping origin_block=\"7\" data_block=\"70\" time=\"0\"/>\n"
      "    <single_mapping origin_block=\"8\" data_block=\"80\" time=\"0\"/>\n"
      "  </device>\n"
      "  <device dev_id=\"2\" mapped_blocks=\"9\" transaction=\"3\" creation_time=\"2\" snap_time=\"2\">\n"
      "    <single_mapping origin_block=\"0\" data_block=\"10\" time=\"1\"/>\n"
      "    <single_mapping origin_block=\"1\" data_block=\"50\" time=\"0\"/>\n"
      "    <range_mapping origin_begin=\"2\" data_begin=\"12\" length=\"2\" time=\"0\"/>\n"
      "    <range_mapping origin_begin=\"4\" data_begin=\"90\" length=\"2\" time=\"0\"/>\n"
      "    <single_mapping origin_block=\"6\" data_block=\"95\" time=\"0\"/>\n"
      "    <range_mapping origin_begin=\"9\" data_begin=\"99\" length=\"2\" time=\"0\"/>\n"
      "  </device>\n"
      "</superblock>\n";
  TempFile img("delta.img");
  restore(xml, img.path);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--snap1", "1", "--snap2", "2"},
                                             {"--snap1", "2", "--snap2", "1"},
                                             {"--verbose", "--snap1", "1", "--snap2", "2"},
                                             {"--thin1", "2", "--thin2", "1", "--verbose"},
                                             {"--snap1", "1", "--snap2", "1"},
                                             {"--snap1", "1", "--snap2", "5"},
                                             {"--snap1", "1"},
                                             {"--snap1", "x", "--snap2", "2"},
                                             {"-m", "--snap1", "1", "--snap2", "2"}})
    same_as_real("thin_delta", thintest::kThinDelta, args, img.path);
  REQUIRE(run_tool({thintest::kThinDelta, "--verbose", "--snap1", "1", "--snap2", "2", img.path})
              .out.find("<range begin=\"4\" left_data_begin=\"60\" right_data_begin=\"90\" length=\"2\"/>") !=
          std::string::npos);
}

namespace {

model::VolatileCacheDisk& blank_disk(model::World& w, const std::string& name, uint64_t sectors) {
  model::DiskConfig c;
  c.name = name;
  c.sectors = sectors;
  c.initial_zero = true;
  return w.add_disk(c);
}

void map_new(dm_thin_device* td, uint64_t vblock) {
  uint64_t b = 0;
  REQUIRE(dm_pool_alloc_data_block(td->pmd, &b) == 0);
  REQUIRE(dm_thin_insert_block(td, vblock, b) == 0);
}

// A pool written by dmsim's metadata code: device 1 with 300 blocks (several leaves), device 2 a
// snapshot of it that then breaks sharing on a few blocks, a metadata snapshot taken, then device 1
// changed again and device 3 created and removed, all committed; the image is what a read of the
// disk returns after.
void dmsim_pool_image(const std::string& path) {
  SimResult r = run_world([&](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "pool-meta", 8192);
    engines::KmemOwner kmem("thin-tools");
    std::unique_ptr<dm_pool_metadata> pmd;
    REQUIRE(dm_pool_metadata_open(&meta, 128, true, {}, &kmem, &pmd) == 0);
    REQUIRE(dm_pool_resize_data_dev(pmd.get(), 5000) == 0);
    REQUIRE(dm_pool_create_thin(pmd.get(), 1) == 0);
    dm_thin_device* td = nullptr;
    REQUIRE(dm_pool_open_thin_device(pmd.get(), 1, &td) == 0);
    for (uint64_t vb = 0; vb < 300; vb++) map_new(td, vb < 200 ? vb : vb + 1000);
    REQUIRE(dm_pool_close_thin_device(td) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(dm_pool_create_snap(pmd.get(), 2, 1) == 0);
    REQUIRE(dm_pool_open_thin_device(pmd.get(), 2, &td) == 0);
    for (uint64_t vb : {3, 4, 5, 150, 1250}) map_new(td, vb);
    REQUIRE(dm_thin_remove_block(td, 7) == 0);
    REQUIRE(dm_pool_close_thin_device(td) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(dm_pool_reserve_metadata_snap(pmd.get()) == 0);
    REQUIRE(dm_pool_open_thin_device(pmd.get(), 1, &td) == 0);
    for (uint64_t vb : {0, 1, 400}) map_new(td, vb);
    REQUIRE(dm_pool_close_thin_device(td) == 0);
    REQUIRE(dm_pool_create_thin(pmd.get(), 3) == 0);
    REQUIRE(dm_pool_open_thin_device(pmd.get(), 3, &td) == 0);
    map_new(td, 9);
    REQUIRE(dm_pool_close_thin_device(td) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);  // a device is deleted from the committed details
    REQUIRE(dm_pool_delete_thin_device(pmd.get(), 3) == 0);
    REQUIRE(dm_pool_set_metadata_transaction_id(pmd.get(), 0, 4) == 0);
    REQUIRE(dm_pool_commit_metadata(pmd.get()) == 0);
    REQUIRE(dm_pool_metadata_close(pmd) == 0);
    eratest::write_disk_to_file(meta, path);
  });
  REQUIRE_CLEAN(r);
}

}  // namespace

TEST_CASE(
    "an image dmsim's pool metadata wrote, with a snapshot and a metadata snapshot, passes both thin_checks and "
    "dumps and deltas alike, live and from the metadata snapshot",
    "[thin][tools]") {
  if (skip_without_tools()) return;
  TempFile img("pool.img");
  dmsim_pool_image(img.path);
  const auto real = run_tool({thintest::kThinCheck, img.path});
  INFO(real.err);
  REQUIRE(real.code == 0);
  same_as_real("thin_check", thintest::kThinCheck, {}, img.path);
  same_as_real("thin_check", thintest::kThinCheck, {"-m"}, img.path);
  same_as_real("thin_dump", thintest::kThinDump, {}, img.path);
  same_as_real("thin_dump", thintest::kThinDump, {"-m"}, img.path);
  // The snapshot named by its block, as getopt takes an optional argument: attached.
  const std::string held = std::to_string(thintest::Image(img.path).u64(0, 56));
  same_as_real("thin_dump", thintest::kThinDump, {"-m" + held}, img.path);
  same_as_real("thin_dump", thintest::kThinDump, {"--metadata-snap=" + held, "--dev-id", "2"}, img.path);
  same_as_real("thin_delta", thintest::kThinDelta, {"--snap1", "1", "--snap2", "2"}, img.path);
  same_as_real("thin_delta", thintest::kThinDelta, {"--verbose", "-m", "--snap1", "1", "--snap2", "2"}, img.path);
  const auto dump = run_tool({thintest::kThinDump, img.path});
  REQUIRE(dump.out.find("<device dev_id=\"2\"") != std::string::npos);
  REQUIRE(dump.out.find("<device dev_id=\"3\"") == std::string::npos);
  const CheckLines c = reader_check(img.path);
  INFO(c.text);
  REQUIRE(c.text.empty());
}

TEST_CASE("the thin tools refuse a metadata device a live pool holds unless they read its metadata snapshot",
          "[thin][tools]") {
  const auto r = enginetest::run_steps(
      "name: thin-tools\ndisks:\n  meta: {size: 4MiB, profile: nvme, initial: zero}\n"
      "  data: {size: 64MiB, profile: nvme}\nsteps:\n"
      "  - dmsetup create pool --table \"0 131072 thin-pool /dev/meta /dev/data 128 0\"\n"
      "  - dmsetup message pool 0 create_thin 0\n"
      "  - dmsetup create thin --table \"0 65536 thin /dev/mapper/pool 0\"\n"
      "  - dd if=/dev/urandom of=/dev/mapper/thin bs=64k count=3 oflag=direct\n"
      "  - dmsetup message pool 0 reserve_metadata_snap\n"
      "  - ! thin_check /dev/meta\n"
      "  - ! thin_dump /dev/meta\n"
      "  - thin_dump -m /dev/meta\n"
      "  - dmsetup remove thin\n"
      "  - dmsetup remove pool\n"
      "  - thin_check /dev/meta\n"
      "  - thin_dump /dev/meta\n");
  REQUIRE(r.run.out.finished);
  REQUIRE(r.step(5).err.find("Device or resource busy") != std::string::npos);
  REQUIRE(r.step(6).exit_code == 1);
  INFO(r.step(7).err);
  REQUIRE(r.step(7).exit_code == 0);
  REQUIRE(r.out(7).find("<device dev_id=\"0\"") != std::string::npos);
  INFO(r.step(10).err);
  REQUIRE(r.step(10).exit_code == 0);
  // Three 64 KiB writes fill three data blocks of 64 KiB (128 sectors).
  REQUIRE(r.out(11).find("<range_mapping origin_begin=\"0\" data_begin=\"0\" length=\"3\"") != std::string::npos);
}

TEST_CASE("the real-tools row for thin runs thin_check on every thin-pool metadata device", "[thin][tools]") {
  verifytest::register_once();
  const auto rows = engines::metadata_tools();
  const auto it = std::find_if(rows.begin(), rows.end(), [](const auto& row) { return row.engine == "thin"; });
  REQUIRE(it != rows.end());
  REQUIRE(it->tool == "thin_check");
  REQUIRE(it->simulated == "thin_check");
  REQUIRE(engines::find_tool("thin_check"));
  REQUIRE(engines::find_tool("thin_dump"));
  REQUIRE(engines::find_tool("thin_delta"));
}

TEST_CASE("the thin row's stricter check rejects a shared data block counted once, which thin_check 0.9.0 accepts",
          "[thin][tools]") {
  if (skip_without_tools()) return;
  verifytest::register_once();
  const auto rows = engines::metadata_tools();
  const auto row = std::find_if(rows.begin(), rows.end(), [](const auto& r) { return r.engine == "thin"; });
  REQUIRE(row != rows.end());
  REQUIRE(row->stricter);
  TempFile a("stricter-a.img"), img("stricter.img");
  restore(kTwoDevices, a.path);
  thintest::Image im(a.path);
  const uint64_t bitmap = im.data_bitmap();
  im.path = img.path;
  im.set_count(bitmap, 10, 1);  // mapped by both devices through two leaves
  im.save();
  REQUIRE(run_tool({thintest::kThinCheck, img.path}).code == 0);
  // The simulation runs in a process of its own: its verdicts come back through a file.
  TempFile verdicts("stricter-verdicts");
  SimResult r = run_world([&](model::World& w) {
    std::string text;
    for (const auto& p : row->stricter(&eratest::load_file_into_disk(w, "good", a.path))) text += "good: " + p + "\n";
    for (const auto& p : row->stricter(&eratest::load_file_into_disk(w, "bad", img.path))) text += "bad: " + p + "\n";
    eratest::write_file(verdicts.path, text);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(eratest::read_file(verdicts.path) ==
          "bad: data block 10 is referenced 2 time(s) but its space map count is 1\n");
}

TEST_CASE("thin_check and thin_dump fail metadata whose blocks were zeroed behind the pool's back", "[thin][tools]") {
  // The pool's metadata lives in the low blocks: zero 32 of them after the superblock.
  const auto r = enginetest::run_steps(
      "name: thin-tools-zeroed\ndisks:\n  meta: {size: 4MiB, profile: nvme, initial: zero}\n"
      "  data: {size: 64MiB, profile: nvme}\nsteps:\n"
      "  - dmsetup create pool --table \"0 131072 thin-pool /dev/meta /dev/data 128 0\"\n"
      "  - dmsetup message pool 0 create_thin 0\n"
      "  - dmsetup create thin --table \"0 65536 thin /dev/mapper/pool 0\"\n"
      "  - dd if=/dev/urandom of=/dev/mapper/thin bs=64k count=300 oflag=direct\n"
      "  - dmsetup remove thin\n"
      "  - dmsetup remove pool\n"
      "  - thin_check /dev/meta\n"
      "  - dd if=/dev/zero of=/dev/meta bs=4k count=32 seek=1 oflag=direct\n"
      "  - ! thin_check /dev/meta\n"
      "  - ! thin_dump /dev/meta\n");
  REQUIRE(r.run.out.finished);
  INFO(r.step(6).err);
  REQUIRE(r.step(6).exit_code == 0);
  INFO(r.step(8).err);
  REQUIRE(r.step(8).exit_code == 1);
  REQUIRE(r.step(8).err.find("examining superblock\n") == 0);
  REQUIRE(r.step(9).exit_code == 1);
}

TEST_CASE(
    "a byte flipped in any metadata block of a pool dmsim wrote gives thin_check, thin_dump and thin_delta the "
    "real tools' exit code and output",
    "[thin][tools]") {
  if (skip_without_tools()) return;
  // Every block in use: both superblocks, the live and the snapshot's trees (shared and not),
  // both space maps' index, bitmaps and ref-count trees.
  TempFile img("fuzz-pool.img"), flipped("fuzz-flipped.img");
  dmsim_pool_image(img.path);
  const thintest::Image clean(img.path);
  int tried = 0;
  for (uint64_t b = 0; b < clean.bytes.size() / 4096; b++) {
    thintest::Image im(img.path);
    if (im.bytes.find_first_not_of('\0', b * 4096) >= (b + 1) * 4096) continue;
    INFO("a byte flipped in block " << b);
    im.path = flipped.path;
    im.flip(b, 1000);
    im.save();
    same_as_real("thin_check", thintest::kThinCheck, {}, flipped.path);
    same_as_real("thin_dump", thintest::kThinDump, {}, flipped.path);
    same_as_real("thin_delta", thintest::kThinDelta, {"--snap1", "1", "--snap2", "2"}, flipped.path);
    tried++;
  }
  REQUIRE(tried > 20);
}

TEST_CASE(
    "the real-tools check judges dmsim's pool metadata at the power cut's crash states with the real "
    "thin_check, which passes them as dmsim's does",
    "[thin][tools]") {
  if (skip_without_tools()) return;
  const scenarios::Scenario s = verifytest::scenario(
      "name: thin-real-tools\ndisks:\n  meta: {size: 4MiB, profile: nvme, initial: zero}\n"
      "  data: {size: 64MiB, profile: nvme}\nsteps:\n"
      "  - dmsetup create pool --table \"0 131072 thin-pool /dev/meta /dev/data 128 0\"\n"
      "  - dmsetup message pool 0 create_thin 0\n"
      "  - dmsetup create thin --table \"0 65536 thin /dev/mapper/pool 0\"\n"
      "  - dd if=/dev/urandom of=/dev/mapper/thin bs=64k count=40 oflag=direct\n"
      "  - dmsetup suspend thin\n"
      "  - dmsetup message pool 0 create_snap 1 0\n"
      "  - dmsetup resume thin\n"
      "  - dmsetup message pool 0 reserve_metadata_snap\n"
      "  - dd if=/dev/urandom of=/dev/mapper/thin bs=64k count=10 seek=5 oflag=direct\n"
      "  - sync /dev/mapper/thin\n"
      "  - dd if=/dev/urandom of=/dev/mapper/thin bs=64k count=10 seek=20 oflag=direct\n"
      "  - power-cut\n"
      "  - dmsetup create pool --table \"0 131072 thin-pool /dev/meta /dev/data 128 0\"\n"
      "  - dmsetup remove pool\n"
      "  - thin_check /dev/meta\n"
      "expect: [real-tools]\nexplore: {crash-states: random:4}\n");
  const verify::UnitResult u = verify::run_exploration(s, 0, {}, {});
  INFO(verifytest::violations_text(u));
  REQUIRE(u.passed);
  const auto it = std::find_if(u.real_tools.begin(), u.real_tools.end(),
                               [](const verify::RealToolCount& c) { return c.tool == "thin_check"; });
  REQUIRE(it != u.real_tools.end());
  REQUIRE(it->passed > 0);
  REQUIRE(it->failed == 0);
}
