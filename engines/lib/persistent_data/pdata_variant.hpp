// The persistent-data library's historical bugs as variant knobs ("pdata.*", one row each in
// pdata_knobs.cpp), shared by every engine whose metadata lives on it. A space map reads the
// variant when it is created or opened; all false is the fixed library.
#pragma once

namespace engines::pd {

struct pdata_variant {
  // Before 4feaef830de7: new_block looks for a free block in the committed map only, from a
  // cursor reset at each commit, trusting the cursor to skip what this transaction already uses.
  bool sm_alloc_ignores_previous_transaction = false;

  static pdata_variant from_knobs();
};

// Registers the pdata.* knobs once, whichever engine asks first.
void register_pdata_knobs();

}  // namespace engines::pd
