// dmsim's thin_restore against the real thin_restore 0.9.0: what it writes is read back by the real
// thin_dump and thin_check as the file it was given, its failures are the real tool's (exit code,
// words, and the image left without a superblock), and as a scenario step it restores a pool
// whose data then reads back through the recreated devices, also across a power cut. The tests
// comparing with the real tools are skipped, with a warning, where they are not installed.
#include <catch2/catch.hpp>
#include <filesystem>

#include "engines/thin/thin_reader.hpp"
#include "engines/thin/thin_xml.hpp"
#include "engines/tool_registry.hpp"
#include "tests/engines/engine_test_helpers.hpp"
#include "tests/engines/thin/thin_tools_image.hpp"
#include "tests/model/model_test_helpers.hpp"
#include "tests/verify/verify_test_helpers.hpp"
#include "verify/runner.hpp"

using namespace modeltest;
using eratest::run_tool;
using eratest::TempFile;

namespace {

bool skip_without_tools() {
  if (thintest::real_thin_tools()) return false;
  WARN("skipped: thin-provisioning-tools (/usr/sbin/thin_restore, thin_dump, thin_check) are not installed");
  return true;
}

const char* const kSuper =
    "<superblock uuid=\"\" time=\"3\" transaction=\"7\" flags=\"0\" version=\"2\" data_block_size=\"128\" "
    "nr_data_blocks=\"1000\">\n";

// Two devices sharing a range (a snapshot), runs broken by a time and a gap, a lone far block:
// exactly what thin_dump prints for the metadata it describes.
std::string two_devices_xml() {
  std::string x = kSuper;
  x += "  <device dev_id=\"1\" mapped_blocks=\"306\" transaction=\"2\" creation_time=\"0\" snap_time=\"2\">\n";
  x += "    <range_mapping origin_begin=\"0\" data_begin=\"10\" length=\"300\" time=\"0\"/>\n";
  x += "    <single_mapping origin_block=\"305\" data_block=\"320\" time=\"1\"/>\n";
  x += "    <range_mapping origin_begin=\"306\" data_begin=\"321\" length=\"4\" time=\"2\"/>\n";
  x += "    <single_mapping origin_block=\"100000\" data_block=\"999\" time=\"2\"/>\n";
  x += "  </device>\n";
  x += "  <device dev_id=\"2\" mapped_blocks=\"4\" transaction=\"3\" creation_time=\"2\" snap_time=\"2\">\n";
  x += "    <range_mapping origin_begin=\"0\" data_begin=\"10\" length=\"3\" time=\"0\"/>\n";
  x += "    <single_mapping origin_block=\"5\" data_block=\"22\" time=\"2\"/>\n";
  x += "  </device>\n";
  return x + "</superblock>\n";
}

// dmsim's thin_restore in a simulation of its own, from `xml` (as the test host's in.xml) onto a
// disk holding the image file, which then holds what the disk reads after.
eratest::ToolRun dmsim_restore(const std::string& xml, const std::string& image, std::vector<std::string> extra = {}) {
  TempFile code("restore-code"), out("restore-out"), err("restore-err");
  SimResult r = run_world([&](model::World& w) {
    model::VolatileCacheDisk& meta = eratest::load_file_into_disk(w, "meta", image);
    w.write_file("in.xml", xml, 0);
    verifytest::register_once();
    std::vector<std::string> args = {"-i", "in.xml", "-o", "/dev/meta"};
    args.insert(args.end(), extra.begin(), extra.end());
    const engines::ToolResult ours = engines::find_tool("thin_restore")->run(args);
    eratest::write_file(code.path, std::to_string(ours.exit_code));
    eratest::write_file(out.path, ours.out);
    eratest::write_file(err.path, ours.err);
    eratest::write_disk_to_file(meta, image);
  });
  REQUIRE_CLEAN(r);
  return {std::stoi(eratest::read_file(code.path)), eratest::read_file(out.path), eratest::read_file(err.path)};
}

// The real thin_restore of `xml` onto the image file.
eratest::ToolRun real_restore(const std::string& xml, const std::string& image, std::vector<std::string> extra = {}) {
  TempFile in("restore-in.xml");
  eratest::write_file(in.path, xml);
  std::vector<std::string> argv = {thintest::kThinRestore, "-i", in.path, "-o", image};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_tool(argv);
}

void blank_image(const std::string& path, uint64_t bytes) {
  eratest::write_file(path, "");
  std::filesystem::resize_file(path, bytes);
}

}  // namespace

