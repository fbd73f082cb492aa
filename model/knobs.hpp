// Variant knobs: each historical bug an engine can switch back on, by name
// ("era.status_in_worker"). The fixed behaviour is the default; a run turns knobs on.
#pragma once

#include <string>
#include <vector>

namespace model {

struct Knob {
  std::string name;         // "era.incore_bit_before_commit"
  std::string description;  // what the pre-fix behaviour does
  std::string source;       // the seed thread it comes from
  // Kernel release whose code has the fix ("5.12"); "unfixed" when upstream still has the bug;
  // "never released" when the buggy code only existed as a posted proposal.
  std::string fixed_in;
  std::string detects;  // the finding kind a catalog scenario expects with it on
};

void register_knob(const Knob& k);
const Knob* find_knob(const std::string& name);
std::vector<Knob> all_knobs();

// The knobs a kernel release has on: every knob fixed after it (and every unfixed one).
// VERSION is "5.10", "6.1", ... or "upstream". Empty result and `error` set for a bad version.
std::vector<std::string> knobs_for_kernel(const std::string& version, std::string* error);
// Releases a knob affects, as a phrase ("all releases up to 5.11").
std::string affected_releases(const Knob& k);

// The knobs on in the running simulation.
void set_active_knobs(const std::vector<std::string>& names);
bool knob_enabled(const std::string& name);

}  // namespace model
