// Fixed-width integers in the little-endian byte order of Sluice's on-disk formats (log
// segments and indexes, checkpoints, dedup index values, join buffers). Sluice runs on
// little-endian hosts only, so these are plain copies.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice {

static_assert(std::endian::native == std::endian::little, "the on-disk formats are little-endian");

inline void StoreU32(char* out, uint32_t v) {
  std::memcpy(out, &v, 4);
}
inline void StoreU64(char* out, uint64_t v) {
  std::memcpy(out, &v, 8);
}
inline void AppendU32(std::string& out, uint32_t v) {
  char buf[4];
  StoreU32(buf, v);
  out.append(buf, 4);
}
inline void AppendU64(std::string& out, uint64_t v) {
  char buf[8];
  StoreU64(buf, v);
  out.append(buf, 8);
}
inline uint32_t LoadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t LoadU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
// Reads from the front of `in`, consuming the bytes; false (and `in` unchanged) when too short.
inline bool ConsumeU32(std::string_view& in, uint32_t& v) {
  if (in.size() < 4) return false;
  v = LoadU32(in.data());
  in.remove_prefix(4);
  return true;
}
inline bool ConsumeU64(std::string_view& in, uint64_t& v) {
  if (in.size() < 8) return false;
  v = LoadU64(in.data());
  in.remove_prefix(8);
  return true;
}

}  // namespace sluice
