// The round-trip property on a corpus that uses every construct of the grammar: for each
// statement, ToSql() re-parses to an equal tree (in both parenthesis modes), and printing is a
// fixed point. A coverage test checks that the corpus really contains every kind of node, so the
// property cannot silently stop covering a construct.
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "sql/parser.h"

namespace sluice::sql {
namespace {

// The six demo views of issue 4 and the DESIGN.md examples come first.
const std::vector<std::string_view> kCorpus = {
    // DESIGN.md
    R"sql(CREATE STREAM fulfilment WITH (subject = 'fulfilment-value', event_time = 'occurred_at',
        watermark_delay = '5 seconds', delivery = 'exactly_once', dedup_key = 'event_id',
        retention = '7 days'))sql",
    R"sql(CREATE MATERIALIZED VIEW events_per_minute WITH (retention = '2 years') AS
      SELECT warehouse_id, event_type, window_start, count(*) AS events,
             sum(amount_minor) AS amount_minor
      FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE)
      GROUP BY warehouse_id, event_type, window_start)sql",
    // Demo view 1: events per minute per warehouse and type, updated live.
    R"sql(CREATE MATERIALIZED VIEW IF NOT EXISTS events_per_minute_live
      WITH (retention = '2 years', emit = 'on_update') AS
      SELECT warehouse_id, event_type, window_start, window_end, count(*) AS events
      FROM TUMBLE(TABLE fulfilment, DESCRIPTOR(occurred_at), INTERVAL '1' MINUTE)
      GROUP BY warehouse_id, event_type, window_start, window_end)sql",
    // Demo view 2: exception rate.
    R"sql(CREATE MATERIALIZED VIEW exception_rate WITH (retention = '2 years') AS
      SELECT warehouse_id, window_start,
             count(*) FILTER (WHERE event_type LIKE '%.exception'
                              OR event_type IN ('pick.short', 'shipment.delayed')) AS exceptions,
             count(*) AS events,
             CAST(count(*) FILTER (WHERE event_type LIKE '%.exception') AS DOUBLE)
               / count(*) AS exception_rate
      FROM HOP(fulfilment, occurred_at, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)
      GROUP BY warehouse_id, window_start
      HAVING count(*) > 0)sql",
    // Demo view 3: pick duration percentiles, from an interval join of pick.started and
    // pick.completed of the same order within two hours.
    R"sql(CREATE MATERIALIZED VIEW pick_duration WITH (emit = 'on_close') AS
      SELECT warehouse_id, window_start,
             approx_percentile(duration_ms, 0.5) AS p50,
             approx_percentile(duration_ms, 0.95) AS p95,
             approx_percentile(duration_ms, 0.99) AS p99
      FROM TUMBLE((SELECT s.warehouse_id, c.occurred_at,
                          EXTRACT(EPOCH FROM c.occurred_at - s.occurred_at) * 1000 AS duration_ms
                   FROM fulfilment AS s
                   JOIN fulfilment AS c
                     ON c.order_id = s.order_id AND c.event_type = 'pick.completed'
                    AND c.occurred_at BETWEEN s.occurred_at
                                          AND s.occurred_at + INTERVAL '2' HOUR
                   WHERE s.event_type = 'pick.started'),
                  occurred_at, INTERVAL '1' MINUTE)
      GROUP BY warehouse_id, window_start)sql",
    // Demo view 4: financial totals per currency (a nested JSON field).
    R"sql(CREATE MATERIALIZED VIEW financial_totals WITH (retention = '2 years') AS
      SELECT payload.currency AS currency, window_start,
             sum(CASE event_type WHEN 'refund.issued' THEN -amount_minor
                                 ELSE amount_minor END) AS net_minor,
             count(DISTINCT order_id) AS orders
      FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' HOUR)
      WHERE event_type IN ('payment.captured', 'refund.issued', 'carrier.charge')
      GROUP BY payload.currency, window_start)sql",
    // Demo view 5: order sessions (keyed, gap-based).
    R"sql(CREATE MATERIALIZED VIEW order_sessions WITH (emit = 'on_close') AS
      SELECT order_id, window_start AS first_event, window_end AS last_event,
             count(*) AS events,
             max(CASE WHEN event_type = 'order.delivered' THEN 1 ELSE 0 END) = 1 AS delivered
      FROM SESSION(fulfilment PARTITION BY order_id, occurred_at, INTERVAL '30' MINUTE)
      GROUP BY order_id, window_start, window_end)sql",
    // Demo view 6: anomalies, against a per-warehouse baseline looked up as of the window.
    R"sql(CREATE MATERIALIZED VIEW exception_anomalies WITH (emit = 'on_close') AS
      SELECT e.warehouse_id, e.window_start, e.exceptions, b.mean, b.stddev
      FROM (SELECT warehouse_id, window_start, count(*) AS exceptions
            FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE)
            WHERE event_type LIKE '%exception%'
            GROUP BY warehouse_id, window_start) AS e
      JOIN exception_baseline FOR SYSTEM_TIME AS OF e.window_start AS b
        ON b.warehouse_id = e.warehouse_id
      WHERE e.exceptions > b.mean + 3 * b.stddev)sql",

    // DDL
    "CREATE STREAM IF NOT EXISTS payments (event_id VARCHAR, amount_minor BIGINT, "
    "currency TEXT, occurred_at TIMESTAMPTZ, payload JSONB) WITH (subject = 'payments-value', "
    "delivery = exactly_once, max_lateness = 30, strict = TRUE, ratio = 0.5, offset_ms = -250)",
    "CREATE STREAM mixed WITH (delivery = 'at_least_once', "
    "exactly_once_when = event_type IN ('payment.captured', 'refund.issued', 'carrier.charge'))",
    "CREATE STREAM s2 WITH (exactly_once_when = 'event_type LIKE ''payment.%''')",
    "CREATE STREAM bare",
    "CREATE ALERT IF NOT EXISTS exception_spike ON exceptions_per_minute WITH (metric = "
    "exceptions, alpha = 0.2, sigmas = 3, warmup = 10, min_delta = 2)",
    "CREATE ALERT bare_alert ON v",
    "DROP ALERT IF EXISTS exception_spike",
    "SHOW ALERTS",
    "CREATE STREAM typed (a BOOL, b INT, c INTEGER, d INT4, e INT8, f REAL, g FLOAT4, "
    "h DOUBLE PRECISION, i FLOAT, j FLOAT8, k NUMERIC, l DECIMAL(12), m DECIMAL(12, 2), "
    "n VARCHAR(64), o STRING, p TIMESTAMP, q TIMESTAMP WITHOUT TIME ZONE, "
    "r TIMESTAMP WITH TIME ZONE, s DATE, t INTERVAL, u JSON)",
    "CREATE TABLE warehouses (warehouse_id VARCHAR PRIMARY KEY, region VARCHAR, "
    "capacity INT) WITH (source = 'csv', path = 'warehouses.csv')",
    "CREATE TABLE IF NOT EXISTS sku_categories (sku VARCHAR, valid_from DATE, category TEXT, "
    "PRIMARY KEY (sku, valid_from))",
    "CREATE TABLE \"Mixed Case\" (\"Key\" INT, \"select\" TEXT, PRIMARY KEY (\"Key\"))",
    "DROP STREAM fulfilment",
    "DROP STREAM IF EXISTS fulfilment",
    "DROP TABLE warehouses",
    "DROP VIEW IF EXISTS events_per_minute",
    "DROP MATERIALIZED VIEW events_per_minute",
    "SHOW STREAMS",
    "SHOW TABLES",
    "SHOW VIEWS",
    "SHOW MATERIALIZED VIEWS",
    "DESCRIBE fulfilment",
    "describe \"Odd Name\"",

    // Queries over views and streams
    "SELECT * FROM events_per_minute WHERE warehouse_id = 'AMS-1' ORDER BY window_start DESC "
    "LIMIT 60",
    "SELECT DISTINCT warehouse_id FROM events_per_minute",
    "SELECT ALL warehouse_id FROM events_per_minute OFFSET 5",
    "SELECT e.*, w.region FROM fulfilment e LEFT OUTER JOIN warehouses w "
    "ON w.warehouse_id = e.warehouse_id",
    "SELECT f.event_id, w.region, c.category FROM fulfilment AS f "
    "INNER JOIN warehouses AS w ON w.warehouse_id = f.warehouse_id "
    "LEFT JOIN sku_categories AS c ON c.sku = f.lines[1].sku "
    "RIGHT JOIN r ON TRUE FULL OUTER JOIN q ON q.x IS NOT DISTINCT FROM f.x",
    "SELECT e.customer.tier, source.service, payload['key'], lines[1], lines[1].sku, "
    "(payload).amount, payload['a']['b'], (lines[2]).qty FROM fulfilment AS e",
    "SELECT cardinality(lines) AS line_count, coalesce(a, b, 'none'), upper(name), now() "
    "FROM fulfilment",
    "SELECT count(*), count(DISTINCT customer_id), approx_count_distinct(customer_id), "
    "sum(x), min(x), max(x), avg(x), first_value(x), last_value(x) FROM t",
    "SELECT window_start, warehouse_id, count(*) FILTER (WHERE event_type = 'pick.short') "
    "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE, INTERVAL '10' SECOND) w "
    "GROUP BY 1, 2",
    "SELECT * FROM HOP(TABLE fulfilment, DESCRIPTOR(occurred_at), INTERVAL '1' MINUTE, "
    "INTERVAL '10' MINUTE, INTERVAL '30' SECOND) AS h",
    "SELECT * FROM SESSION(TABLE fulfilment PARTITION BY (order_id, warehouse_id), "
    "DESCRIPTOR(occurred_at), INTERVAL '30' MINUTE) AS s",
    "SELECT * FROM SESSION(fulfilment, occurred_at, INTERVAL '30' MINUTE, order_id, "
    "payload.customer.id)",
    "SELECT * FROM SESSION(fulfilment, occurred_at, INTERVAL '5' MINUTE)",
    "SELECT * FROM tumble AS t JOIN hop ON hop.a = t.a JOIN session ON TRUE",
    "SELECT * FROM lake.orders FOR SYSTEM_TIME AS OF TIMESTAMP '2026-11-25 08:30:00Z'",
    "SELECT * FROM lake.orders FOR VERSION AS OF 42 AS o",
    "SELECT * FROM lake.orders FOR SYSTEM_TIME AS OF '2026-11-25T08:30:00Z' o "
    "WHERE o.total_minor > 0",
    "SELECT * FROM (SELECT a FROM t) sub",
    "SELECT * FROM (SELECT a FROM (SELECT a FROM (SELECT 1 AS a) x) y)",
    "SELECT 1",
    "select Warehouse_ID as \"Warehouse ID\", \"Event Type\" \"select\" from T",

    // Expressions and precedence
    "SELECT a OR b AND NOT c = d, (a OR b) AND c, NOT (a AND b), NOT NOT a",
    "SELECT a + b * c - d / e % f, (a + b) * c, a - (b - c), a - b - c, -a * b, -(a * b)",
    "SELECT 'a' || 'b' || c, a || b = c, a + b || c, (a || b) + c",
    "SELECT x::int, x::decimal(10, 2) * 2, -x::bigint, (-x)::bigint, CAST(x AS TEXT), "
    "x::timestamp::date, CAST(CAST(x AS JSON) AS VARCHAR)",
    "SELECT 1, -1, 0, 007, 9223372036854775807, -9223372036854775808, 1.5, -1.50, .5, 1e3, "
    "2.5E-3, -1e+10, 1., - 7, -(7), - - 7, -(-7), -(+7), +7",
    "SELECT 'it''s', '', 'multi\nline', 'üñíçødé ✓', TRUE, FALSE, NULL",
    "SELECT INTERVAL '5' MINUTE, INTERVAL '5 minutes', INTERVAL 90 SECONDS, "
    "INTERVAL '1:30' HOUR TO MINUTE, INTERVAL '1-6' YEAR TO MONTH, INTERVAL '2' DAYS, "
    "TIMESTAMP '2026-11-25 08:30:00Z', DATE '2026-11-25'",
    "SELECT timestamp, date, interval, \"timestamp\" + INTERVAL '1' HOUR, date(ts) FROM t",
    "SELECT a IS NULL, a IS NOT NULL, a IS TRUE, a IS NOT FALSE, a IS UNKNOWN, "
    "a IS DISTINCT FROM b, a IS NOT DISTINCT FROM b, a = b IS TRUE, a IS NULL = b",
    "SELECT a IN (1, 2, 3), a NOT IN ('x'), a + 1 IN (b, c * 2), (a IN (1)) IN (TRUE)",
    "SELECT a BETWEEN 1 AND 10, a NOT BETWEEN b - 1 AND b + 1 AND c, "
    "a BETWEEN (b AND c) AND d",
    "SELECT a LIKE 'p%', a NOT LIKE '%q', a ILIKE 'x_' ESCAPE '\\', a NOT ILIKE b || '%'",
    "SELECT CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'zero' END, "
    "CASE status WHEN 'ok' THEN 1 WHEN 'late' THEN 2 END, "
    "CASE WHEN CASE WHEN a THEN b END THEN c END",
    "SELECT EXTRACT(YEAR FROM ts), extract(epoch from a - b), EXTRACT(HOUR FROM ts) * 60",
    "SELECT a = b, a <> b, a != b, a < b, a <= b, a > b, a >= b, a = b = c, a < (b < c)",
    "SELECT a.b.c.d, t.\"Mixed\".x, t.order, \"order\".\"from\" FROM t",
    "SELECT (a[1])[2], a[b[c]], (a.b)[1], a[1 + 2].x.y, f(x)[1], f(x).y, "
    "CAST(a AS JSON)['k'], (-1)[1], (1.5).x, (- a)[1]",
    "SELECT \"count\"(*), \"Weird Func\"(1), \"cast\"(x), \"left\"(s, 3)",
    "SELECT -- a comment\n a /* a /* nested */ comment */ FROM t -- trailing",
};

