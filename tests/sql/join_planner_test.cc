// Planning of CREATE TABLE and of joins in materialized views: plans, and errors at their
// line and column.
#include <map>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "base/clock.h"
#include "sql/parser.h"
#include "sql/planner.h"

namespace sluice::sql {
namespace {

class JoinCatalog : public PlannerCatalog {
 public:
  JoinCatalog() {
    StreamSpec fulfilment;
    fulfilment.name = "fulfilment";
    streams_["fulfilment"] = fulfilment;
    StreamSpec other;
    other.name = "orders";
    streams_["orders"] = other;
    TableSpec warehouses;
    warehouses.name = "warehouses";
    warehouses.columns = {{"warehouse_id", Type::kVarchar, "VARCHAR"},
                          {"region", Type::kVarchar, "VARCHAR"},
                          {"capacity", Type::kBigint, "BIGINT"}};
    warehouses.primary_key = {0};
    tables_["warehouses"] = warehouses;
    TableSpec skus;
    skus.name = "skus";
    skus.columns = {{"warehouse_id", Type::kVarchar, "VARCHAR"},
                    {"sku", Type::kVarchar, "VARCHAR"},
                    {"category", Type::kVarchar, "VARCHAR"}};
    skus.primary_key = {0, 1};
    tables_["skus"] = skus;
  }
  const StreamSpec* FindStream(std::string_view name) const override {
    auto it = streams_.find(std::string(name));
    return it == streams_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> StreamNames() const override { return {"fulfilment", "orders"}; }
  bool IsView(std::string_view name) const override { return name == "events_per_minute"; }
  const TableSpec* FindTable(std::string_view name) const override {
    auto it = tables_.find(std::string(name));
    return it == tables_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, StreamSpec> streams_;
  std::map<std::string, TableSpec> tables_;
};

Result<ViewPlan> PlanText(std::string_view sql) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<Statement> statements, Parse(sql));
  const auto* create = std::get_if<CreateMaterializedView>(&statements.at(0).node);
  EXPECT_NE(create, nullptr);
  JoinCatalog catalog;
  return PlanView(*create, catalog);
}

std::string Error(std::string_view sql) {
  Result<ViewPlan> plan = PlanText(sql);
  return plan.ok() ? "OK" : plan.status().message();
}

Result<TableSpec> TableText(std::string_view sql) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<Statement> statements, Parse(sql));
  return PlanTable(std::get<CreateTable>(statements.at(0).node));
}

std::string TableError(std::string_view sql) {
  Result<TableSpec> spec = TableText(sql);
  return spec.ok() ? "OK" : spec.status().message();
}

TEST(TablePlannerTest, PlansColumnsAndKeys) {
  Result<TableSpec> spec = TableText(
      "CREATE TABLE skus (warehouse_id VARCHAR(8), sku TEXT, weight DOUBLE, added DATE, "
      "PRIMARY KEY (warehouse_id, sku))");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->name, "skus");
  ASSERT_EQ(spec->columns.size(), 4u);
  EXPECT_EQ(spec->columns[0].type, Type::kVarchar);
  EXPECT_EQ(spec->columns[0].type_sql, "VARCHAR(8)");
  EXPECT_EQ(spec->columns[2].type, Type::kDouble);
  EXPECT_EQ(spec->columns[3].type, Type::kDate);
  EXPECT_EQ(spec->primary_key, (std::vector<int>{0, 1}));
  Result<TableSpec> inline_key =
      TableText("CREATE TABLE w (id BIGINT PRIMARY KEY, region VARCHAR)");
  ASSERT_TRUE(inline_key.ok()) << inline_key.status().message();
  EXPECT_EQ(inline_key->primary_key, (std::vector<int>{0}));
}

