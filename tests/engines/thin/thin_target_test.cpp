// dm-thin behaviour as the device-mapper test suite checks it (thin/creation_tests.rb,
// thin/deletion_tests.rb, thin/pool_resize_tests.rb, thin/metadata_snap_tests.rb) and as
// dm-thin.c documents it: table and status lines, constructor errors, messages, out of space.
#include <regex>

#include "tests/engines/thin/thin_test_helpers.hpp"

using namespace thintest;

namespace {

std::string dd(const std::string& dev, const std::string& bs, uint64_t count, uint64_t seek,
               const std::string& oflag = "direct") {
  return "  - dd if=/dev/urandom of=/dev/mapper/" + dev + " bs=" + bs + " count=" + std::to_string(count) +
         " seek=" + std::to_string(seek) + " oflag=" + oflag + "\n";
}

}  // namespace

TEST_CASE("a new pool's status line has the kernel's fields, in order, with its trailing space", "[thin]") {
  const Steps r = run_steps(thin_scenario(pool_and_thin() + "  - dmsetup status pool\n  - dmsetup table pool\n"));
  // 16 MiB of metadata is 4096 blocks, of which the reserve (409) counts as used; 4096 data blocks.
  std::smatch m;
  const std::string status = r.out(3);
  REQUIRE(std::regex_match(status, m,
                           std::regex("0 524288 thin-pool 0 ([0-9]+)/4096 0/4096 - rw discard_passdown "
                                      "queue_if_no_space - 1024 \n?")));
  REQUIRE(std::stoul(m[1]) > 409);
  REQUIRE(std::regex_match(r.out(4), std::regex("0 524288 thin-pool [0-9]+:[0-9]+ [0-9]+:[0-9]+ 128 0 0 \n?")));
}

TEST_CASE("the table line lists the requested features and the status line the effective ones", "[thin]") {
  const Steps r = run_steps(thin_scenario(
      "  - dmsetup create pool --table \"0 524288 thin-pool /dev/meta /dev/data 256 16 4 skip_block_zeroing "
      "ignore_discard no_discard_passdown error_if_no_space\"\n"
      "  - dmsetup table pool\n  - dmsetup status pool\n"));
  REQUIRE(std::regex_match(r.out(1), std::regex("0 524288 thin-pool [0-9:]+ [0-9:]+ 256 16 4 skip_block_zeroing "
                                                "ignore_discard no_discard_passdown error_if_no_space \n?")));
  REQUIRE(std::regex_match(r.out(2), std::regex("0 524288 thin-pool 0 [0-9]+/4096 0/2048 - rw ignore_discard "
                                                "error_if_no_space - 1024 \n?")));
}

TEST_CASE("the pool constructor refuses bad tables with the kernel's messages", "[thin]") {
  const Steps r = run_steps(
      thin_scenario("  - ! dmsetup create p1 --table \"0 524288 thin-pool /dev/meta /dev/data 100 0\"\n"
                    "  - ! dmsetup create p2 --table \"0 524288 thin-pool /dev/meta /dev/data 64 0\"\n"
                    "  - ! dmsetup create p3 --table \"0 524288 thin-pool /dev/meta /dev/data 4194304 0\"\n"
                    "  - ! dmsetup create p4 --table \"0 524288 thin-pool /dev/meta /dev/meta 128 0\"\n"
                    "  - ! dmsetup create p5 --table \"0 524288 thin-pool /dev/meta /dev/data 128 0 1 zero\"\n"
                    "  - ! dmsetup create p6 --table \"0 524288 thin-pool /dev/meta /dev/data 128 0 5 a b c d e\"\n"
                    "  - ! dmsetup create p7 --table \"0 524288 thin-pool /dev/meta /dev/data 128\"\n"
                    "  - ! dmsetup create p8 --table \"0 524288 thin-pool /dev/meta /dev/data 128 x\"\n"));
  for (size_t i = 0; i < r.run.out.steps.size(); i++) REQUIRE(r.step(i).exit_code != 0);
  REQUIRE(r.logged("Invalid block size"));
  REQUIRE(r.logged("Error setting metadata or data device"));
  REQUIRE(r.logged("Unrecognised pool feature requested"));
  REQUIRE(r.logged("Invalid number of pool feature arguments"));
  REQUIRE(r.logged("Invalid argument count"));
  REQUIRE(r.logged("Invalid low water mark"));
}

