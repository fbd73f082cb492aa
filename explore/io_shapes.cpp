// Writes and discards of sizes and alignments relative to the engine's unit: inside one unit,
// exactly one, straddling two, several; at the first, second, middle and last unit or the one
// hit before.
#include <algorithm>

#include "explore/grammar_rules.hpp"

namespace explore {

namespace {
uint64_t pick_unit(Rng& r, uint64_t units, uint64_t* last) {
  const uint64_t choices[] = {0, 1, units / 2, units - 1, *last, *last, r.below(units)};
  const uint64_t u = std::min(choices[r.below(std::size(choices))], units - 1);
  *last = u;
  return u;
}

struct Extent {
  uint64_t sector, sectors;
};

// A range of sectors in unit terms, clamped to the device.
Extent shape(Rng& r, uint64_t unit, uint64_t len, uint64_t* last) {
  const uint64_t units = std::max<uint64_t>(len / unit, 1);
  const uint64_t u = pick_unit(r, units, last);
  Extent e{u * unit, unit};
  switch (r.below(6)) {
    case 0:  // one whole unit
      break;
    case 1:  // 4 KiB (or one sector) inside the unit
      e.sectors = std::min<uint64_t>(8, unit);
      e.sector += unit > 8 ? (r.below(unit / 8) * 8) : 0;
      break;
    case 2:  // a single sector inside the unit
      e.sectors = 1;
      e.sector += r.below(unit);
      break;
    case 3:  // straddling the unit's end
      e.sector += unit / 2;
      e.sectors = unit;
      break;
    case 4:  // several whole units
      e.sectors = unit * (2 + r.below(3));
      break;
    default:  // from inside the unit to the end of the next
      e.sector += std::min<uint64_t>(unit - 1, 1 + r.below(unit));
      e.sectors = 2 * unit - (e.sector - u * unit);
      break;
  }
  if (e.sector >= len) e.sector = len - 1;
  e.sectors = std::max<uint64_t>(1, std::min(e.sectors, len - e.sector));
  return e;
}
}  // namespace

std::string dd_write(Rng& r, const std::string& dev, uint64_t unit, uint64_t len, uint64_t* last, IoExtent* written) {
  Extent e = shape(r, unit, len, last);
  if (written) *written = {e.sector, e.sectors};
  // dd writes one bio per block: the largest block that divides both start and length, capped.
  uint64_t bs = 1;
  while (bs < 128 && e.sector % (bs * 2) == 0 && e.sectors % (bs * 2) == 0) bs *= 2;
  std::string cmd = std::string("dd if=") + (r.chance(6) ? "/dev/zero" : "/dev/urandom") + " of=" + dev +
                    " bs=" + std::to_string(bs * 512) + " count=" + std::to_string(e.sectors / bs) +
                    " seek=" + std::to_string(e.sector / bs) + " oflag=direct";
  if (r.chance(4)) cmd += ",dsync";  // FUA
  return cmd;
}

std::string discard(Rng& r, const std::string& dev, uint64_t unit, uint64_t len, uint64_t* last) {
  Extent e = shape(r, unit, len, last);
  return "blkdiscard -o " + std::to_string(e.sector * 512) + " -l " + std::to_string(e.sectors * 512) + " " + dev;
}

}  // namespace explore
