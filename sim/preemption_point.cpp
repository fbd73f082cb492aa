#include "sim/preemption_point.hpp"

#include <array>

namespace sim {

namespace {

constexpr std::array<const char*, kPreemptionPoints> kNames = {
#define DMSIM_PREEMPTION_POINT_NAME(name) #name,
    DMSIM_PREEMPTION_POINTS(DMSIM_PREEMPTION_POINT_NAME)
#undef DMSIM_PREEMPTION_POINT_NAME
};

}  // namespace

const char* preemption_point_name(PreemptionPoint p) {
  return kNames[static_cast<size_t>(p)];
}

std::optional<PreemptionPoint> find_preemption_point(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); i++)
    if (name == kNames[i]) return static_cast<PreemptionPoint>(i);
  return std::nullopt;
}

const std::vector<std::string>& preemption_point_names() {
  static const std::vector<std::string> names(kNames.begin(), kNames.end());
  return names;
}

}  // namespace sim
