#include "stream/anomaly.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace sluice::stream {
namespace {

constexpr int64_t kMinute = 60'000'000;
using Values = std::vector<std::pair<std::string, double>>;

// The baseline of a steady series, computed the long way: EWMA mean and variance.
std::pair<double, double> Ewma(const std::vector<double>& xs, double alpha) {
  double mean = xs[0], variance = 0;
  for (size_t i = 1; i < xs.size(); ++i) {
    const double diff = xs[i] - mean;
    mean += alpha * diff;
    variance = (1 - alpha) * (variance + alpha * diff * diff);
  }
  return {mean, variance};
}

const std::vector<double> kNormal = {2, 3, 2, 4, 3, 2, 3, 2, 3, 3, 2, 3};

TEST(AnomalyDetectorTest, AlertsWhenAClosedWindowRisesAboveTheBaseline) {
  AnomalyDetector detector({.alpha = 0.2, .sigmas = 3, .warmup = 10});
  int64_t t = 0;
  for (double x : kNormal) {
    EXPECT_TRUE(detector.CloseWindow(t, Values{{"WH-01", x}, {"WH-02", x + 1}}).empty());
    t += kMinute;
  }
  // 4 is within 3 sigma of WH-01's baseline; 20 is not. WH-02 stays normal.
  EXPECT_TRUE(detector.CloseWindow(t, Values{{"WH-01", 4}, {"WH-02", 4}}).empty());
  std::vector<double> history = kNormal;
  history.push_back(4);
  t += kMinute;
  const std::vector<AnomalyAlert> alerts =
      detector.CloseWindow(t, Values{{"WH-02", 3}, {"WH-01", 20}});
  ASSERT_EQ(alerts.size(), 1u);
  const auto [mean, variance] = Ewma(history, 0.2);
  EXPECT_EQ(alerts[0].key, "WH-01");
  EXPECT_EQ(alerts[0].window_start, t);
  EXPECT_EQ(alerts[0].value, 20);
  EXPECT_NEAR(alerts[0].mean, mean, 1e-12);
  EXPECT_NEAR(alerts[0].stddev, std::sqrt(variance), 1e-12);
  EXPECT_NEAR(alerts[0].threshold, mean + 3 * std::sqrt(variance), 1e-12);
  EXPECT_EQ(alerts[0].history, 13);
  EXPECT_LT(alerts[0].threshold, 6.5);
}

TEST(AnomalyDetectorTest, NeedsWarmupHistory) {
  AnomalyDetector detector({.warmup = 5});
  for (int64_t w = 0; w < 4; ++w)
    EXPECT_TRUE(detector.CloseWindow(w * kMinute, Values{{"k", 1}}).empty());
  EXPECT_TRUE(detector.CloseWindow(4 * kMinute, Values{{"k", 100}}).empty());  // 4 of history
  EXPECT_EQ(detector.CloseWindow(5 * kMinute, Values{{"k", 1000}}).size(), 1u);
}

TEST(AnomalyDetectorTest, AWindowIsClosedOnceReplaysAreIgnored) {
  AnomalyDetector detector({.warmup = 1});
  detector.CloseWindow(0, Values{{"k", 1}});
  detector.CloseWindow(kMinute, Values{{"k", 1}});
  ASSERT_EQ(detector.CloseWindow(2 * kMinute, Values{{"k", 50}}).size(), 1u);
  const std::string state = detector.Serialize();
  EXPECT_TRUE(detector.CloseWindow(2 * kMinute, Values{{"k", 50}}).empty());
  EXPECT_TRUE(detector.CloseWindow(kMinute, Values{{"k", 500}}).empty());
  EXPECT_EQ(detector.Serialize(), state);
  EXPECT_EQ(detector.last_window(), 2 * kMinute);
}

TEST(AnomalyDetectorTest, MissingKeysAndEmptyWindowsCountAsZero) {
  // Exceptions per minute: mostly none. A key without a row in a closed window had 0.
  AnomalyDetector detector({.alpha = 0.5, .warmup = 2, .min_delta = 2});
  detector.CloseWindow(0, Values{{"WH-01", 4}});
  detector.CloseWindow(kMinute, Values{{"WH-02", 1}});  // WH-01: 0
  // Three windows without any row: zeros for both keys.
  detector.CloseWindow(5 * kMinute, Values{{"WH-02", 0}});
  // WH-01's baseline: 4, 0, 0, 0, 0, 0 with alpha 0.5.
  const auto [mean, variance] = Ewma({4, 0, 0, 0, 0, 0}, 0.5);
  const std::vector<AnomalyAlert> alerts = detector.CloseWindow(6 * kMinute, Values{{"WH-01", 3}});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_NEAR(alerts[0].mean, mean, 1e-12);
  EXPECT_NEAR(alerts[0].stddev, std::sqrt(variance), 1e-12);
  EXPECT_EQ(alerts[0].history, 6);
  // min_delta: on a flat zero baseline, 1 is not an anomaly, 3 is.
  AnomalyDetector flat({.warmup = 3, .min_delta = 2});
  for (int64_t w = 0; w < 5; ++w) flat.CloseWindow(w * kMinute, Values{{"k", 0}});
  EXPECT_TRUE(flat.CloseWindow(5 * kMinute, Values{{"k", 1}}).empty());
  EXPECT_EQ(flat.CloseWindow(6 * kMinute, Values{{"k", 3}}).size(), 1u);
}

TEST(AnomalyDetectorTest, LongGapsAreBounded) {
  AnomalyDetector detector({.alpha = 0.01, .warmup = 1});
  detector.CloseWindow(0, Values{{"k", 100}});
  // Ten years of minutes later: at most kMaxGapWindows zero updates, so this returns at once.
  detector.CloseWindow(int64_t{10} * 365 * 24 * 60 * kMinute, Values{{"k", 0}});
  EXPECT_EQ(detector.keys(), 1u);
}

TEST(AnomalyDetectorTest, CheckpointRestoreGivesTheSameAlertsAsAnUninterruptedRun) {
  const AnomalyOptions options{.alpha = 0.3, .sigmas = 2, .warmup = 3};
  std::vector<Values> windows;
  uint64_t s = 7;
  for (int w = 0; w < 60; ++w) {
    Values v;
    for (int k = 0; k < 5; ++k) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      const double x = static_cast<double>((s >> 33) % 10) + (w % 17 == 16 && k == 2 ? 40 : 0);
      if ((s >> 20) % 7 != 0) v.push_back({"WH-0" + std::to_string(k), x});
    }
    windows.push_back(std::move(v));
  }
  auto run = [&](AnomalyDetector& d, int from, int to, std::vector<AnomalyAlert>& out) {
    for (int w = from; w < to; ++w)
      for (AnomalyAlert& a : d.CloseWindow(w * kMinute, windows[static_cast<size_t>(w)]))
        out.push_back(std::move(a));
  };
  AnomalyDetector whole(options);
  std::vector<AnomalyAlert> expected;
  run(whole, 0, 60, expected);
  ASSERT_GE(expected.size(), 3u);

