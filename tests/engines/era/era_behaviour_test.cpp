// dm-era behaviour as the device-mapper test suite checks it (EraCreationTests,
// EraTrackingTests, ToolsTests), on dmsim's engine and tools.
#include <regex>

#include "tests/engines/era/era_test_helpers.hpp"

using namespace eratest;

namespace {

const char* kCreate = "  - dmsetup create eradev --table \"0 2048 era /dev/meta /dev/data 128\"\n";  // 16 blocks
std::string dd_block(int block) {
  return "  - dd if=/dev/urandom of=/dev/mapper/eradev bs=64k count=1 seek=" + std::to_string(block) +
         " oflag=direct\n";
}
const char* kSnapSince = "  - dmsetup message eradev 0 take_metadata_snap\n";

}  // namespace

TEST_CASE("written-since a checkpoint reports exactly the blocks written after it") {
  // For each block i: a checkpoint, then a write to the even blocks only (wiped_blocks_have_increasing_eras).
  std::string steps = kCreate;
  for (int i = 0; i < 16; i++) {
    steps += "  - dmsetup message eradev 0 checkpoint\n";
    if (i % 2 == 0) steps += dd_block(i);
  }
  steps += kSnapSince;
  steps += "  - era_invalidate --written-since 9 --metadata-snapshot /dev/meta\n";  // the 8th checkpoint's era
  steps += "  - era_invalidate --written-since 1 --metadata-snapshot /dev/meta\n";
  const Steps r = run_steps(era_scenario(steps));
  const size_t n = r.run.out.steps.size();
  REQUIRE(r.out(n - 2) ==
          "<blocks>\n  <block block=\"8\"/>\n  <block block=\"10\"/>\n  <block block=\"12\"/>\n"
          "  <block block=\"14\"/>\n</blocks>\n");
  REQUIRE(r.out(n - 1).find("<block block=\"0\"/>") != std::string::npos);
  REQUIRE(r.out(n - 1).find("<block block=\"1\"/>") == std::string::npos);
}

TEST_CASE("suspend and resume do not disturb tracking, and each cycle starts one new era") {
  const Steps r = run_steps(era_scenario(std::string(kCreate) + dd_block(1) +
                                         "  - dmsetup suspend eradev\n  - dmsetup resume eradev\n"
                                         "  - dmsetup status eradev\n" +
                                         dd_block(3) + kSnapSince +
                                         "  - era_invalidate --written-since 1 --metadata-snapshot /dev/meta\n"
                                         "  - era_invalidate --written-since 2 --metadata-snapshot /dev/meta\n"));
  REQUIRE(std::regex_match(r.out(4), std::regex("0 2048 era 8 [0-9]+/1024 2 -\n?")));
  REQUIRE(r.out(7) == "<blocks>\n  <block block=\"1\"/>\n  <block block=\"3\"/>\n</blocks>\n");
  REQUIRE(r.out(8) == "<blocks>\n  <block block=\"3\"/>\n</blocks>\n");
}

TEST_CASE("era dumps are identical without I/O, across reloads and after rewriting written blocks") {
  const std::string dump = "  - era_dump --logical /dev/meta\n";
  const Steps r = run_steps(era_scenario(
      std::string(kCreate) + dd_block(2) + dd_block(5) + "  - dmsetup remove eradev\n" + dump + dump + kCreate +
      "  - dmsetup remove eradev\n" + dump + kCreate + dd_block(2) + "  - dmsetup remove eradev\n" + dump));
  auto eras = [&](size_t i) { return r.out(i).substr(r.out(i).find("<era_array>")); };
  REQUIRE(r.out(4) == r.out(5));  // repeated dumps
  REQUIRE(eras(4) == eras(8));    // a reload without I/O
  REQUIRE(r.out(4).find("current_era=\"1\"") != std::string::npos);
  REQUIRE(eras(12).find("<era block=\"2\" era=\"3\"/>") != std::string::npos);  // rewritten in a later era
  REQUIRE(eras(12).find("<era block=\"5\" era=\"1\"/>") != std::string::npos);
}

TEST_CASE("status and table lines have the kernel's format") {
  const Steps r = run_steps(era_scenario(std::string(kCreate) + "  - dmsetup status eradev\n" + kSnapSince +
                                         "  - dmsetup status eradev\n  - dmsetup table eradev\n"));
  REQUIRE(std::regex_match(r.out(1), std::regex("0 2048 era 8 [0-9]+/1024 1 -\n?")));
  REQUIRE(std::regex_match(r.out(3), std::regex("0 2048 era 8 [0-9]+/1024 2 [0-9]+\n?")));
  REQUIRE(std::regex_match(r.out(4), std::regex("0 2048 era [0-9]+:[0-9]+ [0-9]+:[0-9]+ 128\n?")));
}