TEST(TablePlannerTest, Errors) {
  EXPECT_EQ(TableError("CREATE TABLE w (id BIGINT, region VARCHAR)"),
            "line 1, column 14: table 'w' needs a primary key: rows are upserted and looked up "
            "by it, e.g. PRIMARY KEY (id)");
  EXPECT_EQ(TableError("CREATE TABLE w (id BIGINT PRIMARY KEY, gap INTERVAL)"),
            "line 1, column 40: INTERVAL columns are not supported in tables");
  EXPECT_EQ(TableError("CREATE TABLE w (id BIGINT PRIMARY KEY, _deleted BOOLEAN)"),
            "line 1, column 40: column names starting with '_' are reserved (_deleted marks a "
            "row to delete): rename '_deleted'");
  EXPECT_EQ(TableError("CREATE TABLE w (doc JSON PRIMARY KEY)"),
            "line 1, column 17: a JSON column cannot be part of the primary key");
  EXPECT_EQ(TableError("CREATE TABLE w (id BIGINT PRIMARY KEY) WITH (x = 1)"),
            "line 1, column 46: unknown option 'x': tables have no options yet");
}

constexpr std::string_view kPerRegion =
    "CREATE MATERIALIZED VIEW per_region AS\n"
    "SELECT w.region, window_start, count(*) AS events, max(w.capacity) AS capacity\n"
    "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) AS e\n"
    "JOIN warehouses AS w ON e.warehouse_id = w.warehouse_id\n"
    "WHERE w.region <> 'test'\n"
    "GROUP BY w.region, window_start";

TEST(JoinPlannerTest, LookupJoin) {
  Result<ViewPlan> plan = PlanText(kPerRegion);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_TRUE(plan->lookup.has_value());
  EXPECT_FALSE(plan->interval_join.has_value());
  EXPECT_EQ(plan->lookup->table, "warehouses");
  EXPECT_FALSE(plan->lookup->left);
  EXPECT_EQ(plan->lookup->first_column, ViewPlan::kInputColumns);
  EXPECT_EQ(plan->extra_columns, 3);
  ASSERT_EQ(plan->lookup->keys.size(), 1u);
  // The event's warehouse_id, read as the key column's type.
  EXPECT_EQ(plan->lookup->keys[0].type, Type::kVarchar);
  // GROUP BY w.region reads the joined column region.
  ASSERT_EQ(plan->keys.size(), 1u);
  EXPECT_EQ(plan->keys[0].kind, BoundExpr::Kind::kColumn);
  EXPECT_EQ(plan->keys[0].column, ViewPlan::kInputColumns + 1);
  EXPECT_EQ(plan->keys[0].type, Type::kVarchar);
  ASSERT_TRUE(plan->where.has_value());
  EXPECT_EQ(plan->aggregates[1].result_type, Type::kBigint);

  Result<ViewPlan> left = PlanText(
      "CREATE MATERIALIZED VIEW v AS SELECT s.category, count(*) AS n FROM fulfilment e "
      "LEFT JOIN skus s ON s.sku = e.lines[1].sku AND e.warehouse_id = s.warehouse_id "
      "GROUP BY s.category");
  ASSERT_TRUE(left.ok()) << left.status().message();
  EXPECT_TRUE(left->lookup->left);
  ASSERT_EQ(left->lookup->keys.size(), 2u);  // in primary key order: warehouse_id, sku
  EXPECT_EQ(left->lookup->keys[0].args[0].path[0].name, "warehouse_id");
  EXPECT_EQ(left->lookup->keys[1].args[0].path[0].name, "lines");
}