TEST_CASE("a thin device needs its pool and an existing id", "[thin]") {
  const Steps r =
      run_steps(thin_scenario(pool_and_thin() + "  - ! dmsetup create t1 --table \"0 2048 thin /dev/mapper/pool 7\"\n" +
                              "  - ! dmsetup create t2 --table \"0 2048 thin /dev/data 0\"\n" +
                              "  - ! dmsetup create t3 --table \"0 2048 thin /dev/mapper/pool 16777216\"\n"));
  REQUIRE(r.step(3).exit_code != 0);
  REQUIRE(r.step(4).exit_code != 0);
  REQUIRE(r.step(5).exit_code != 0);
  REQUIRE(r.logged("Couldn't open thin internal device"));
  REQUIRE(r.logged("Couldn't find pool object"));
  REQUIRE(r.logged("Invalid device id"));
}

TEST_CASE("thin status counts mapped sectors and names the highest mapped sector", "[thin]") {
  const Steps r =
      run_steps(thin_scenario(pool_and_thin() + "  - dmsetup status thin\n" + dd("thin", "4k", 1, 100) +
                              dd("thin", "64k", 2, 1) + "  - dmsetup status thin\n" + "  - dmsetup table thin\n"));
  REQUIRE(r.out(3) == "0 262144 thin 0 -\n");
  // Blocks 1, 2 and 6 (the 4 KiB write at 400 KiB) are mapped: 3 x 128 sectors, the last ends at 7 x 128 - 1.
  REQUIRE(r.out(6) == "0 262144 thin 384 895\n");
  REQUIRE(std::regex_match(r.out(7), std::regex("0 262144 thin [0-9]+:[0-9]+ 0\n?")));
}

TEST_CASE("create_thin refuses an id in use, delete an open device, set_transaction_id a wrong current id", "[thin]") {
  const Steps r = run_steps(thin_scenario(
      pool_and_thin() + "  - ! dmsetup message pool 0 create_thin 0\n" + "  - ! dmsetup message pool 0 delete 0\n" +
      "  - ! dmsetup message pool 0 set_transaction_id 1 2\n" + "  - dmsetup message pool 0 set_transaction_id 0 5\n" +
      "  - ! dmsetup message pool 0 frobnicate\n" + "  - dmsetup remove thin\n" +
      "  - dmsetup message pool 0 delete 0\n" + "  - dmsetup status pool\n"));
  REQUIRE(r.step(3).exit_code != 0);
  REQUIRE(r.step(4).exit_code != 0);
  REQUIRE(r.step(5).exit_code != 0);
  REQUIRE(r.step(6).exit_code == 0);
  REQUIRE(r.step(7).exit_code != 0);
  REQUIRE(r.logged("Unrecognised thin pool target message received: frobnicate"));
  REQUIRE(r.step(9).exit_code == 0);
  REQUIRE(std::regex_match(r.out(10), std::regex("0 524288 thin-pool 5 [0-9]+/4096 0/4096 - rw .*\n?")));
}