TEST_CASE("the constructor refuses bad tables with the kernel's messages") {
  const Steps r =
      run_steps(era_scenario("  - ! dmsetup create e1 --table \"0 2048 era /dev/meta /dev/data\"\n"
                             "  - ! dmsetup create e2 --table \"0 2048 era /dev/meta /dev/data 12\"\n"
                             "  - ! dmsetup create e3 --table \"0 2048 era /dev/meta /dev/data 0\"\n"
                             "  - ! dmsetup create e4 --table \"0 2048 era /dev/meta /dev/data 8x\"\n"
                             "  - ! dmsetup create e5 --table \"0 2048 era /dev/nosuch /dev/data 8\"\n"));
  for (size_t i = 0; i < 5; i++) REQUIRE(r.step(i).exit_code != 0);
  REQUIRE(r.logged("Invalid argument count"));
  REQUIRE(r.logged("Invalid block size"));
  REQUIRE(r.logged("Error parsing block size"));
  REQUIRE(r.logged("Error opening metadata device"));
}

TEST_CASE("an origin of 2^31 era blocks cannot be activated") {
  // smallest_invalid_origin: 2^31 blocks of 32 KiB on an error target.
  const Steps r = run_steps(
      era_scenario("  - dmsetup create origin --table \"0 137438953472 error\"\n"
                   "  - ! dmsetup create eradev --table \"0 137438953472 era /dev/meta /dev/mapper/origin 64\"\n"
                   "  - dmsetup create ok --table \"0 137438953408 era /dev/meta /dev/mapper/origin 64\"\n"));
  REQUIRE(r.step(1).exit_code != 0);
  REQUIRE(r.logged("Invalid number of origin blocks 2147483648"));
}

TEST_CASE("messages: one word, known names, one metadata snapshot at a time") {
  const Steps r = run_steps(era_scenario(std::string(kCreate) +
                                         "  - ! dmsetup message eradev 0 checkpoint now\n"
                                         "  - ! dmsetup message eradev 0 rollover\n"
                                         "  - ! dmsetup message eradev 0 drop_metadata_snap\n" +
                                         kSnapSince +
                                         "  - ! dmsetup message eradev 0 take_metadata_snap\n"
                                         "  - dmsetup message eradev 0 DROP_METADATA_SNAP\n"));
  for (size_t i = 1; i < r.run.out.steps.size(); i++)
    REQUIRE(r.step(i).exit_code == (r.step(i).expect_failure ? 1 : 0));
  REQUIRE(r.logged("incorrect number of message arguments"));
  REQUIRE(r.logged("unsupported message 'rollover'"));
  REQUIRE(r.logged("no snap to drop"));
  REQUIRE(r.logged("metadata snapshot already exists"));
}

TEST_CASE("the tools refuse live metadata unless they read its snapshot") {
  const Steps r = run_steps(era_scenario(std::string(kCreate) + kSnapSince +
                                         "  - ! era_check /dev/meta\n  - ! era_dump /dev/meta\n"
                                         "  - era_invalidate --written-since 1 --metadata-snapshot /dev/meta\n"
                                         "  - dmsetup remove eradev\n  - era_check /dev/meta\n"));
  REQUIRE(r.step(2).err.find("Device or resource busy") != std::string::npos);
  REQUIRE(r.step(4).exit_code == 0);
  REQUIRE(r.step(6).exit_code == 0);
}

TEST_CASE("era_check finds a metadata block overwritten behind the engine's back") {
  // Metadata lives in the low blocks of the device: zero the first 64 after the superblock.
  const Steps r = run_steps(era_scenario(std::string(kCreate) + dd_block(1) +
                                         "  - dmsetup message eradev 0 checkpoint\n" + dd_block(2) +
                                         "  - dmsetup remove eradev\n  - era_check /dev/meta\n"
                                         "  - dd if=/dev/zero of=/dev/meta bs=4k count=64 seek=1 oflag=direct\n"
                                         "  - ! era_check /dev/meta\n"));
  REQUIRE(r.step(5).exit_code == 0);
  REQUIRE(r.step(7).exit_code == 1);
  REQUIRE(!r.step(7).err.empty());
}
