// Disks that start from an image, and the real-tools check on metadata images: the bytes a read
// through the stack returns are the file's, the real era_check judges crash and final images
// (passing a good one, failing a corrupted one with its own words), a disagreement with dmsim's
// simulated tool is a finding, and a missing tool skips the check.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engines/check_registry.hpp"
#include "engines/tool_registry.hpp"
#include "model/dm/dm_ioctl.hpp"
#include "tests/model/model_test_helpers.hpp"
#include "tests/verify/verify_test_helpers.hpp"
#include "verify/images.hpp"
#include "verify/real_tools.hpp"
#include "verify/results.hpp"

using namespace verifytest;

namespace {

struct Dir {
  std::string path;
  explicit Dir(const std::string& name)
      : path((std::filesystem::temp_directory_path() / ("dmsim-verify-" + name + "-" + std::to_string(::getpid())))
                 .string()) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path + "/" + name, std::ios::binary) << bytes;
    return path + "/" + name;
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string pattern_bytes(size_t n) {
  std::string b(n, '\0');
  for (size_t i = 0; i < n; i++) b[i] = static_cast<char>((i * 37 + i / 512 + 1) & 0xff);
  return b;
}

// A good era metadata image as the real era_restore writes it, or "" when it is not installed.
std::string restored_image(const Dir& dir) {
  const std::string tool = verify::real_tool_path("era_restore");
  if (tool.empty()) return "";
  dir.write("era.xml",
            "<superblock uuid=\"\" block_size=\"128\" nr_blocks=\"16\" current_era=\"2\">\n"
            "  <era_array>\n    <era block=\"0\" era=\"1\"/>\n  </era_array>\n</superblock>\n");
  const std::string img = dir.path + "/good.bin";
  std::filesystem::resize_file(dir.write("good.bin", ""), 1 << 20);  // era_restore needs room to write
  const std::string cmd = tool + " -i " + dir.path + "/era.xml -o " + img + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0 ? img : "";
}

// A metadata image whose superblock checksum no longer matches.
std::string corrupted_copy(const Dir& dir, const std::string& good) {
  std::string bytes = slurp(good);
  bytes[0] = static_cast<char>(bytes[0] ^ 0xff);
  return dir.write("bad.bin", bytes);
}

// The real-tools table row for these tests: the disk /dev/meta itself holds the metadata,
// with `simulated` as dmsim's counterpart ("" for none). Removed at the end of the scope.
struct TestRow {
  explicit TestRow(const std::string& simulated,
                   std::function<std::vector<std::string>(model::BlockDevice*)> stricter = {}) {
    engines::register_metadata_tool({"test-disk",
                                     "era_check",
                                     simulated,
                                     [](const engines::CheckInput&) { return std::vector<std::string>{"/dev/meta"}; },
                                     {},
                                     std::move(stricter)});
  }
  ~TestRow() { engines::unregister_metadata_tool("test-disk"); }
};

// Simulated counterparts with a fixed answer, for the disagreement findings.
void register_fixed_tools() {
  static const bool done = [] {
    engines::Tool yes{"test_accepting_check", "test_accepting_check DEV", [](const auto&) { return std::string(); },
                      [](const auto&) {
                        return engines::ToolResult{0, "", ""};
                      }};
    engines::Tool no{"test_rejecting_check", "test_rejecting_check DEV", [](const auto&) { return std::string(); },
                     [](const auto&) {
                       return engines::ToolResult{1, "", "superblock is fine but I say no\n"};
                     }};
    engines::register_tool(yes);
    engines::register_tool(no);
    return true;
  }();
  (void)done;
}

// A scenario on one metadata disk that starts from `image`; the steps only look at it, then a
// power cut, and the recovery looks again: one crash image and one final image to judge.
scenarios::Scenario on_image(const Dir& dir, const std::string& image) {
  register_once();
  return scenarios::parse_scenario(
      "name: image-check\n"
      "disks:\n"
      "  meta: {size: 1MiB, initial: zero, image: " +
          image +
          "}\n"
          "steps:\n"
          "  - blockdev --getsz /dev/meta\n"
          "  - power-cut\n"
          "  - blockdev --getsz /dev/meta\n"
          "expect: [real-tools]\n",
      dir.path + "/t.yaml");
}

const verify::Violation* first_violation(const verify::UnitResult& u) {
  return u.failures.empty() || u.failures[0].violations.empty() ? nullptr : &u.failures[0].violations[0];
}

}  // namespace

