// Kernel-style results: 0, or a negative errno spelled as the kernel spells it (`return -EINVAL;`).
// The numbers come from the C library's <cerrno>, which on Linux are the kernel's own, so that
// errno_text.hpp (strerrorname_np, strerrordesc_np) names and describes exactly what was returned.
#pragma once

#include <cerrno>

// What dmsim prints ("(-ENOTBLK)", "Invalid argument") relies on the Linux numbering.
static_assert(EPERM == 1 && EIO == 5 && EAGAIN == 11 && EWOULDBLOCK == EAGAIN && ENOMEM == 12 && ENOTBLK == 15 &&
                  EINVAL == 22 && ENOSPC == 28 && ENODATA == 61 && EILSEQ == 84,
              "errno numbers differ from the Linux kernel's");
