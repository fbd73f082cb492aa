// Error numbers as the kernel log and userland print them, from the C library's own tables
// (glibc >= 2.32), so that every errno has its name and text: "(-ENOTBLK)" in a dm table error,
// "Block device required" in dmsetup's message.
#pragma once

#include <string>

#include "model/errno.hpp"

namespace model {

// "-ENOTBLK" for -ENOTBLK (the sign as given); "-E123" for a number the C library does not know.
std::string errno_name(int err);
// "Block device required" for -ENOTBLK or ENOTBLK, as strerror prints it in the C locale.
std::string errno_text(int err);

}  // namespace model
