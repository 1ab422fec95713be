#include "lake/table_scan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/time.h"
#include "lake/iceberg_table.h"
#include "lake/parquet_writer.h"

namespace sluice::lake {
namespace {

namespace fs = std::filesystem;

// 2026-11-27T08:00:00Z
constexpr int64_t kT0Micros = 1795766400ll * kMicrosPerSecond;
constexpr int kRowsPerGroup = 250;
constexpr int kGroupsPerFile = 4;

// One row as the test wrote it.
struct Row {
  int64_t ts = 0;
  std::string warehouse;
  int64_t amount = 0;
  int64_t price = 0;  // decimal(12,2), unscaled
  std::optional<double> score;
  bool flag = false;
};

class TableScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("table_scan_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    IcebergTableSpec spec;
    spec.fields = {
        {0, "ts", {IcebergTypeId::kTimestamptz}, false},
        {0, "warehouse", {IcebergTypeId::kString}, false},
        {0, "amount", {IcebergTypeId::kLong}, false},
        {0, "price", {IcebergTypeId::kDecimal, 12, 2}, false},
        {0, "score", {IcebergTypeId::kDouble}, false},
        {0, "flag", {IcebergTypeId::kBoolean}, false},
        {0, "_raw", {IcebergTypeId::kString}, true},
    };
    spec.hour_partition_source = "ts";
    auto t = IcebergTable::Create(root_.string(), "events", spec, clock_);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    table_ = std::move(t).value();
  }
  void TearDown() override { fs::remove_all(root_); }

  static std::vector<ColumnSpec> FileSpecs(bool with_extra = false) {
    std::vector<ColumnSpec> specs = {
        {"ts", ColumnType::kTimestampMicros, true},
        {"warehouse", ColumnType::kString, true},
        {"amount", ColumnType::kInt64, true},
        {"price", ColumnType::kDecimal, true, 12, 2},
        {"score", ColumnType::kDouble, true},
        {"flag", ColumnType::kBool, true},
        {"_raw", ColumnType::kString, false, 18, 2, false},
    };
    if (with_extra) specs.push_back({"extra", ColumnType::kInt64, true});
    return specs;
  }

  // Writes one file of `hour` (an offset from kT0): four row groups of 250 rows, timestamps
  // increasing through the hour, warehouse "WH-<group>" per row group, amount from
  // `first_amount` up. Returns its description (with manifest bounds for `amount` when asked).
  DataFile WriteFile(int hour, const std::string& name, int64_t first_amount, bool bounds,
                     bool with_extra = false) {
    const int32_t hour_ordinal = HourOfMicros(kT0Micros) + hour;
    DataFile f;
    f.path = table_->DataPath(hour_ordinal, name);
    fs::create_directories(fs::path(table_->dir()) / fs::path(f.path).parent_path());
    auto writer = ParquetWriter::OpenFile(table_->dir() + "/" + f.path, FileSpecs(with_extra));
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    ParquetWriter& w = **writer;
    const int rows = kRowsPerGroup * kGroupsPerFile;
    for (int g = 0; g < kGroupsPerFile; ++g) {
      for (int i = 0; i < kRowsPerGroup; ++i) {
        const int n = g * kRowsPerGroup + i;
        Row r;
        r.ts = kT0Micros + hour * kMicrosPerHour + int64_t{n} * (kMicrosPerHour / rows);
        r.warehouse = "WH-" + std::to_string(g);
        r.amount = first_amount + n;
        r.price = r.amount * 7;
        if (n % 2 == 1) r.score = n * 0.5;
        r.flag = g % 2 == 0;
        w.column(0).AppendInt64(r.ts);
        w.column(1).AppendString(r.warehouse);
        w.column(2).AppendInt64(r.amount);
        w.column(3).AppendInt64(r.price);
        r.score ? w.column(4).AppendDouble(*r.score) : w.column(4).AppendNull();
        w.column(5).AppendBool(r.flag);
        w.column(6).AppendString("{\"n\":" + std::to_string(r.amount) + "}");
        if (with_extra) w.column(7).AppendInt64(r.amount);
        rows_.push_back(std::move(r));
      }
      EXPECT_TRUE(w.CommitRows().ok());
      EXPECT_TRUE(w.FlushRowGroup().ok());
    }
    EXPECT_TRUE(w.Close().ok());
    f.record_count = rows;
    f.file_size_in_bytes = static_cast<int64_t>(fs::file_size(table_->dir() + "/" + f.path));
    f.partition_hour = hour_ordinal;
    if (bounds) {
      f.stats.lower_bounds[3] = SingleLong(first_amount);
      f.stats.upper_bounds[3] = SingleLong(first_amount + rows - 1);
    }
    return f;
  }

