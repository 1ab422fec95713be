#include "stream/watermarks.h"

#include <algorithm>
#include <cstring>

namespace sluice::stream {

namespace {

template <typename T>
void PutRaw(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
bool GetRaw(std::string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}

}  // namespace

void PartitionWatermarks::Grow(uint32_t partition) {
  // Partitions in between were never mentioned: no input known, so they do not count.
  partitions_.resize(static_cast<size_t>(partition) + 1, Partition{kNone, false});
  partitions_[partition].active = true;
  RecomputeMinimum();
}

void PartitionWatermarks::SetActive(uint32_t partition, bool active) {
  if (partition >= partitions_.size()) {
    // Never seen and nothing to read: it does not count (nor need an entry) yet.
    if (active) Grow(partition);
    return;
  }
  if (partitions_[partition].active == active) return;
  partitions_[partition].active = active;
  RecomputeMinimum();
  Advance();
}

void PartitionWatermarks::RecomputeMinimum() {
  min_active_ = std::numeric_limits<int64_t>::max();
  for (const Partition& p : partitions_)
    if (p.active) min_active_ = std::min(min_active_, p.max_event_time);
}

void PartitionWatermarks::Encode(std::string& out) const {
  PutRaw(out, watermark_);
  PutRaw(out, max_event_time_);
  PutRaw(out, static_cast<uint32_t>(partitions_.size()));
  for (const Partition& p : partitions_) PutRaw(out, p.max_event_time);
}

bool PartitionWatermarks::Decode(std::string_view& in) {
  uint32_t count = 0;
  if (!GetRaw(in, watermark_) || !GetRaw(in, max_event_time_) || !GetRaw(in, count) ||
      in.size() < static_cast<size_t>(count) * sizeof(int64_t))
    return false;
  partitions_.assign(count, Partition{});
  for (Partition& p : partitions_) GetRaw(in, p.max_event_time);
  RecomputeMinimum();
  return true;
}

void PartitionWatermarks::RestoreLegacy(int64_t max_event_time) {
  partitions_.clear();
  max_event_time_ = max_event_time;
  min_active_ = std::numeric_limits<int64_t>::max();
  watermark_ = kNone;
  Advance();
}

}  // namespace sluice::stream
