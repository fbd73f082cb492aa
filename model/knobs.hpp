// Variant knobs: each historical bug an engine can switch back on, by name
// ("era.status_in_worker"). The fixed behaviour is the default; a run turns knobs on.
// An engine spells each knob once, as a row of its knob table (KnobRow): registration and the
// engine's variant struct are both derived from the table.
#pragma once

#include <cstddef>
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
  // The releases it affects, when fixed_in alone does not say; empty: derived from fixed_in.
  std::string affects;
  // The release whose code first has the bug ("5.0"); empty: every release before fixed_in.
  // --kernel turns a knob on only for releases from this one on.
  std::string introduced_in;
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

// A row of an engine's knob table: the knob, the field of the engine's variant struct it sets
// (a struct of bools, all false for the fixed engine) and what the catalog says about it.
template <class Variant>
struct KnobRow {
  const char* name;
  bool Variant::*field;
  const char* fixed_in;  // as Knob::fixed_in
  const char* detects;
  const char* source;
  const char* description;
  const char* affects = "";        // as Knob::affects
  const char* introduced_in = "";  // as Knob::introduced_in
};

template <class Variant, size_t N>
void register_knobs(const KnobRow<Variant> (&table)[N]) {
  for (const KnobRow<Variant>& row : table)
    register_knob({row.name, row.description, row.source, row.fixed_in, row.detects, row.affects, row.introduced_in});
}

// The variant the running simulation's knobs select.
template <class Variant, size_t N>
Variant variant_from_knobs(const KnobRow<Variant> (&table)[N]) {
  Variant v{};
  for (const KnobRow<Variant>& row : table) v.*row.field = knob_enabled(row.name);
  return v;
}

}  // namespace model