// Collects which alternative of each variant the corpus uses, by walking every tree.
class Coverage {
 public:
  std::set<size_t> statements, exprs, tables, windows, window_inputs, select_items;

  void Walk(const Statement& statement) {
    statements.insert(statement.node.index());
    std::visit(
        [&](const auto& node) {
          using T = std::decay_t<decltype(node)>;
          if constexpr (std::is_same_v<T, Query>) Walk(node);
          if constexpr (std::is_same_v<T, CreateMaterializedView>) Walk(node.query);
          if constexpr (std::is_same_v<T, CreateStream> || std::is_same_v<T, CreateTable> ||
                        std::is_same_v<T, CreateMaterializedView> ||
                        std::is_same_v<T, CreateAlert>) {
            for (const Option& option : node.options) Walk(option.value);
          }
        },
        statement.node);
  }

  void Walk(const Query& query) {
    for (const SelectItem& item : query.select_list) {
      select_items.insert(item.value.index());
      if (const Expr* expr = std::get_if<Expr>(&item.value)) Walk(*expr);
    }
    if (query.from) {
      Walk(query.from->first);
      for (const Join& join : query.from->joins) {
        Walk(join.table);
        Walk(join.condition);
      }
    }
    if (query.where) Walk(*query.where);
    for (const Expr& expr : query.group_by) Walk(expr);
    if (query.having) Walk(*query.having);
    for (const OrderItem& item : query.order_by) Walk(item.expr);
  }