TEST_CASE(
    "the real thin_dump reads back what dmsim's thin_restore wrote as the file it was given, and both "
    "thin_checks pass it",
    "[thin][tools]") {
  if (skip_without_tools()) return;
  TempFile img("restored.img");
  blank_image(img.path, 4 << 20);
  const eratest::ToolRun r = dmsim_restore(two_devices_xml(), img.path);
  INFO(r.err);
  REQUIRE(r.code == 0);
  REQUIRE(r.out.empty());
  REQUIRE(r.err.empty());
  const auto dump = run_tool({thintest::kThinDump, img.path});
  INFO(dump.err);
  CHECK(dump.code == 0);
  CHECK(dump.out == two_devices_xml());
  const auto check = run_tool({thintest::kThinCheck, img.path});
  INFO(check.err);
  CHECK(check.code == 0);
  // dmsim's own check also counts the data space map against the mappings: the shared range
  // holds two references, every other mapped block one.
  TempFile problems("restore-problems");
  SimResult r2 = run_world([&](model::World& w) {
    model::VolatileCacheDisk& meta = eratest::load_file_into_disk(w, "meta", img.path);
    engines::thin::ThinMetadataReader rd;
    std::string err;
    std::string text = rd.open(&meta, false, &err) ? err + "\n" : "";
    if (text.empty())
      for (const std::string& p : rd.check(true).problems) text += p + "\n";
    eratest::write_file(problems.path, text);
  });
  REQUIRE_CLEAN(r2);
  CHECK(eratest::read_file(problems.path).empty());
}

TEST_CASE("thin_restore's overrides replace the file's transaction id, block size and data size", "[thin][tools]") {
  if (skip_without_tools()) return;
  TempFile img("restored.img");
  blank_image(img.path, 4 << 20);
  const std::vector<std::string> extra = {"--transaction-id", "42",  "--data-block-size", "256",
                                          "--nr-data-blocks", "5000"};
  REQUIRE(dmsim_restore(two_devices_xml(), img.path, extra).code == 0);
  const auto dump = run_tool({thintest::kThinDump, img.path});
  CHECK(dump.out.rfind("<superblock uuid=\"\" time=\"3\" transaction=\"42\" flags=\"0\" version=\"2\" "
                       "data_block_size=\"256\" nr_data_blocks=\"5000\">\n",
                       0) == 0);
}

