#include "sql/query.h"

#include <map>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "sql/parser.h"

namespace sluice::sql {
namespace {

class FakeTable : public QueryTable {
 public:
  FakeTable(std::vector<QueryColumn> columns, std::vector<std::string> rows)
      : columns_(std::move(columns)), rows_(std::move(rows)) {}
  const std::vector<QueryColumn>& columns() const override { return columns_; }
  uint64_t Scan(const std::function<void(std::string_view)>& row) const override {
    for (const std::string& r : rows_) row(r);
    return 7;
  }

 private:
  std::vector<QueryColumn> columns_;
  std::vector<std::string> rows_;
};

class FakeCatalog : public QueryCatalog {
 public:
  FakeCatalog() {
    views_["per_minute"] = std::make_shared<FakeTable>(
        std::vector<QueryColumn>{{"warehouse_id", Type::kAny},
                                 {"window_start", Type::kTimestamp},
                                 {"events", Type::kBigint},
                                 {"amount", Type::kAny},
                                 {"rate", Type::kDouble}},
        std::vector<std::string>{
            R"({"warehouse_id":"WH-1","window_start":"2026-11-25T08:00:00Z","events":3,"amount":100,"rate":0.5})",
            R"({"warehouse_id":"WH-1","window_start":"2026-11-25T08:01:00Z","events":5,"amount":null,"rate":1})",
            R"({"warehouse_id":"WH-2","window_start":"2026-11-25T08:00:00Z","events":5,"amount":250,"rate":2.5})",
            R"({"warehouse_id":null,"window_start":"2026-11-25T08:01:00Z","events":1,"amount":7,"rate":null})",
            R"({"warehouse_id":"WH-2","window_start":"2026-11-25T08:02:00Z","events":9223372036854775807,"amount":1,"rate":0})",
        });
    views_["empty"] = std::make_shared<FakeTable>(
        std::vector<QueryColumn>{{"k", Type::kVarchar}, {"n", Type::kBigint}},
        std::vector<std::string>{});
  }
  std::shared_ptr<const QueryTable> FindView(std::string_view name) const override {
    auto it = views_.find(std::string(name));
    return it == views_.end() ? nullptr : it->second;
  }
  std::vector<std::string> ViewNames() const override {
    std::vector<std::string> names;
    for (const auto& [name, v] : views_) names.push_back(name);
    return names;
  }
  bool IsStream(std::string_view name) const override { return name == "fulfilment"; }

 private:
  std::map<std::string, std::shared_ptr<const QueryTable>> views_;
};

Result<QueryResult> RunQuery(std::string_view sql, const QueryLimits& limits = {}) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<Statement> statements, Parse(sql));
  EXPECT_EQ(statements.size(), 1u);
  const auto* query = std::get_if<Query>(&statements.at(0).node);
  EXPECT_NE(query, nullptr);
  FakeCatalog catalog;
  return ExecuteQuery(*query, catalog, limits);
}

// The result as text: "col:TYPE,...|v,v|v,v" (values as CAST to VARCHAR, NULL as "null").
std::string Text(std::string_view sql) {
  Result<QueryResult> r = RunQuery(sql);
  if (!r.ok()) return "error: " + r.status().message();
  std::string out;
  for (const QueryColumn& c : r->columns)
    out += (out.empty() ? "" : ",") + c.name + ":" + std::string(TypeName(c.type));
  for (size_t i = 0; i < r->row_count(); ++i) {
    out += "|";
    bool first = true;
    for (const Value& v : r->row(i)) {
      if (!first) out += ",";
      first = false;
      if (v.is_null())
        out += "null";
      else
        AppendText(out, v);
    }
  }
  return out;
}

std::string Error(std::string_view sql) {
  Result<QueryResult> r = RunQuery(sql);
  return r.ok() ? "OK" : r.status().message();
}

TEST(QueryTest, ProjectsFiltersOrdersAndLimits) {
  EXPECT_EQ(Text("SELECT warehouse_id AS wh, events * 2 AS twice FROM per_minute "
                 "WHERE events < 100 ORDER BY events DESC, wh LIMIT 2"),
            "wh:ANY,twice:BIGINT|WH-1,10|WH-2,10");
  EXPECT_EQ(Text("SELECT events FROM per_minute ORDER BY 1 LIMIT 2 OFFSET 1"), "events:BIGINT|3|5");
  EXPECT_EQ(Text("SELECT events FROM per_minute ORDER BY 1 OFFSET 10"), "events:BIGINT");
  // The view's row order is kept without ORDER BY, and for ties.
  EXPECT_EQ(Text("SELECT rate FROM per_minute"), "rate:DOUBLE|0.5|1.0|2.5|null|0.0");
}

