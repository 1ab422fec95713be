// Process-wide metrics in the Prometheus text exposition format (version 0.0.4).
//
// Metrics are created once (at start-up or when a stream is created) and then updated
// lock-free from any thread: a counter is a relaxed atomic, a histogram a fixed array of atomic
// buckets. Rendering takes a registry lock but never blocks updaters.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sluice {

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// A histogram of durations observed in microseconds and exposed in seconds. Buckets are fixed
// at construction (upper bounds in microseconds, ascending).
class Histogram {
 public:
  explicit Histogram(std::vector<int64_t> upper_bounds_micros);
  void ObserveMicros(int64_t micros);
  // Default latency buckets: 100 µs … 10 s.
  static std::vector<int64_t> LatencyBuckets();

  const std::vector<int64_t>& bounds() const { return bounds_; }
  uint64_t bucket_count(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  int64_t sum_micros() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<int64_t> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> sum_{0};
};

class MetricsRegistry {
 public:
  // `labels` is the label set without braces, e.g. `stream="fulfilment"`. Asking twice for the
  // same name and labels returns the same metric. Returned pointers live as long as the
  // registry.
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const std::string& labels = "");
  Gauge* GetGauge(const std::string& name, const std::string& help, const std::string& labels = "");
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::string& labels = "",
                          std::vector<int64_t> bounds = Histogram::LatencyBuckets());

  std::string RenderPrometheus() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Family {
    Kind kind;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyFor(const std::string& name, Kind kind, const std::string& help);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace sluice
