// The pieces of dm-era's metadata object, driven directly: formatting, rollover and archive,
// digestion in steps, the metadata snapshot, the in-core/on-disk order of marking. Each test
// checks the result with the read-only tools' reader, as userland would see it.
#include "engines/era/era_metadata.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

#include "engines/era/era_format.hpp"
#include "engines/era/era_reader.hpp"
#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace engines::era;

namespace {

struct Fixture {
  model::VolatileCacheDisk* meta;
  engines::KmemOwner kmem{"test"};
  std::unique_ptr<era_metadata> md;
};

// A 4 MiB metadata disk, formatted and resized to `blocks` era blocks of 128 sectors.
Fixture* open_fresh(model::World& w, uint64_t blocks, era_variant v = {}) {
  auto* f = new Fixture;
  model::DiskConfig c;
  c.name = "meta";
  c.sectors = 8192;
  c.initial_zero = true;  // a blank metadata device
  f->meta = &w.add_disk(c);
  REQUIRE(metadata_open(f->meta, 128, true, v, &f->kmem, &f->md) == 0);
  REQUIRE(metadata_resize(f->md.get(), blocks) == 0);
  REQUIRE(metadata_era_rollover(f->md.get()) == 0);
  REQUIRE(metadata_commit(f->md.get()) == 0);
  return f;
}

void mark(era_metadata* md, uint32_t block) {
  REQUIRE(writeset_test_and_set(&md->bitset_info, md->current_writeset, block, false) == 0);
  REQUIRE(metadata_commit(md) == 0);
  writeset_set_incore(md->current_writeset, block);
}

// What era_invalidate would say from the live superblock (no snapshot).
std::vector<bool> since(model::BlockDevice* b, uint32_t era) {
  EraMetadataReader rd;
  std::string err;
  REQUIRE(rd.open(b, false, &err) == 0);
  std::vector<bool> m;
  REQUIRE(rd.written_since(era, &m, &err) == 0);
  return m;
}

std::vector<std::string> check(model::BlockDevice* b) {
  EraMetadataReader rd;
  std::string err;
  REQUIRE(rd.open(b, false, &err) == 0);
  return rd.check();
}

void close(Fixture* f) {
  metadata_close(std::move(f->md));
  REQUIRE(f->kmem.check_leaks() == 0);
}

}  // namespace

