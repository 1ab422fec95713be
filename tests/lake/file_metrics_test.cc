// Iceberg per-file column metrics from the writer's column summaries (lake/file_metrics.h).
#include "lake/file_metrics.h"

#include <gtest/gtest.h>

namespace sluice::lake {
namespace {

TEST(FileMetrics, StringBoundsAreTruncatedLikeIceberg) {
  EXPECT_EQ(TruncateLowerBound("short"), "short");
  EXPECT_EQ(TruncateUpperBound("short"), "short");
  EXPECT_EQ(TruncateLowerBound("abcdefghijklmnopqrstuvwxyz"), "abcdefghijklmnop");
  EXPECT_EQ(TruncateUpperBound("abcdefghijklmnopqrstuvwxyz"), "abcdefghijklmnoq");
  // Code points, not bytes: 16 two-byte characters stay whole.
  const std::string umlauts = "üüüüüüüüüüüüüüüüüü";  // 18 × ü
  EXPECT_EQ(TruncateLowerBound(umlauts), "üüüüüüüüüüüüüüüü");
  EXPECT_EQ(TruncateUpperBound(umlauts), "üüüüüüüüüüüüüüüý");
  // The largest code point cannot be incremented: the one before it is.
  std::string top = "a";
  for (int i = 0; i < 17; ++i) top += "\xF4\x8F\xBF\xBF";  // U+10FFFF
  EXPECT_EQ(TruncateUpperBound(top), "b");
  std::string only_top;
  for (int i = 0; i < 17; ++i) only_top += "\xF4\x8F\xBF\xBF";
  EXPECT_EQ(TruncateUpperBound(only_top), std::nullopt);
  // Below a surrogate: U+D7FF + 1 skips to U+E000.
  std::string before_surrogates(16, 'x');
  before_surrogates.back() = 'y';
  before_surrogates += "zz";
  EXPECT_EQ(TruncateUpperBound(before_surrogates), std::string(15, 'x') + "z");
  std::string d7ff(15, 'x');
  d7ff += "\xED\x9F\xBF";  // U+D7FF
  d7ff += "tail";
  EXPECT_EQ(TruncateUpperBound(d7ff), std::string(15, 'x') + "\xEE\x80\x80");
}

TEST(FileMetrics, CountsSizesAndSingleValueBoundsByFieldId) {
  std::vector<ColumnSpec> columns = {
      {"id", ColumnType::kString},     {"t", ColumnType::kTimestampMicros},
      {"x", ColumnType::kDouble},      {"m", ColumnType::kDecimal, true, 18, 2},
      {"flag", ColumnType::kBool},     {"_raw", ColumnType::kString, false},
      {"unmapped", ColumnType::kInt64}};
  for (size_t i = 0; i + 1 < columns.size(); ++i) columns[i].field_id = static_cast<int32_t>(i + 1);
  std::vector<ParquetWriter::ColumnSummary> s(columns.size());
  for (auto& c : s) {
    c.values = 10;
    c.nulls = 2;
    c.compressed_bytes = 100;
    c.has_bounds = true;
  }
  s[0].min_string = "evt-000000000000000001";
  s[0].max_string = "evt-000000000000000009";
  s[1].min_int = 1000;
  s[1].max_int = 2000;
  s[2].min_double = -1.5;
  s[2].max_double = 2.5;
  s[3].min_int = -1234;
  s[3].max_int = 5678;
  s[4].min_int = 0;
  s[4].max_int = 1;
  s[5].min_string = "{";
  s[5].max_string = "{";
  s[2].has_bounds = true;
  const DataFileStats stats = IcebergMetrics(columns, s, {"_raw"});
  EXPECT_EQ(stats.value_counts.size(), 6u);  // "unmapped" has no field id
  EXPECT_EQ(stats.value_counts.at(2), 10);
  EXPECT_EQ(stats.null_value_counts.at(2), 2);
  EXPECT_EQ(stats.column_sizes.at(6), 100);
  EXPECT_EQ(stats.lower_bounds.at(1), "evt-000000000000");
  EXPECT_EQ(stats.upper_bounds.at(1), "evt-000000000001");
  EXPECT_EQ(stats.lower_bounds.at(2), SingleLong(1000));
  EXPECT_EQ(stats.upper_bounds.at(2), SingleLong(2000));
  EXPECT_EQ(stats.lower_bounds.at(3), SingleDouble(-1.5));
  EXPECT_EQ(stats.lower_bounds.at(4), SingleDecimal(-1234));
  EXPECT_EQ(stats.upper_bounds.at(5), SingleBoolean(true));
  EXPECT_EQ(stats.lower_bounds.count(6), 0u);  // _raw: counts only
  s[1].has_bounds = false;                     // all null: no bounds
  EXPECT_EQ(IcebergMetrics(columns, s).lower_bounds.count(2), 0u);
}

}  // namespace
}  // namespace sluice::lake
