#include "tests/model/model_test_helpers.hpp"

using namespace modeltest;
using namespace model;
using sim::Finding;
using sim::note;

TEST_CASE("a new disk holds a distinct token in every sector, or zeroes when asked") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& a = disk(w, "sda", 1024);
    DiskConfig zc;
    zc.name = "sdb";
    zc.sectors = 1024;
    zc.initial_zero = true;
    VolatileCacheDisk& b = w.add_disk(zc);
    note(describe_token(read_token(&a, 7)) + " / " + describe_token(read_token(&a, 8)));
    note(describe_token(read_token(&b, 7)));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"initial(disk 1, sector 7) / initial(disk 1, sector 8)", "zeroes"});
}

TEST_CASE("reads see the newest completed write, cached or not") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    uint64_t id;
    blk_write(&d, 10, 2, 0, &id);
    note(read_token(&d, 11) == written_token(id, 11) ? "reads the cached write" : "stale");
    note(d.media().read(11).token == written_token(id, 11) ? "already durable" : "only in the cache");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"reads the cached write", "only in the cache"});
}

TEST_CASE("a completed flush makes earlier writes durable; a later write stays in the cache") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    uint64_t a, b;
    blk_write(&d, 0, 1, 0, &a);
    blkdev_issue_flush(&d);
    blk_write(&d, 1, 1, 0, &b);
    note(d.media().read(0).token == written_token(a, 0) ? "a durable" : "a cached");
    note(d.media().read(1).token == written_token(b, 1) ? "b durable" : "b cached");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"a durable", "b cached"});
}

TEST_CASE("a FUA write is durable when it completes, without a flush") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    uint64_t a, b;
    blk_write(&d, 0, 1, 0, &a);
    blk_write(&d, 8, 1, REQ_FUA, &b);
    note(d.media().read(8).token == written_token(b, 8) ? "fua durable" : "fua cached");
    note(d.media().read(0).token == written_token(a, 0) ? "plain durable" : "plain cached");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"fua durable", "plain cached"});
}

TEST_CASE("block core strips FLUSH/FUA for a write-through disk and completes an empty flush at once") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& wb = disk(w, "sda", 1024, true, "sata-ssd");
    VolatileCacheDisk& wt = disk(w, "sdb", 1024, false, "sata-ssd");
    for (VolatileCacheDisk* d : {&wb, &wt}) {
      const uint64_t t0 = sim::ktime_get_ns();
      blkdev_issue_flush(d);
      blk_write(d, 0, 8, REQ_PREFLUSH | REQ_FUA);
      note(d->name() + ": " + std::to_string(d->trace().records.size()) +
           " bios reached the disk, flags of the write:" + req_flags_string(d->trace().records.back().flags) + ", " +
           std::to_string((sim::ktime_get_ns() - t0) / 1000) + " us");
    }
  });
  REQUIRE_CLEAN(r);
  // sata-ssd: a flush costs 8 ms and a write 30 us plus 4 KiB at 500 MB/s (8.192 us).
  REQUIRE(r.notes == Notes{"sda: 2 bios reached the disk, flags of the write:|PREFLUSH|FUA, 16068 us",
                           "sdb: 1 bios reached the disk, flags of the write:, 38 us"});
}

TEST_CASE("a write to a disk without a volatile cache is durable at completion") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024, false);
    uint64_t a;
    blk_write(&d, 3, 1, 0, &a);
    note(d.media().read(3).token == written_token(a, 3) ? "durable" : "cached");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"durable"});
}

TEST_CASE("a discarded block reads zeroes, or keeps its data on a disk that does not zero discards") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& z = disk(w, "sda", 1024);
    DiskConfig kc;
    kc.name = "sdb";
    kc.sectors = 1024;
    kc.discard_zeroes = false;
    VolatileCacheDisk& k = w.add_disk(kc);
    for (VolatileCacheDisk* d : {&z, &k}) {
      uint64_t id;
      blk_write(d, 0, 8, 0, &id);
      blkdev_issue_discard(d, 0, 8);
      note(d->name() + " " + describe_token(read_token(d, 4)));
    }
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes.size() == 2);
  REQUIRE(r.notes[0] == "sda zeroes");
  REQUIRE(r.notes[1].rfind("sdb write#", 0) == 0);
}

TEST_CASE("concurrent transfers share a disk's bandwidth") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1 << 20, true, "hdd");
    auto timed = [&d](int n) {
      const uint64_t t0 = sim::ktime_get_ns();
      std::vector<sim::Thread*> ts;
      for (int i = 0; i < n; i++)
        ts.push_back(&sim::kthread_run([&d, i] { blk_write(&d, static_cast<uint64_t>(i) * 4096, 2048); }, "writer"));
      for (auto* t : ts) sim::join(*t);
      return (sim::ktime_get_ns() - t0) / 1000;
    };
    const uint64_t one = timed(1), two = timed(2);
    note("one 1 MiB write " + std::to_string(one) + " us, two at once " + std::to_string(two) + " us");
  });
  REQUIRE_CLEAN(r);
  // hdd: 8 ms per operation plus 1 MiB at 170 MB/s (6168 us); two share the bandwidth.
  REQUIRE(r.notes == Notes{"one 1 MiB write 14168 us, two at once 20336 us"});
}

