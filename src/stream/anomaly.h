// Anomaly detection over the closed windows of a windowed metric (docs/sql.md, "Anomaly
// alerts"): per key, a baseline of the metric over past windows, kept as an exponentially
// weighted moving mean and variance (EWMA), and an alert when a closed window's value rises
// above mean + sigmas * standard deviation.
//
//   AnomalyDetector detector(options);
//   for each window, in order, once it is closed:
//     for (const AnomalyAlert& a : detector.CloseWindow(start, values)) append(a);
//
// What callers may rely on:
// * Deterministic: the same sequence of closed windows gives the same baselines and alerts,
//   whatever the key order inside a window.
// * Idempotent by window: a window at or before the last one closed is ignored (no alerts, no
//   change), so replaying windows after a restart from a checkpoint cannot alert twice.
// * A window is judged against the baseline of the windows before it, then joins the baseline
//   (a lasting change of level stops alerting once the baseline has followed it). A key alerts
//   only after `warmup` windows of history.
// * Keys seen before that have no value in a closed window take 0 there (`fill_missing`): a
//   minute without exceptions is a minute with 0 exceptions. Windows without any row (gaps)
//   count as zeros for every key, at most kMaxGapWindows of them.
// * Serialize()/Restore() round-trip the whole state (checkpoints).
// * Not thread-safe; no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace sluice::stream {

struct AnomalyOptions {
  double alpha = 0.2;    // weight of the newest window in the baseline, in (0, 1]
  double sigmas = 3;     // how far above the mean, in standard deviations, is anomalous
  int64_t warmup = 10;   // windows of history a key needs before it may alert
  double min_delta = 0;  // and at least this far above the mean (a floor for flat baselines)
  int64_t window_micros = 60'000'000;  // the distance between window starts (the slide)
  bool fill_missing = true;            // absent keys take 0 in a closed window
};

// Gaps longer than this (in windows) count as this many zero windows.
inline constexpr int64_t kMaxGapWindows = 1000;

struct AnomalyAlert {
  std::string key;  // as given to CloseWindow
  int64_t window_start = 0;
  double value = 0;  // the window's value
  double mean = 0;   // the baseline before this window
  double stddev = 0;
  double threshold = 0;  // mean + max(sigmas * stddev, min_delta)
  int64_t history = 0;   // windows in the baseline
};

class AnomalyDetector {
 public:
  explicit AnomalyDetector(AnomalyOptions options) : options_(options) {}

  // Closes the window starting at `window_start` with the values of the keys that have one.
  // Returns the alerts it raises, in key order.
  std::vector<AnomalyAlert> CloseWindow(int64_t window_start,
                                        std::span<const std::pair<std::string, double>> values);

  // The start of the last window closed; INT64_MIN before any.
  int64_t last_window() const { return last_window_; }
  size_t keys() const { return baselines_.size(); }

  std::string Serialize() const;
  // Restores what Serialize() wrote; InvalidArgument when it is malformed.
  static Result<AnomalyDetector> Restore(AnomalyOptions options, std::string_view bytes);

 private:
  struct Baseline {
    double mean = 0;
    double variance = 0;
    int64_t history = 0;
  };
  void Update(Baseline& b, double x) const;

  AnomalyOptions options_;
  std::map<std::string, Baseline> baselines_;
  int64_t last_window_ = INT64_MIN;
};

}  // namespace sluice::stream
