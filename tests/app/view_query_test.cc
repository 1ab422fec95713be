// Queries over a view read only the key range WHERE bounds (ViewQueryTable::ScanWithin), and
// give the same answers as a full scan.
#include "app/view_query.h"
#include "app/view_filter.h"

#include <gtest/gtest.h>

#include "base/time.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/aggregation.h"
#include "support/one_stream_catalog.h"
#include "support/unreadable_rows.h"

namespace sluice::app {
namespace {

using test_support::OneStream;

class OneView : public sql::QueryCatalog {
 public:
  explicit OneView(std::shared_ptr<const sql::QueryTable> table) : table_(std::move(table)) {}
  std::shared_ptr<const sql::QueryTable> FindView(std::string_view name) const override {
    return name == "per_day" ? table_ : nullptr;
  }
  std::vector<std::string> ViewNames() const override { return {"per_day"}; }
  bool IsStream(std::string_view) const override { return false; }

 private:
  std::shared_ptr<const sql::QueryTable> table_;
};

const int64_t kDay = 24 * 3600 * kMicrosPerSecond;
const int64_t kT0 = ParseRfc3339("2025-01-01T00:00:00Z").value();

class ViewQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto statements = sql::Parse(
        "CREATE MATERIALIZED VIEW per_day AS SELECT warehouse_id, event_type, window_start, "
        "count(*) AS events FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' DAY) "
        "GROUP BY warehouse_id, event_type, window_start");
    ASSERT_TRUE(statements.ok());
    OneStream streams;
    plan_ = sql::PlanView(std::get<sql::CreateMaterializedView>(statements->at(0).node), streams)
                .value();
    view_ = std::make_shared<store::View>(store::ViewDefinition{"per_day", {}, {}, ""});
    // 3 warehouses x 2 types x 100 days, in key order as the aggregator writes them.
    std::vector<store::RowChange> rows;
    for (int w = 1; w <= 3; ++w) {
      for (const char* type : {"a", "b"}) {
        for (int d = 0; d < 100; ++d) {
          const std::string wh = "WH-0" + std::to_string(w);
          std::string key;
          stream::AppendKeyValue(key, sql::Value::Varchar(wh));
          stream::AppendKeyValue(key, sql::Value::Varchar(type));
          stream::AppendKeyWindowStart(key, kT0 + d * kDay);
          rows.push_back({key, R"({"warehouse_id":")" + wh + R"(","event_type":")" + type +
                                   R"(","window_start":")" + FormatRfc3339(kT0 + d * kDay) +
                                   R"(","events":)" + std::to_string(d + w) + "}"});
        }
      }
    }
    view_->Apply(rows, 1);
    table_ = std::make_shared<ViewQueryTable>(plan_, view_);
  }

  sql::QueryResult Run(std::string_view text) {
    auto statements = sql::Parse(text);
    EXPECT_TRUE(statements.ok()) << statements.status().message();
    OneView catalog(table_);
    auto result = sql::ExecuteQuery(std::get<sql::Query>(statements->at(0).node), catalog);
    EXPECT_TRUE(result.ok()) << result.status().message();
    return std::move(result).value();
  }

  static int64_t Detail(const sql::QueryResult& r, std::string_view name) {
    for (const auto& [n, v] : r.scan_details)
      if (n == name) return v;
    return -1;
  }

  static int64_t Sum(const sql::QueryResult& r) {
    EXPECT_EQ(r.row_count(), 1u);
    return r.row_count() == 1 ? r.row(0)[0].integer : -1;
  }

  sql::ViewPlan plan_;
  std::shared_ptr<store::View> view_;
  std::shared_ptr<ViewQueryTable> table_;
};

TEST_F(ViewQueryTest, AWarehouseReadsOnlyItsRows) {
  const sql::QueryResult r = Run("SELECT sum(events) FROM per_day WHERE warehouse_id = 'WH-02'");
  EXPECT_EQ(Detail(r, "rows_read"), 200);
  EXPECT_EQ(Sum(r), 2 * (4950 + 200));
}

TEST_F(ViewQueryTest, AllKeysAndAWindowRangeReadOnlyThatRange) {
  const sql::QueryResult r =
      Run("SELECT sum(events) FROM per_day WHERE event_type = 'b' AND warehouse_id = 'WH-03' AND "
          "window_start >= TIMESTAMP '2025-01-11T00:00:00Z' AND "
          "window_start < TIMESTAMP '2025-01-21T00:00:00Z'");
  EXPECT_EQ(Detail(r, "rows_read"), 10);
  EXPECT_EQ(Sum(r), (10 + 19) * 10 / 2 + 30);
  const sql::QueryResult between =
      Run("SELECT count(*) FROM per_day WHERE warehouse_id = 'WH-01' AND event_type = 'a' AND "
          "window_start BETWEEN TIMESTAMP '2025-01-11T00:00:00Z' AND "
          "TIMESTAMP '2025-01-21T00:00:00Z'");
  EXPECT_EQ(Detail(between, "rows_read"), 11);
  EXPECT_EQ(Sum(between), 11);
}