TEST_CASE(
    "thin_restore fails as the real thin_restore does, in its words, and leaves the image without a "
    "superblock as it does",
    "[thin][tools]") {
  if (skip_without_tools()) return;
  const std::string device =
      "  <device dev_id=\"0\" mapped_blocks=\"0\" transaction=\"1\" creation_time=\"0\" snap_time=\"0\">\n";
  struct Case {
    const char* what;
    std::string xml;
    uint64_t bytes = 4 << 20;
  };
  const std::vector<Case> cases = {
      {"an empty file", ""},
      {"text before the root", "hello\n"},
      {"a tag cut off", "<superblock uuid=\"\" time=\"0\"\n"},
      {"an open root at the end", kSuper},
      {"a mismatched end tag", std::string(kSuper) + "</device>\n"},
      {"junk after the root", std::string(kSuper) + "</superblock>\n<x/>"},
      {"a duplicate attribute", "<superblock uuid=\"\" uuid=\"\" time=\"2\"/>\n"},
      {"an unquoted value", "<superblock uuid= time=\"2\"/>\n"},
      {"a missing superblock attribute", "<superblock uuid=\"\" time=\"2\" transaction=\"5\"/>\n"},
      {"a missing device attribute",
       std::string(kSuper) +
           "  <device dev_id=\"0\" mapped_blocks=\"0\" transaction=\"1\" creation_time=\"0\">\n  </device>\n"
           "</superblock>\n"},
      {"an unknown element", std::string(kSuper) + "  <foo/>\n</superblock>\n"},
      {"a device outside the superblock", device + "  </device>\n"},
      {"a device twice", std::string(kSuper) + device + "  </device>\n" + device + "  </device>\n</superblock>\n"},
      {"a mapping past the data device",
       std::string(kSuper) + device +
           "    <single_mapping origin_block=\"7\" data_block=\"1000\" time=\"1\"/>\n  </device>\n</superblock>\n"},
      {"a range running past the data device",
       std::string(kSuper) + device +
           "    <range_mapping origin_begin=\"1\" data_begin=\"998\" length=\"5\" time=\"1\"/>\n  </device>\n"
           "</superblock>\n"},
      {"a number that is not one",
       std::string(kSuper) + device +
           "    <single_mapping origin_block=\"x\" data_block=\"1\" time=\"1\"/>\n  </device>\n</superblock>\n"},
      {"an output too small for the metadata", two_devices_xml(), 7 * 4096},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    TempFile ours_img("ours.img"), real_img("real.img");
    // Both images start with a good superblock, which a failed restore must not leave behind.
    blank_image(real_img.path, c.bytes);
    if (c.bytes >= 8 * 4096) REQUIRE(real_restore(two_devices_xml(), real_img.path).code == 0);
    std::filesystem::copy_file(real_img.path, ours_img.path, std::filesystem::copy_options::overwrite_existing);
    const auto real = real_restore(c.xml, real_img.path);
    const auto ours = dmsim_restore(c.xml, ours_img.path);
    INFO("real (exit " << real.code << "):\n" << real.err << "dmsim's (exit " << ours.code << "):\n" << ours.err);
    CHECK(real.code == 1);
    CHECK(ours.code == real.code);
    CHECK(ours.out == real.out);
    CHECK(ours.err == real.err);
    const auto real_check = run_tool({thintest::kThinCheck, real_img.path});
    const auto ours_check = run_tool({thintest::kThinCheck, ours_img.path});
    CHECK(ours_check.code == real_check.code);
    CHECK(ours_check.err == real_check.err);
  }
}

TEST_CASE("a file thin_restore reads is the test host's: a missing one is the real tool's complaint", "[thin][tools]") {
  TempFile img("restored.img");
  blank_image(img.path, 4 << 20);
  TempFile code("restore-code"), err("restore-err");
  SimResult r = run_world([&](model::World& w) {
    eratest::load_file_into_disk(w, "meta", img.path);
    verifytest::register_once();
    const engines::ToolResult res = engines::find_tool("thin_restore")->run({"-i", "nowhere.xml", "-o", "/dev/meta"});
    eratest::write_file(code.path, std::to_string(res.exit_code));
    eratest::write_file(err.path, res.err);
  });
  REQUIRE_CLEAN(r);
  CHECK(eratest::read_file(code.path) == "1");
  CHECK(eratest::read_file(err.path) == "Couldn't stat file\n");
}

