#include "sql/planner.h"

#include <map>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "base/clock.h"
#include "sql/parser.h"

namespace sluice::sql {
namespace {

class TestCatalog : public PlannerCatalog {
 public:
  TestCatalog() {
    StreamSpec fulfilment;
    fulfilment.name = "fulfilment";
    streams_["fulfilment"] = fulfilment;
    StreamSpec typed;
    typed.name = "typed";
    typed.columns.push_back({"amount", Type::kBigint, "BIGINT"});
    typed.columns.push_back({"label", Type::kVarchar, "VARCHAR"});
    streams_["typed"] = typed;
  }
  const StreamSpec* FindStream(std::string_view name) const override {
    auto it = streams_.find(std::string(name));
    return it == streams_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> StreamNames() const override {
    std::vector<std::string> names;
    for (const auto& [name, s] : streams_) names.push_back(name);
    return names;
  }
  bool IsView(std::string_view name) const override { return name == "events_per_minute"; }

 private:
  std::map<std::string, StreamSpec> streams_;
};

Result<ViewPlan> PlanText(std::string_view sql) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<Statement> statements, Parse(sql));
  EXPECT_EQ(statements.size(), 1u);
  const auto* create = std::get_if<CreateMaterializedView>(&statements.at(0).node);
  EXPECT_NE(create, nullptr);
  TestCatalog catalog;
  return PlanView(*create, catalog);
}

// The error message of planning `sql`, or "OK".
std::string Error(std::string_view sql) {
  Result<ViewPlan> plan = PlanText(sql);
  return plan.ok() ? "OK" : plan.status().message();
}

constexpr std::string_view kEventsPerMinute =
    "CREATE MATERIALIZED VIEW events_per_minute WITH (retention = '2 years') AS\n"
    "  SELECT warehouse_id, event_type, window_start, count(*) AS events,\n"
    "         sum(amount_minor) AS amount_minor\n"
    "  FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE)\n"
    "  GROUP BY warehouse_id, event_type, window_start";

TEST(PlannerTest, PlansTheDefaultView) {
  Result<ViewPlan> plan = PlanText(kEventsPerMinute);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->name, "events_per_minute");
  EXPECT_EQ(plan->stream, "fulfilment");
  EXPECT_EQ(plan->window.kind, WindowKind::kTumble);
  EXPECT_EQ(plan->window.size_micros, kMicrosPerMinute);
  EXPECT_EQ(plan->window.slide_micros, kMicrosPerMinute);
  EXPECT_FALSE(plan->time.has_value());  // the log record's event time, not a re-parse
  EXPECT_FALSE(plan->where.has_value());
  ASSERT_EQ(plan->keys.size(), 2u);
  EXPECT_EQ(plan->keys[0].kind, BoundExpr::Kind::kField);
  ASSERT_EQ(plan->aggregates.size(), 2u);
  EXPECT_EQ(plan->aggregates[0].kind, AggregateKind::kCountStar);
  EXPECT_EQ(plan->aggregates[1].kind, AggregateKind::kSum);
  ASSERT_EQ(plan->columns.size(), 5u);
  std::vector<std::string> names;
  for (const OutputColumn& c : plan->columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"warehouse_id", "event_type", "window_start", "events",
                                             "amount_minor"}));
  EXPECT_EQ(plan->key_columns,
            (std::vector<std::string>{"warehouse_id", "event_type", "window_start"}));
  EXPECT_EQ(plan->columns[2].expr.column, plan->window_start_column());
  EXPECT_EQ(plan->columns[3].expr.column, plan->aggregate_column(0));
  EXPECT_EQ(plan->columns[3].type, Type::kBigint);
  EXPECT_EQ(plan->retention_micros, 730 * kMicrosPerDay);
  EXPECT_EQ(plan->emit, EmitMode::kOnUpdate);
  EXPECT_EQ(plan->watermark_delay_micros, 5 * kMicrosPerSecond);
}

