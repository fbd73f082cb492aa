// dm-error ("error": every bio fails) and dm-zero ("zero": reads return zeroes, writes are
// dropped), from drivers/md/dm-target.c and dm-zero.c.
#include "model/dm/dm_target.hpp"
#include "model/errno.hpp"
#include "model/targets/simple_targets.hpp"

namespace model {

namespace {

int io_err_ctr(DmTarget* ti, const DmArgs&) {
  ti->num_discard_bios = 1;
  return 0;
}

int io_err_map(DmTarget*, Bio*) {
  return DM_MAPIO_KILL;
}

int zero_ctr(DmTarget* ti, const DmArgs& argv) {
  if (!argv.empty()) {
    ti->error = "No arguments required";
    return -EINVAL;
  }
  ti->num_discard_bios = 1;
  return 0;
}

int zero_map(DmTarget*, Bio* bio) {
  if (bio->op == ReqOp::Read) {
    Sector* d = bio->data();
    for (uint32_t i = 0; i < bio->size; i++) d[i] = Sector::of_token(kZeroToken);
  }
  bio_endio(bio);  // writes and discards are accepted and forgotten
  return DM_MAPIO_SUBMITTED;
}

const TargetType error_target = {.name = "error", .version = {1, 6, 0}, .ctr = io_err_ctr, .map = io_err_map};
const TargetType zero_target = {
    .name = "zero", .version = {1, 2, 0}, .ctr = zero_ctr, .map = zero_map, .reads_zeroes_unless_written = true};

}  // namespace

void register_error_and_zero_targets() {
  dm_register_target(&error_target);
  dm_register_target(&zero_target);
}

}  // namespace model
