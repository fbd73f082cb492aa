// dm-era metadata between dmsim and the real thin-provisioning-tools 0.9.0 (era_check,
// era_dump, era_restore): images dmsim writes pass the real era_check and dump as dmsim dumps
// them, and images the real era_restore writes open in dmsim with the same contents. Each test
// is skipped, with a warning, where the tools are not installed.
#include <catch2/catch.hpp>
#include <optional>

#include "engines/era/era.hpp"
#include "engines/era/era_metadata.hpp"
#include "engines/era/era_reader.hpp"
#include "engines/tool_registry.hpp"
#include "tests/engines/era/era_image_helpers.hpp"
#include "tests/model/model_test_helpers.hpp"
#include "tests/verify/verify_test_helpers.hpp"

using namespace modeltest;
using namespace engines::era;
using eratest::run_tool;
using eratest::TempFile;

namespace {

constexpr uint64_t kBlockSize = 128;  // sectors per era block

bool skip_without_tools() {
  if (eratest::real_era_tools()) return false;
  WARN("skipped: thin-provisioning-tools (/usr/sbin/era_check, era_dump, era_restore) are not installed");
  return true;
}

// dmsim's own era_dump of a device, as a scenario step runs it.
engines::ToolResult dmsim_tool(const std::string& tool, const std::vector<std::string>& args) {
  verifytest::register_once();
  const engines::Tool* t = engines::find_tool(tool);
  REQUIRE(t);
  return t->run(args);
}

model::VolatileCacheDisk& blank_disk(model::World& w, const std::string& name, uint64_t sectors) {
  model::DiskConfig c;
  c.name = name;
  c.sectors = sectors;
  c.initial_zero = true;
  return w.add_disk(c);
}

void mark(era_metadata* md, uint32_t block) {
  REQUIRE(writeset_test_and_set(&md->bitset_info, md->current_writeset, block, false) == 0);
  writeset_set_incore(md->current_writeset, block);
}

// preresume's order: resize when the size changed, commit, then the rollover, and a commit.
void resize_and_roll(era_metadata* md, uint32_t nr_blocks) {
  if (md->nr_blocks != nr_blocks) {
    REQUIRE(metadata_resize(md, nr_blocks) == 0);
    REQUIRE(metadata_commit(md) == 0);
  }
  REQUIRE(metadata_era_rollover(md) == 0);
  REQUIRE(metadata_commit(md) == 0);
}

// The real era_check on what a read of the disk returns now.
eratest::ToolRun real_era_check(const model::VolatileCacheDisk& d, const std::string& file) {
  eratest::write_disk_to_file(d, file);
  return run_tool({eratest::kEraCheck, file});
}

// Runs digestion steps until `until` says stop (or nothing is left to digest).
void digest_until(era_metadata* md, digest* d, const std::function<bool(const digest&)>& until) {
  if (!d->step) REQUIRE(metadata_digest_start(md, d) == 0);
  while (d->step && !until(*d)) REQUIRE(d->step(md, d) == 0);
}

const std::string kRestoredXml =
    "<superblock uuid=\"\" block_size=\"128\" nr_blocks=\"2000\" current_era=\"4\">\n"
    "  <writeset era=\"2\" nr_bits=\"2000\">\n"
    "    <bit block=\"5\" value=\"true\"/>\n"
    "    <bit block=\"1999\" value=\"true\"/>\n"
    "  </writeset>\n"
    "  <writeset era=\"3\" nr_bits=\"2000\">\n"
    "    <bit block=\"6\" value=\"true\"/>\n"
    "  </writeset>\n"
    "  <era_array>\n"
    "    <era block=\"0\" era=\"1\"/>\n"
    "    <era block=\"1017\" era=\"1\"/>\n"
    "    <era block=\"1018\" era=\"1\"/>\n"
    "  </era_array>\n"
    "</superblock>\n";

}  // namespace