TEST(PlannerTest, HopWindowsHavingExpressionsAndOrdinals) {
  Result<ViewPlan> plan = PlanText(
      "CREATE MATERIALIZED VIEW v WITH (emit = 'on_close', allowed_lateness = '30 seconds') AS "
      "SELECT lower(warehouse_id) AS wh, w.window_end, count(DISTINCT order_id) AS orders, "
      "       avg(amount_minor) FILTER (WHERE currency = 'EUR') AS eur, max(amount_minor) "
      "         - min(amount_minor) AS spread "
      "FROM HOP(fulfilment, occurred_at, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) AS w "
      "WHERE event_type LIKE 'payment.%' GROUP BY 1, window_end HAVING count(*) > 2");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->window.kind, WindowKind::kHop);
  EXPECT_EQ(plan->window.slide_micros, kMicrosPerMinute);
  EXPECT_EQ(plan->window.size_micros, 5 * kMicrosPerMinute);
  ASSERT_EQ(plan->keys.size(), 1u);
  EXPECT_EQ(plan->keys[0].kind, BoundExpr::Kind::kCall);
  // count(DISTINCT), avg FILTER, max, min, and count(*) from HAVING.
  ASSERT_EQ(plan->aggregates.size(), 5u);
  EXPECT_EQ(plan->aggregates[0].kind, AggregateKind::kCountDistinct);
  EXPECT_EQ(plan->aggregates[1].kind, AggregateKind::kAvg);
  EXPECT_TRUE(plan->aggregates[1].filter.has_value());
  EXPECT_EQ(plan->aggregates[4].kind, AggregateKind::kCountStar);
  EXPECT_TRUE(plan->having.has_value());
  EXPECT_TRUE(plan->where.has_value());
  EXPECT_EQ(plan->key_columns, (std::vector<std::string>{"wh", "window_end"}));
  EXPECT_EQ(plan->columns[1].expr.column, plan->window_end_column());
  EXPECT_EQ(plan->emit, EmitMode::kOnClose);
  EXPECT_EQ(plan->allowed_lateness_micros, 30 * kMicrosPerSecond);
}

TEST(PlannerTest, ApproximateAndOrderedAggregates) {
  Result<ViewPlan> plan = PlanText(
      "CREATE MATERIALIZED VIEW v AS SELECT event_type, approx_count_distinct(order_id) AS "
      "orders, approx_percentile(amount_minor, 0.95) AS p95, approx_percentile(amount_minor, 1) "
      "AS top, first_value(warehouse_id) AS first_wh, last_value(amount_minor) AS last_amount "
      "FROM fulfilment GROUP BY event_type");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->aggregates.size(), 5u);
  EXPECT_EQ(plan->aggregates[0].kind, AggregateKind::kApproxCountDistinct);
  EXPECT_EQ(plan->aggregates[0].result_type, Type::kBigint);
  EXPECT_EQ(plan->aggregates[1].kind, AggregateKind::kApproxPercentile);
  EXPECT_DOUBLE_EQ(plan->aggregates[1].fraction, 0.95);
  EXPECT_DOUBLE_EQ(plan->aggregates[2].fraction, 1.0);
  EXPECT_EQ(plan->aggregates[2].result_type, Type::kDouble);
  EXPECT_EQ(plan->aggregates[3].kind, AggregateKind::kFirstValue);
  EXPECT_EQ(plan->aggregates[4].kind, AggregateKind::kLastValue);
}

TEST(PlannerTest, UnwindowedAndOtherTimeColumns) {
  Result<ViewPlan> plan = PlanText(
      "CREATE MATERIALIZED VIEW v AS SELECT event_type, count(*) FROM fulfilment "
      "GROUP BY event_type");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->window.kind, WindowKind::kNone);
  EXPECT_EQ(plan->columns[1].name, "count");

  plan = PlanText(
      "CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) AS n "
      "FROM TUMBLE(fulfilment, promised_by, INTERVAL '1' HOUR) GROUP BY window_start");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_TRUE(plan->time.has_value());
  EXPECT_EQ(plan->time->type, Type::kTimestamp);

  // event_time is the record's time too; expression names default to their SQL text.
  plan = PlanText(
      "CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) + 1 "
      "FROM TUMBLE(fulfilment, event_time, INTERVAL '10' SECOND) GROUP BY window_start");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_FALSE(plan->time.has_value());
  EXPECT_EQ(plan->columns[1].name, "count(*) + 1");
}