TEST_CASE("a blank device is formatted at era 0 and the first rollover starts era 1") {
  SimResult r = run_world([](model::World& w) {
    Fixture* f = open_fresh(w, 100);
    REQUIRE(f->md->current_era == 1);
    REQUIRE(f->md->nr_blocks == 100);
    REQUIRE(check(f->meta).empty());
    close(f);
    // Reopened, it has the committed era and size, and its current writeset.
    std::unique_ptr<era_metadata> again;
    engines::KmemOwner k("again");
    REQUIRE(metadata_open(f->meta, 128, false, {}, &k, &again) == 0);
    REQUIRE(again->current_era == 1);
    REQUIRE(again->nr_blocks == 100);
    REQUIRE(again->current_writeset->md.root != INVALID_WRITESET_ROOT);
    metadata_close(std::move(again));
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a block marked and committed is reported for its era; a rollover archives it under that era") {
  SimResult r = run_world([](model::World& w) {
    Fixture* f = open_fresh(w, 100);
    mark(f->md.get(), 7);
    REQUIRE(metadata_era_rollover(f->md.get()) == 0);
    mark(f->md.get(), 9);
    REQUIRE(metadata_era_rollover(f->md.get()) == 0);
    REQUIRE(metadata_commit(f->md.get()) == 0);
    REQUIRE(f->md->current_era == 3);
    auto s1 = since(f->meta, 1), s2 = since(f->meta, 2), s3 = since(f->meta, 3);
    REQUIRE((s1[7] && s1[9] && !s1[8]));
    REQUIRE((!s2[7] && s2[9]));
    REQUIRE((!s3[7] && !s3[9]));
    REQUIRE(check(f->meta).empty());
    close(f);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("digestion runs 100 bits per transcribe step and leaves the era array and an empty tree") {
  SimResult r = run_world([](model::World& w) {
    Fixture* f = open_fresh(w, 250);
    mark(f->md.get(), 3);
    mark(f->md.get(), 240);
    REQUIRE(metadata_era_rollover(f->md.get()) == 0);
    digest d;
    REQUIRE(metadata_digest_start(f->md.get(), &d) == 0);
    int steps = 0;
    while (d.step) {
      REQUIRE(d.step(f->md.get(), &d) == 0);
      steps++;
    }
    // lookup, 3 transcribe steps (250 bits), remove, lookup finding nothing.
    REQUIRE(steps == 6);
    REQUIRE(metadata_commit(f->md.get()) == 0);
    EraMetadataReader rd;
    std::string err;
    REQUIRE(rd.open(f->meta, false, &err) == 0);
    std::map<uint32_t, writeset_metadata> ws;
    REQUIRE(rd.writesets(&ws, &err) == 0);
    REQUIRE(ws.empty());
    std::vector<uint32_t> eras;
    REQUIRE(rd.era_array(&eras, &err) == 0);
    REQUIRE((eras[3] == 1 && eras[240] == 1 && eras[4] == 0));
    REQUIRE(since(f->meta, 1)[240]);
    REQUIRE(check(f->meta).empty());
    close(f);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a metadata snapshot shares the trees, and dropping it gives every block back") {
  SimResult r = run_world([](model::World& w) {
    Fixture* f = open_fresh(w, 100);
    mark(f->md.get(), 1);
    const uint64_t before = f->md->tm->sm()->nr_free();
    REQUIRE(metadata_take_snap(f->md.get()) == 0);
    REQUIRE(metadata_commit(f->md.get()) == 0);
    REQUIRE(f->md->metadata_snap != SUPERBLOCK_LOCATION);
    REQUIRE(check(f->meta).empty());  // shared roots counted once per holder
    REQUIRE(metadata_take_snap(f->md.get()) != 0);
    REQUIRE(metadata_drop_snap(f->md.get()) == 0);
    REQUIRE(metadata_commit(f->md.get()) == 0);
    REQUIRE(check(f->meta).empty());
    REQUIRE(metadata_drop_snap(f->md.get()) != 0);
    // The rollover of take_snap archived one writeset: a few blocks more than before.
    REQUIRE(f->md->tm->sm()->nr_free() + 16 > before);
    close(f);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("marking leaves the in-core bit to the caller; the pre-5.12 order sets it first") {
  SimResult r = run_world([](model::World& w) {
    Fixture* f = open_fresh(w, 100);
    writeset* ws = f->md->current_writeset;
    REQUIRE(writeset_test_and_set(&f->md->bitset_info, ws, 5, false) == 0);
    REQUIRE(!writeset_marked(ws, 5));  // not before the commit
    REQUIRE(writeset_test_and_set(&f->md->bitset_info, ws, 6, true) == 0);
    REQUIRE(writeset_marked(ws, 6));  // era.incore_bit_before_commit
    REQUIRE(writeset_test_and_set(&f->md->bitset_info, ws, 6, false) == 1);
    close(f);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("a resize keeps the current writeset a crash left behind; the pre-5.12 one drops it") {
  for (bool pre_fix : {false, true}) {
    SimResult r = run_world([pre_fix](model::World& w) {
      Fixture* f = open_fresh(w, 100);
      mark(f->md.get(), 4);
      close(f);  // no archive: as after a power cut
      era_variant v;
      v.no_writeset_recovery = pre_fix;
      std::unique_ptr<era_metadata> md;
      engines::KmemOwner k("reopened");
      REQUIRE(metadata_open(f->meta, 128, false, v, &k, &md) == 0);
      REQUIRE(metadata_resize(md.get(), 100) == 0);
      REQUIRE((pre_fix ? metadata_new_era(md.get()) : metadata_era_rollover(md.get())) == 0);
      REQUIRE(metadata_commit(md.get()) == 0);
      REQUIRE(since(f->meta, 1)[4] == !pre_fix);
      metadata_close(std::move(md));
    });
    REQUIRE_CLEAN(r);
  }
}

TEST_CASE("a rollover on metadata never resized (no blocks, no in-core bitmaps) starts an era all the same") {
  // writeset_init's wipe of the in-core bits is a memset of zero bytes then, as in the kernel.
  SimResult r = run_world([](model::World& w) {
    model::DiskConfig c;
    c.name = "meta";
    c.sectors = 8192;
    c.initial_zero = true;
    model::VolatileCacheDisk& meta = w.add_disk(c);
    engines::KmemOwner k("fresh");
    std::unique_ptr<era_metadata> md;
    REQUIRE(metadata_open(&meta, 128, true, {}, &k, &md) == 0);
    REQUIRE(md->nr_blocks == 0);
    REQUIRE(metadata_checkpoint(md.get()) == 0);
    REQUIRE(metadata_commit(md.get()) == 0);
    REQUIRE(md->current_era == 1);
    REQUIRE(check(&meta).empty());
    metadata_close(std::move(md));
    REQUIRE(k.check_leaks() == 0);
  });
  REQUIRE_CLEAN(r);
}

TEST_CASE("era.leak_writesets leaks the bitmaps a close leaves behind, not those a resize replaces") {
  for (bool pre_fix : {false, true}) {
    SimResult r = run_world([pre_fix](model::World& w) {
      era_variant v;
      v.leak_writesets = pre_fix;
      Fixture* f = open_fresh(w, 100, v);
      REQUIRE(metadata_resize(f->md.get(), 200) == 0);
      REQUIRE(metadata_resize(f->md.get(), 50) == 0);
      sim::note("after resizes: " + std::to_string(f->kmem.outstanding()));
      metadata_close(std::move(f->md));
      sim::note("after close: " + std::to_string(f->kmem.outstanding()));
    });
    INFO(all_text(r));
    REQUIRE(r.findings.empty());
    REQUIRE(r.notes == Notes{"after resizes: 2", pre_fix ? "after close: 2" : "after close: 0"});
  }
}

TEST_CASE("superblock fields survive a pack and unpack") {
  superblock_fields f;
  f.data_block_size = 8192;
  f.nr_blocks = 64;
  f.current_era = 7;
  f.current_writeset = {64, 42};
  f.writeset_tree_root = 5;
  f.era_array_root = 6;
  f.metadata_snap = 99;
  f.metadata_space_map_root[3] = 0xab;
  std::vector<uint8_t> block(4096);
  superblock_pack(f, block.data());
  const superblock_fields g = superblock_unpack(block.data());
  REQUIRE((g.data_block_size == 8192 && g.nr_blocks == 64 && g.current_era == 7));
  REQUIRE((g.current_writeset.nr_bits == 64 && g.current_writeset.root == 42));
  REQUIRE((g.writeset_tree_root == 5 && g.era_array_root == 6 && g.metadata_snap == 99));
  REQUIRE(g.metadata_space_map_root[3] == 0xab);
}

TEST_CASE("era_invalidate prints runs of blocks as ranges with an exclusive end, spaced as 0.9.0 spaces it") {
  std::vector<bool> m(10, false);
  m[1] = m[2] = m[3] = m[7] = true;
  REQUIRE(format_blocks_xml(m) == "<blocks>\n  <range begin=\"1\" end = \"4\"/>\n  <block block=\"7\"/>\n</blocks>\n");
  REQUIRE(format_blocks_xml(std::vector<bool>(4, false)) == "<blocks>\n</blocks>\n");
}

TEST_CASE("the superblock has the kernel's layout, and sb_check refuses it in the kernel's order with its messages") {
  superblock_fields f;
  f.data_block_size = 128;
  f.nr_blocks = 16;
  f.current_era = 3;
  f.writeset_tree_root = 4;
  f.era_array_root = 5;
  std::vector<uint8_t> b(4096);
  superblock_pack(f, b.data());
  engines::pd::validator_prepare(sb_validator, SUPERBLOCK_LOCATION, b.data(), b.size());
  // struct superblock_disk, as era_restore 0.9.0 writes it too.
  using engines::pd::get_le32;
  using engines::pd::get_le64;
  REQUIRE(get_le64(&b[32]) == 2126579579);
  REQUIRE(get_le32(&b[40]) == 1);
  REQUIRE((get_le32(&b[172]) == 128 && get_le32(&b[176]) == 8 && get_le32(&b[180]) == 16 && get_le32(&b[184]) == 3));
  REQUIRE((get_le64(&b[200]) == 4 && get_le64(&b[208]) == 5 && get_le64(&b[216]) == 0));
  REQUIRE(std::all_of(b.begin() + 224, b.end(), [](uint8_t x) { return x == 0; }));

  auto check = [](const std::vector<uint8_t>& blk, uint64_t location, std::string* why) {
    return engines::pd::validator_check(sb_validator, location, blk.data(), blk.size(), why);
  };
  std::string why;
  REQUIRE(check(b, 0, &why) == 0);
  REQUIRE(check(b, 1, &why) == -ENOTBLK);
  REQUIRE(why == "era: sb_check failed: blocknr 0: wanted 1");
  // The magic is a u64 and is checked before the checksum: a bad one is named as such.
  auto bad_magic = b;
  bad_magic[36] = 1;
  REQUIRE(check(bad_magic, 0, &why) == -EILSEQ);
  REQUIRE(why == "era: sb_check failed: magic 6421546875: wanted 2126579579");
  auto torn = b;
  torn[300] ^= 1;
  REQUIRE(check(torn, 0, &why) == -EILSEQ);
  REQUIRE(why.rfind("era: sb_check failed: csum ", 0) == 0);
  auto v2 = b;
  engines::pd::put_le32(&v2[40], 2);
  engines::pd::validator_prepare(sb_validator, SUPERBLOCK_LOCATION, v2.data(), v2.size());
  REQUIRE(check(v2, 0, &why) == -EINVAL);
  REQUIRE(why == "era: Era metadata version 2 found, but only versions between 1 and 1 supported.");
  // The tools look at the checksum only.
  REQUIRE(engines::pd::validator_check(tools_sb_validator, 0, v2.data(), v2.size(), &why) == 0);
  REQUIRE(engines::pd::validator_check(tools_sb_validator, 0, torn.data(), torn.size(), &why) == -EILSEQ);
  REQUIRE(why == "bad checksum in superblock");
}
