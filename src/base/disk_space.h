// Free disk space, for keeping a reserve: the log refuses appends (507 at ingest) while less
// than its reserve is free, so that RocksDB (checkpoints, the dedup index, the registry) always
// has room to write. RocksDB 7.8 as packaged does not survive a failed write-ahead-log write
// gracefully (it asserts on the next sync), and a checkpoint that cannot be written would stall
// every view; stopping ingest a little before the disk is full avoids both.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace sluice {

// Bytes available to an unprivileged writer on the file system holding `path`.
Result<uint64_t> FreeDiskBytes(const std::string& path);

}  // namespace sluice
