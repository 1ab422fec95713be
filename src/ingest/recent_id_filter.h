// The in-memory filter in front of a stream's dedup index (dedup_index.h): the 64-bit hashes
// of the ids appended within the horizon, so that a new id (the common case) is known new
// without a RocksDB lookup.
//
// - MayContain() never answers false for a hash inserted within the horizon while the filter
//   is Complete(); it may answer true for a hash never inserted (another id with the same
//   hash, or an expired one), so a positive must be confirmed against the index.
// - Hashes are kept in time buckets of a quarter of the horizon (open-addressing tables of
//   8-byte slots, at most 70% full: 11–23 bytes per id), and a bucket is dropped once all of
//   its times have expired. So the filter holds between one and one and a quarter horizons of
//   ids and a lookup probes at most five tables.
// - Memory is capped: when the tables exceed `max_bytes`, the oldest bucket is dropped and the
//   filter is no longer Complete() until everything that bucket held has expired (callers then
//   look misses up in the index, as before the filter existed).
// - A new filter is not Complete() until MarkLoaded(): it is filled from the index in the
//   background at start-up while callers keep looking every id up in the index.
//
// Not thread-safe: the dedup index guards it with its own mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace sluice::ingest {

class RecentIdFilter {
 public:
  RecentIdFilter(int64_t horizon_micros, size_t max_bytes);

  // The id's 64-bit XXH3: stable across platforms and versions (the dedup index persists it in
  // its keys).
  static uint64_t Hash(std::string_view id);

  // Records `hash` as appended at log time `time_micros`, dropping the buckets that expired by
  // `now_micros`, and the oldest ones while over the memory cap.
  void Insert(uint64_t hash, int64_t time_micros, int64_t now_micros);
  bool MayContain(uint64_t hash) const;
  // Starts loading the cache lines MayContain(hash) will read.
  void Prefetch(uint64_t hash) const;

  // Whether a miss proves an id new at `now_micros`: loaded, and nothing dropped for the cap
  // that is still within the horizon.
  bool Complete(int64_t now_micros) const;
  void MarkLoaded() { loaded_ = true; }

  size_t bytes() const { return bytes_; }
  size_t size() const;

 private:
  // Zeroed slots mapped straight from the kernel (no memset), on huge pages when large: a
  // probe is a random access, and with 4 KiB pages most would also miss the TLB.
  class Slots {
   public:
    Slots() = default;
    explicit Slots(size_t n);
    ~Slots();
    Slots(Slots&& other) noexcept;
    Slots& operator=(Slots&& other) noexcept;
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    uint64_t& operator[](size_t i) { return data_[i]; }
    const uint64_t& operator[](size_t i) const { return data_[i]; }
    const uint64_t* begin() const { return data_; }
    const uint64_t* end() const { return data_ + size_; }

   private:
    uint64_t* data_ = nullptr;
    size_t size_ = 0;
  };
  struct Bucket {
    int64_t index = 0;  // covers log times [index * width_, (index + 1) * width_)
    Slots slots;        // 0: empty (hash 0 is stored as 1)
    size_t used = 0;
  };
  static void Put(Bucket& b, uint64_t h);
  void Grow(Bucket& b);
  void Expire(int64_t now_micros);
  Bucket& BucketFor(int64_t time_micros);

  int64_t horizon_;
  int64_t width_;
  size_t max_bytes_;
  std::vector<Bucket> buckets_;  // ascending index
  size_t bytes_ = 0;
  // Log times below this may be missing (dropped for the cap).
  int64_t lost_before_ = std::numeric_limits<int64_t>::min();
  bool loaded_ = false;
};

}  // namespace sluice::ingest
