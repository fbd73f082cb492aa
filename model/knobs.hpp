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
  std::string fixed_in;     // kernel release with the fix ("5.12", "unfixed")
  std::string detects;      // the finding kind a catalog scenario expects with it on
};

void register_knob(const Knob& k);
const Knob* find_knob(const std::string& name);
std::vector<Knob> all_knobs();

// The knobs on in the running simulation.
void set_active_knobs(const std::vector<std::string>& names);
bool knob_enabled(const std::string& name);

}  // namespace model