namespace {

// A pool with a thin device and a snapshot of it, written, then taken down and its metadata
// dumped to a file; after a power cut (the block-device oracle judges what a recovery reads) the
// metadata device is wiped and thin_restore puts back `from` (the dump, pool.xml, unless another
// file is named) before the pool and both devices are recreated and read.
std::string dump_wipe_restore(const std::string& from) {
  std::string y =
      "name: thin-dump-restore\ndisks:\n  meta: {size: 4MiB, profile: nvme, initial: zero}\n"
      "  data: {size: 64MiB, profile: nvme}\nsteps:\n"
      "  - dmsetup create pool --table \"0 131072 thin-pool /dev/meta /dev/data 128 0\"\n"
      "  - dmsetup message pool 0 create_thin 0\n"
      "  - dmsetup create thin --table \"0 65536 thin /dev/mapper/pool 0\"\n"
      "  - dd if=/dev/urandom of=/dev/mapper/thin bs=64k count=20 oflag=direct\n"
      "  - dmsetup suspend thin\n"
      "  - dmsetup message pool 0 create_snap 1 0\n"
      "  - dmsetup resume thin\n"
      "  - dd if=/dev/urandom of=/dev/mapper/thin bs=4k count=3 seek=40 oflag=direct\n"
      "  - sync /dev/mapper/thin\n"
      "  - dmsetup remove thin\n"
      "  - dmsetup remove pool\n"
      "  - thin_dump -o pool.xml /dev/meta\n";
  y += "  - power-cut\n"
       "  - dd if=/dev/zero of=/dev/meta bs=4k count=1 oflag=direct\n"
       "  - thin_restore -i " +
       from +
       " -o /dev/meta\n"
       "  - dmsetup create pool --table \"0 131072 thin-pool /dev/meta /dev/data 128 0\"\n"
       "  - dmsetup create thin --table \"0 65536 thin /dev/mapper/pool 0\"\n"
       "  - dmsetup create snap --table \"0 65536 thin /dev/mapper/pool 1\"\n"
       "expect: [no-errors, block-device, real-tools, thin-mappings-durable]\n";
  return y;
}

}  // namespace

TEST_CASE(
    "a pool dumped with thin_dump -o before a power cut and put back with thin_restore after it reads its "
    "data again",
    "[thin][tools]") {
  const verify::UnitResult u = verify::run_exploration(verifytest::scenario(dump_wipe_restore("pool.xml")), 0, {}, {});
  INFO(verifytest::violations_text(u));
  CHECK(u.passed);
  CHECK(u.recoveries > 0);
}

TEST_CASE(
    "a restore from a file without the devices' mappings loses their data, and the block-device oracle "
    "says so",
    "[thin][tools]") {
  TempFile empty("restore-empty.xml");
  eratest::write_file(empty.path,
                      "<superblock uuid=\"\" time=\"1\" transaction=\"0\" data_block_size=\"128\" "
                      "nr_data_blocks=\"1024\">\n"
                      "  <device dev_id=\"0\" mapped_blocks=\"0\" transaction=\"0\" creation_time=\"0\" "
                      "snap_time=\"1\">\n  </device>\n"
                      "  <device dev_id=\"1\" mapped_blocks=\"0\" transaction=\"0\" creation_time=\"1\" "
                      "snap_time=\"1\">\n  </device>\n</superblock>\n");
  const verify::UnitResult u = verify::run_exploration(verifytest::scenario(dump_wipe_restore(empty.path)), 0, {}, {});
  INFO(verifytest::violations_text(u));
  REQUIRE_FALSE(u.passed);
  CHECK(verifytest::violations_text(u).find("block-device") != std::string::npos);
}

TEST_CASE("thin_restore reads an input file next to the scenario, read when the scenario is parsed", "[thin][tools]") {
  TempFile xml("restore-input.xml");
  eratest::write_file(xml.path, two_devices_xml());
  const scenarios::Scenario s = verifytest::scenario(
      "name: restore-from-file\ndisks:\n  meta: {size: 4MiB, profile: nvme, initial: zero}\n"
      "  data: {size: 64MiB, profile: nvme}\nsteps:\n"
      "  - thin_restore -i " +
      xml.path +
      " -o /dev/meta\n"
      "  - {run: thin_dump /dev/meta, output: '[\\s\\S]*<single_mapping origin_block=\"100000\" data_block=\"999\" "
      "time=\"2\"/>[\\s\\S]*'}\n"
      "expect: [no-errors]\n");
  REQUIRE(s.input_files.count(xml.path));
  const verify::UnitResult u = verify::run_exploration(s, 0, {}, {});
  INFO(verifytest::violations_text(u));
  CHECK(u.passed);
}