TEST(PlannerTest, ErrorsAtTheirPosition) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"CREATE MATERIALIZED VIEW v AS SELECT count(*) FROM fulfilmnet",
       "line 1, column 52: unknown stream 'fulfilmnet' (did you mean 'fulfilment'?)"},
      {"CREATE MATERIALIZED VIEW v AS SELECT count(*) FROM events_per_minute",
       "line 1, column 52: 'events_per_minute' is a materialized view; views over views are not "
       "supported yet: read the stream instead"},
      {"CREATE MATERIALIZED VIEW v AS\nSELECT warehouse_id, event_type, count(*)\nFROM "
       "fulfilment GROUP BY warehouse_id",
       "line 2, column 22: column 'event_type' must appear in GROUP BY or be used in an "
       "aggregate"},
      {"CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) FROM fulfilment",
       "line 1, column 38: window_start needs a window: read the stream through TUMBLE(...) or "
       "HOP(...)"},
      {"CREATE MATERIALIZED VIEW v AS SELECT warehouse_id, count(*) FROM TUMBLE(fulfilment, "
       "occurred_at, INTERVAL '1' MINUTE) GROUP BY warehouse_id",
       "line 1, column 128: a view over TUMBLE must GROUP BY window_start (or window_end): its "
       "rows are per window"},
      {"CREATE MATERIALIZED VIEW v AS SELECT count(*) FROM fulfilment WHERE count(*) > 1",
       "line 1, column 69: aggregate 'count' is not allowed here (in WHERE; use HAVING to filter "
       "on aggregates)"},
      {"CREATE MATERIALIZED VIEW v AS SELECT sum(count(*)) FROM fulfilment",
       "line 1, column 42: aggregate calls cannot be nested"},
      {"CREATE MATERIALIZED VIEW v AS SELECT sum(event_type || 'x') FROM fulfilment",
       "line 1, column 42: sum needs a number, found VARCHAR"},
      {"CREATE MATERIALIZED VIEW v AS SELECT approx_percentile(amount_minor, 1.5) FROM "
       "fulfilment",
       "line 1, column 70: the fraction of approx_percentile must be a constant from 0 to 1, "
       "e.g. 0.95"},
      {"CREATE MATERIALIZED VIEW v AS SELECT approx_percentile(amount_minor, amount_minor) FROM "
       "fulfilment",
       "line 1, column 70: the fraction of approx_percentile must be a constant from 0 to 1, "
       "e.g. 0.95"},
      {"CREATE MATERIALIZED VIEW v AS SELECT first_value(DISTINCT x) FROM fulfilment",
       "line 1, column 38: first_value(DISTINCT ...) means nothing: drop DISTINCT"},
      {"CREATE MATERIALIZED VIEW v AS SELECT count(*) FROM fulfilment GROUP BY warehouse_id",
       "line 1, column 72: GROUP BY key warehouse_id must also be a column of the view: rows are "
       "identified by their keys"},
      {"CREATE MATERIALIZED VIEW v WITH (retension = '1 day') AS SELECT count(*) FROM "
       "fulfilment",
       "line 1, column 34: unknown option 'retension' (did you mean 'retention'?); the options "
       "are: retention, emit, allowed_lateness, backfill, lake, rollups"},
      {"CREATE MATERIALIZED VIEW v WITH (emit = 'sometimes') AS SELECT window_start, count(*) "
       "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) GROUP BY window_start",
       "line 1, column 41: emit must be 'on_update' or 'on_close', not 'sometimes'"},
      {"CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) FROM TUMBLE(fulfilment, "
       "occurred_at, INTERVAL '0' MINUTE) GROUP BY window_start",
       "line 1, column 98: the size of TUMBLE must be positive"},
      {"CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) FROM TUMBLE(fulfilment, "
       "occurred_at, size) GROUP BY window_start",
       "line 1, column 98: the size of TUMBLE must be a constant INTERVAL, e.g. INTERVAL '1' "
       "MINUTE"},
      {"CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) FROM SESSION(fulfilment, "
       "occurred_at, INTERVAL '1' MINUTE, order_id) GROUP BY window_start",
       "line 1, column 120: a SESSION window is keyed by the view's GROUP BY keys: GROUP BY "
       "this session key too"},
      {"CREATE MATERIALIZED VIEW v AS SELECT order_id, window_start, count(*) FROM "
       "SESSION(fulfilment, occurred_at, INTERVAL '1' MINUTE) WHERE window_end > TIMESTAMP "
       "'2026-01-01 00:00:00' GROUP BY order_id, window_start",
       "line 1, column 136: WHERE cannot read window_start or window_end of a SESSION window: "
       "they change as the session grows; use HAVING"},
      {"CREATE MATERIALIZED VIEW v AS SELECT * FROM fulfilment",
       "line 1, column 38: SELECT * is not supported in a materialized view; list the columns"},
      {"CREATE MATERIALIZED VIEW v AS SELECT event_type FROM fulfilment",
       "line 1, column 38: a materialized view aggregates: add GROUP BY or an aggregate such as "
       "count(*) (views of single events are not supported yet)"},
      {"CREATE MATERIALIZED VIEW v AS SELECT count(*), count(*) FROM fulfilment",
       "line 1, column 48: the view has two columns named 'count'; name one with AS"},
      {"CREATE MATERIALIZED VIEW v AS SELECT event_type, count(*) FROM fulfilment GROUP BY 3",
       "line 1, column 84: GROUP BY position 3 is not in the select list (1 to 2)"},
      {"CREATE MATERIALIZED VIEW v AS SELECT count(*) FROM fulfilment a JOIN nope b ON "
       "a.x = b.x",
       "line 1, column 70: unknown table 'nope' (CREATE TABLE nope (..., PRIMARY KEY (...)) "
       "first)"},
      {"CREATE MATERIALIZED VIEW v AS SELECT sum(amount) FROM typed WHERE label + 1 > 2",
       "line 1, column 67: operator '+' cannot add VARCHAR and BIGINT"},
      {"CREATE MATERIALIZED VIEW v WITH (rollups = '1 hour after 1 day') AS SELECT count(*) "
       "FROM fulfilment",
       "line 1, column 34: rollups need a TUMBLE view: each tier counts the same events in "
       "coarser tumbling windows"},
      {"CREATE MATERIALIZED VIEW v WITH (rollups = '90 seconds after 1 day') AS SELECT "
       "window_start, count(*) FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) GROUP "
       "BY window_start",
       "line 1, column 44: rollups: each size must be a multiple of the one before (the view's "
       "window first): '90 seconds after 1 day'"},
      {"CREATE MATERIALIZED VIEW v WITH (rollups = '1 hour after 2 days, 1 day after 1 day') AS "
       "SELECT window_start, count(*) FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
       "GROUP BY window_start",
       "line 1, column 44: rollups: the ages must grow from tier to tier: '1 day after 1 day'"},
      {"CREATE MATERIALIZED VIEW v WITH (retention = '7 days', rollups = '1 hour after 30 "
       "days') AS SELECT window_start, count(*) FROM TUMBLE(fulfilment, occurred_at, "
       "INTERVAL '1' MINUTE) GROUP BY window_start",
       "line 1, column 66: rollups: '1 hour after 30 days' starts after the view's retention; a "
       "tier must start before the rows are gone"},
      {"CREATE MATERIALIZED VIEW v WITH (rollups = 'hourly') AS SELECT window_start, count(*) "
       "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) GROUP BY window_start",
       "line 1, column 44: rollups: 'hourly' should read '<size> after <age>', e.g. '1 hour "
       "after 30 days'"},
      {"CREATE MATERIALIZED VIEW v WITH (rollups = 'soon after 1 day') AS SELECT window_start, "
       "count(*) FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) GROUP BY "
       "window_start",
       "line 1, column 44: rollups: size 'soon' is not a positive duration"},
  };
  for (const auto& [sql, expected] : cases) EXPECT_EQ(Error(sql), expected) << sql;
}