TEST(JoinPlannerTest, IntervalJoin) {
  Result<ViewPlan> plan = PlanText(
      "CREATE MATERIALIZED VIEW pick_duration AS\n"
      "SELECT s.warehouse_id, window_start, count(*) AS picks,\n"
      "       avg(extract(epoch FROM c.occurred_at - s.occurred_at)) AS avg_seconds\n"
      "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) AS s\n"
      "JOIN fulfilment AS c ON s.order_id = c.order_id\n"
      "  AND c.occurred_at BETWEEN s.occurred_at AND s.occurred_at + INTERVAL '2' HOUR\n"
      "WHERE s.event_type = 'pick.started' AND c.event_type = 'pick.completed'\n"
      "  AND c.warehouse_id = s.warehouse_id\n"
      "GROUP BY s.warehouse_id, window_start");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_TRUE(plan->interval_join.has_value());
  const IntervalJoinSpec& j = *plan->interval_join;
  EXPECT_EQ(j.lower_micros, 0);
  EXPECT_EQ(j.upper_micros, 2 * kMicrosPerHour);
  ASSERT_EQ(j.keys[0].size(), 1u);
  ASSERT_EQ(j.keys[1].size(), 1u);
  EXPECT_TRUE(j.side_filter[0].has_value());  // s.event_type = 'pick.started'
  EXPECT_TRUE(j.side_filter[1].has_value());  // c.event_type = 'pick.completed'
  EXPECT_TRUE(plan->where.has_value());       // c.warehouse_id = s.warehouse_id: both sides
  // Side columns: s.warehouse_id, s.occurred_at (the event time), s.order_id, s.event_type...
  size_t time_columns = 0;
  for (int side = 0; side < 2; ++side)
    for (const FieldPath& p : j.side_paths[side]) time_columns += p.empty();
  EXPECT_EQ(time_columns, 2u);
  EXPECT_EQ(plan->extra_columns,
            static_cast<int>(j.side_columns[0].size() + j.side_columns[1].size()));

  // Bounds written the other way round, strictly, and from either side.
  Result<ViewPlan> other = PlanText(
      "CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment a JOIN fulfilment b "
      "ON a.order_id = b.order_id AND a.occurred_at < b.occurred_at + INTERVAL '10' MINUTE "
      "AND b.occurred_at <= a.occurred_at");
  ASSERT_TRUE(other.ok()) << other.status().message();
  // b - a > -10 min and b - a <= 0.
  EXPECT_EQ(other->interval_join->lower_micros, -10 * kMicrosPerMinute + 1);
  EXPECT_EQ(other->interval_join->upper_micros, 0);
}