TEST_CASE("deleting a thin device frees its blocks except those a snapshot still shares", "[thin]") {
  const Steps r = run_steps(thin_scenario(
      pool_and_thin() + dd("thin", "64k", 4, 0) + "  - dmsetup suspend thin\n" +
      "  - dmsetup message pool 0 create_snap 1 0\n" + "  - dmsetup resume thin\n" + dd("thin", "64k", 1, 10) +
      "  - dmsetup remove thin\n" + "  - dmsetup status pool\n" + "  - dmsetup message pool 0 delete 0\n" +
      "  - dmsetup status pool\n" + "  - dmsetup message pool 0 delete 1\n" + "  - dmsetup status pool\n"));
  auto data_used = [&](size_t i) {
    std::smatch m;
    REQUIRE(std::regex_search(r.out(i), m, std::regex(" ([0-9]+)/4096 - ")));
    return std::stoul(m[1]);
  };
  REQUIRE(data_used(9) == 5);
  REQUIRE(data_used(11) == 4);  // the snapshot keeps the four shared blocks
  REQUIRE(data_used(13) == 0);
}

TEST_CASE("a held metadata snapshot shows in the status line until it is released; only one may be held", "[thin]") {
  const Steps r = run_steps(
      thin_scenario(pool_and_thin() + dd("thin", "64k", 1, 0) + "  - dmsetup message pool 0 reserve_metadata_snap\n" +
                    "  - dmsetup status pool\n" + "  - ! dmsetup message pool 0 reserve_metadata_snap\n" +
                    "  - dmsetup message pool 0 release_metadata_snap\n" +
                    "  - ! dmsetup message pool 0 release_metadata_snap\n" + "  - dmsetup status pool\n"));
  REQUIRE(std::regex_match(r.out(5), std::regex("0 524288 thin-pool 0 [0-9]+/4096 1/4096 [0-9]+ rw .*\n?")));
  REQUIRE(r.step(6).exit_code != 0);
  REQUIRE(r.step(7).exit_code == 0);
  REQUIRE(r.step(8).exit_code != 0);
  REQUIRE(std::regex_match(r.out(9), std::regex("0 524288 thin-pool 0 [0-9]+/4096 1/4096 - rw .*\n?")));
}

TEST_CASE("a pool out of data space fails writes with error_if_no_space and returns to rw when grown", "[thin]") {
  // 8 blocks of 64 KiB; the ninth block cannot be provisioned.
  const Steps r = run_steps(thin_scenario(
      "  - dmsetup create pool --table \"0 1024 thin-pool /dev/meta /dev/data 128 2 1 error_if_no_space\"\n"
      "  - dmsetup message pool 0 create_thin 0\n"
      "  - dmsetup create thin --table \"0 262144 thin /dev/mapper/pool 0\"\n" +
      dd("thin", "64k", 8, 0) + "  - ! dd if=/dev/urandom of=/dev/mapper/thin bs=64k count=1 seek=8 oflag=direct\n" +
      "  - dmsetup status pool\n" +
      "  - dmsetup load pool --table \"0 2048 thin-pool /dev/meta /dev/data 128 2 1 error_if_no_space\"\n" +
      "  - dmsetup suspend pool\n  - dmsetup resume pool\n" + dd("thin", "64k", 1, 8) + "  - dmsetup status pool\n"));
  REQUIRE(r.step(4).exit_code != 0);
  REQUIRE(std::regex_match(r.out(5), std::regex("0 1024 thin-pool 0 [0-9]+/4096 8/8 - out_of_data_space .*\n?")));
  REQUIRE(r.logged("reached low water mark for data device"));
  REQUIRE(r.logged("switching pool to out-of-data-space (error IO) mode"));
  REQUIRE(r.step(9).exit_code == 0);
  REQUIRE(std::regex_match(r.out(10), std::regex("0 2048 thin-pool 0 [0-9]+/4096 9/16 - rw .*\n?")));
}

TEST_CASE("a pool cannot shrink below the data its metadata describes", "[thin]") {
  const Steps r = run_steps(thin_scenario(
      pool_and_thin() + "  - dmsetup load pool --table \"0 262144 thin-pool /dev/meta /dev/data 128 0\"\n" +
      "  - ! dmsetup resume pool\n"));
  REQUIRE(r.step(4).exit_code != 0);
  REQUIRE(r.logged("too small: expected 4096"));
}