TEST_F(ViewQueryTest, ConstraintsThatBoundNoKeyPrefixScanEverything) {
  // event_type is the second key: without the first, no prefix. OR is not a conjunction.
  for (std::string_view where : {"event_type = 'a'", "warehouse_id = 'WH-01' OR true",
                                 "window_start >= TIMESTAMP '2025-03-01T00:00:00Z'"}) {
    const sql::QueryResult r = Run("SELECT count(*) FROM per_day WHERE " + std::string(where));
    EXPECT_EQ(Detail(r, "rows_read"), -1) << where;
  }
  EXPECT_EQ(Sum(Run("SELECT count(*) FROM per_day WHERE event_type = 'a'")), 300);
  // A value of another type fixes nothing (and matches nothing).
  const sql::QueryResult number = Run("SELECT count(*) FROM per_day WHERE warehouse_id = 3");
  EXPECT_EQ(Detail(number, "rows_read"), -1);
}

TEST_F(ViewQueryTest, AnEmptyRangeReadsNothing) {
  const sql::QueryResult r =
      Run("SELECT count(*) FROM per_day WHERE warehouse_id = 'WH-01' AND event_type = 'a' AND "
          "window_start > TIMESTAMP '2025-02-01T00:00:00Z' AND "
          "window_start < TIMESTAMP '2025-01-02T00:00:00Z'");
  EXPECT_EQ(Detail(r, "rows_read"), 0);
  EXPECT_EQ(Sum(r), 0);
}

// A subscription filter (?where=) reads only the key range a query with the same WHERE reads,
// and keeps the same rows as its predicate over every row.
TEST_F(ViewQueryTest, FiltersReadOnlyTheirKeyRangeAndKeepTheSameRows) {
  struct Case {
    const char* where;
    int rows_read;
  };
  const Case cases[] = {
      {"warehouse_id = 'WH-02'", 200},
      {"'WH-03' = warehouse_id AND event_type = 'a'", 100},
      {"warehouse_id = 'WH-02' AND event_type = 'b' AND window_start >= TIMESTAMP "
       "'2025-02-01 00:00:00' AND window_start < TIMESTAMP '2025-02-11 00:00:00'",
       10},
      {"warehouse_id = 'WH-02' OR warehouse_id = 'WH-03'", 600},
      {"warehouse_id IN ('WH-01', 'WH-02')", 600},
      {"event_type = 'a'", 600},
      {"window_start > TIMESTAMP '2025-03-01 00:00:00'", 600},
      {"warehouse_id = 'WH-09'", 0},
  };
  for (const Case& c : cases) {
    Result<store::RowFilter> filter = CompileViewFilter(plan_, c.where);
    ASSERT_TRUE(filter.ok()) << c.where << ": " << filter.status().ToString();
    int evaluated = 0;
    auto counting = [&](std::string_view row) {
      ++evaluated;
      return filter->keep(row);
    };
    Result<std::string> ranged = view_->SnapshotJson(counting, nullptr, filter->from, filter->to);
    ASSERT_TRUE(ranged.ok());
    EXPECT_EQ(evaluated, c.rows_read) << c.where;
    Result<std::string> full = view_->SnapshotJson(filter->keep);
    ASSERT_TRUE(full.ok());
    EXPECT_EQ(*ranged, *full) << c.where;
  }
}

// A query never answers from part of a view: a failed read of its stored rows fails it.
TEST_F(ViewQueryTest, AFailedStoreReadFailsTheQuery) {
  auto view = std::make_shared<store::View>(store::ViewDefinition{"per_day", {}, {}, ""});
  view->UseStore(std::make_shared<test_support::UnreadableRows>(), 10);
  table_ = std::make_shared<ViewQueryTable>(plan_, view);
  auto statements = sql::Parse("SELECT count(*) FROM per_day WHERE warehouse_id = 'WH-01'");
  ASSERT_TRUE(statements.ok());
  OneView catalog(table_);
  auto result = sql::ExecuteQuery(std::get<sql::Query>(statements->at(0).node), catalog);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("the disk is gone"), std::string::npos)
      << result.status().ToString();
}

}  // namespace
}  // namespace sluice::app
