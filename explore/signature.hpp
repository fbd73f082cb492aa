// A failure's signature: the finding kind and a regular expression its title matches, with
// numbers (blocks, sectors, steps, counts) free, so that a smaller reproduction of the same bug
// keeps it. Catalog entries have theirs written out (catalog.detects).
#pragma once

#include <string>

#include "language/scenario.hpp"
#include "verify/runner.hpp"

namespace explore {

struct Signature {
  std::string kind;
  std::string match;  // ECMAScript, searched in the violation's title and detail
  bool empty() const { return kind.empty(); }
  std::string text() const { return "[" + kind + "] /" + match + "/"; }
};

// The first violation of the unit's first kept failure; empty when it passed.
Signature signature_of(const verify::UnitResult& u);
// The catalog entry's signature when `s` is one, else the unit's own.
Signature signature_for(const scenarios::Scenario& s, const verify::UnitResult& u);
// Whether some violation of some kept failure of `u` has the signature.
bool reproduces(const Signature& sig, const verify::UnitResult& u);

}  // namespace explore
