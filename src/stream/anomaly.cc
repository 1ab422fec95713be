#include "stream/anomaly.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sluice::stream {

namespace {

constexpr uint8_t kFormat = 1;

template <typename T>
void Put(std::string& out, T v) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <typename T>
bool Get(std::string_view& in, T& v) {
  if (in.size() < sizeof(T)) return false;
  std::memcpy(&v, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return true;
}

}  // namespace

// West's / Finch's incremental EWMA of mean and variance: the newest value weighs alpha.
void AnomalyDetector::Update(Baseline& b, double x) const {
  if (b.history == 0) {
    b.mean = x;
    b.variance = 0;
  } else {
    const double diff = x - b.mean;
    const double increment = options_.alpha * diff;
    b.mean += increment;
    b.variance = (1 - options_.alpha) * (b.variance + diff * increment);
  }
  ++b.history;
}

std::vector<AnomalyAlert> AnomalyDetector::CloseWindow(
    int64_t window_start, std::span<const std::pair<std::string, double>> values) {
  std::vector<AnomalyAlert> alerts;
  if (window_start <= last_window_) return alerts;
  if (options_.fill_missing && last_window_ != INT64_MIN && options_.window_micros > 0) {
    // Windows between the last one and this one had no row at all: zeros for every key.
    const int64_t gap = std::min<int64_t>(
        kMaxGapWindows, (window_start - last_window_) / options_.window_micros - 1);
    for (int64_t i = 0; i < gap; ++i)
      for (auto& [key, baseline] : baselines_) Update(baseline, 0);
  }
  last_window_ = window_start;

  std::map<std::string_view, double> in_window;
  for (const auto& [key, value] : values) {
    if (!std::isfinite(value)) continue;
    in_window[key] += value;
  }
  for (const auto& [key, x] : in_window) {
    auto [it, inserted] = baselines_.try_emplace(std::string(key));
    Baseline& b = it->second;
    if (b.history >= options_.warmup && b.history > 0) {
      const double stddev = std::sqrt(std::max(0.0, b.variance));
      const double threshold = b.mean + std::max(options_.sigmas * stddev, options_.min_delta);
      if (x > threshold)
        alerts.push_back({it->first, window_start, x, b.mean, stddev, threshold, b.history});
    }
    Update(b, x);
  }
  if (options_.fill_missing) {
    for (auto& [key, baseline] : baselines_)
      if (!in_window.contains(key)) Update(baseline, 0);
  }
  return alerts;
}

std::string AnomalyDetector::Serialize() const {
  std::string out;
  Put<uint8_t>(out, kFormat);
  Put<int64_t>(out, last_window_);
  Put<uint64_t>(out, baselines_.size());
  for (const auto& [key, b] : baselines_) {
    Put<uint32_t>(out, static_cast<uint32_t>(key.size()));
    out += key;
    Put<double>(out, b.mean);
    Put<double>(out, b.variance);
    Put<int64_t>(out, b.history);
  }
  return out;
}

Result<AnomalyDetector> AnomalyDetector::Restore(AnomalyOptions options, std::string_view in) {
  AnomalyDetector detector(options);
  uint8_t format = 0;
  uint64_t count = 0;
  if (!Get(in, format) || format != kFormat || !Get(in, detector.last_window_) || !Get(in, count))
    return Status::InvalidArgument("anomaly state: bad header");
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t size = 0;
    if (!Get(in, size) || in.size() < size)
      return Status::InvalidArgument("anomaly state: truncated key");
    std::string key(in.substr(0, size));
    in.remove_prefix(size);
    Baseline b;
    if (!Get(in, b.mean) || !Get(in, b.variance) || !Get(in, b.history))
      return Status::InvalidArgument("anomaly state: truncated baseline");
    detector.baselines_.emplace(std::move(key), b);
  }
  if (!in.empty()) return Status::InvalidArgument("anomaly state: trailing bytes");
  return detector;
}

}  // namespace sluice::stream
