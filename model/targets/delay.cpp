// dm-delay: "delay <device> <offset> <delay> [<write_device> <write_offset> <write_delay>
// [<flush_device> <flush_offset> <flush_delay>]]", delays in ms (drivers/md/dm-delay.c).
// Delayed bios wait on a list; a timer queues the kdelayd work that submits expired ones.
#include <list>

#include "model/dm/dm_target.hpp"
#include "model/errno.hpp"
#include "model/targets/simple_targets.hpp"
#include "sim/compiler_false_positives.hpp"
#include "sim/kernel.hpp"

namespace model {

namespace {

struct delay_class {
  DmDev* dev = nullptr;
  uint64_t start = 0;
  unsigned delay = 0;
  unsigned ops = 0;
};

struct dm_delay_info {
  Bio* bio;
  delay_class* cls;
  uint64_t expires;
};

struct delay_c {
  sim::TimerList delay_timer;
  sim::Mutex timer_lock{"dc->timer_lock"};
  sim::Mutex delayed_bios_lock{"dc->delayed_bios_lock"};
  sim::Workqueue* kdelayd_wq;
  sim::WorkStruct flush_expired_bios;
  std::list<dm_delay_info> delayed_bios;
  bool may_delay = true;
  delay_class read, write, flush;
  size_t argc = 0;

