// Compiler warnings known to be false, silenced only around the statements where they fire, so
// the warning stays on for the rest of the code (and goes away with the compiler that needs it).
#pragma once

// GCC 12 at -O3 (CMake's Release) reports -Wrestrict inside libstdc++'s
// operator+(const char*, std::string&&), GCC bug 105651 (fixed in GCC 13). The pragma must sit at
// the call site, not in the library header: GCC checks suppression along the inlining chain.
// Wrap the statement that concatenates: DMSIM_GCC_BUG_105651(s = "[" + f(x) + "]";)
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#define DMSIM_GCC_BUG_105651(...)                                                 \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wrestrict\"") \
      __VA_ARGS__ _Pragma("GCC diagnostic pop")
#else
#define DMSIM_GCC_BUG_105651(...) __VA_ARGS__
#endif