// device-mapper-test-suite thin/creation_tests.rb: the id space is 24 bits.
TEST_CASE("create_thin takes ids up to 2^24 - 1 and refuses 2^24", "[thin]") {
  const Steps r =
      run_steps(thin_scenario(pool_and_thin() + "  - dmsetup message pool 0 create_thin 16777215\n" +
                              "  - ! dmsetup message pool 0 create_thin 16777216\n" +
                              "  - dmsetup create big --table \"0 2048 thin /dev/mapper/pool 16777215\"\n"));
  REQUIRE(r.step(3).exit_code == 0);
  REQUIRE(r.step(4).exit_code != 0);
  REQUIRE(r.logged("Message received with invalid device id: 16777216"));
  REQUIRE(r.step(5).exit_code == 0);
}

// device-mapper-test-suite thin/creation_tests.rb (create_lots_of_empty_thins, scaled down) and
// thin/deletion_tests.rb: ids are independent, deleting one leaves the others.
TEST_CASE("two hundred thin devices are created, each can be opened, and deleting them empties the pool", "[thin]") {
  std::string steps = "  - dmsetup create pool --table \"0 524288 thin-pool /dev/meta /dev/data 128 0\"\n";
  for (int i = 0; i < 200; i++) steps += "  - dmsetup message pool 0 create_thin " + std::to_string(i) + "\n";
  steps += "  - dmsetup create t199 --table \"0 2048 thin /dev/mapper/pool 199\"\n";
  steps += dd("t199", "64k", 2, 0);
  steps += "  - dmsetup remove t199\n";
  for (int i = 0; i < 200; i++) steps += "  - dmsetup message pool 0 delete " + std::to_string(i) + "\n";
  steps += "  - ! dmsetup message pool 0 delete 7\n  - dmsetup status pool\n";
  const Steps r = run_steps(thin_scenario(steps));
  const size_t n = r.run.out.steps.size();
  for (size_t i = 0; i + 2 < n; i++) REQUIRE(r.step(i).exit_code == 0);
  REQUIRE(r.step(n - 2).exit_code != 0);  // deleted already
  REQUIRE(std::regex_match(r.out(n - 1), std::regex("0 524288 thin-pool 0 [0-9]+/4096 0/4096 - rw .*\n?")));
}

// device-mapper-test-suite thin/discard_tests.rb: only whole blocks are unmapped; a discard of the
// whole device gives every block back to the pool.
TEST_CASE("a discard unmaps the whole blocks it covers and leaves partial ones mapped", "[thin]") {
  const Steps r = run_steps(
      thin_scenario(pool_and_thin() + dd("thin", "64k", 8, 0) + "  - blkdiscard -o 4096 -l 61440 /dev/mapper/thin\n" +
                    "  - dmsetup status thin\n" + "  - blkdiscard -o 98304 -l 131072 /dev/mapper/thin\n" +
                    "  - dmsetup status thin\n" + "  - blkdiscard /dev/mapper/thin\n" +
                    "  - dmsetup status thin\n  - dmsetup status pool\n"));
  REQUIRE(r.out(5) == "0 262144 thin 1024 1023\n");  // 4 KiB..64 KiB: no whole block
  REQUIRE(r.out(7) == "0 262144 thin 896 1023\n");   // 96..224 KiB: only block 2 is whole
  REQUIRE(r.out(9) == "0 262144 thin 0 -\n");
  REQUIRE(std::regex_match(r.out(10), std::regex("0 524288 thin-pool 0 [0-9]+/4096 0/4096 - rw .*\n?")));
}

