#include "model/errno_text.hpp"

#include <cstring>

#include "sim/compiler_false_positives.hpp"

namespace model {

std::string errno_name(int err) {
  const int e = err < 0 ? -err : err;
  const char* name = strerrorname_np(e);
  const std::string sign = err < 0 ? "-" : "";
  DMSIM_GCC_BUG_105651(return sign + (name ? name : "E" + std::to_string(e));)
}

std::string errno_text(int err) {
  const int e = err < 0 ? -err : err;
  if (e == 0) return "Success";
  // strerrordesc_np is strerror without the locale: the same bytes on every machine.
  const char* desc = strerrordesc_np(e);
  return desc ? desc : "Unknown error " + std::to_string(e);
}

}  // namespace model
