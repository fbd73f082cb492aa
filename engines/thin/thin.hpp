// dm-thin in dmsim: the thin-pool and thin targets, their variant knobs, and (as they land) the
// userland tools and checks.
#pragma once

#include <string>
#include <vector>

namespace engines::thin {

// Registers everything below with dm core and the harness (once per process).
void register_thin();

void register_thin_target();
void register_thin_knobs();
void register_thin_tools();   // thin_tools.cpp: thin_check, thin_dump, ... and the real-tools row
void register_thin_checks();  // thin_checks.cpp: thin-mappings-durable

// The metadata devices of every thin-pool table built in this run, as named in their table lines
// (in order of first use), kept after the pools are gone so that checkers can still find them.
std::vector<std::string> thin_pool_metadata_devices();

// The historical behaviours a run can switch back on (dmsim knobs "thin.*", one row each in
// thin_knobs.cpp), read once when a pool is created. All false is the fixed engine.
struct thin_variant {
  bool no_data_flush_before_commit = false;     // no pre-commit callback; flushes passed down after the commit
  bool double_flush = false;                    // REQ_PREFLUSH bios passed down after the commit that flushed
  bool no_in_service_gate = false;              // every commit writes metadata (and flushes data)
  bool fua_overwrite_early_completion = false;  // a FUA whole-block overwrite completes before its commit
  bool precommit_ctx_is_pool_c = false;         // the pre-commit callback's context is the table's pool_c

  static thin_variant from_knobs();
};

}  // namespace engines::thin
