// One step of a scenario: a command line in the vocabulary a dm developer types (dmsetup, dd,
// sync, blkdiscard, blockdev, sleep, wait, power-cut, echo and cat of /sys/module parameters,
// and the engines' metadata tools). Parsing checks syntax and values; errors carry the offset
// of the offending word.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/content.hpp"

namespace scenarios {

// Limits the text alone decides. A dd block is one bio whose payload the simulation holds in
// memory, so blocks are bounded; byte positions beyond what a content token addresses cannot be
// modelled; a sleep must be finite so that the simulated clock (u64 ns) cannot overflow.
constexpr uint64_t kMaxDdBlockBytes = 64ULL << 20;
constexpr uint64_t kMaxDeviceBytes = model::kMaxTokenSectors * 512;
constexpr double kMaxSleepSeconds = 1e6;

enum class CmdKind {
  DmCreate,
  DmLoad,
  DmClear,
  DmSuspend,
  DmResume,
  DmStatus,
  DmTable,
  DmInfo,
  DmMessage,
  DmRemove,
  Dd,
  Sync,
  Blkdiscard,
  BlockdevGetsz,
  Sleep,
  Wait,
  PowerCut,
  Tool,
  ParamWrite,  // echo VALUE > /sys/module/MODULE/parameters/NAME
  ParamRead,   // cat /sys/module/MODULE/parameters/NAME
};

struct Command {
  CmdKind kind = CmdKind::Wait;
  std::string text;             // the step as written
  bool background = false;      // trailing '&'
  bool expect_failure = false;  // leading '!'
  std::string name;             // dm device name
  std::string table;            // create/load: may hold $(blockdev --getsz DEV)
  bool noflush = false;
  bool inactive = false;  // status/table --inactive
  uint64_t sector = 0;    // message
  std::string message;
  // dd / blkdiscard / sync / blockdev / tools: the device path and its offset in `text`.
  std::string device;
  size_t device_at = 0;
  bool zero_source = false;                  // if=/dev/zero (else /dev/urandom)
  uint64_t bs = 512, count = 0, seek = 0;    // dd: bytes, blocks, blocks
  bool fua = false;                          // oflag=dsync or oflag=sync: each write is REQ_FUA
  bool fsync_at_end = false;                 // conv=fsync
  uint64_t offset = 0, length = UINT64_MAX;  // blkdiscard, bytes; as util-linux, the range
                                             // is cut at the device's end (default: to it)
  double seconds = 0;
  std::string tool;
  std::vector<std::string> args;
  // ParamWrite / ParamRead: the module parameter, and the bytes echo writes (its newline too).
  std::string module, param, value;
};

struct CommandError {
  size_t at;  // offset in the step text
  std::string message;
};

// Parses one step; `error` is set (and the result meaningless) when it fails.
Command parse_command(const std::string& text, std::optional<CommandError>* error);

// Words of a shell-like line: quotes group, $(...) stays one word; each with its offset.
struct Word {
  std::string text;
  size_t at;
};
std::vector<Word> split_words(const std::string& line, std::optional<CommandError>* error);

// "64MiB", "1G", "4k", "512": bytes (0 is a size). nullopt on a bad size, with the reason in
// `why` (unknown unit, or a value that does not fit in 64 bits) when given.
std::optional<uint64_t> parse_size(const std::string& s, std::string* why = nullptr);
std::string format_size(uint64_t bytes);

}  // namespace scenarios