TEST(QueryTest, ReadsTypedColumns) {
  EXPECT_EQ(Text("SELECT window_start + INTERVAL '1' MINUTE AS next, "
                 "date_trunc('hour', window_start) AS hour FROM per_minute "
                 "WHERE window_start >= '2026-11-25T08:01:00Z' ORDER BY next, 1 LIMIT 1"),
            "next:TIMESTAMP,hour:TIMESTAMP|2026-11-25 08:02:00,2026-11-25 08:00:00");
  // rate is DOUBLE: the 1 in the JSON is read as 1.0.
  EXPECT_EQ(Text("SELECT rate / 4 AS q FROM per_minute WHERE events = 5 ORDER BY q"),
            "q:DOUBLE|0.25|0.625");
}

TEST(QueryTest, StarAndQualifiedNames) {
  EXPECT_EQ(Text("SELECT * FROM per_minute WHERE events = 1"),
            "warehouse_id:ANY,window_start:TIMESTAMP,events:BIGINT,amount:ANY,rate:DOUBLE"
            "|null,2026-11-25 08:01:00,1,7,null");
  EXPECT_EQ(Text("SELECT p.events, per_minute.amount FROM per_minute AS p WHERE p.events = 1"),
            "events:BIGINT,amount:ANY|1,7");
  EXPECT_EQ(Text("SELECT p.* FROM per_minute p WHERE events = 1 LIMIT 0"),
            "warehouse_id:ANY,window_start:TIMESTAMP,events:BIGINT,amount:ANY,rate:DOUBLE");
}

TEST(QueryTest, NullsSortLastByDefaultInBothDirections) {
  EXPECT_EQ(Text("SELECT rate FROM per_minute ORDER BY rate"), "rate:DOUBLE|0.0|0.5|1.0|2.5|null");
  EXPECT_EQ(Text("SELECT rate FROM per_minute ORDER BY rate DESC"),
            "rate:DOUBLE|2.5|1.0|0.5|0.0|null");
  EXPECT_EQ(Text("SELECT rate FROM per_minute ORDER BY rate DESC NULLS FIRST"),
            "rate:DOUBLE|null|2.5|1.0|0.5|0.0");
  EXPECT_EQ(Text("SELECT warehouse_id FROM per_minute ORDER BY warehouse_id NULLS FIRST, events"),
            "warehouse_id:ANY|null|WH-1|WH-1|WH-2|WH-2");
}

TEST(QueryTest, Aggregates) {
  EXPECT_EQ(Text("SELECT warehouse_id, count(*) AS n, sum(amount) AS amount, min(events), "
                 "max(window_start), avg(rate), count(amount) AS with_amount, "
                 "count(DISTINCT window_start) AS minutes "
                 "FROM per_minute WHERE events < 100 GROUP BY warehouse_id ORDER BY n DESC, 1"),
            "warehouse_id:ANY,n:BIGINT,amount:ANY,min:BIGINT,max:TIMESTAMP,avg:DOUBLE,"
            "with_amount:BIGINT,minutes:BIGINT"
            "|WH-1,2,100,3,2026-11-25 08:01:00,0.75,1,2"
            "|WH-2,1,250,5,2026-11-25 08:00:00,2.5,1,1"
            "|null,1,7,1,2026-11-25 08:01:00,null,1,1");
  // HAVING, ORDER BY an aggregate that is not selected, GROUP BY an output name and a position.
  EXPECT_EQ(Text("SELECT coalesce(warehouse_id, 'none') AS wh, sum(events) FILTER (WHERE "
                 "events < 100) AS small FROM per_minute GROUP BY wh HAVING count(*) > 1 "
                 "ORDER BY max(rate) DESC"),
            "wh:ANY,small:BIGINT|WH-2,5|WH-1,8");
  EXPECT_EQ(Text("SELECT date_trunc('hour', window_start), count(*) FROM per_minute GROUP BY 1"),
            "date_trunc:TIMESTAMP,count:BIGINT|2026-11-25 08:00:00,5");
  // The exact 128-bit sum leaves BIGINT when it does not fit.
  EXPECT_EQ(Text("SELECT sum(events) > 9.2e18 AS big FROM per_minute"), "big:BOOLEAN|true");
}

TEST(QueryTest, AggregatesWithoutGroupByGiveOneRowEvenOverNothing) {
  EXPECT_EQ(Text("SELECT count(*), sum(n), min(k), avg(n) FROM empty"),
            "count:BIGINT,sum:BIGINT,min:VARCHAR,avg:DOUBLE|0,null,null,null");
  EXPECT_EQ(Text("SELECT k, count(*) FROM empty GROUP BY k"), "k:VARCHAR,count:BIGINT");
  EXPECT_EQ(Text("SELECT count(*) AS n FROM per_minute HAVING count(*) > 10"), "n:BIGINT");
}