TEST_CASE("a disk that starts from an image reads back the file's bytes through a dm device, then its initial content",
          "[disk-image]") {
  register_once();
  Dir dir("readback");
  const std::string bytes = pattern_bytes(8192);
  dir.write("meta.bin", bytes);
  const scenarios::Scenario s = scenarios::parse_scenario(
      "name: t\ndisks:\n  meta: {size: 64KiB, initial: zero, image: meta.bin}\n  data: {size: 64KiB, image: "
      "meta.bin}\nsteps:\n  - blockdev --getsz /dev/meta\n",
      dir.path + "/t.yaml");
  const std::vector<model::DiskImage> starts = verify::starting_images(s);
  REQUIRE(starts.size() == 2);
  const modeltest::SimResult r = modeltest::run_world([&](model::World& w) {
    for (size_t i = 0; i < s.disks.size(); i++) {
      modeltest::disk(w, s.disks[i].name, s.disks[i].bytes / 512).load_media(starts[i]);
    }
    w.dm().create("lin", "0 128 linear /dev/meta 0\n128 128 linear /dev/data 0");
    std::vector<model::Sector> got;
    model::blk_read(w.lookup("/dev/mapper/lin"), 0, 256, &got);
    std::string read;
    for (const auto& sec : got) {
      uint8_t b[512];
      sec.to_bytes(b);
      read.append(reinterpret_cast<const char*>(b), 512);
    }
    sim::note(read.substr(0, 8192) == bytes ? "meta: the file's bytes" : "meta: other bytes");
    sim::note(read.substr(8192, 65536 - 8192) == std::string(65536 - 8192, '\0') ? "meta: then zeroes"
                                                                                 : "meta: not zero");
    sim::note(read.substr(65536, 8192) == bytes ? "data: the file's bytes" : "data: other bytes");
    // Past the image, the data disk (disk 2, initial: random) keeps its own initial content.
    uint8_t initial[512];
    model::Sector::of_token(model::initial_token(2, 16)).to_bytes(initial);
    sim::note(read.substr(65536 + 16 * 512, 512) == std::string(reinterpret_cast<char*>(initial), 512)
                  ? "data: then its initial content"
                  : "data: other content after the image");
  });
  REQUIRE(r.notes == std::vector<std::string>{"meta: the file's bytes", "meta: then zeroes", "data: the file's bytes",
                                              "data: then its initial content"});
}

TEST_CASE("the image a phase ends with is its start plus its completed writes, and is written byte for byte",
          "[disk-image]") {
  Dir dir("image-after");
  model::DiskImage start(1, 16, true);
  uint8_t ones[512];
  std::memset(ones, 0x11, sizeof ones);
  start.apply(3, model::Sector::of_bytes(ones), 0);
  verify::DiskState d;
  d.disk_id = 1;
  d.sectors = 16;
  d.initial_zero = true;
  model::DiskTrace t;
  model::IoRecord w;
  w.id = 5;
  w.op = model::ReqOp::Write;
  w.sector = 2;
  w.sectors = 1;
  w.complete_ns = 10;
  w.complete_seq = 1;
  w.data = std::make_shared<model::SectorBuffer>(1, model::Sector::of_token(model::written_token(5, 2)));
  t.records.push_back(w);
  std::ostringstream text;
  t.save(text);
  d.trace = text.str();
  const model::DiskImage end = verify::image_after(d, start);
  REQUIRE(end.read(2).token == model::written_token(5, 2));
  REQUIRE(end.read(3) == start.read(3));
  verify::write_image_file(end, dir.path + "/x/d.bin");
  const std::string file = slurp(dir.path + "/x/d.bin");
  REQUIRE(file.size() == 16 * 512);
  uint8_t token_bytes[512];
  model::Sector::of_token(model::written_token(5, 2)).to_bytes(token_bytes);
  REQUIRE(file.substr(2 * 512, 512) == std::string(reinterpret_cast<char*>(token_bytes), 512));
  REQUIRE(file.substr(3 * 512, 512) == std::string(512, '\x11'));
  REQUIRE(file.substr(0, 1024) == std::string(1024, '\0'));
}

