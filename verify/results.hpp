// Results of a check as JSON (one object per unit, deterministic: the same seed gives the same
// bytes), and reading them back to merge the shards of a distributed check.
#pragma once

#include <string>
#include <vector>

#include "verify/runner.hpp"

namespace verify {

std::string json_escape(const std::string& s);
std::string unit_to_json(const UnitResult& u);
std::string results_to_json(const std::vector<UnitResult>& units);
// Throws std::runtime_error naming the file when it is not a dmsim result.
std::vector<UnitResult> results_from_json(const std::string& text, const std::string& file);

}  // namespace verify