TEST_CASE("bios beyond the device end fail with EIO and a kernel message") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    note(blk_status_name(blk_write(&d, 1020, 8)));
  });
  INFO(all_text(r));
  REQUIRE(r.notes == Notes{"EIO"});
  REQUIRE(r.dmesg.size() == 1);
  REQUIRE(r.dmesg[0].find("attempt to access beyond end of device") != std::string::npos);
}

TEST_CASE("a 4096-byte logical block disk refuses misaligned bios") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024, true, "instant", 4096);
    note(blk_status_name(blk_write(&d, 4, 8)));
    note(blk_status_name(blk_write(&d, 8, 8)));
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"EIO", "ok"});
}

TEST_CASE("large bios are split to max_sectors by block core") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1 << 16);
    blk_write(&d, 0, 6000);
    std::string sizes;
    for (const auto& rec : d.trace().records) sizes += std::to_string(rec.sectors) + " ";
    note(sizes);
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"2560 2560 880 "});
}

TEST_CASE("fault injection fails, drops or delays matching bios") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    FaultRule err;
    err.start = 100;
    err.end = 200;
    err.count = 1;
    d.faults().add(err);
    note(blk_status_name(blk_write(&d, 150, 1)));
    note(blk_status_name(blk_write(&d, 150, 1)));
    FaultRule drop;
    drop.action = FaultAction::Drop;
    drop.start = 300;
    drop.end = 301;
    d.faults().add(drop);
    uint64_t id;
    note(blk_status_name(blk_write(&d, 300, 1, REQ_FUA, &id)));
    note(read_token(&d, 300) == written_token(id, 300) ? "dropped write visible" : "dropped write lost");
    FaultRule delay;
    delay.action = FaultAction::Delay;
    delay.delay_s = 0.5;
    delay.reads = true;
    delay.writes = false;
    d.faults().add(delay);
    const uint64_t t0 = sim::ktime_get_ns();
    read_token(&d, 0);
    note("read took " + std::to_string((sim::ktime_get_ns() - t0) / 1000000) + " ms");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"EIO", "ok", "ok", "dropped write lost", "read took 500 ms"});
}

TEST_CASE("a disk trace saved to text loads back identical") {
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& d = disk(w, "sda", 1024);
    blk_write(&d, 0, 4);
    blkdev_issue_flush(&d);
    Bio* meta = bio_alloc(&d, ReqOp::Write, REQ_META | REQ_FUA, 8, 1);
    uint8_t bytes[512];
    for (int i = 0; i < 512; i++) bytes[i] = static_cast<uint8_t>(i * 7);
    meta->data()[0] = Sector::of_bytes(bytes);
    submit_bio_wait(meta);
    bio_put(meta);
    blkdev_issue_discard(&d, 16, 8);
    std::ostringstream out;
    d.trace().save(out);
    std::istringstream in(out.str());
    DiskTrace back = DiskTrace::load(in);
    std::ostringstream again;
    back.save(again);
    note(again.str() == out.str() ? "round trip identical" : "differs");
    note(std::to_string(back.records.size()) + " records");
    note(back.records[2].data->at(0) == d.media().read(8) ? "bytes preserved" : "bytes lost");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"round trip identical", "4 records", "bytes preserved"});
}

TEST_CASE("loading a malformed disk trace names the line") {
  std::istringstream in("dmsim-disk-trace 1\nio 1 1 0 0 1 0 5 0 1 1 0 0 0 data zz\nio 2 7\n");
  try {
    DiskTrace::load(in);
    FAIL("no error");
  } catch (const std::exception& e) {
    REQUIRE(std::string(e.what()).find("line 2") != std::string::npos);
  }
}

TEST_CASE("a disk started from a crash image keeps later writes over the image's content") {
  // The recovery after a power cut runs on a new disk loaded with the crashed one's media.
  SimResult r = run_world([](World& w) {
    VolatileCacheDisk& before = disk(w, "sda", 1024);
    uint64_t old_id, new_id;
    for (int i = 0; i < 5; i++) blk_write(&before, 5, 1, 0, &old_id);
    blkdev_issue_flush(&before);
    VolatileCacheDisk& after = disk(w, "sdb", 1024);
    after.load_media(before.media());
    blk_write(&after, 5, 1, 0, &new_id);
    blkdev_issue_flush(&after);
    note(read_token(&after, 5) == written_token(new_id, 5) ? "reads the new write" : "reads the image");
    note(after.media().read(5).token == written_token(new_id, 5) ? "new write durable" : "image kept");
  });
  REQUIRE_CLEAN(r);
  REQUIRE(r.notes == Notes{"reads the new write", "new write durable"});
}