  void Walk(const TableRef& table) {
    tables.insert(table.node.index());
    if (const auto* window = std::get_if<WindowTable>(&table.node)) {
      windows.insert(window->window.index());
      window_inputs.insert(window->input.index());
      if (const auto* subquery = std::get_if<Subquery>(&window->input)) Walk(*subquery->query);
    }
    if (const auto* subquery = std::get_if<Subquery>(&table.node)) Walk(*subquery->query);
    if (const auto* named = std::get_if<NamedTable>(&table.node)) {
      if (named->time_travel) Walk(named->time_travel->at);
    }
  }

  void Walk(const Expr& expr) {
    exprs.insert(expr.node.index());
    std::visit(
        [&](const auto& node) {
          using T = std::decay_t<decltype(node)>;
          if constexpr (std::is_same_v<T, FieldAccess>) Walk(*node.base);
          if constexpr (std::is_same_v<T, Subscript>) {
            Walk(*node.base);
            Walk(*node.index);
          }
          if constexpr (std::is_same_v<T, UnaryOp>) Walk(*node.operand);
          if constexpr (std::is_same_v<T, BinaryOp>) {
            Walk(*node.left);
            Walk(*node.right);
          }
          if constexpr (std::is_same_v<T, IsTest>) Walk(*node.operand);
          if constexpr (std::is_same_v<T, InList>) {
            Walk(*node.operand);
            for (const Expr& value : node.list) Walk(value);
          }
          if constexpr (std::is_same_v<T, Between>) {
            Walk(*node.operand);
            Walk(*node.low);
            Walk(*node.high);
          }
          if constexpr (std::is_same_v<T, Like>) {
            Walk(*node.operand);
            Walk(*node.pattern);
          }
          if constexpr (std::is_same_v<T, Case>) {
            for (const WhenClause& when : node.whens) {
              Walk(*when.condition);
              Walk(*when.result);
            }
          }
          if constexpr (std::is_same_v<T, Cast> || std::is_same_v<T, Extract>) {
            Walk(*node.operand);
          }
          if constexpr (std::is_same_v<T, FunctionCall>) {
            for (const Expr& arg : node.args) Walk(arg);
          }
        },
        expr.node);
  }
};