  AnomalyDetector first(options);
  std::vector<AnomalyAlert> got;
  run(first, 0, 25, got);
  Result<AnomalyDetector> restored = AnomalyDetector::Restore(options, first.Serialize());
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  // A replay from an older checkpoint position re-closes windows 20..24: ignored.
  std::vector<AnomalyAlert> replayed;
  run(*restored, 20, 25, replayed);
  EXPECT_TRUE(replayed.empty());
  run(*restored, 25, 60, got);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, expected[i].key);
    EXPECT_EQ(got[i].window_start, expected[i].window_start);
    EXPECT_EQ(got[i].threshold, expected[i].threshold);
  }
  EXPECT_EQ(restored->Serialize(), whole.Serialize());
  EXPECT_FALSE(AnomalyDetector::Restore(options, "x").ok());
  EXPECT_FALSE(AnomalyDetector::Restore(options, whole.Serialize().substr(0, 30)).ok());
}

TEST(AnomalyDetectorTest, KeyOrderInsideAWindowDoesNotMatter) {
  AnomalyDetector a({.warmup = 1}), b({.warmup = 1});
  a.CloseWindow(0, Values{{"x", 1}, {"y", 2}});
  b.CloseWindow(0, Values{{"y", 2}, {"x", 1}});
  EXPECT_EQ(a.Serialize(), b.Serialize());
}

}  // namespace
}  // namespace sluice::stream