TEST_CASE("real-tools: the real era_check passes a good image, crash and final, and the verdict counts the runs",
          "[real-tools]") {
  Dir dir("real-good");
  const std::string good = restored_image(dir);
  if (good.empty() || verify::real_tool_path("era_check").empty()) {
    WARN("era_restore or era_check is not installed: nothing to compare with");
    return;
  }
  TestRow row("");
  const verify::UnitResult u = verify::run_exploration(on_image(dir, "good.bin"), 0, {}, {});
  INFO(u.verdict);
  REQUIRE(u.passed);
  REQUIRE(u.real_tools.size() == 1);
  REQUIRE(u.real_tools[0].tool == "era_check");
  REQUIRE(u.real_tools[0].passed == 2);  // the recovery's crash image and its final image
  REQUIRE(u.real_tools[0].failed == 0);
  REQUIRE(u.verdict.find("; real era_check: 2 image(s) passed") != std::string::npos);
  REQUIRE(verify::results_to_json({u}).find(
              "\"real_tools\": [{\"tool\": \"era_check\", \"passed\": 2, \"failed\": 0}]") != std::string::npos);
}

TEST_CASE("real-tools: a corrupted image fails with era_check's own words quoted", "[real-tools]") {
  Dir dir("real-bad");
  const std::string good = restored_image(dir);
  if (good.empty() || verify::real_tool_path("era_check").empty()) {
    WARN("era_restore or era_check is not installed: nothing to compare with");
    return;
  }
  corrupted_copy(dir, good);
  TestRow row("");
  const verify::UnitResult u = verify::run_exploration(on_image(dir, "bad.bin"), 0, {}, {});
  REQUIRE_FALSE(u.passed);
  const verify::Violation* v = first_violation(u);
  REQUIRE(v);
  REQUIRE(v->kind == "real-tools");
  REQUIRE(v->title == "real-tools: real era_check rejects the crash image (before the recovery) of /dev/meta (exit 1)");
  REQUIRE(v->detail.find("  | examining superblock\n") != std::string::npos);
  REQUIRE(v->detail.find("bad checksum in superblock") != std::string::npos);
  REQUIRE(u.real_tools.at(0).failed == 2);
  REQUIRE(u.verdict.find("real era_check: 0 image(s) passed, 2 failed") != std::string::npos);
}

TEST_CASE("real-tools: when dmsim's tool and the real one disagree, the finding says which said what", "[real-tools]") {
  Dir dir("real-disagree");
  const std::string good = restored_image(dir);
  if (good.empty() || verify::real_tool_path("era_check").empty()) {
    WARN("era_restore or era_check is not installed: nothing to compare with");
    return;
  }
  corrupted_copy(dir, good);
  register_fixed_tools();
  {
    TestRow row("test_accepting_check");
    const verify::UnitResult u = verify::run_exploration(on_image(dir, "bad.bin"), 0, {}, {});
    const verify::Violation* v = first_violation(u);
    REQUIRE(v);
    REQUIRE(v->title ==
            "real-tools: real era_check rejects the crash image (before the recovery) of /dev/meta (exit 1) while "
            "dmsim's test_accepting_check accepts it");
  }
  {
    TestRow row("test_rejecting_check");
    const verify::UnitResult u = verify::run_exploration(on_image(dir, "good.bin"), 0, {}, {});
    const verify::Violation* v = first_violation(u);
    REQUIRE(v);
    REQUIRE(v->title ==
            "real-tools: dmsim's test_rejecting_check rejects the crash image (before the recovery) of /dev/meta "
            "(exit 1) while the real era_check accepts it");
    REQUIRE(v->detail.find("  | superblock is fine but I say no") != std::string::npos);
  }
}

