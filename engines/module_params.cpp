#include "engines/module_params.hpp"

#include <cctype>
#include <cstdint>
#include <limits>
#include <set>
#include <type_traits>

#include "engines/named_registry.hpp"

namespace engines {

namespace {

constexpr const char* kEinval = "Invalid argument";
constexpr const char* kErange = "Numerical result out of range";

// Keyed "module.name", the kernel command line's spelling, so that names sort by module.
NamedRegistry<ModuleParam>& params() {
  static NamedRegistry<ModuleParam> r;
  return r;
}

// _kstrtoull(s, 0, ...): the radix from the prefix, digits up to the first non-digit, then at
// most one newline and nothing else.
std::string kstrtoull_base0(const char* s, uint64_t* out) {
  unsigned base = 10;
  if (s[0] == '0') {
    const bool hex = (s[1] | 0x20) == 'x' && std::isxdigit(static_cast<unsigned char>(s[2]));
    base = hex ? 16 : 8;
    if (hex) s += 2;
  }
  uint64_t res = 0;
  bool overflow = false;
  size_t n = 0;
  for (;; s++, n++) {
    const unsigned c = static_cast<unsigned char>(*s), lc = c | 0x20;
    unsigned val = 0;
    if (c >= '0' && c <= '9')
      val = c - '0';
    else if (lc >= 'a' && lc <= 'f')
      val = lc - 'a' + 10;
    else
      break;
    if (val >= base) break;
    overflow |= __builtin_mul_overflow(res, base, &res) || __builtin_add_overflow(res, val, &res);
  }
  if (overflow) return kErange;
  if (n == 0) return kEinval;
  if (*s == '\n') s++;
  if (*s) return kEinval;
  *out = res;
  return "";
}

template <class T>
ModuleParam with_accessors(ModuleParam p, T* v) {
  if (!p.get) p.get = [v] { return std::to_string(*v) + "\n"; };  // param_get_uint/int: "%u\n", "%i\n"
  if (!p.set)
    p.set = [v](const std::string& s) {
      T parsed{};
      std::string e;
      if constexpr (std::is_same_v<T, unsigned>)
        e = parse_kernel_uint(s, &parsed);
      else
        e = parse_kernel_int(s, &parsed);
      if (e.empty()) *v = parsed;
      return e;
    };
  if (!p.reset) p.reset = [v, initial = *v] { *v = initial; };
  return p;
}

}  // namespace

std::string parse_kernel_uint(const std::string& s, unsigned* out) {
  const char* c = s.c_str();
  if (c[0] == '+') c++;
  uint64_t v = 0;
  const std::string e = kstrtoull_base0(c, &v);
  if (!e.empty()) return e;
  if (v > std::numeric_limits<unsigned>::max()) return kErange;
  *out = static_cast<unsigned>(v);
  return "";
}

std::string parse_kernel_int(const std::string& s, int* out) {
  const char* c = s.c_str();
  const bool negative = c[0] == '-';
  if (negative || c[0] == '+') c++;
  uint64_t v = 0;
  const std::string e = kstrtoull_base0(c, &v);
  if (!e.empty()) return e;
  const uint64_t limit = negative ? uint64_t{1} << 31 : (uint64_t{1} << 31) - 1;
  if (v > limit) return kErange;
  *out = negative ? static_cast<int>(-static_cast<int64_t>(v)) : static_cast<int>(v);
  return "";
}

void register_module_param(const ModuleParam& p) {
  ModuleParam full = p;
  if (auto* u = std::get_if<unsigned*>(&p.value)) full = with_accessors(p, *u);
  if (auto* i = std::get_if<int*>(&p.value)) full = with_accessors(p, *i);
  params().add(p.module + "." + p.name, std::move(full));
}

const ModuleParam* find_module_param(const std::string& module, const std::string& name) {
  return params().find(module + "." + name);
}

std::vector<std::string> module_param_modules() {
  std::set<std::string> mods;
  for (const auto& [key, p] : params().items()) mods.insert(p.module);
  return {mods.begin(), mods.end()};
}

std::vector<std::string> module_param_names(const std::string& module) {
  std::vector<std::string> names;
  for (const auto& [key, p] : params().items())
    if (p.module == module) names.push_back(p.name);
  return names;
}

void reset_module_params() {
  for (const auto& [key, p] : params().items())
    if (p.reset) p.reset();
}

}  // namespace engines