// device-mapper-test-suite thin/discard_tests.rb: with ignore_discard the thin device takes no
// discards, and the pool says so.
TEST_CASE("with ignore_discard a discard to a thin device fails and unmaps nothing", "[thin]") {
  const Steps r = run_steps(thin_scenario(pool_and_thin("1 ignore_discard") + dd("thin", "64k", 2, 0) +
                                          "  - ! blkdiscard /dev/mapper/thin\n  - dmsetup status thin\n"));
  REQUIRE(r.step(4).exit_code != 0);
  REQUIRE(r.out(5) == "0 262144 thin 256 255\n");
}

// dm-thin logs its mode changes with DMINFO and the low-water event with DMWARN: information,
// not the `errors` a DMERR line is.
TEST_CASE("running out of data space and growing the pool logs information and warnings, not errors", "[thin]") {
  const scenarios::Scenario s = scenarios::load_scenario(std::string(DMSIM_SOURCE_DIR) +
                                                         "/scenarios/thin/properties/thin-out-of-data-space.yaml");
  verify::PhaseInput in;
  in.scenario = &s;
  in.end_step = s.first_power_cut();
  in.config = verify::seed_config(s, 0);
  const verify::PhaseRun run = verify::run_phase(in);
  auto level_of = [&](const std::string& what) {
    for (size_t i = 0; i < run.sim.dmesg.size(); i++)
      if (run.sim.dmesg[i].find(what) != std::string::npos) return static_cast<int>(run.sim.dmesg_levels.at(i));
    return -1;
  };
  REQUIRE(level_of("switching pool to out-of-data-space (queue IO) mode") == sim::KERN_INFO);
  REQUIRE(level_of("switching pool to write mode") == sim::KERN_INFO);
  REQUIRE(level_of("reached low water mark for data device") == sim::KERN_WARNING);
  const verify::UnitResult u = verify::run_exploration(s, 0, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
}

// pool_presuspend suspends every active thin internally (noflush) and pool_resume resumes them:
// thin I/O issued while the pool is suspended waits, and so does a user's resume of a thin.
TEST_CASE("a write to a thin device while its pool is suspended completes only after the pool resumes", "[thin]") {
  const Steps r = run_steps(thin_scenario(pool_and_thin() + "  - dmsetup suspend pool\n" +
                                          "  - dd if=/dev/urandom of=/dev/mapper/thin bs=4k count=1 oflag=direct &\n" +
                                          "  - sleep 1\n  - dmsetup resume pool\n  - wait\n  - dmsetup status thin\n"));
  INFO(r.run.sim.summary());
  REQUIRE(r.run.out.finished);
  REQUIRE(r.step(4).finished);
  REQUIRE(r.step(4).exit_code == 0);
  REQUIRE(r.step(4).end_ns >= r.step(6).start_ns);  // not before the pool's resume
  REQUIRE(r.out(8) == "0 262144 thin 128 127\n");
}

TEST_CASE("resuming a thin the user suspended waits while its pool is suspended, until the pool resumes", "[thin]") {
  const Steps r = run_steps(thin_scenario(pool_and_thin() + "  - dmsetup suspend thin\n  - dmsetup suspend pool\n" +
                                          "  - dmsetup resume thin &\n  - sleep 1\n  - dmsetup resume pool\n" +
                                          "  - wait\n  - dmsetup info thin\n"));
  INFO(r.run.sim.summary());
  REQUIRE(r.run.out.finished);
  REQUIRE(r.step(5).exit_code == 0);
  REQUIRE(r.step(5).end_ns >= r.step(7).start_ns);
  REQUIRE(r.out(9).find("State:             ACTIVE") != std::string::npos);
}

// dmtest-python thin/external_origin_tests.py (snap-equal-size, snap-smaller-than-origin,
// snap-bigger-than-origin, snap-fractional-tail-block), scaled down: an origin stamped with
// 64 KiB blocks, a thin over it stamped again, both synced; after a power cut the recreated thin
// reads its own stamps, the origin's elsewhere (zeroes past its end), and the origin is unchanged.
TEST_CASE(
    "an external-origin thin of the origin's size, smaller, bigger, or over a fractional tail block reads "
    "the origin where unwritten and never changes it",
    "[thin]") {
  struct Size {
    const char* what;
    std::string origin, thin_sectors;
  };
  for (const Size& z : {Size{"equal", "8MiB", "16384"}, Size{"smaller", "8MiB", "8192"},
                        Size{"bigger", "8MiB", "32768"}, Size{"fractional tail block", "8200KiB", "16400"}}) {
    INFO(z.what);
    const std::string thin_table = "\"0 " + z.thin_sectors + " thin /dev/mapper/pool 0 /dev/origin\"";
    const std::string yaml =
        "name: thin-external-origin\ndisks:\n  meta: {size: 16MiB, profile: nvme, initial: zero}\n"
        "  data: {size: 256MiB, profile: nvme}\n  origin: {size: " +
        z.origin +
        ", profile: nvme}\nsteps:\n"
        "  - dd if=/dev/urandom of=/dev/origin bs=64k count=20 seek=3 oflag=direct\n"
        "  - sync /dev/origin\n"
        "  - dmsetup create pool --table \"0 524288 thin-pool /dev/meta /dev/data 128 0\"\n"
        "  - dmsetup message pool 0 create_thin 0\n"
        "  - dmsetup create thin --table " +
        thin_table +
        "\n"
        "  - dd if=/dev/urandom of=/dev/mapper/thin bs=64k count=10 seek=8 oflag=direct\n"
        "  - dd if=/dev/urandom of=/dev/mapper/thin bs=4k count=1 seek=" +
        std::to_string(std::stoull(z.thin_sectors) / 8 - 1) +  // the thin's last 4 KiB
        " oflag=direct\n"
        "  - sync /dev/mapper/thin\n"
        "  - power-cut\n"
        "  - dmsetup create pool --table \"0 524288 thin-pool /dev/meta /dev/data 128 0\"\n"
        "  - dmsetup create thin --table " +
        thin_table + "\nexpect: [no-errors, block-device, real-tools, thin-mappings-durable]\n";
    const verify::UnitResult u = verify::run_exploration(verifytest::scenario(yaml), 0, {}, {});
    INFO(violations_text(u));
    CHECK(u.passed);
    CHECK(u.recoveries > 0);
  }
}

TEST_CASE("a thin removed while the pool's worker walks the active thins is freed only after the walk", "[thin]") {
  // Found by dmsim explore (shrunk): with this schedule the worker was processing thin0's
  // deferred bios when thin1's table was destroyed; a walk over a copy of the list then used the
  // freed thin_c. The kernel references each thin it walks (get_first_thin/get_next_thin) and
  // thin_dtr waits for can_destroy.
  const scenarios::Scenario s = verifytest::scenario(
      thin_scenario("  - dmsetup create pool --table \"0 262144 thin-pool /dev/meta /dev/data 128 0 0\"\n"
                    "  - dmsetup message pool 0 create_thin 0\n"
                    "  - dmsetup create thin0 --table \"0 262144 thin /dev/mapper/pool 0\"\n"
                    "  - dmsetup load pool --table \"0 267136 thin-pool /dev/meta /dev/data 128 0 0\"\n"
                    "  - dmsetup table --inactive pool\n"
                    "  - dmsetup clear pool\n"
                    "  - dmsetup status thin0\n"
                    "  - dmsetup message pool 0 create_thin 1\n"
                    "  - dmsetup create thin1 --table \"0 262144 thin /dev/mapper/pool 1\"\n"
                    "  - dd if=/dev/urandom of=/dev/mapper/thin0 bs=65536 count=1 seek=0 oflag=direct &\n"
                    "  - dmsetup remove thin1\n"));
  const verify::UnitResult u = verify::run_exploration(s, 798, {}, {});
  INFO(violations_text(u));
  REQUIRE(u.passed);
}
