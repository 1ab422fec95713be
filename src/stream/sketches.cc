#include "stream/sketches.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>

namespace sluice::stream {
namespace {

template <typename T>
void PutRaw(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
bool GetRaw(std::string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}

const double kGamma =
    (1 + QuantileSketch::kRelativeAccuracy) / (1 - QuantileSketch::kRelativeAccuracy);
const double kLogGamma = std::log(kGamma);
// At most this many buckets per sign; beyond it the lowest magnitudes collapse into the lowest
// bucket (DDSketch's "collapsing lowest" store): only quantiles among the very smallest
// magnitudes lose accuracy, and 2048 buckets span 17 orders of magnitude.
constexpr int32_t kMaxBuckets = 2048;

}  // namespace

uint64_t StableHash64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

void HyperLogLog::AddHash(uint64_t hash) {
  const size_t index = static_cast<size_t>(hash >> (64 - kPrecision));
  // The guard bit bounds the rank at 64 - kPrecision + 1 when the rest is all zeros.
  const uint64_t rest = (hash << kPrecision) | (uint64_t{1} << (kPrecision - 1));
  const auto rank = static_cast<uint8_t>(std::countl_zero(rest) + 1);
  registers_[index] = std::max(registers_[index], rank);
}

int64_t HyperLogLog::Estimate() const {
  const double m = static_cast<double>(kRegisters);
  double sum = 0;
  size_t zeros = 0;
  for (uint8_t r : registers_) {
    sum += std::ldexp(1.0, -r);
    zeros += r == 0;
  }
  const double alpha = 0.7213 / (1 + 1.079 / m);
  double estimate = alpha * m * m / sum;
  if (estimate <= 2.5 * m && zeros > 0) estimate = m * std::log(m / static_cast<double>(zeros));
  return std::llround(estimate);
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  for (size_t i = 0; i < kRegisters; ++i)
    registers_[i] = std::max(registers_[i], other.registers_[i]);
}

void HyperLogLog::AppendTo(std::string& out) const {
  out.append(reinterpret_cast<const char*>(registers_.data()), registers_.size());
}

bool HyperLogLog::ReadFrom(std::string_view& in) {
  if (in.size() < kRegisters) return false;
  std::memcpy(registers_.data(), in.data(), kRegisters);
  in.remove_prefix(kRegisters);
  return true;
}

int32_t QuantileSketch::Index(double magnitude) {
  const double index = std::ceil(std::log(magnitude) / kLogGamma);
  return static_cast<int32_t>(std::clamp(index, -1e9, 1e9));
}

double QuantileSketch::Value(int32_t index) {
  return 2 * std::pow(kGamma, index) / (kGamma + 1);
}

void QuantileSketch::Buckets::Add(int32_t index, uint64_t n) {
  if (counts.empty()) {
    offset = index;
    counts.push_back(n);
    return;
  }
  const int32_t high = offset + static_cast<int32_t>(counts.size()) - 1;
  if (index > high) {
    counts.resize(counts.size() + static_cast<size_t>(index - high), 0);
    if (counts.size() > static_cast<size_t>(kMaxBuckets)) {
      // Collapse the lowest buckets into the lowest one that remains.
      const size_t excess = counts.size() - kMaxBuckets;
      uint64_t collapsed = 0;
      for (size_t i = 0; i <= excess; ++i) collapsed += counts[i];
      counts.erase(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(excess));
      counts[0] = collapsed;
      offset += static_cast<int32_t>(excess);
    }
  } else if (index < offset) {
    const int32_t lowest = std::max(index, high - kMaxBuckets + 1);
    if (lowest < offset) {
      counts.insert(counts.begin(), static_cast<size_t>(offset - lowest), 0);
      offset = lowest;
    }
    index = std::max(index, offset);
  }
  counts[static_cast<size_t>(index - offset)] += n;
}

void QuantileSketch::Add(double value) {
  if (std::isnan(value)) return;
  ++count_;
  if (value == 0 || std::abs(value) < std::numeric_limits<double>::min()) {
    ++zero_;
  } else if (value > 0) {
    positive_.Add(Index(value));
  } else {
    negative_.Add(Index(-value));
  }
}

void QuantileSketch::Merge(const QuantileSketch& other) {
  count_ += other.count_;
  zero_ += other.zero_;
  for (const auto& [mine, theirs] :
       {std::pair{&positive_, &other.positive_}, std::pair{&negative_, &other.negative_}}) {
    for (size_t i = 0; i < theirs->counts.size(); ++i) {
      if (theirs->counts[i] != 0)
        mine->Add(theirs->offset + static_cast<int32_t>(i), theirs->counts[i]);
    }
  }
}

double QuantileSketch::Quantile(double q) const {
  if (count_ == 0) return std::numeric_limits<double>::quiet_NaN();
  q = std::clamp(q, 0.0, 1.0);
  // percentile_disc's rank: the first value whose cumulative share reaches q.
  const double position = std::ceil(q * static_cast<double>(count_));
  const uint64_t rank = position < 1 ? 0 : static_cast<uint64_t>(position) - 1;
  uint64_t seen = 0;
  // Ascending values: negatives from the largest magnitude down, zero, positives up.
  for (size_t i = negative_.counts.size(); i-- > 0;) {
    seen += negative_.counts[i];
    if (seen > rank) return -Value(negative_.offset + static_cast<int32_t>(i));
  }
  seen += zero_;
  if (seen > rank) return 0;
  for (size_t i = 0; i < positive_.counts.size(); ++i) {
    seen += positive_.counts[i];
    if (seen > rank) return Value(positive_.offset + static_cast<int32_t>(i));
  }
  return Value(positive_.offset + static_cast<int32_t>(positive_.counts.size()) - 1);
}

void QuantileSketch::AppendTo(std::string& out) const {
  PutRaw(out, count_);
  PutRaw(out, zero_);
  for (const Buckets* b : {&positive_, &negative_}) {
    PutRaw(out, b->offset);
    PutRaw(out, static_cast<uint32_t>(b->counts.size()));
    for (uint64_t c : b->counts) PutRaw(out, c);
  }
}

bool QuantileSketch::ReadFrom(std::string_view& in) {
  if (!GetRaw(in, count_) || !GetRaw(in, zero_)) return false;
  for (Buckets* b : {&positive_, &negative_}) {
    uint32_t size = 0;
    if (!GetRaw(in, b->offset) || !GetRaw(in, size) || size > kMaxBuckets ||
        in.size() < size * sizeof(uint64_t))
      return false;
    b->counts.resize(size);
    for (uint64_t& c : b->counts) GetRaw(in, c);
  }
  return true;
}

}  // namespace sluice::stream