std::vector<Statement> ParseOne(std::string_view sql) {
  Result<std::vector<Statement>> parsed = Parse(sql);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message() << "\n  in: " << sql;
  if (!parsed.ok()) return {};
  EXPECT_EQ(parsed->size(), 1u) << sql;
  return std::move(parsed).value();
}

TEST(RoundTrip, EveryCorpusStatementReparsesToAnEqualTree) {
  for (std::string_view sql : kCorpus) {
    std::vector<Statement> original = ParseOne(sql);
    if (original.size() != 1) continue;
    for (Parentheses mode : {Parentheses::kMinimal, Parentheses::kAll}) {
      std::string printed = ToSql(original[0], mode);
      std::vector<Statement> reparsed = ParseOne(printed);
      ASSERT_EQ(reparsed.size(), 1u) << printed;
      EXPECT_EQ(reparsed[0], original[0]) << "original: " << sql << "\nprinted:  " << printed;
      EXPECT_EQ(ToSql(reparsed[0], mode), printed) << "printing is not a fixed point";
    }
  }
}

TEST(RoundTrip, CopiesAreEqualAndIndependent) {
  for (std::string_view sql : kCorpus) {
    std::vector<Statement> original = ParseOne(sql);
    if (original.size() != 1) continue;
    Statement copy = original[0];
    EXPECT_EQ(copy, original[0]);
    EXPECT_EQ(ToSql(copy), ToSql(original[0]));
  }
}

