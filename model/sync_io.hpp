// Synchronous I/O from a simulated thread, as a tool like dd would do it: each call builds one
// bio, submits it and sleeps until it completes. Written data is fresh tokens naming the write
// and the sector it was aimed at.
#pragma once

#include <cstdint>
#include <vector>

#include "model/block_device.hpp"

namespace model {

BlkStatus blk_write(BlockDevice* dev, uint64_t sector, uint32_t sectors, unsigned flags = 0,
                    uint64_t* write_id = nullptr);
BlkStatus blk_read(BlockDevice* dev, uint64_t sector, uint32_t sectors, std::vector<Sector>* out);
// blkdev_issue_flush: an empty REQ_PREFLUSH write.
BlkStatus blkdev_issue_flush(BlockDevice* dev);
BlkStatus blkdev_issue_discard(BlockDevice* dev, uint64_t sector, uint32_t sectors);
BlkStatus blkdev_issue_zeroout(BlockDevice* dev, uint64_t sector, uint32_t sectors);

}  // namespace model