  // Three hours of one file each (hours 0 and 1 without manifest bounds, committed first),
  // then two files of hour 2 with bounds on `amount`.
  void Fill() {
    ASSERT_TRUE(table_
                    ->Commit({{WriteFile(0, "a.parquet", 0, false),
                               WriteFile(1, "b.parquet", 1000, false)}})
                    .ok());
    ASSERT_TRUE(table_
                    ->Commit({{WriteFile(2, "c.parquet", 2000, true),
                               WriteFile(2, "d.parquet", 100000, true)}})
                    .ok());
  }

  struct Scanned {
    std::vector<std::vector<std::optional<ScanScalar>>> rows;
    TableScanStats stats;
  };

  Result<Scanned> Scan(TableScanOptions options, std::optional<Snapshot> snapshot = {}) {
    if (!snapshot) snapshot = table_->CurrentSnapshot();
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<TableScan> scan,
                            TableScan::Open(*table_, *snapshot, options));
    Scanned out;
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(bool more, scan->Next());
      if (!more) break;
      for (size_t r = 0; r < scan->rows(); ++r) {
        std::vector<std::optional<ScanScalar>> row;
        for (size_t c = 0; c < scan->specs().size(); ++c) {
          const ColumnBuffer& b = scan->column(c);
          if (b.IsNull(r)) {
            row.emplace_back();
            continue;
          }
          switch (scan->specs()[c].type) {
            case ColumnType::kString:
              row.emplace_back(std::string(b.StringAt(r)));
              break;
            case ColumnType::kDouble:
              row.emplace_back(b.DoubleAt(r));
              break;
            case ColumnType::kBool:
              row.emplace_back(int64_t{b.BoolAt(r)});
              break;
            default:
              row.emplace_back(b.Int64At(r));
          }
        }
        out.rows.push_back(std::move(row));
      }
    }
    out.stats = scan->stats();
    return out;
  }

  fs::path root_;
  ManualClock clock_{kT0Micros};
  std::unique_ptr<IcebergTable> table_;
  std::vector<Row> rows_;  // every row written, in file order
};