TEST(PlannerTest, StreamOptions) {
  auto plan = [](std::string_view sql) -> Result<StreamSpec> {
    SLUICE_ASSIGN_OR_RETURN(std::vector<Statement> statements, Parse(sql));
    return PlanStream(std::get<CreateStream>(statements.at(0).node));
  };
  Result<StreamSpec> spec = plan(
      "CREATE STREAM fulfilment WITH (subject = 'fulfilment-value', event_time = 'occurred_at', "
      "watermark_delay = '5 seconds', delivery = 'exactly_once', dedup_key = 'event_id', "
      "retention = '7 days', partition_key = order_id, partitions = 8, "
      "exactly_once_when = 'event_type IN (''payment.captured'', ''refund.issued'')')");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->subject, "fulfilment-value");
  EXPECT_EQ(spec->watermark_delay_micros, 5 * kMicrosPerSecond);
  EXPECT_EQ(spec->delivery, Delivery::kExactlyOnce);
  EXPECT_EQ(spec->retention_micros, 7 * kMicrosPerDay);
  EXPECT_EQ(spec->partition_key, "order_id");
  EXPECT_EQ(spec->partitions, 8u);
  EXPECT_EQ(spec->exactly_once_when, "event_type IN ('payment.captured', 'refund.issued')");
  EXPECT_FALSE(spec->archive);

  spec = plan("CREATE STREAM s WITH (archive = 'on', archive_retention = '30 days')");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_TRUE(spec->archive);
  EXPECT_EQ(spec->archive_retention_micros, 30 * kMicrosPerDay);

  spec = plan("CREATE STREAM s (amount BIGINT, note TEXT)");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->event_time, "occurred_at");
  ASSERT_EQ(spec->columns.size(), 2u);
  EXPECT_EQ(spec->columns[0].type, Type::kBigint);

  EXPECT_EQ(plan("CREATE STREAM s WITH (delivery = 'twice')").status().message(),
            "line 1, column 34: delivery must be 'exactly_once' or 'at_least_once', not 'twice'");
  EXPECT_EQ(plan("CREATE STREAM s WITH (watermark_delay = 'soon')").status().message(),
            "line 1, column 41: option 'watermark_delay': invalid input for INTERVAL: 'soon'");
  EXPECT_EQ(plan("CREATE STREAM s WITH (partitions = 0)").status().message(),
            "line 1, column 36: partitions must be an integer from 1 to 1024");
  EXPECT_EQ(plan("CREATE STREAM _s").status().message(),
            "line 1, column 15: invalid stream name '_s': use letters, digits, '_' and '-', not "
            "starting with '_', at most 128 characters");
  EXPECT_EQ(plan("CREATE STREAM s WITH (subjcet = 'x')").status().message(),
            "line 1, column 23: unknown option 'subjcet' (did you mean 'subject'?); the options "
            "are: subject, event_time, watermark_delay, delivery, dedup_key, exactly_once_when, "
            "dedup_horizon, retention, partition_key, partitions, archive, archive_retention");
}