TEST_CASE("real-tools: dmsim's stricter check judges what both tools accept, on the same image", "[real-tools]") {
  Dir dir("real-stricter");
  const std::string good = restored_image(dir);
  if (good.empty() || verify::real_tool_path("era_check").empty()) {
    WARN("era_restore or era_check is not installed: nothing to compare with");
    return;
  }
  register_fixed_tools();
  // The stricter check reads the image through the device it is given: it reports the first byte.
  TestRow row("test_accepting_check", [](model::BlockDevice* image) {
    std::vector<model::Sector> s;
    if (model::blk_read(image, 0, 1, &s) != model::BLK_STS_OK) return std::vector<std::string>{"unreadable"};
    uint8_t bytes[512];
    s[0].to_bytes(bytes);
    return std::vector<std::string>{"first byte " + std::to_string(bytes[0])};
  });
  const verify::UnitResult u = verify::run_exploration(on_image(dir, "good.bin"), 0, {}, {});
  const verify::Violation* v = first_violation(u);
  REQUIRE(v);
  REQUIRE(v->title ==
          "real-tools: dmsim's stricter check rejects the crash image (before the recovery) of /dev/meta, which the "
          "real era_check accepts:");
  INFO(v->detail);
  REQUIRE(v->detail.find("  | first byte ") != std::string::npos);     // it read the image through the device
  REQUIRE(v->detail.find("  | first byte 0\n") == std::string::npos);  // the superblock's checksum, not zeroes
  REQUIRE(u.real_tools.at(0).passed == 2);
}

TEST_CASE("real-tools: without the tool the check is skipped, not failed, and DMSIM_ERA_CHECK names the binary",
          "[real-tools]") {
  Dir dir("real-missing");
  dir.write("m.bin", pattern_bytes(4096));
  TestRow row("");
  ::setenv("DMSIM_ERA_CHECK", "", 1);
  REQUIRE(verify::real_tool_path("era_check").empty());
  const verify::UnitResult u = verify::run_exploration(on_image(dir, "m.bin"), 0, {}, {});
  REQUIRE(u.passed);
  REQUIRE(u.real_tools.empty());
  REQUIRE(u.missing_tools == std::vector<std::string>{"era_check"});
  // Any executable may stand in for it: /bin/true accepts everything, /bin/false nothing.
  ::setenv("DMSIM_ERA_CHECK", "/bin/false", 1);
  REQUIRE(verify::real_tool_path("era_check") == "/bin/false");
  const verify::UnitResult f = verify::run_exploration(on_image(dir, "m.bin"), 0, {}, {});
  ::unsetenv("DMSIM_ERA_CHECK");
  REQUIRE_FALSE(f.passed);
  REQUIRE(f.missing_tools.empty());
  REQUIRE(f.real_tools.at(0).failed == 2);
}

TEST_CASE("real-tools: a crash image taken before any superblock reached the media is noted, not judged",
          "[real-tools]") {
  Dir dir("real-blank");
  TestRow row("");
  // /bin/false rejects every image it is shown: only the final image may be shown to it.
  ::setenv("DMSIM_ERA_CHECK", "/bin/false", 1);
  register_once();
  const verify::UnitResult u = verify::run_exploration(scenarios::parse_scenario("name: blank-meta\n"
                                                                                 "disks:\n"
                                                                                 "  meta: {size: 1MiB, initial: zero}\n"
                                                                                 "steps:\n"
                                                                                 "  - blockdev --getsz /dev/meta\n"
                                                                                 "  - power-cut\n"
                                                                                 "  - blockdev --getsz /dev/meta\n"
                                                                                 "expect: [real-tools]\n",
                                                                                 dir.path + "/t.yaml"),
                                                       0, {}, {});
  ::unsetenv("DMSIM_ERA_CHECK");
  REQUIRE(u.real_tools.at(0).failed == 1);  // the final image only
  bool noted = false;
  for (const auto& n : u.notes) noted |= n.find("holds no metadata yet") != std::string::npos;
  INFO(u.verdict);
  REQUIRE(noted);
}
