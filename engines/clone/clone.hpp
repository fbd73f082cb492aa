// dm-clone in dmsim: the clone target, its variant knobs and its checks.
#pragma once

namespace engines::clone {

// Registers everything below with dm core and the harness (once per process).
void register_clone();

void register_clone_target();
void register_clone_knobs();
void register_clone_checks();  // clone_checks.cpp

// The historical behaviours a run can switch back on (dmsim knobs "clone.*", one row each in
// clone_knobs.cpp), read once when a target is constructed. All false is the fixed engine.
struct clone_variant {
  bool no_flush_before_commit = false;             // commit without flushing the destination first
  bool single_phase_commit = false;                // swap and write in one call, after the flush
  bool inexact_dirty_tracking = false;             // dirty words only: the live map's bits are written
  bool redundant_preflush = false;                 // deferred empty flushes go down after a flushing commit
  bool partial_discard_range = false;              // rs > re wraps: a partial discard trims to ~4 GiB
  bool nr_regions_overflow_32 = false;             // nr_regions truncated to 32 bits, no EOVERFLOW
  bool region_to_sector_no_cast_32 = false;        // region << shift in 32-bit unsigned long
  bool hydrated_count_sign_extension = false;      // int count sign-extended into unsigned long
  bool discard_source_before_commit = false;       // discard_rw_src: source discarded after the copy (async)
  bool discard_source_sync_before_commit = false;  // discard_rw_src: ... and waited for, before the bit

  static clone_variant from_knobs();
};

}  // namespace engines::clone
