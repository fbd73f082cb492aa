#include "model/sync_io.hpp"

namespace model {

namespace {
BlkStatus run(Bio* bio) {
  const BlkStatus st = submit_bio_wait(bio);
  bio_put(bio);
  return st;
}
}  // namespace

BlkStatus blk_write(BlockDevice* dev, uint64_t sector, uint32_t sectors, unsigned flags, uint64_t* write_id) {
  Bio* bio = bio_alloc(dev, ReqOp::Write, flags, sector, sectors);
  for (uint32_t i = 0; i < sectors; i++) bio->data()[i] = Sector::of_token(written_token(bio->id, sector + i));
  if (write_id) *write_id = bio->id;
  return run(bio);
}

BlkStatus blk_read(BlockDevice* dev, uint64_t sector, uint32_t sectors, std::vector<Sector>* out) {
  Bio* bio = bio_alloc(dev, ReqOp::Read, 0, sector, sectors);
  const BlkStatus st = submit_bio_wait(bio);
  if (out) out->assign(bio->data(), bio->data() + sectors);
  bio_put(bio);
  return st;
}

BlkStatus blkdev_issue_flush(BlockDevice* dev) {
  return run(bio_alloc_flush(dev));
}

BlkStatus blkdev_issue_discard(BlockDevice* dev, uint64_t sector, uint32_t sectors) {
  return run(bio_alloc(dev, ReqOp::Discard, 0, sector, sectors));
}

BlkStatus blkdev_issue_zeroout(BlockDevice* dev, uint64_t sector, uint32_t sectors) {
  return run(bio_alloc(dev, ReqOp::WriteZeroes, 0, sector, sectors));
}

}  // namespace model
