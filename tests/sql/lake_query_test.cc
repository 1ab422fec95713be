// Queries over tables that scan by values (the lake): FROM lake.<table>, time travel, the
// columns and constraints handed to the table, and the errors.
#include <map>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "sql/parser.h"
#include "sql/query.h"

namespace sluice::sql {
namespace {

// 2026-11-27T08:00:00Z
constexpr int64_t kT0 = 1795766400ll * 1'000'000;

// A table of typed rows that records what the engine asked for.
class ValueTable : public QueryTable {
 public:
  ValueTable() {
    columns_ = {{"occurred_at", Type::kTimestamp},
                {"warehouse_id", Type::kVarchar},
                {"amount_minor", Type::kBigint},
                {"score", Type::kDouble},
                {"ok", Type::kBoolean},
                {"_raw", Type::kVarchar}};
    for (int i = 0; i < 10; ++i) {
      texts_.push_back("WH-" + std::to_string(i % 3));
      raws_.push_back("{\"i\":" + std::to_string(i) + "}");
    }
    for (int i = 0; i < 10; ++i)
      rows_.push_back({Value::Timestamp(kT0 + i * 600'000'000ll), Value::Varchar(texts_[i]),
                       Value::Bigint(i * 100), i % 2 ? Value::Double(i * 0.5) : Value(),
                       Value::Boolean(i % 2 == 0), Value::Varchar(raws_[i])});
  }
  const std::vector<QueryColumn>& columns() const override { return columns_; }
  uint64_t Scan(const std::function<void(std::string_view)>&) const override {
    ADD_FAILURE() << "a value table is never scanned as JSON";
    return 0;
  }
  bool ScansValues() const override { return true; }
  Result<ValueScanInfo> ScanValues(
      const ValueScanRequest& request,
      const std::function<bool(std::span<const Value>)>& row) const override {
    last_request = request;
    rows_delivered = 0;
    std::vector<Value> values(columns_.size());
    for (const std::vector<Value>& r : rows_) {
      for (size_t c : request.columns) values[c] = r[c];
      ++rows_delivered;
      if (!row(values)) break;
    }
    ValueScanInfo info;
    info.version = 42;
    info.details = {{"files", 1}};
    return info;
  }

  mutable ValueScanRequest last_request;
  mutable size_t rows_delivered = 0;

 private:
  std::vector<QueryColumn> columns_;
  std::vector<std::string> texts_, raws_;
  std::vector<std::vector<Value>> rows_;
};

class LakeCatalog : public QueryCatalog {
 public:
  std::shared_ptr<const QueryTable> FindView(std::string_view name) const override {
    if (name != "per_minute") return nullptr;
    return table;  // a view that happens to scan by values: time travel is still refused
  }
  std::vector<std::string> ViewNames() const override { return {"per_minute"}; }
  bool IsStream(std::string_view name) const override {
    return name == "orders" || name == "payments";
  }
  Result<std::shared_ptr<const QueryTable>> FindLakeTable(
      std::string_view name, const std::optional<AsOf>& as_of) const override {
    last_as_of = as_of;
    if (name != "orders") return std::shared_ptr<const QueryTable>();
    if (as_of && as_of->kind == AsOf::Kind::kVersion && as_of->value == 99)
      return Status::InvalidArgument("lake table 'orders' has no snapshot 99");
    return std::shared_ptr<const QueryTable>(table);
  }
  std::vector<std::string> LakeTableNames() const override { return {"orders"}; }

  std::shared_ptr<ValueTable> table = std::make_shared<ValueTable>();
  mutable std::optional<AsOf> last_as_of;
};

struct LakeRun {
  LakeCatalog catalog;
  Result<QueryResult> result = Status::Internal("not run");

