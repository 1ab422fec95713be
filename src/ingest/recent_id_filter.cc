#include "ingest/recent_id_filter.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <new>
#include <utility>

#include <sys/mman.h>
#include <xxhash.h>

namespace sluice::ingest {
namespace {

constexpr size_t kInitialSlots = 1024;  // a power of two
constexpr int64_t kBucketsPerHorizon = 4;

uint64_t Stored(uint64_t hash) {
  return hash == 0 ? 1 : hash;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

}  // namespace

RecentIdFilter::Slots::Slots(size_t n) : size_(n) {
  const size_t bytes = n * sizeof(uint64_t);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  if (bytes >= (size_t{2} << 20)) ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint: may be ignored
  data_ = static_cast<uint64_t*>(p);
}

RecentIdFilter::Slots::~Slots() {
  if (data_ != nullptr) ::munmap(data_, size_ * sizeof(uint64_t));
}

RecentIdFilter::Slots::Slots(Slots&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

RecentIdFilter::Slots& RecentIdFilter::Slots::operator=(Slots&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_ * sizeof(uint64_t));
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

RecentIdFilter::RecentIdFilter(int64_t horizon_micros, size_t max_bytes)
    : horizon_(std::max<int64_t>(horizon_micros, 1)),
      width_(std::max<int64_t>(horizon_ / kBucketsPerHorizon, 1)),
      max_bytes_(max_bytes) {}

uint64_t RecentIdFilter::Hash(std::string_view id) {
  // XXH3 is specified (the same value on every platform and version): the dedup index keeps
  // these hashes in its keys.
  return XXH3_64bits(id.data(), id.size());
}

void RecentIdFilter::Put(Bucket& b, uint64_t h) {
  const size_t mask = b.slots.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    if (b.slots[i] == h) return;
    if (b.slots[i] == 0) {
      b.slots[i] = h;
      ++b.used;
      return;
    }
  }
}

void RecentIdFilter::Grow(Bucket& b) {
  Slots old = std::move(b.slots);
  bytes_ -= old.size() * sizeof(uint64_t);
  b.slots = Slots(old.empty() ? kInitialSlots : old.size() * 2);
  bytes_ += b.slots.size() * sizeof(uint64_t);
  b.used = 0;
  for (uint64_t h : old)
    if (h != 0) Put(b, h);
}

void RecentIdFilter::Expire(int64_t now_micros) {
  // A bucket has expired when its newest possible time is at or before the cutoff.
  const int64_t cutoff = now_micros - horizon_;
  size_t drop = 0;
  while (drop < buckets_.size() && (buckets_[drop].index + 1) * width_ - 1 <= cutoff) {
    bytes_ -= buckets_[drop].slots.size() * sizeof(uint64_t);
    ++drop;
  }
  buckets_.erase(buckets_.begin(), buckets_.begin() + static_cast<ptrdiff_t>(drop));
}

RecentIdFilter::Bucket& RecentIdFilter::BucketFor(int64_t time_micros) {
  const int64_t index = FloorDiv(time_micros, width_);
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), index,
                             [](const Bucket& b, int64_t i) { return b.index < i; });
  if (it != buckets_.end() && it->index == index) return *it;
  it = buckets_.insert(it, Bucket{});
  it->index = index;
  return *it;
}

void RecentIdFilter::Insert(uint64_t hash, int64_t time_micros, int64_t now_micros) {
  if (!buckets_.empty() && (buckets_.front().index + 1) * width_ - 1 <= now_micros - horizon_)
    Expire(now_micros);
  if (time_micros <= now_micros - horizon_) return;  // expired already
  Bucket* b = &BucketFor(time_micros);
  if ((b->used + 1) * 10 > b->slots.size() * 7) Grow(*b);
  Put(*b, Stored(hash));
  while (bytes_ > max_bytes_ && !buckets_.empty()) {
    lost_before_ = std::max(lost_before_, (buckets_.front().index + 1) * width_);
    bytes_ -= buckets_.front().slots.size() * sizeof(uint64_t);
    buckets_.erase(buckets_.begin());
  }
}

bool RecentIdFilter::MayContain(uint64_t hash) const {
  const uint64_t h = Stored(hash);
  for (auto b = buckets_.rbegin(); b != buckets_.rend(); ++b) {
    const size_t mask = b->slots.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      if (b->slots[i] == h) return true;
      if (b->slots[i] == 0) break;
    }
  }
  return false;
}

void RecentIdFilter::Prefetch(uint64_t hash) const {
  const uint64_t h = Stored(hash);
  for (const Bucket& b : buckets_) __builtin_prefetch(&b.slots[h & (b.slots.size() - 1)]);
}

bool RecentIdFilter::Complete(int64_t now_micros) const {
  return loaded_ && lost_before_ <= now_micros - horizon_ + 1;
}

size_t RecentIdFilter::size() const {
  size_t n = 0;
  for (const Bucket& b : buckets_) n += b.used;
  return n;
}

}  // namespace sluice::ingest