TEST_CASE(
    "an image era_restore wrote opens in dmsim; after writes and a checkpoint, era_check passes it and "
    "era_dump agrees with dmsim's",
    "[era][interop]") {
  if (skip_without_tools()) return;
  TempFile xml("a.xml"), image("a.img"), after("a-after.img");
  eratest::write_file(xml.path, kRestoredXml);
  eratest::write_file(image.path, "");
  std::filesystem::resize_file(image.path, 4 << 20);
  const auto restored = run_tool({eratest::kEraRestore, "-i", xml.path, "-o", image.path});
  INFO(restored.err);
  REQUIRE(restored.code == 0);

  SimResult r = run_world([&](model::World& w) {
    model::VolatileCacheDisk& meta = eratest::load_file_into_disk(w, "meta", image.path);
    engines::KmemOwner kmem("interop");
    std::unique_ptr<era_metadata> md;
    REQUIRE(metadata_open(&meta, kBlockSize, false, {}, &kmem, &md) == 0);
    REQUIRE((md->nr_blocks == 2000 && md->current_era == 4));
    resize_and_roll(md.get(), 2000);  // era 5
    mark(md.get(), 7);
    mark(md.get(), 1500);
    REQUIRE(metadata_commit(md.get()) == 0);
    REQUIRE(metadata_checkpoint(md.get()) == 0);  // archives era 5; era 6
    REQUIRE(metadata_commit(md.get()) == 0);

    const auto check = real_era_check(meta, after.path);
    INFO(check.err);
    REQUIRE(check.code == 0);
    const auto real = run_tool({eratest::kEraDump, after.path});
    REQUIRE(real.code == 0);
    const engines::ToolResult ours = dmsim_tool("era_dump", {"/dev/meta"});
    REQUIRE(ours.exit_code == 0);
    REQUIRE(ours.out == real.out);
    REQUIRE(real.out.find("<writeset era=\"5\" nr_bits=\"2000\">\n    <bit block=\"0\" value=\"false\"/>") !=
            std::string::npos);
    REQUIRE(real.out.find("    <bit block=\"1500\" value=\"true\"/>") != std::string::npos);
    metadata_close(std::move(md));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE(
    "era metadata of 100,000 blocks passes the real era_check after every checkpoint, digestion step and "
    "resize",
    "[era][interop]") {
  if (skip_without_tools()) return;
  TempFile image("b.img");
  SimResult r = run_world([&](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta", 16384);  // 8 MiB
    engines::KmemOwner kmem("interop");
    std::unique_ptr<era_metadata> md;
    REQUIRE(metadata_open(&meta, kBlockSize, true, {}, &kmem, &md) == 0);
    int step = 0;
    auto passes = [&](const std::string& what) {
      const auto check = real_era_check(meta, image.path);
      INFO("after step " << ++step << ": " << what << "\n" << check.err);
      REQUIRE(check.code == 0);
    };
    resize_and_roll(md.get(), 100000);  // era 1
    passes("format and resize to 100,000 blocks");
    // Three eras of writes, spread over words, bitset blocks and array blocks.
    for (uint32_t era = 0; era < 3; era++) {
      for (uint32_t b = era; b < 100000; b += 997 + era) mark(md.get(), b);
      mark(md.get(), 99999 - era);
      REQUIRE(metadata_commit(md.get()) == 0);
      passes("writes in era " + std::to_string(md->current_era));
      REQUIRE(metadata_checkpoint(md.get()) == 0);
      REQUIRE(metadata_commit(md.get()) == 0);
      passes("checkpoint to era " + std::to_string(md->current_era));
    }
    digest d;
    // Part of the first writeset, then the rest of it and its removal from the tree.
    digest_until(md.get(), &d, [](const digest& g) { return g.current_bit >= 30000; });
    REQUIRE(metadata_commit(md.get()) == 0);
    passes("a writeset partly digested");
    digest_until(md.get(), &d, [](const digest& g) { return g.era == 2 && g.current_bit > 0; });
    REQUIRE(metadata_commit(md.get()) == 0);
    passes("one writeset digested and removed");
    digest_until(md.get(), &d, [](const digest&) { return false; });
    REQUIRE(metadata_commit(md.get()) == 0);
    passes("every writeset digested");

    resize_and_roll(md.get(), 150000);
    passes("grown to 150,000 blocks");
    mark(md.get(), 149999);
    mark(md.get(), 123456);
    REQUIRE(metadata_commit(md.get()) == 0);
    resize_and_roll(md.get(), 60000);
    passes("shrunk to 60,000 blocks");
    digest_until(md.get(), &d, [](const digest&) { return false; });
    REQUIRE(metadata_commit(md.get()) == 0);
    passes("digested after the shrink");

    EraMetadataReader rd;
    std::string err;
    REQUIRE(rd.open(&meta, false, &err) == 0);
    REQUIRE(rd.check().empty());
    metadata_close(std::move(md));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE(
    "era_check 0.9.0 rejects freshly formatted era metadata (an era array of 0 blocks), the one image the "
    "real-tools check excuses, and passes it once a resize gave the array its blocks",
    "[era][interop]") {
  if (skip_without_tools()) return;
  TempFile image("fresh.img");
  SimResult r = run_world([&](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta", 2048);
    engines::KmemOwner kmem("interop");
    std::unique_ptr<era_metadata> md;
    REQUIRE(metadata_open(&meta, kBlockSize, true, {}, &kmem, &md) == 0);
    const auto fresh = real_era_check(meta, image.path);
    INFO(fresh.err);
    REQUIRE(fresh.code == 1);
    REQUIRE(fresh.err.find("missing blocks") != std::string::npos);
    REQUIRE(engines::era::era_check_misjudges(eratest::read_file(image.path)).find("0 blocks") != std::string::npos);
    resize_and_roll(md.get(), 64);
    const auto resized = real_era_check(meta, image.path);
    INFO(resized.err);
    REQUIRE(resized.code == 0);
    REQUIRE(engines::era::era_check_misjudges(eratest::read_file(image.path)).empty());
    metadata_close(std::move(md));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("dmsim's era_dump, restored by the real era_restore, reads back the same in dmsim", "[era][interop]") {
  if (skip_without_tools()) return;
  TempFile xml("c.xml"), image("c.img");
  SimResult r = run_world([&](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta", 8192);
    engines::KmemOwner kmem("interop");
    std::unique_ptr<era_metadata> md;
    REQUIRE(metadata_open(&meta, kBlockSize, true, {}, &kmem, &md) == 0);
    resize_and_roll(md.get(), 3000);
    for (uint32_t b : {0u, 63u, 64u, 1017u, 1018u, 2999u}) mark(md.get(), b);
    REQUIRE(metadata_checkpoint(md.get()) == 0);
    mark(md.get(), 64);
    mark(md.get(), 2000);
    REQUIRE(metadata_checkpoint(md.get()) == 0);
    digest d;
    digest_until(md.get(), &d, [](const digest& g) { return g.era == 2; });  // era 1 digested
    REQUIRE(metadata_commit(md.get()) == 0);
    metadata_close(std::move(md));
    const engines::ToolResult ours = dmsim_tool("era_dump", {"/dev/meta"});
    REQUIRE(ours.exit_code == 0);
    eratest::write_file(xml.path, ours.out);  // the simulation runs in a process of its own
  });
  REQUIRE_CLEAN(r);
  const std::string dumped = eratest::read_file(xml.path);
  INFO(dumped.substr(0, 400));
  REQUIRE(dumped.find("<writeset era=\"2\" nr_bits=\"3000\">") != std::string::npos);
  REQUIRE(dumped.find("<era block=\"1018\" era=\"1\"/>") != std::string::npos);

  eratest::write_file(image.path, "");
  std::filesystem::resize_file(image.path, 4 << 20);
  const auto restored = run_tool({eratest::kEraRestore, "-i", xml.path, "-o", image.path});
  INFO(restored.err);
  REQUIRE(restored.code == 0);
  SimResult again = run_world([&](model::World& w) {
    eratest::load_file_into_disk(w, "meta", image.path);
    const engines::ToolResult back = dmsim_tool("era_dump", {"/dev/meta"});
    INFO(back.err);
    REQUIRE(back.exit_code == 0);
    REQUIRE(back.out == dumped);
    const engines::ToolResult check = dmsim_tool("era_check", {"/dev/meta"});
    REQUIRE(check.exit_code == 0);
  });
  REQUIRE_CLEAN(again);
}

TEST_CASE("a damaged superblock is reported by dmsim's era_check exactly as by the real one", "[era][interop]") {
  if (skip_without_tools()) return;
  namespace sb = superblock_layout;
  // Each damage, applied to a superblock dmsim wrote; `reseal`: the checksum is made valid again,
  // with the block number it gives.
  struct Damage {
    std::string what;
    std::function<void(uint8_t*)> apply;
    std::optional<uint64_t> reseal = SUPERBLOCK_LOCATION;
  };
  const std::vector<Damage> damages{
      {"a torn superblock", [](uint8_t* b) { b[300] ^= 1; }, std::nullopt},
      {"a block number past the device", [](uint8_t*) {}, 1024},
      {"a bad magic", [](uint8_t* b) { sb::magic.put(b, SUPERBLOCK_MAGIC + (1ull << 32)); }},
      {"version 2", [](uint8_t* b) { sb::version.put(b, 2); }},
      {"version 0", [](uint8_t* b) { sb::version.put(b, 0); }},
      {"a metadata block size of 16 sectors", [](uint8_t* b) { sb::metadata_block_size.put(b, 16); }},
      {"no writeset tree", [](uint8_t* b) { sb::writeset_tree_root.put(b, 0); }},
      {"both roots on one block", [](uint8_t* b) { sb::era_array_root.put(b, sb::writeset_tree_root.get(b)); }},
  };
  TempFile image("d.img");
  SimResult r = run_world([&](model::World& w) {
    model::VolatileCacheDisk& meta = blank_disk(w, "meta", 8192);
    engines::KmemOwner kmem("interop");
    std::unique_ptr<era_metadata> md;
    REQUIRE(metadata_open(&meta, kBlockSize, true, {}, &kmem, &md) == 0);
    resize_and_roll(md.get(), 100);
    metadata_close(std::move(md));
    eratest::write_disk_to_file(meta, image.path);
    const std::string clean = eratest::read_file(image.path);
    for (size_t i = 0; i < damages.size(); i++) {
      std::string bytes = clean;
      auto* b = reinterpret_cast<uint8_t*>(bytes.data());
      damages[i].apply(b);
      if (damages[i].reseal)
        engines::pd::validator_prepare(sb_validator, *damages[i].reseal, b, DM_ERA_METADATA_BLOCK_SIZE);
      eratest::write_file(image.path, bytes);
      const auto real = run_tool({eratest::kEraCheck, image.path});
      const std::string name = "damaged" + std::to_string(i);
      eratest::load_file_into_disk(w, name, image.path);
      const engines::ToolResult ours = dmsim_tool("era_check", {"/dev/" + name});
      INFO(damages[i].what << "\nreal era_check:\n" << real.err << "dmsim's:\n" << ours.err);
      REQUIRE(real.code == 1);
      REQUIRE(ours.exit_code == real.code);
      REQUIRE(ours.err == real.err);
      REQUIRE(ours.out == real.out);
    }
  });
  REQUIRE_CLEAN(r);
}
