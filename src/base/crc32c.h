// CRC32C (Castagnoli), the checksum of every log record. Uses the SSE4.2 instruction when the
// CPU has it and a table otherwise; both give identical results. Written here because Debian
// 12 packages no standalone CRC32C library (RocksDB and Snappy keep theirs private).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {

// Extends `crc` (0 to start) with `n` bytes of `data`.
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);

}  // namespace sluice