TEST(PlannerTest, DeliveryOptions) {
  auto plan = [](std::string_view sql) -> Result<StreamSpec> {
    SLUICE_ASSIGN_OR_RETURN(std::vector<Statement> statements, Parse(sql));
    return PlanStream(std::get<CreateStream>(statements.at(0).node));
  };
  // A bare predicate; exactly_once_when alone makes the stream exactly-once for matching events.
  Result<StreamSpec> spec = plan(
      "CREATE STREAM s WITH (exactly_once_when = event_type IN ('payment.captured') AND "
      "amount_minor > 0, dedup_horizon = '2 days')");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->delivery, Delivery::kExactlyOnce);
  EXPECT_EQ(spec->exactly_once_when, "event_type IN ('payment.captured') AND amount_minor > 0");
  EXPECT_EQ(spec->dedup_horizon_micros, 2 * kMicrosPerDay);
  spec = plan("CREATE STREAM s WITH (delivery = exactly_once)");
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(spec->dedup_horizon_micros.has_value());

  const std::pair<std::string_view, std::string_view> errors[] = {
      // Errors inside a string are reported where they are in the statement.
      {"CREATE STREAM s WITH (exactly_once_when = 'event_type = nope(1)')",
       "line 1, column 57: unknown function 'nope'"},
      {"CREATE STREAM s (amount BIGINT) WITH (exactly_once_when = 'amount = ''x''')",
       "line 1, column 69: invalid input for BIGINT: 'x'"},
      {"CREATE STREAM s WITH (exactly_once_when = 'a = ''x'' AND b =')",
       "line 1, column 61: expected an expression, found end of input"},
      {"CREATE STREAM s WITH (exactly_once_when = event_type = 'a' AND nope(1))",
       "line 1, column 64: unknown function 'nope'"},
      {"CREATE STREAM s (amount BIGINT) WITH (exactly_once_when = amount + 1)",
       "line 1, column 59: exactly_once_when must be BOOLEAN, found BIGINT"},
      {"CREATE STREAM s WITH (exactly_once_when = 1 = 1)",
       "line 1, column 43: exactly_once_when must read the event (a constant picks all events or "
       "none: use delivery instead)"},
      {"CREATE STREAM s WITH (delivery = 'at_least_once', exactly_once_when = x = 1)",
       "line 1, column 34: exactly_once_when picks the exactly-once events of a stream: write "
       "delivery = 'exactly_once' (the other events get at-least-once), or leave "
       "exactly_once_when out"},
      {"CREATE STREAM s WITH (dedup_horizon = '1 hour')",
       "line 1, column 15: dedup_horizon needs exactly-once events: add delivery = "
       "'exactly_once'"},
      {"CREATE STREAM s WITH (delivery = exactly_once, dedup_horizon = '0 seconds')",
       "line 1, column 64: option 'dedup_horizon' must be positive"},
      {"CREATE STREAM s WITH (archive = 'yes')",
       "line 1, column 33: archive must be 'on' or 'off', not 'yes'"},
      {"CREATE STREAM s WITH (archive_retention = '30 days')",
       "line 1, column 15: archive_retention needs the archive: add archive = 'on'"},
  };
  for (const auto& [sql, expected] : errors)
    EXPECT_EQ(plan(sql).status().message(), expected) << sql;
}

}  // namespace
}  // namespace sluice::sql
