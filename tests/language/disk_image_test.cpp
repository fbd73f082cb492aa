// `image: PATH` on a disk: the file is read when the scenario is parsed, relative to the
// scenario file, and every way it can be unusable is an error at the `image:` line.
#include <filesystem>
#include <fstream>

#include "tests/language/scenario_test_helpers.hpp"

using namespace scenariotest;

namespace {

// A scratch directory holding a scenario's files, removed at the end of the scope.
struct Dir {
  std::string path;
  explicit Dir(const std::string& name)
      : path((std::filesystem::temp_directory_path() / ("dmsim-lang-" + name + "-" + std::to_string(::getpid())))
                 .string()) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path + "/" + name, std::ios::binary) << bytes;
  }
};

std::string with_image(const std::string& image, const std::string& size = "64KiB") {
  return "name: t\n"
         "disks:\n"
         "  meta: {size: " +
         size + ", initial: zero, image: " + image +
         "}\n"
         "steps:\n"
         "  - blockdev --getsz /dev/meta\n";
}

// The first error of a scenario text placed in `dir` (so that relative paths start there).
std::string error_in(const Dir& dir, const std::string& text) {
  register_once();
  try {
    scenarios::parse_scenario(text, dir.path + "/t.yaml");
    return "";
  } catch (const scenarios::ScenarioError& e) {
    return e.errors.at(0);
  }
}

std::string pattern_bytes(size_t n) {
  std::string b(n, '\0');
  for (size_t i = 0; i < n; i++) b[i] = static_cast<char>((i * 131 + 7) & 0xff);
  return b;
}

}  // namespace

TEST_CASE("a disk's image is read from a path relative to the scenario file, byte for byte", "[disk-image]") {
  register_once();
  Dir dir("image-ok");
  const std::string bytes = pattern_bytes(8192);
  dir.write("meta.bin", bytes);
  const scenarios::Scenario s = scenarios::parse_scenario(with_image("meta.bin"), dir.path + "/t.yaml");
  REQUIRE(s.disks.size() == 1);
  REQUIRE(s.disks[0].image == "meta.bin");
  REQUIRE(s.disks[0].image_bytes);
  REQUIRE(*s.disks[0].image_bytes == bytes);
}

TEST_CASE("an unusable image is an error at its line: missing, not whole sectors, larger than the disk, a directory",
          "[disk-image]") {
  Dir dir("image-bad");
  const std::string at = dir.path + "/t.yaml:3:";
  std::string e = error_in(dir, with_image("nope.bin"));
  REQUIRE(e.rfind(at, 0) == 0);
  REQUIRE(e.find("image 'nope.bin' of disk 'meta': cannot read " + dir.path + "/nope.bin: No such file or directory") !=
          std::string::npos);

  dir.write("odd.bin", pattern_bytes(1000));
  e = error_in(dir, with_image("odd.bin"));
  REQUIRE(e.rfind(at, 0) == 0);
  REQUIRE(e.find("image 'odd.bin' of disk 'meta': the file has 1000 bytes, not a whole number of 512-byte sectors") !=
          std::string::npos);

  dir.write("big.bin", pattern_bytes(65536 + 512));
  e = error_in(dir, with_image("big.bin"));
  REQUIRE(e.rfind(at, 0) == 0);
  REQUIRE(e.find("image 'big.bin' of disk 'meta': the file has 66048 bytes, more than the disk's 65536") !=
          std::string::npos);

  std::filesystem::create_directories(dir.path + "/sub.bin");
  e = error_in(dir, with_image("sub.bin"));
  REQUIRE(e.find("image 'sub.bin' of disk 'meta': " + dir.path + "/sub.bin is not a regular file") !=
          std::string::npos);

  e = error_in(dir, with_image("''"));
  REQUIRE(e.find("image must be the path of a file") != std::string::npos);
}

TEST_CASE("an image of exactly the disk's size, or smaller, is accepted", "[disk-image]") {
  Dir dir("image-sizes");
  dir.write("full.bin", pattern_bytes(65536));
  dir.write("small.bin", pattern_bytes(512));
  REQUIRE(error_in(dir, with_image("full.bin")).empty());
  REQUIRE(error_in(dir, with_image("small.bin")).empty());
}