TEST(JoinPlannerTest, ErrorsAtTheirPosition) {
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment e\n"
                  "JOIN warehouse w ON e.warehouse_id = w.warehouse_id"),
            "line 2, column 6: unknown table 'warehouse' (CREATE TABLE warehouse (..., PRIMARY "
            "KEY (...)) first)");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment e\n"
                  "JOIN warehouses w ON e.warehouse_id = w.region"),
            "line 2, column 22: w.region is not in the primary key of warehouses "
            "(warehouse_id): a lookup join probes the primary key; filter on other columns in "
            "WHERE");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment e\n"
                  "JOIN skus s ON e.warehouse_id = s.warehouse_id"),
            "line 2, column 16: the ON condition must give the whole primary key of skus "
            "(warehouse_id, sku); s.sku is missing");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment e\n"
                  "JOIN warehouses w ON e.warehouse_id <> w.warehouse_id"),
            "line 2, column 22: the ON condition of a lookup join is equalities between the "
            "event and the table's primary key (e.warehouse_id = w.warehouse_id), AND-ed; filter "
            "in WHERE");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment e\n"
                  "RIGHT JOIN warehouses w ON e.warehouse_id = w.warehouse_id"),
            "line 2, column 12: a lookup join keeps the stream's events: use JOIN (skip events "
            "without a match) or LEFT JOIN (NULLs for them), not RIGHT or FULL JOIN");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment e\n"
                  "JOIN warehouses w ON w.warehouse_id = w.region"),
            "line 2, column 39: this side of the equality must be computed from the event "
            "alone, not from warehouses's columns");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT w.nope, count(*) AS n FROM fulfilment e\n"
                  "JOIN warehouses w ON e.warehouse_id = w.warehouse_id GROUP BY w.nope"),
            "line 1, column 38: warehouses has no column 'nope' (its columns: warehouse_id, "
            "region, capacity)");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment e\n"
                  "JOIN orders o ON e.order_id = o.order_id"),
            "line 2, column 6: joins of two different streams are not supported yet; an "
            "interval join joins fulfilment with itself");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment e\n"
                  "JOIN warehouses w ON e.warehouse_id = w.warehouse_id\n"
                  "JOIN skus s ON s.sku = e.sku AND s.warehouse_id = e.warehouse_id"),
            "line 3, column 6: a view may have one JOIN (more are not supported yet)");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT w.region, window_start, count(*) AS n\n"
                  "FROM SESSION(fulfilment, occurred_at, INTERVAL '5' MINUTE) e\n"
                  "JOIN warehouses w ON e.warehouse_id = w.warehouse_id\n"
                  "GROUP BY w.region, window_start"),
            "line 3, column 6: joins are not supported with SESSION windows yet; use TUMBLE or "
            "HOP");
  // Interval joins.
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment\n"
                  "JOIN fulfilment ON order_id = order_id"),
            "line 2, column 6: a stream joined with itself needs an alias on each side: FROM "
            "fulfilment AS a JOIN fulfilment AS b");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment s\n"
                  "JOIN fulfilment c ON s.order_id = c.order_id"),
            "line 2, column 22: an interval join bounds the two sides' event times from below "
            "and above, so that its state is bounded: e.g. c.occurred_at BETWEEN s.occurred_at "
            "AND s.occurred_at + INTERVAL '2' HOUR");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment s\n"
                  "JOIN fulfilment c ON c.occurred_at >= s.occurred_at\n"
                  "  AND c.occurred_at <= s.occurred_at + INTERVAL '1' HOUR"),
            "line 2, column 22: an interval join needs an equality between the two sides, e.g. "
            "s.order_id = c.order_id");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM fulfilment s\n"
                  "LEFT JOIN fulfilment c ON s.order_id = c.order_id"),
            "line 2, column 11: only inner joins of two streams are supported (an outer "
            "interval join would emit unmatched events when their interval expires; not yet)");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT order_id, count(*) AS n\n"
                  "FROM fulfilment s JOIN fulfilment c ON s.order_id = c.order_id\n"
                  "AND c.occurred_at BETWEEN s.occurred_at AND s.occurred_at + INTERVAL '1' HOUR\n"
                  "GROUP BY order_id"),
            "line 1, column 38: column 'order_id' is ambiguous in a join of a stream with itself: "
            "write s.order_id or c.order_id");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n\n"
                  "FROM fulfilment s JOIN fulfilment c ON s.order_id = c.order_id\n"
                  "AND c.occurred_at BETWEEN s.occurred_at + INTERVAL '1' HOUR AND s.occurred_at"),
            "line 2, column 40: the join's time interval is empty: no pair of events can "
            "satisfy it");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n\n"
                  "FROM fulfilment s JOIN fulfilment c ON s.order_id = c.order_id\n"
                  "AND c.occurred_at BETWEEN s.occurred_at AND s.occurred_at + INTERVAL '1' HOUR\n"
                  "WHERE warehouse_id = 'WH-01'"),
            "line 4, column 7: unknown column 'warehouse_id'; in a join of a stream with itself, "
            "qualify every field with its side's alias: s.x or c.x");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n\n"
                  "FROM TUMBLE(fulfilment, shipped_at, INTERVAL '1' MINUTE) s\n"
                  "JOIN fulfilment c ON s.order_id = c.order_id\n"
                  "AND c.occurred_at BETWEEN s.occurred_at AND s.occurred_at + INTERVAL '1' HOUR\n"
                  "GROUP BY window_start"),
            "line 2, column 6: a view with an interval join windows on the stream's event time: "
            "TUMBLE(fulfilment, occurred_at, ...)");
  EXPECT_EQ(Error("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n\n"
                  "FROM fulfilment s JOIN TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) c\n"
                  "ON s.order_id = c.order_id"),
            "line 2, column 24: window the first FROM item, not the joined one: FROM "
            "TUMBLE(s, ...) AS a JOIN ...");
}

}  // namespace
}  // namespace sluice::sql
