#include "model/fault_injector.hpp"

namespace model {

FaultDecision FaultInjector::decide(const Bio& bio) {
  FaultDecision d;
  const bool flush = bio.flags & REQ_PREFLUSH;
  for (FaultRule& r : rules_) {
    const bool kind = (bio.op == ReqOp::Read && r.reads) || (bio.op == ReqOp::Write && bio.size > 0 && r.writes) ||
                      (flush && r.flushes) || (op_is_discard_like(bio.op) && r.discards);
    const bool range = bio.size == 0 || (bio.sector < r.end && bio.end_sector() > r.start);
    if (!kind || !range) continue;
    if (r.seen++ < r.skip) continue;
    if (r.count && r.fired >= r.count) continue;
    r.fired++;
    switch (r.action) {
      case FaultAction::Error:
        d.error = true;
        break;
      case FaultAction::Drop:
        d.drop = bio.op != ReqOp::Read;
        break;
      case FaultAction::Delay:
        d.extra_delay_s += r.delay_s;
        break;
    }
  }
  return d;
}

}  // namespace model
