// The approximate aggregates' data structures: a HyperLogLog for approx_count_distinct and a
// DDSketch for approx_percentile. Both are deterministic (the same values in any order give
// the same state), serializable (for checkpoints) and small.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::stream {

// A stable 64-bit hash of bytes (FNV-1a, then the splitmix64 finalizer to spread the bits):
// HyperLogLog registers depend on it, so it must never change.
uint64_t StableHash64(std::string_view bytes);

// HyperLogLog with 2^12 one-byte registers (4 KiB): the estimate's standard error is
// 1.04 / sqrt(4096) = 1.6%; small cardinalities use linear counting. (approx_count_distinct
// keeps values exactly up to a threshold before it switches to this; see aggregation.cc.)
class HyperLogLog {
 public:
  static constexpr int kPrecision = 12;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;

  void AddHash(uint64_t hash);
  // Makes this the sketch of the union of both inputs (as if every hash had been added here).
  void Merge(const HyperLogLog& other);
  int64_t Estimate() const;

  void AppendTo(std::string& out) const;
  // Reads what AppendTo wrote from the front of `in`, advancing it; false when malformed.
  bool ReadFrom(std::string_view& in);

 private:
  std::array<uint8_t, kRegisters> registers_{};
};

// DDSketch (Masson, Rim, Lee, VLDB 2019) with relative accuracy kRelativeAccuracy: for any
// fraction q, Quantile(q) is within 1% (relative) of the exact value of rank ceil(q * n) - 1
// (0-based; rank 0 for q = 0) among the n values added: the first value whose cumulative share
// reaches q, which is what PostgreSQL's percentile_disc and DuckDB's quantile_disc return. Values
// are bucketed by log_gamma(|v|) with gamma = (1 + a) / (1 - a); zero has its own count. Memory:
// one counter per bucket between the smallest and the largest magnitude (about 115 buckets per
// factor of 10).
class QuantileSketch {
 public:
  static constexpr double kRelativeAccuracy = 0.01;

  void Add(double value);
  // Adds every value `other` holds (exactly as adding them one by one would, short of the
  // collapse of the lowest buckets past 2048).
  void Merge(const QuantileSketch& other);
  // NaN when empty; q is clamped to [0, 1].
  double Quantile(double q) const;
  uint64_t count() const { return count_; }

  void AppendTo(std::string& out) const;
  bool ReadFrom(std::string_view& in);

 private:
  // Dense counters for the bucket indexes [offset, offset + counts.size()).
  struct Buckets {
    int32_t offset = 0;
    std::vector<uint64_t> counts;
    void Add(int32_t index, uint64_t n = 1);
  };
  static int32_t Index(double magnitude);
  static double Value(int32_t index);

  Buckets positive_;
  Buckets negative_;  // by the index of -value
  uint64_t zero_ = 0;
  uint64_t count_ = 0;
};

}  // namespace sluice::stream
