// Invariants the harness states about itself. A wrong harness gives a wrong verdict, so these
// stay on in every build type; each check is cheap (a comparison, never a walk).
#pragma once

#include <cstdio>
#include <cstdlib>

// DMSIM_ASSERT(cond, msg): when cond is false, prints "file:line: assertion failed: cond: msg"
// and aborts (a child process's abort becomes an internal-error result, never a pass).
#define DMSIM_ASSERT(cond, msg)                                                                    \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "%s:%d: assertion failed: %s: %s\n", __FILE__, __LINE__, #cond, (msg)); \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)