TEST_F(TableScanTest, ReadsTheRequestedColumnsOfEveryLiveFile) {
  Fill();
  auto s = Scan({.columns = {"amount", "warehouse", "score", "price", "flag", "ts"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->rows.size(), rows_.size());
  // Files come in manifest order (the newest manifest first); compare in amount order.
  std::sort(s->rows.begin(), s->rows.end(), [](const auto& a, const auto& b) {
    return std::get<int64_t>(*a[0]) < std::get<int64_t>(*b[0]);
  });
  std::sort(rows_.begin(), rows_.end(),
            [](const Row& a, const Row& b) { return a.amount < b.amount; });
  for (size_t i = 0; i < rows_.size(); ++i) {
    const Row& want = rows_[i];
    const auto& got = s->rows[i];
    EXPECT_EQ(std::get<int64_t>(*got[0]), want.amount);
    EXPECT_EQ(std::get<std::string>(*got[1]), want.warehouse);
    EXPECT_EQ(got[2].has_value(), want.score.has_value());
    if (want.score) {
      EXPECT_EQ(std::get<double>(*got[2]), *want.score);
    }
    EXPECT_EQ(std::get<int64_t>(*got[3]), want.price);
    EXPECT_EQ(std::get<int64_t>(*got[4]), int64_t{want.flag});
    EXPECT_EQ(std::get<int64_t>(*got[5]), want.ts);
  }
  EXPECT_EQ(s->stats.files, 4);
  EXPECT_EQ(s->stats.files_read, 4);
  EXPECT_EQ(s->stats.row_groups, 16);
  EXPECT_EQ(s->stats.row_groups_pruned, 0);
  EXPECT_EQ(s->stats.rows, 4000);
}

TEST_F(TableScanTest, CountsWithoutOpeningFilesWhenNoColumnIsNeeded) {
  Fill();
  auto s = Scan({});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->rows.size(), 4000u);
  EXPECT_EQ(s->stats.files_read, 0);
  EXPECT_EQ(s->stats.bytes_decoded, 0);
}

TEST_F(TableScanTest, DecodesOnlyTheRequestedColumns) {
  Fill();
  auto one = Scan({.columns = {"amount"}});
  auto raw = Scan({.columns = {"amount", "_raw"}});
  ASSERT_TRUE(one.ok() && raw.ok());
  EXPECT_GT(one->stats.bytes_decoded, 0);
  EXPECT_GT(raw->stats.bytes_decoded, one->stats.bytes_decoded);
}

TEST_F(TableScanTest, PrunesHoursByTheEventTime) {
  Fill();
  const int64_t h1 = kT0Micros + kMicrosPerHour, h2 = kT0Micros + 2 * kMicrosPerHour;
  // [08:00+1h, 08:00+2h): the hour-1 file only; an exclusive upper bound at the hour's start
  // does not reach the next hour.
  auto s =
      Scan({.columns = {"amount"}, .ranges = {{"ts", ScanBound{h1, true}, ScanBound{h2, false}}}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->stats.files, 4);
  EXPECT_EQ(s->stats.files_pruned_by_partition, 3);
  EXPECT_EQ(s->stats.files_read, 1);
  EXPECT_EQ(s->rows.size(), 1000u);
  for (const auto& row : s->rows) EXPECT_GE(std::get<int64_t>(*row[0]), 1000);

  // An inclusive upper bound at the next hour's start reads that hour too.
  s = Scan({.columns = {"amount"}, .ranges = {{"ts", ScanBound{h1, true}, ScanBound{h2, true}}}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->stats.files_pruned_by_partition, 1);

  // Contradictory ranges: nothing is read.
  s = Scan({.columns = {"amount"},
            .ranges = {{"ts", ScanBound{h2, true}, std::nullopt},
                       {"ts", std::nullopt, ScanBound{h1, false}}}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->rows.size(), 0u);
  EXPECT_EQ(s->stats.files_pruned_by_partition, 4);
}

TEST_F(TableScanTest, PrunesRowGroupsByTheirStatistics) {
  Fill();
  // The second quarter of hour 1: one row group of one file.
  const int64_t from = kT0Micros + kMicrosPerHour + kMicrosPerHour / 4;
  const int64_t to = kT0Micros + kMicrosPerHour + kMicrosPerHour / 2;
  auto s =
      Scan({.columns = {"ts"}, .ranges = {{"ts", ScanBound{from, true}, ScanBound{to, false}}}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->stats.files_read, 1);
  EXPECT_EQ(s->stats.row_groups, 4);
  EXPECT_EQ(s->stats.row_groups_pruned, 3);
  EXPECT_EQ(s->rows.size(), 250u);

  // Strings (bytewise), booleans, decimals (as doubles) and doubles.
  s = Scan({.columns = {"warehouse"},
            .ranges = {{"warehouse", ScanBound{std::string("WH-2"), true},
                        ScanBound{std::string("WH-2"), true}}}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->stats.row_groups_pruned, 12);
  EXPECT_EQ(s->rows.size(), 1000u);
  s = Scan({.columns = {"flag"}, .ranges = {{"flag", ScanBound{int64_t{1}, true}, std::nullopt}}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->stats.row_groups_pruned, 8);
  // price = amount * 7 / 100: price > 70.0 keeps amounts above 1000 (hours 1 and 2).
  s = Scan({.columns = {"price"}, .ranges = {{"price", ScanBound{70.0, false}, std::nullopt}}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->stats.row_groups_pruned, 4);
  s = Scan(
      {.columns = {"score"}, .ranges = {{"score", std::nullopt, ScanBound{int64_t{100}, false}}}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->stats.row_groups_pruned, 12);  // score = n / 2: below 100 in group 0 only
}

TEST_F(TableScanTest, PrunesFilesByTheirManifestBoundsWhenPresent) {
  Fill();
  // amount >= 100000: only d.parquet's bounds allow it; the files without bounds are opened
  // and pruned by row group instead.
  auto s = Scan({.columns = {"amount"},
                 .ranges = {{"amount", ScanBound{int64_t{100000}, true}, std::nullopt}}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->stats.files_pruned_by_bounds, 1);  // c.parquet
  EXPECT_EQ(s->stats.files_read, 3);
  EXPECT_EQ(s->stats.row_groups_pruned, 8);  // a and b, by statistics
  EXPECT_EQ(s->rows.size(), 1000u);
  // A double bound against a long column compares as SQL does (as doubles).
  s = Scan({.columns = {"amount"}, .ranges = {{"amount", std::nullopt, ScanBound{2000.5, true}}}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->stats.files_pruned_by_bounds, 1);  // d.parquet
}

TEST_F(TableScanTest, PruningNeverLosesAMatchingRow) {
  Fill();
  std::mt19937_64 rng(42);
  const std::vector<std::string> columns = {"ts", "amount", "warehouse", "score", "price"};
  for (int round = 0; round < 300; ++round) {
    const std::string column = columns[rng() % columns.size()];
    auto pick = [&]() -> ScanScalar {
      const Row& r = rows_[rng() % rows_.size()];
      const int64_t jitter = static_cast<int64_t>(rng() % 5) - 2;
      if (column == "ts") return r.ts + jitter;
      if (column == "amount")
        return rng() % 2 ? ScanScalar(r.amount + jitter) : ScanScalar(r.amount + 0.5 * jitter);
      if (column == "warehouse") return rng() % 2 ? r.warehouse : r.warehouse.substr(0, 3);
      if (column == "price") return DecimalToDouble(r.price + jitter, 2);
      return r.amount * 0.25;
    };
    ScanRange range{column, std::nullopt, std::nullopt};
    if (rng() % 3 != 0) range.lower = ScanBound{pick(), rng() % 2 == 0};
    if (rng() % 3 != 0) range.upper = ScanBound{pick(), rng() % 2 == 0};
    // The rows that satisfy the range, by brute force, and those the scan returns that do.
    auto value = [&](const Row& r) -> std::optional<ScanScalar> {
      if (column == "ts") return r.ts;
      if (column == "amount") return r.amount;
      if (column == "warehouse") return r.warehouse;
      if (column == "price") return DecimalToDouble(r.price, 2);
      if (!r.score) return std::nullopt;
      return *r.score;
    };
    auto satisfies = [&](const std::optional<ScanScalar>& v) {
      if (!v) return false;
      auto cmp = [](const ScanScalar& a, const ScanScalar& b) -> int {
        if (std::holds_alternative<std::string>(a))
          return std::get<std::string>(a).compare(std::get<std::string>(b)) < 0
                     ? -1
                     : (std::get<std::string>(a) == std::get<std::string>(b) ? 0 : 1);
        auto d = [](const ScanScalar& s) {
          return std::holds_alternative<int64_t>(s) ? static_cast<double>(std::get<int64_t>(s))
                                                    : std::get<double>(s);
        };
        if (std::holds_alternative<int64_t>(a) && std::holds_alternative<int64_t>(b))
          return std::get<int64_t>(a) < std::get<int64_t>(b)
                     ? -1
                     : (std::get<int64_t>(a) == std::get<int64_t>(b) ? 0 : 1);
        return d(a) < d(b) ? -1 : (d(a) == d(b) ? 0 : 1);
      };
      if (range.lower) {
        const int c = cmp(*v, range.lower->value);
        if (c < 0 || (c == 0 && !range.lower->inclusive)) return false;
      }
      if (range.upper) {
        const int c = cmp(*v, range.upper->value);
        if (c > 0 || (c == 0 && !range.upper->inclusive)) return false;
      }
      return true;
    };
    int64_t want = 0;
    for (const Row& r : rows_) want += satisfies(value(r));
    auto s = Scan({.columns = {column == "price" ? "amount" : column}, .ranges = {range}});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    int64_t got = 0;
    for (const auto& row : s->rows) {
      std::optional<ScanScalar> v = row[0];
      if (column == "price" && v) v = DecimalToDouble(std::get<int64_t>(*v) * 7, 2);
      got += satisfies(v);
    }
    ASSERT_EQ(got, want) << "round " << round << " column " << column;
  }
}

TEST_F(TableScanTest, ReadsAColumnAddedLaterAsNullsInOlderFiles) {
  Fill();
  const Snapshot before = *table_->CurrentSnapshot();
  ASSERT_TRUE(table_->AddOptionalField("extra", {IcebergTypeId::kLong}).ok());
  ASSERT_TRUE(table_->Commit({{WriteFile(3, "e.parquet", 5000, false, true)}}).ok());
  auto s = Scan({.columns = {"extra"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->rows.size(), 5000u);
  int64_t nulls = 0, sum = 0;
  for (const auto& row : s->rows) {
    if (!row[0]) {
      ++nulls;
      continue;
    }
    sum += std::get<int64_t>(*row[0]);
  }
  EXPECT_EQ(nulls, 4000);
  EXPECT_EQ(sum, (5000 + 5999) * 1000 / 2);
  // A range on it skips the files without it, whole.
  s = Scan(
      {.columns = {"extra"}, .ranges = {{"extra", ScanBound{int64_t{0}, true}, std::nullopt}}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->rows.size(), 1000u);
  // The earlier snapshot has the earlier schema.
  auto old = Scan({.columns = {"extra"}}, before);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("no column 'extra'"), std::string::npos);
}

TEST_F(TableScanTest, ReadsTheFilesOfAnEarlierSnapshot) {
  Fill();
  const Snapshot first = table_->snapshots().front();
  auto s = Scan({.columns = {"amount"}}, first);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->rows.size(), 2000u);
  EXPECT_EQ(s->stats.files, 2);
}

TEST_F(TableScanTest, NamesAMissingFileAndAnUnknownColumn) {
  Fill();
  fs::remove(fs::path(table_->dir()) / table_->DataPath(HourOfMicros(kT0Micros) + 1, "b.parquet"));
  auto s = Scan({.columns = {"amount"}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kIOError);
  EXPECT_NE(s.status().message().find("b.parquet"), std::string::npos) << s.status().message();
  s = Scan({.columns = {"nope"}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::lake
