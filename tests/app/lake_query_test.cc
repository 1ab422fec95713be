// The lake adapter of the query engine: an Iceberg table written here (IcebergTable +
// ParquetWriter), read through OpenLakeQueryTable and ExecuteQuery.
#include "app/lake_query.h"

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/time.h"
#include "lake/iceberg_table.h"
#include "lake/parquet_writer.h"
#include "sql/parser.h"

namespace sluice::app {
namespace {

namespace fs = std::filesystem;

// 2026-11-27T08:00:00Z
constexpr int64_t kT0 = 1795766400ll * kMicrosPerSecond;

class LakeCatalog : public sql::QueryCatalog {
 public:
  explicit LakeCatalog(std::string dir) : dir_(std::move(dir)) {}
  std::shared_ptr<const sql::QueryTable> FindView(std::string_view) const override {
    return nullptr;
  }
  std::vector<std::string> ViewNames() const override { return {}; }
  bool IsStream(std::string_view) const override { return false; }
  Result<std::shared_ptr<const sql::QueryTable>> FindLakeTable(
      std::string_view name, const std::optional<sql::AsOf>& as_of) const override {
    return OpenLakeQueryTable(dir_, name, as_of);
  }
  std::vector<std::string> LakeTableNames() const override { return app::LakeTableNames(dir_); }

 private:
  std::string dir_;
};

class LakeQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("lake_query_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    lake::IcebergTableSpec spec;
    spec.fields = {{0, "occurred_at", {lake::IcebergTypeId::kTimestamptz}, false},
                   {0, "warehouse_id", {lake::IcebergTypeId::kString}, false},
                   {0, "amount", {lake::IcebergTypeId::kDecimal, 12, 2}, false},
                   {0, "n", {lake::IcebergTypeId::kLong}, false},
                   {0, "small", {lake::IcebergTypeId::kInt}, false},  // not readable: left out
                   {0, "_raw", {lake::IcebergTypeId::kString}, true}};
    spec.hour_partition_source = "occurred_at";
    table_ = lake::IcebergTable::Create(root_.string(), "orders", spec, clock_).value();
  }
  void TearDown() override { fs::remove_all(root_); }

  // A file of `rows` rows in hour `hour` (from kT0): n from `first`, amount n.25, warehouse
  // WH-<n % 3>; committed at `at` micros. `bounds`: manifest bounds on n.
  void Commit(int hour, int64_t first, int rows, int64_t at, bool bounds) {
    const int32_t h = lake::HourOfMicros(kT0) + hour;
    lake::DataFile f;
    f.path = table_->DataPath(h, "f" + std::to_string(first) + ".parquet");
    fs::create_directories(fs::path(table_->dir()) / fs::path(f.path).parent_path());
    auto w =
        lake::ParquetWriter::OpenFile(table_->dir() + "/" + f.path,
                                      {{"occurred_at", lake::ColumnType::kTimestampMicros, true},
                                       {"warehouse_id", lake::ColumnType::kString, true},
                                       {"amount", lake::ColumnType::kDecimal, true, 12, 2},
                                       {"n", lake::ColumnType::kInt64, true},
                                       {"_raw", lake::ColumnType::kString, false, 18, 2, false}})
            .value();
    for (int i = 0; i < rows; ++i) {
      const int64_t n = first + i;
      w->column(0).AppendInt64(kT0 + hour * kMicrosPerHour + i * kMicrosPerSecond);
      w->column(1).AppendString("WH-" + std::to_string(n % 3));
      w->column(2).AppendInt64(n * 100 + 25);
      w->column(3).AppendInt64(n);
      w->column(4).AppendString("{\"n\":" + std::to_string(n) + "}");
    }
    ASSERT_TRUE(w->CommitRows().ok());
    ASSERT_TRUE(w->Close().ok());
    f.record_count = rows;
    f.file_size_in_bytes = static_cast<int64_t>(fs::file_size(table_->dir() + "/" + f.path));
    f.partition_hour = h;
    if (bounds) {
      f.stats.lower_bounds[4] = lake::SingleLong(first);
      f.stats.upper_bounds[4] = lake::SingleLong(first + rows - 1);
    }
    clock_.Set(at);
    ASSERT_TRUE(table_->Commit({{f}}).ok());
  }

