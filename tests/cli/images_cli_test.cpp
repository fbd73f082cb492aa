// dmsim run --save-images and the real-tools lines of run and check, as a user sees them.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <sstream>

#include "model/content.hpp"
#include "tests/cli/cli_test_helpers.hpp"

using namespace clitest;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string pattern_bytes(size_t n) {
  std::string b(n, '\0');
  for (size_t i = 0; i < n; i++) b[i] = static_cast<char>((i * 91 + 3) & 0xff);
  return b;
}

// The bytes a sector holding `t` reads as.
std::string token_bytes(model::Token t) {
  uint8_t b[512];
  model::Sector::of_token(t).to_bytes(b);
  return std::string(reinterpret_cast<char*>(b), 512);
}

// meta starts from an image; data gets a synced write at block 0 and a cached one at block 1,
// which the power cut's durable state loses.
const char* kImages = R"(name: save-images
disks:
  meta: {size: 64KiB, initial: zero, image: m.bin}
  data: {size: 64KiB, profile: sata-ssd}
steps:
  - dd if=/dev/urandom of=/dev/data bs=4k count=1 oflag=direct
  - sync /dev/data
  - dd if=/dev/urandom of=/dev/data bs=4k count=1 seek=1 oflag=direct
  - power-cut
  - blockdev --getsz /dev/data
)";

// An era device on dmsim's own metadata, judged by real-tools.
const char* kEraRealTools = R"(name: era-real-tools
disks:
  meta: {size: 4MiB, initial: zero}
  data: {size: 16MiB}
steps:
  - dmsetup create eradev --table "0 8192 era /dev/meta /dev/data 128"
  - dd if=/dev/urandom of=/dev/mapper/eradev bs=4k count=2 oflag=direct
  - dmsetup remove eradev
expect: [real-tools]
)";

}  // namespace

TEST_CASE("dmsim run --save-images writes each phase's disks and the power cut's crash state, the same bytes twice",
          "[save-images]") {
  TempDir dir("cli-save-images");
  const std::string image = pattern_bytes(8192);
  dir.write("m.bin", image);
  const std::string file = dir.write("s.yaml", kImages);
  std::string files[2][5];
  for (int i = 0; i < 2; i++) {
    const std::string out = dir.path + "/img" + std::to_string(i);
    const Ran r = run_dmsim({"run", file, "--save-images", out}, 60);
    INFO(r.out + r.err);
    REQUIRE(r.code == 0);
    const std::string unit = out + "/save-images/seed-0";
    REQUIRE(contains(r.out, "images: " + unit + " (unwritten sectors of an `initial: zero` disk are zeroes;"));
    const char* names[5] = {"/steps/meta.bin", "/steps/data.bin", "/power-cut/meta.bin", "/power-cut/data.bin",
                            "/power-cut/recovered/data.bin"};
    for (int k = 0; k < 5; k++) {
      INFO(names[k]);
      REQUIRE(std::filesystem::is_regular_file(unit + names[k]));
      files[i][k] = slurp(unit + names[k]);
      REQUIRE(files[i][k].size() == 65536);
    }
  }
  for (int k = 0; k < 5; k++) REQUIRE(files[0][k] == files[1][k]);
  // meta: the image, then the zeroes of an `initial: zero` disk.
  REQUIRE(files[0][0] == image + std::string(65536 - 8192, '\0'));
  REQUIRE(files[0][2] == files[0][0]);
  // data (disk 2): both writes at the end of the steps; the cached one is lost at the power cut,
  // where the disk's own initial content shows again, as the bytes its token reads as.
  const std::string& steps = files[0][1];
  const std::string& cut = files[0][3];
  REQUIRE(steps.substr(0, 4096) == cut.substr(0, 4096));
  REQUIRE(steps.substr(4096, 512) != token_bytes(model::initial_token(2, 8)));
  REQUIRE(cut.substr(4096, 512) == token_bytes(model::initial_token(2, 8)));
  REQUIRE(cut.substr(0, 512) != token_bytes(model::initial_token(2, 0)));
  REQUIRE(steps.substr(65536 - 512) == token_bytes(model::initial_token(2, 127)));
  REQUIRE(files[0][4] == cut);  // the recovery only read
}

TEST_CASE("real-tools without era_check prints one line and passes, and dmsim check totals the runs", "[real-tools]") {
  TempDir dir("cli-real-tools");
  const std::string file = dir.write("era.yaml", kEraRealTools);
  ::setenv("DMSIM_ERA_CHECK", "", 1);
  const Ran skipped = run_dmsim({"run", file}, 60);
  INFO(skipped.out + skipped.err);
  REQUIRE(skipped.code == 0);
  const std::string line = "real-tools: skipped, era_check not installed (thin-provisioning-tools)\n";
  REQUIRE(contains(skipped.out, line));
  REQUIRE(skipped.out.find(line) == skipped.out.rfind(line));
  // A stand-in that accepts every image: the final image of the one metadata device is judged.
  ::setenv("DMSIM_ERA_CHECK", "/bin/true", 1);
  const Ran ran = run_dmsim({"run", file}, 60);
  const Ran check = run_dmsim({"check", dir.path, "--json", dir.path + "/r.json"}, 60);
  ::unsetenv("DMSIM_ERA_CHECK");
  INFO(ran.out + ran.err + check.out + check.err);
  REQUIRE(ran.code == 0);
  REQUIRE(contains(ran.out, "pass: 1 exploration(s); real era_check: 1 image(s) passed"));
  REQUIRE_FALSE(contains(ran.out, "real-tools: skipped"));
  REQUIRE(check.code == 0);
  REQUIRE(contains(check.out, "\nreal era_check: 1 image(s) passed, 0 failed\n"));
  REQUIRE(contains(slurp(dir.path + "/r.json"), "\"real_tools\": [{\"tool\": \"era_check\", \"passed\": 1"));
}