  delay_c();
};

void flush_delayed_bios(delay_c* dc, bool flush_all);

void handle_delayed_timer(delay_c* dc) {
  sim::queue_work(dc->kdelayd_wq, &dc->flush_expired_bios);
}

delay_c::delay_c()
    : delay_timer(
          "dc->delay_timer", [this](sim::TimerList*) { handle_delayed_timer(this); }, "handle_delayed_timer"),
      kdelayd_wq(sim::alloc_workqueue("kdelayd", sim::WQ_MEM_RECLAIM, 0)),
      flush_expired_bios(
          "dc->flush_expired_bios", [this](sim::WorkStruct*) { flush_delayed_bios(this, false); },
          "flush_expired_bios") {}

void queue_timeout(delay_c* dc, uint64_t expires) {
  sim::mutex_lock(&dc->timer_lock);
  if (!sim::timer_pending(&dc->delay_timer) || sim::time_before(expires, dc->delay_timer.expires))
    sim::mod_timer(&dc->delay_timer, expires);
  sim::mutex_unlock(&dc->timer_lock);
}

void flush_delayed_bios(delay_c* dc, bool flush_all) {
  KFRAME();
  std::vector<Bio*> ready;
  uint64_t next_expires = 0;
  bool have_next = false;
  sim::mutex_lock(&dc->delayed_bios_lock);
  for (auto it = dc->delayed_bios.begin(); it != dc->delayed_bios.end();) {
    if (flush_all || !sim::time_before(sim::jiffies(), it->expires)) {
      ready.push_back(it->bio);
      it->cls->ops--;
      it = dc->delayed_bios.erase(it);
    } else {
      if (!have_next || sim::time_before(it->expires, next_expires)) next_expires = it->expires;
      have_next = true;
      ++it;
    }
  }
  sim::mutex_unlock(&dc->delayed_bios_lock);
  if (have_next) queue_timeout(dc, next_expires);
  for (Bio* bio : ready) submit_bio(bio);
}

int delay_class_ctr(DmTarget* ti, delay_class* c, const DmArgs& argv, size_t at) {
  uint64_t delay = 0;
  if (!dm_parse_u64(argv[at + 1], &c->start)) {
    ti->error = "Invalid device sector";
    return -EINVAL;
  }
  if (!dm_parse_u64(argv[at + 2], &delay) || delay > 0xffffffffULL) {
    ti->error = "Invalid delay";
    return -EINVAL;
  }
  c->delay = static_cast<unsigned>(delay);
  if (dm_get_device(ti, argv[at], &c->dev)) {
    ti->error = "Device lookup failed";
    return -EINVAL;
  }
  return 0;
}

void delay_dtr(DmTarget* ti);

int delay_ctr(DmTarget* ti, const DmArgs& argv) {
  KFRAME();
  if (argv.size() != 3 && argv.size() != 6 && argv.size() != 9) {
    ti->error = "Requires exactly 3, 6 or 9 arguments";
    return -EINVAL;
  }
  auto* dc = new delay_c;
  dc->argc = argv.size();
  ti->private_ = dc;
  int r = delay_class_ctr(ti, &dc->read, argv, 0);
  // With 3 arguments writes and flushes use the read class; with 6, flushes use the write one.
  if (!r) r = delay_class_ctr(ti, &dc->write, argv, argv.size() >= 6 ? 3 : 0);
  if (!r) r = delay_class_ctr(ti, &dc->flush, argv, argv.size() == 9 ? 6 : argv.size() >= 6 ? 3 : 0);
  if (r) {
    delay_dtr(ti);
    return r;
  }
  ti->num_flush_bios = 1;
  ti->num_discard_bios = 1;
  return 0;
}

void delay_dtr(DmTarget* ti) {
  auto* dc = static_cast<delay_c*>(ti->private_);
  sim::destroy_workqueue(dc->kdelayd_wq);
  for (delay_class* c : {&dc->read, &dc->write, &dc->flush})
    if (c->dev) dm_put_device(ti, c->dev);
  sim::del_timer_sync(&dc->delay_timer);
  delete dc;
}

int delay_map(DmTarget* ti, Bio* bio) {
  KFRAME();
  auto* dc = static_cast<delay_c*>(ti->private_);
  delay_class* c;
  if (op_is_write(bio->op))
    c = (bio->flags & REQ_PREFLUSH) ? &dc->flush : &dc->write;
  else
    c = &dc->read;
  bio->bdev = c->dev->bdev;
  if (bio->size) bio->sector = c->start + dm_target_offset(ti, bio->sector);
  if (!c->delay) return DM_MAPIO_REMAPPED;
  const uint64_t expires = sim::jiffies() + sim::msecs_to_jiffies(c->delay);
  sim::mutex_lock(&dc->delayed_bios_lock);
  if (!dc->may_delay) {
    sim::mutex_unlock(&dc->delayed_bios_lock);
    return DM_MAPIO_REMAPPED;
  }
  c->ops++;
  bio->where.set(dc->delay_timer, "on dc->delayed_bios, until the delay timer queues kdelayd");
  dc->delayed_bios.push_back({bio, c, expires});
  sim::mutex_unlock(&dc->delayed_bios_lock);
  queue_timeout(dc, expires);
  return DM_MAPIO_SUBMITTED;
}

void delay_presuspend(DmTarget* ti) {
  auto* dc = static_cast<delay_c*>(ti->private_);
  sim::mutex_lock(&dc->delayed_bios_lock);
  dc->may_delay = false;
  sim::mutex_unlock(&dc->delayed_bios_lock);
  sim::del_timer_sync(&dc->delay_timer);
  flush_delayed_bios(dc, true);
}

void delay_resume(DmTarget* ti) {
  auto* dc = static_cast<delay_c*>(ti->private_);
  dc->may_delay = true;
}

void delay_status(DmTarget* ti, StatusType type, unsigned, std::string& result) {
  auto* dc = static_cast<delay_c*>(ti->private_);
  auto cls = [](const delay_class& c) {
    return c.dev->bdev->devt() + " " + std::to_string(c.start) + " " + std::to_string(c.delay);
  };
  if (type == STATUSTYPE_INFO) {
    result = std::to_string(dc->read.ops) + " " + std::to_string(dc->write.ops) + " " + std::to_string(dc->flush.ops);
  } else {
    result = cls(dc->read);
    DMSIM_GCC_BUG_105651(if (dc->argc >= 6) result += " " + cls(dc->write);)
    DMSIM_GCC_BUG_105651(if (dc->argc >= 9) result += " " + cls(dc->flush);)
  }
}

int delay_iterate_devices(DmTarget* ti, const IterateFn& fn) {
  auto* dc = static_cast<delay_c*>(ti->private_);
  int r = fn(ti, dc->read.dev, dc->read.start, ti->len);
  if (!r && dc->argc >= 6) r = fn(ti, dc->write.dev, dc->write.start, ti->len);
  if (!r && dc->argc >= 9) r = fn(ti, dc->flush.dev, dc->flush.start, ti->len);
  return r;
}

// Reads come from the read class's device, so that is where recovered data is read from.
int delay_locate(DmTarget* ti, uint64_t sector, BlockDevice** bdev, uint64_t* out) {
  auto* dc = static_cast<delay_c*>(ti->private_);
  *bdev = dc->read.dev->bdev;
  *out = dc->read.start + dm_target_offset(ti, sector);
  return 0;
}

const TargetType delay_target = {
    .name = "delay",
    .version = {1, 4, 0},
    .ctr = delay_ctr,
    .dtr = delay_dtr,
    .map = delay_map,
    .presuspend = delay_presuspend,
    .resume = delay_resume,
    .status = delay_status,
    .iterate_devices = delay_iterate_devices,
    .locate = delay_locate,
};

}  // namespace

void register_delay_target() {
  dm_register_target(&delay_target);
}

}  // namespace model
