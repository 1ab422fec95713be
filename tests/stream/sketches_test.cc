#include "stream/sketches.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sluice::stream {
namespace {

TEST(HyperLogLogTest, EstimatesWithinItsErrorAcrossCardinalities) {
  for (int n : {1, 10, 100, 1000, 10'000, 100'000, 1'000'000}) {
    HyperLogLog hll;
    for (int i = 0; i < n; ++i) {
      const std::string value = "order-" + std::to_string(i);
      hll.AddHash(StableHash64(value));
      hll.AddHash(StableHash64(value));  // duplicates change nothing
    }
    const double error = std::abs(static_cast<double>(hll.Estimate()) - n) / n;
    // 1.6% standard error: 4 sigma is a bound a correct implementation does not cross.
    EXPECT_LT(error, 0.065) << n << " values, estimate " << hll.Estimate();
  }
}

TEST(HyperLogLogTest, SerializesAndIgnoresOrder) {
  HyperLogLog a, b;
  for (int i = 0; i < 5000; ++i) a.AddHash(StableHash64(std::to_string(i)));
  for (int i = 4999; i >= 0; --i) b.AddHash(StableHash64(std::to_string(i)));
  std::string bytes, other;
  a.AppendTo(bytes);
  b.AppendTo(other);
  EXPECT_EQ(bytes, other);
  HyperLogLog c;
  std::string_view in = bytes;
  ASSERT_TRUE(c.ReadFrom(in));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(c.Estimate(), a.Estimate());
  std::string_view truncated = std::string_view(bytes).substr(0, 100);
  EXPECT_FALSE(c.ReadFrom(truncated));
}

// The exact value of rank ceil(q * n) - 1 (percentile_disc): what the sketch approximates.
double Exact(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double position = std::ceil(q * static_cast<double>(values.size()));
  return values[position < 1 ? 0 : static_cast<size_t>(position) - 1];
}

TEST(QuantileSketchTest, QuantilesAreWithinOnePercentOfTheExactValues) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> lognormal(8, 2);
  std::uniform_int_distribution<int> amounts(-5000, 100000);
  std::vector<std::vector<double>> datasets(3);
  for (int i = 0; i < 20000; ++i) {
    datasets[0].push_back(lognormal(rng));                    // skewed durations
    datasets[1].push_back(amounts(rng));                      // integers, negatives, zero
    datasets[2].push_back(i % 7 == 0 ? 0 : -lognormal(rng));  // negatives and many zeros
  }
  for (const auto& values : datasets) {
    QuantileSketch sketch;
    for (double v : values) sketch.Add(v);
    EXPECT_EQ(sketch.count(), values.size());
    for (double q : {0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0}) {
      const double exact = Exact(values, q);
      const double estimate = sketch.Quantile(q);
      EXPECT_LE(std::abs(estimate - exact), QuantileSketch::kRelativeAccuracy * std::abs(exact))
          << "q=" << q << " exact " << exact << " estimate " << estimate;
    }
  }
}

TEST(QuantileSketchTest, EmptyNanAndSerialization) {
  QuantileSketch sketch;
  EXPECT_TRUE(std::isnan(sketch.Quantile(0.5)));
  sketch.Add(std::nan(""));
  EXPECT_EQ(sketch.count(), 0u);
  for (int i = 1; i <= 1000; ++i) sketch.Add(i);
  std::string bytes;
  sketch.AppendTo(bytes);
  QuantileSketch copy;
  std::string_view in = bytes;
  ASSERT_TRUE(copy.ReadFrom(in));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(copy.Quantile(0.5), sketch.Quantile(0.5));
  EXPECT_NEAR(copy.Quantile(0.5), 500, 5);
}

TEST(QuantileSketchTest, HugeRangesCollapseTheSmallestMagnitudesOnly) {
  QuantileSketch sketch;
  for (int e = -300; e <= 300; ++e) sketch.Add(std::pow(10.0, e));  // 600 orders of magnitude
  std::string bytes;
  sketch.AppendTo(bytes);
  EXPECT_LT(bytes.size(), 2 * 2048 * sizeof(uint64_t) + 64);  // bounded memory
  // The top is still accurate; the bottom collapsed upwards.
  EXPECT_NEAR(sketch.Quantile(1.0), 1e300, 1e300 * QuantileSketch::kRelativeAccuracy);
  EXPECT_NEAR(sketch.Quantile(0.99), 1e294, 1e294 * QuantileSketch::kRelativeAccuracy);
}

}  // namespace
}  // namespace sluice::stream