TEST(RoundTrip, AllStatementsInOneText) {
  std::string text;
  for (std::string_view sql : kCorpus) {
    text += sql;
    text += ";\n";
  }
  Result<std::vector<Statement>> parsed = Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->size(), kCorpus.size());
}

TEST(RoundTrip, CorpusCoversEveryKindOfNode) {
  Coverage coverage;
  for (std::string_view sql : kCorpus) {
    for (const Statement& statement : ParseOne(sql)) coverage.Walk(statement);
  }
  EXPECT_EQ(coverage.statements.size(), std::variant_size_v<StatementNode>);
  EXPECT_EQ(coverage.exprs.size(), std::variant_size_v<ExprNode>);
  EXPECT_EQ(coverage.tables.size(), std::variant_size_v<decltype(TableRef::node)>);
  EXPECT_EQ(coverage.windows.size(), std::variant_size_v<decltype(WindowTable::window)>);
  EXPECT_EQ(coverage.window_inputs.size(), std::variant_size_v<decltype(WindowTable::input)>);
  EXPECT_EQ(coverage.select_items.size(), std::variant_size_v<decltype(SelectItem::value)>);
}

TEST(RoundTrip, CorpusIsLargeEnough) {
  EXPECT_GE(kCorpus.size(), 60u);
}

}  // namespace
}  // namespace sluice::sql