TEST(QueryTest, DistinctAndConstants) {
  EXPECT_EQ(Text("SELECT DISTINCT warehouse_id FROM per_minute ORDER BY warehouse_id"),
            "warehouse_id:ANY|WH-1|WH-2|null");
  EXPECT_EQ(Text("SELECT 1 + 1 AS two, 'x' || 'y' AS xy"), "two:BIGINT,xy:VARCHAR|2,xy");
}

TEST(QueryTest, ErrorsPointAtTheProblem) {
  EXPECT_EQ(Error("SELECT * FROM per_minut"),
            "line 1, column 15: unknown view 'per_minut' (did you mean 'per_minute'?)");
  EXPECT_EQ(Error("SELECT * FROM fulfilment"),
            "line 1, column 15: 'fulfilment' is a stream; queries read materialized views: "
            "create one over it (CREATE MATERIALIZED VIEW ... AS SELECT ... FROM fulfilment) and "
            "query that");
  EXPECT_EQ(Error("SELECT events\nFROM per_minute\nWHERE evnts > 1"),
            "line 3, column 7: unknown column 'evnts' (did you mean 'events'?); view "
            "'per_minute' has the columns warehouse_id, window_start, events, amount, rate");
  EXPECT_EQ(Error("SELECT lower(events) FROM per_minute"),
            "line 1, column 14: argument 1 of lower(VARCHAR) -> VARCHAR must be VARCHAR, found "
            "BIGINT");
  EXPECT_EQ(Error("SELECT warehouse_id, events FROM per_minute GROUP BY warehouse_id"),
            "line 1, column 22: column 'events' must appear in GROUP BY or be used in an "
            "aggregate");
  EXPECT_EQ(Error("SELECT events FROM per_minute WHERE count(*) > 1"),
            "line 1, column 37: aggregate 'count' is not allowed here (in WHERE; use HAVING to "
            "filter on aggregates)");
  EXPECT_EQ(Error("SELECT events FROM per_minute WHERE events"),
            "line 1, column 37: WHERE must be BOOLEAN, found BIGINT");
  EXPECT_EQ(Error("SELECT events FROM per_minute ORDER BY 3"),
            "line 1, column 40: ORDER BY position 3 is not in the select list (1 to 1)");
  EXPECT_EQ(Error("SELECT approx_percentile(events, 0.5) FROM per_minute"),
            "line 1, column 8: 'approx_percentile' is not an aggregate queries support "
            "(supported: count, count(DISTINCT x), sum, min, max, avg)");
  EXPECT_EQ(Error("SELECT * FROM per_minute a JOIN empty b ON a.events = b.n"),
            "line 1, column 33: joins are not supported in queries yet; query one view");
  EXPECT_EQ(
      Error("SELECT * FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE)").substr(0, 60),
      "line 1, column 15: window functions read streams; a query re");
  EXPECT_EQ(Error("SELECT DISTINCT warehouse_id FROM per_minute ORDER BY events"),
            "line 1, column 55: with SELECT DISTINCT, ORDER BY expressions must appear in the "
            "select list");
}

TEST(QueryTest, DataErrorsFailTheQueryAtTheirPosition) {
  EXPECT_EQ(Error("SELECT events + 1 FROM per_minute"),
            "line 1, column 8: BIGINT out of range: 9223372036854775807 + 1");
  EXPECT_EQ(Error("SELECT CAST(warehouse_id AS BIGINT) FROM per_minute"),
            "line 1, column 8: invalid input for BIGINT: 'WH-1'");
}

TEST(QueryTest, LimitsTheResultAndTheWork) {
  QueryLimits limits;
  limits.max_result_rows = 2;
  EXPECT_TRUE(RunQuery("SELECT events FROM per_minute LIMIT 2", limits).ok());
  Result<QueryResult> r = RunQuery("SELECT events FROM per_minute", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "line 1, column 8: the result has 5 rows, more than the 2 a query may return; add "
            "LIMIT (and OFFSET to page)");
  limits.max_working_rows = 3;
  r = RunQuery("SELECT events FROM per_minute LIMIT 1", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than 3 rows before ORDER BY"), std::string::npos);
}

TEST(QueryTest, ReportsTheViewAndVersionRead) {
  Result<QueryResult> r = RunQuery("SELECT count(*) FROM per_minute");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->view, "per_minute");
  EXPECT_EQ(r->view_version, 7u);
}

}  // namespace
}  // namespace sluice::sql