  Result<sql::QueryResult> Query(std::string_view text) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<sql::Statement> statements, sql::Parse(text));
    LakeCatalog catalog(root_.string());
    return sql::ExecuteQuery(std::get<sql::Query>(statements.at(0).node), catalog);
  }

  // "v,v|v,v" (JSON forms of the values).
  std::string Text(std::string_view text) {
    Result<sql::QueryResult> r = Query(text);
    if (!r.ok()) return "error: " + r.status().message();
    std::string out;
    for (size_t i = 0; i < r->row_count(); ++i) {
      out += i == 0 ? "" : "|";
      for (size_t c = 0; c < r->columns.size(); ++c) {
        out += c == 0 ? "" : ",";
        sql::AppendJson(out, r->row(i)[c]);
      }
    }
    return out;
  }

  int64_t Detail(const sql::QueryResult& r, std::string_view name) {
    for (const auto& [key, value] : r.scan_details)
      if (key == name) return value;
    ADD_FAILURE() << "no " << name;
    return -1;
  }

  fs::path root_;
  ManualClock clock_{kT0};
  std::unique_ptr<lake::IcebergTable> table_;
};

TEST_F(LakeQueryTest, ReadsTheCurrentSnapshotWithItsTypes) {
  Commit(0, 0, 100, kT0 + kMicrosPerHour, false);
  Commit(1, 100, 50, kT0 + 2 * kMicrosPerHour, true);
  Result<sql::QueryResult> r = Query("SELECT * FROM lake.orders LIMIT 1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string columns;
  for (const sql::QueryColumn& c : r->columns)
    columns += c.name + ":" + std::string(sql::TypeName(c.type)) + " ";
  EXPECT_EQ(columns,
            "occurred_at:TIMESTAMP warehouse_id:VARCHAR amount:DOUBLE n:BIGINT _raw:VARCHAR ");
  EXPECT_EQ(Text("SELECT count(*), sum(n), sum(amount), min(occurred_at), max(_raw) FROM "
                 "lake.orders"),
            "150,11175,11212.5,\"2026-11-27T08:00:00Z\",\"{\\\"n\\\":9}\"");
  EXPECT_EQ(Text("SELECT warehouse_id, count(*) FROM lake.orders WHERE amount >= 147.25 "
                 "GROUP BY 1 ORDER BY 1"),
            "\"WH-0\",1|\"WH-1\",1|\"WH-2\",1");
  EXPECT_EQ(r->view, "lake.orders");
  EXPECT_EQ(r->view_version, static_cast<uint64_t>(table_->CurrentSnapshot()->snapshot_id));
}

TEST_F(LakeQueryTest, PrunesThroughTheConstraintsOfWhere) {
  Commit(0, 0, 100, kT0 + kMicrosPerHour, false);
  Commit(1, 100, 50, kT0 + 2 * kMicrosPerHour, true);
  Commit(1, 1000, 50, kT0 + 3 * kMicrosPerHour, true);
  // The event-time range keeps one hour; the bounds of n drop one of its two files.
  Result<sql::QueryResult> r = Query(
      "SELECT count(*), sum(n) FROM lake.orders WHERE occurred_at >= '2026-11-27T09:00:00Z' "
      "AND n < 500");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->row(0)[0].integer, 50);
  EXPECT_EQ(Detail(*r, "files"), 3);
  EXPECT_EQ(Detail(*r, "files_pruned_by_partition"), 1);
  EXPECT_EQ(Detail(*r, "files_pruned_by_bounds"), 1);
  EXPECT_EQ(Detail(*r, "files_read"), 1);
  EXPECT_EQ(Detail(*r, "rows_scanned"), 50);
  // Row groups by statistics: nothing of n above 2000.
  r = Query(
      "SELECT count(*) FROM lake.orders WHERE occurred_at < '2026-11-27T09:00:00Z' AND "
      "n > 2000");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->row(0)[0].integer, 0);
  EXPECT_EQ(Detail(*r, "row_groups_pruned"), 1);
  EXPECT_EQ(Detail(*r, "rows_scanned"), 0);
}