  explicit LakeRun(std::string_view sql) {
    Result<std::vector<Statement>> statements = Parse(sql);
    if (!statements.ok()) {
      result = statements.status();
      return;
    }
    result = ExecuteQuery(std::get<Query>(statements->at(0).node), catalog);
  }
  std::string Text() const {
    if (!result.ok()) return "error: " + result.status().message();
    std::string out;
    for (size_t i = 0; i < result->row_count(); ++i) {
      out += i == 0 ? "" : "|";
      bool first = true;
      for (const Value& v : result->row(i)) {
        out += first ? "" : ",";
        first = false;
        if (v.is_null()) {
          out += "null";
        } else {
          std::string json;
          AppendJson(json, v);
          out += json;
        }
      }
    }
    return out;
  }
  const ValueScanRequest& request() const { return catalog.table->last_request; }
};

std::string Describe(const ColumnConstraint& c) {
  auto text = [](const std::optional<Value>& v) {
    if (!v) return std::string("-");
    std::string json;
    AppendJson(json, *v);
    return json;
  };
  return std::to_string(c.column) + (c.lower_inclusive ? "[" : "(") + text(c.lower) + "," +
         text(c.upper) + (c.upper_inclusive ? "]" : ")");
}

std::string Constraints(const LakeRun& run) {
  std::string out;
  for (const ColumnConstraint& c : run.request().constraints)
    out += (out.empty() ? "" : " ") + Describe(c);
  return out;
}

TEST(LakeQueryTest, AggregatesTypedValues) {
  LakeRun run(
      "SELECT warehouse_id, count(*), sum(amount_minor), count(DISTINCT ok), max(score) "
      "FROM lake.orders GROUP BY 1 ORDER BY 1");
  EXPECT_EQ(run.Text(), R"("WH-0",4,1800,2,4.5|"WH-1",3,1200,2,3.5|"WH-2",3,1500,2,2.5)");
  EXPECT_EQ(run.result->view, "lake.orders");
  EXPECT_EQ(run.result->view_version, 42u);
  ASSERT_EQ(run.result->scan_details.size(), 1u);
  EXPECT_EQ(run.result->scan_details[0].first, "files");
  // Only the columns the query reads.
  EXPECT_EQ(run.request().columns, (std::vector<size_t>{1, 2, 3, 4}));
  EXPECT_TRUE(run.request().constraints.empty());
}

TEST(LakeQueryTest, CountStarReadsNoColumn) {
  LakeRun run("SELECT count(*) FROM lake.orders");
  EXPECT_EQ(run.Text(), "10");
  EXPECT_TRUE(run.request().columns.empty());
  LakeRun raw("SELECT count(*) FROM lake.orders o WHERE o._raw LIKE '%\"i\":3}'");
  EXPECT_EQ(raw.Text(), "1");
  EXPECT_EQ(raw.request().columns, (std::vector<size_t>{5}));
}

TEST(LakeQueryTest, PassesTheConstraintsOfWhere) {
  LakeRun run(
      "SELECT count(*) FROM lake.orders WHERE occurred_at >= '2026-11-27T08:10:00Z' AND "
      "occurred_at < TIMESTAMP '2026-11-27 09:00:00' AND amount_minor BETWEEN 100 AND 800 AND "
      "warehouse_id = 'WH-1' AND 7 < amount_minor AND score IN (0.5, 3.5, 1) AND "
      "(amount_minor > 1 OR ok) AND ok = false AND amount_minor <= 2.5 * 100 AND "
      "occurred_at > DATE '2026-11-26'");
  EXPECT_EQ(run.Text(), "1");  // i = 1 (100, WH-1, 0.5)
  EXPECT_EQ(Constraints(run),
            "0[\"2026-11-27T08:10:00Z\",-] 0[-,\"2026-11-27T09:00:00Z\") 2[100,800] "
            "1[\"WH-1\",\"WH-1\"] 2(7,-] 3[0.5,3.5] 4[false,false] 2[-,250.0] "
            "0(\"2026-11-26T00:00:00Z\",-]");
  // Not constraints: OR, NOT, <>, NOT BETWEEN, functions of the column, NULL, columns on both
  // sides.
  LakeRun none(
      "SELECT count(*) FROM lake.orders WHERE NOT (amount_minor > 5) AND amount_minor <> 3 "
      "AND amount_minor NOT BETWEEN 1 AND 2 AND amount_minor + 1 > 5 AND "
      "amount_minor > NULL AND amount_minor > score AND lower(warehouse_id) = 'wh-1' AND "
      "score NOT IN (1, 2)");
  EXPECT_EQ(Constraints(none), "");
}

TEST(LakeQueryTest, StopsTheScanAtTheLimitWhenNothingElseNeedsTheRows) {
  LakeRun run("SELECT amount_minor FROM lake.orders LIMIT 2 OFFSET 1");
  EXPECT_EQ(run.Text(), "100|200");
  EXPECT_EQ(run.catalog.table->rows_delivered, 3u);
  LakeRun ordered("SELECT amount_minor FROM lake.orders ORDER BY 1 DESC LIMIT 2");
  EXPECT_EQ(ordered.Text(), "900|800");
  EXPECT_EQ(ordered.catalog.table->rows_delivered, 10u);
}

TEST(LakeQueryTest, EvaluatesTheTimeTravelClause) {
  LakeRun at("SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF '2026-11-27 08:00:00'");
  ASSERT_TRUE(at.result.ok()) << at.result.status().ToString();
  ASSERT_TRUE(at.catalog.last_as_of.has_value());
  EXPECT_EQ(at.catalog.last_as_of->kind, AsOf::Kind::kSystemTime);
  EXPECT_EQ(at.catalog.last_as_of->value, kT0);
  LakeRun rfc("SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF '2026-11-27T09:00:00+01:00'");
  EXPECT_EQ(rfc.catalog.last_as_of->value, kT0);
  LakeRun expr(
      "SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF TIMESTAMP '2026-11-27 07:00:00' + "
      "INTERVAL '1' HOUR AS o WHERE o.amount_minor > 0");
  ASSERT_TRUE(expr.result.ok()) << expr.result.status().ToString();
  EXPECT_EQ(expr.catalog.last_as_of->value, kT0);
  LakeRun version("SELECT count(*) FROM lake.orders FOR VERSION AS OF 3");
  EXPECT_EQ(version.catalog.last_as_of->kind, AsOf::Kind::kVersion);
  EXPECT_EQ(version.catalog.last_as_of->value, 3);
  LakeRun current("SELECT count(*) FROM lake.orders");
  EXPECT_FALSE(current.catalog.last_as_of.has_value());
}

TEST(LakeQueryTest, ErrorsSayWhereAndWhat) {
  EXPECT_EQ(LakeRun("SELECT count(*) FROM lake.ordrs").Text(),
            "error: line 1, column 22: unknown lake table 'ordrs' (did you mean 'lake.orders'?)");
  EXPECT_EQ(LakeRun("SELECT count(*) FROM lake.payments").Text(),
            "error: line 1, column 22: unknown lake table 'payments': stream 'payments' is not "
            "archived; create it WITH (archive = 'on') to keep its events in the lake");
  EXPECT_EQ(LakeRun("SELECT count(*) FROM lake.x").Text(),
            "error: line 1, column 22: unknown lake table 'x' (the lake has orders)");
  EXPECT_EQ(LakeRun("SELECT count(*) FROM lake.orders FOR VERSION AS OF 99").Text(),
            "error: line 1, column 52: lake table 'orders' has no snapshot 99");
  EXPECT_EQ(LakeRun("SELECT count(*) FROM per_minute FOR VERSION AS OF 1").Text(),
            "error: line 1, column 51: FOR SYSTEM_TIME / VERSION AS OF reads the lake (FROM "
            "lake.<name>: a stream's archive or a view kept WITH (lake = 'on')); 'per_minute' is "
            "not a lake table");
  EXPECT_EQ(LakeRun("SELECT count(*) FROM orders FOR VERSION AS OF 1").Text(),
            "error: line 1, column 47: FOR SYSTEM_TIME / VERSION AS OF reads the lake (FROM "
            "lake.<name>: a stream's archive or a view kept WITH (lake = 'on')); 'orders' is not "
            "a lake table (did you mean 'lake.orders'?)");
  EXPECT_EQ(LakeRun("SELECT count(*) FROM lake.per_minute").Text(),
            "error: line 1, column 22: unknown lake table 'per_minute': view 'per_minute' is not "
            "kept in the lake; create it WITH (lake = 'on') to keep its history there");
  EXPECT_EQ(LakeRun("SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF 'yesterday'").Text(),
            "error: line 1, column 56: invalid input for TIMESTAMP: 'yesterday' (expected RFC "
            "3339, e.g. '2026-11-25T08:30:00Z')");
  EXPECT_EQ(LakeRun("SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF 5").Text(),
            "error: line 1, column 56: FOR SYSTEM_TIME AS OF must be TIMESTAMP, found BIGINT");
  EXPECT_EQ(LakeRun("SELECT count(*) FROM lake.orders FOR VERSION AS OF NULL").Text(),
            "error: line 1, column 52: FOR VERSION AS OF cannot be NULL");
  EXPECT_EQ(LakeRun("SELECT count(*) FROM lake.orders FOR VERSION AS OF amount_minor").Text(),
            "error: line 1, column 52: unknown column 'amount_minor'; FOR VERSION AS OF takes a "
            "constant");
  EXPECT_EQ(LakeRun("SELECT nope FROM lake.orders").Text(),
            "error: line 1, column 8: unknown column 'nope'; lake table 'orders' has the columns "
            "occurred_at, warehouse_id, amount_minor, score, ok, _raw");
}

}  // namespace
}  // namespace sluice::sql