TEST_F(LakeQueryTest, TravelsToEarlierSnapshots) {
  Commit(0, 0, 100, kT0 + kMicrosPerHour, false);
  Commit(1, 100, 50, kT0 + 2 * kMicrosPerHour, true);
  const lake::Snapshot first = table_->snapshots().front();
  EXPECT_EQ(Text("SELECT count(*) FROM lake.orders"), "150");
  EXPECT_EQ(Text("SELECT count(*) FROM lake.orders FOR VERSION AS OF " +
                 std::to_string(first.snapshot_id)),
            "100");
  EXPECT_EQ(Text("SELECT count(*) FROM lake.orders FOR VERSION AS OF 1"), "100");
  EXPECT_EQ(Text("SELECT count(*) FROM lake.orders FOR VERSION AS OF 2"), "150");
  // Current at a moment: the last snapshot committed at or before it (to the millisecond).
  EXPECT_EQ(Text("SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF '2026-11-27 09:00:00'"),
            "100");
  EXPECT_EQ(Text("SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF "
                 "'2026-11-27T09:59:59.999999Z'"),
            "100");
  EXPECT_EQ(Text("SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF '2026-11-27 10:00:00'"),
            "150");
  EXPECT_EQ(Text("SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF '2026-11-27 08:59:59'"),
            "error: line 1, column 56: lake table 'orders' has no snapshot at or before "
            "2026-11-27T08:59:59Z: its first snapshot (id " +
                std::to_string(first.snapshot_id) + ") was committed at 2026-11-27T09:00:00Z");
  const lake::Snapshot second = table_->snapshots().back();
  EXPECT_EQ(Text("SELECT count(*) FROM lake.orders FOR VERSION AS OF 7"),
            "error: line 1, column 52: lake table 'orders' has no snapshot with id or sequence "
            "number 7; it has 2 snapshots: id " +
                std::to_string(first.snapshot_id) + " (sequence number 1), id " +
                std::to_string(second.snapshot_id) + " (sequence number 2)");
}

TEST_F(LakeQueryTest, ATableWithoutSnapshotHasNoRows) {
  EXPECT_EQ(Text("SELECT count(*), sum(n) FROM lake.orders"), "0,null");
  EXPECT_EQ(Text("SELECT count(*) FROM lake.orders FOR VERSION AS OF 1"),
            "error: line 1, column 52: lake table 'orders' has no snapshot 1: it has no snapshot "
            "yet (nothing committed)");
}

TEST_F(LakeQueryTest, NamesTablesAndNothingElse) {
  fs::create_directories(root_ / ".dropped" / "old@7" / "metadata");
  fs::create_directories(root_ / "not_a_table");
  EXPECT_EQ(LakeTableNames(root_.string()), std::vector<std::string>{"orders"});
  auto none = OpenLakeQueryTable(root_.string(), "../orders", std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  EXPECT_EQ(
      Text("SELECT count(*) FROM lake.\"../orders\""),
      "error: line 1, column 22: unknown lake table '../orders' (did you mean 'lake.orders'?)");
  EXPECT_EQ(Text("SELECT count(*) FROM lake.order"),
            "error: line 1, column 22: unknown lake table 'order' (did you mean 'lake.orders'?)");
}

TEST_F(LakeQueryTest, ScansAsJsonForOtherCallers) {
  Commit(0, 0, 2, kT0 + kMicrosPerHour, false);
  auto table = OpenLakeQueryTable(root_.string(), "orders", std::nullopt).value();
  std::vector<std::string> rows;
  table->Scan([&](std::string_view row) { rows.emplace_back(row); });
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(
      rows[1],
      R"({"occurred_at":"2026-11-27T08:00:01Z","warehouse_id":"WH-1","amount":1.25,"n":1,"_raw":"{\"n\":1}"})");
}

}  // namespace
}  // namespace sluice::app
