#include "sql/parser.h"

#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "sql/lexer.h"

namespace sluice::sql {
namespace {

Statement ParseStatement(std::string_view sql) {
  Result<std::vector<Statement>> parsed = Parse(sql);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  if (!parsed.ok() || parsed->size() != 1) {
    ADD_FAILURE() << "expected one statement: " << sql;
    return Statement{};
  }
  return std::move(parsed->front());
}

template <typename T>
T StatementAs(std::string_view sql) {
  Statement statement = ParseStatement(sql);
  const T* node = std::get_if<T>(&statement.node);
  if (node == nullptr) throw std::runtime_error("wrong statement kind for: " + std::string(sql));
  return *node;
}

Expr ParseExpr(std::string_view sql) {
  Result<Expr> parsed = ParseExpression(sql);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  return parsed.ok() ? std::move(parsed).value() : Expr{};
}

// A copy of the node: a reference into the temporary Expr would dangle.
template <typename T>
T ExprAs(std::string_view sql) {
  Expr expr = ParseExpr(sql);
  const T* node = std::get_if<T>(&expr.node);
  // Not every node type is default-constructible; GoogleTest reports the exception as a failure.
  if (node == nullptr) throw std::runtime_error("wrong expression kind for: " + std::string(sql));
  return *node;
}

// How the parser grouped an expression: every operator parenthesised.
std::string Grouping(std::string_view sql) {
  return ToSql(ParseExpr(sql), Parentheses::kAll);
}

std::string Canonical(std::string_view sql) {
  return ToSql(ParseStatement(sql));
}

std::string ErrorOf(std::string_view sql) {
  Result<std::vector<Statement>> parsed = Parse(sql);
  if (parsed.ok()) return "(parsed)";
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  return parsed.status().message();
}

std::vector<std::string> Names(const std::vector<Identifier>& path) {
  std::vector<std::string> names;
  for (const Identifier& part : path) names.push_back(part.name);
  return names;
}

// ---- Statements ---------------------------------------------------------------------------------

TEST(ParseStatements, SplitsOnSemicolonsAndSkipsEmptyOnes) {
  Result<std::vector<Statement>> parsed = Parse(";; SHOW STREAMS ; ; SELECT 1;\n-- done\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_TRUE(std::holds_alternative<Show>((*parsed)[0].node));
  EXPECT_TRUE(std::holds_alternative<Query>((*parsed)[1].node));
  EXPECT_EQ((*parsed)[1].location.offset, 20u);
  EXPECT_TRUE(Parse("").value().empty());
  EXPECT_TRUE(Parse("  /* nothing */ -- at all").value().empty());
}

TEST(ParseStatements, CreateStream) {
  auto create = StatementAs<CreateStream>(
      "create stream if not exists Fulfilment (event_id varchar, amount DECIMAL(12, 2)) "
      "with (subject = 'fulfilment-value', delivery = exactly_once, lateness = 5, "
      "strict = true, exactly_once_when = event_type in ('payment.captured'))");
  EXPECT_TRUE(create.if_not_exists);
  EXPECT_EQ(create.name.name, "fulfilment");
  ASSERT_EQ(create.columns.size(), 2u);
  EXPECT_EQ(create.columns[0].name.name, "event_id");
  EXPECT_EQ(create.columns[0].type.kind, TypeKind::kVarchar);
  EXPECT_EQ(create.columns[1].type, (DataType{TypeKind::kDecimal, 12, 2, std::nullopt}));
  ASSERT_EQ(create.options.size(), 5u);
  EXPECT_EQ(create.options[0].key.name, "subject");
  EXPECT_EQ(std::get<StringLiteral>(create.options[0].value.node).value, "fulfilment-value");
  EXPECT_EQ(Names(std::get<ColumnRef>(create.options[1].value.node).path),
            std::vector<std::string>{"exactly_once"});
  EXPECT_EQ(std::get<IntegerLiteral>(create.options[2].value.node).value, 5);
  EXPECT_TRUE(std::get<BooleanLiteral>(create.options[3].value.node).value);
  EXPECT_TRUE(std::holds_alternative<InList>(create.options[4].value.node));

  auto bare = StatementAs<CreateStream>("CREATE STREAM s");
  EXPECT_FALSE(bare.if_not_exists);
  EXPECT_TRUE(bare.columns.empty());
  EXPECT_TRUE(bare.options.empty());
}

TEST(ParseStatements, CreateTableCollectsPrimaryKeysInOnePlace) {
  auto inline_key = StatementAs<CreateTable>(
      "CREATE TABLE warehouses (id VARCHAR PRIMARY KEY, region TEXT) WITH (source = 'csv')");
  EXPECT_EQ(inline_key.name.name, "warehouses");
  ASSERT_EQ(inline_key.columns.size(), 2u);
  EXPECT_EQ(Names(inline_key.primary_key), std::vector<std::string>{"id"});
  ASSERT_EQ(inline_key.options.size(), 1u);

  auto table_key = StatementAs<CreateTable>(
      "CREATE TABLE IF NOT EXISTS prices (sku TEXT, day DATE, price DOUBLE, "
      "PRIMARY KEY (sku, day))");
  EXPECT_TRUE(table_key.if_not_exists);
  EXPECT_EQ(Names(table_key.primary_key), (std::vector<std::string>{"sku", "day"}));
  EXPECT_EQ(ToSql(Statement{{}, table_key}),
            "CREATE TABLE IF NOT EXISTS prices (sku VARCHAR, day DATE, price DOUBLE, "
            "PRIMARY KEY (sku, day))");

  // The two spellings of a one-column key are the same table.
  EXPECT_EQ(ParseStatement("CREATE TABLE t (a INT PRIMARY KEY, b INT)"),
            ParseStatement("CREATE TABLE t (a INT, b INT, PRIMARY KEY (a))"));
}

TEST(ParseStatements, CreateMaterializedView) {
  auto view = StatementAs<CreateMaterializedView>(
      "CREATE MATERIALIZED VIEW v WITH (retention = '2 years', emit = 'on_update') AS "
      "SELECT count(*) FROM s");
  EXPECT_EQ(view.name.name, "v");
  EXPECT_FALSE(view.if_not_exists);
  ASSERT_EQ(view.options.size(), 2u);
  EXPECT_EQ(view.options[1].key.name, "emit");
  EXPECT_EQ(view.query.select_list.size(), 1u);

  auto plain =
      StatementAs<CreateMaterializedView>("CREATE MATERIALIZED VIEW IF NOT EXISTS v AS SELECT 1");
  EXPECT_TRUE(plain.if_not_exists);
  EXPECT_TRUE(plain.options.empty());
}

TEST(ParseStatements, DropShowDescribe) {
  auto drop = StatementAs<Drop>("DROP MATERIALIZED VIEW IF EXISTS v");
  EXPECT_EQ(drop.kind, ObjectKind::kMaterializedView);
  EXPECT_TRUE(drop.if_exists);
  EXPECT_EQ(drop.name.name, "v");
  EXPECT_EQ(StatementAs<Drop>("drop view v").kind, ObjectKind::kView);
  EXPECT_EQ(StatementAs<Drop>("DROP TABLE t").kind, ObjectKind::kTable);
  EXPECT_FALSE(StatementAs<Drop>("DROP STREAM s").if_exists);
  EXPECT_EQ(StatementAs<Show>("SHOW STREAMS").kind, ObjectKind::kStream);
  EXPECT_EQ(StatementAs<Show>("show tables").kind, ObjectKind::kTable);
  EXPECT_EQ(StatementAs<Show>("SHOW VIEWS").kind, ObjectKind::kView);
  EXPECT_EQ(StatementAs<Show>("SHOW MATERIALIZED VIEWS").kind, ObjectKind::kMaterializedView);
  EXPECT_EQ(StatementAs<Show>("show alerts").kind, ObjectKind::kAlert);
  EXPECT_EQ(StatementAs<Drop>("DROP ALERT a").kind, ObjectKind::kAlert);
  EXPECT_EQ(StatementAs<Describe>("DESCRIBE \"My View\"").name.name, "My View");
}

TEST(ParseStatements, QueryClauses) {
  auto query = StatementAs<Query>(
      "SELECT DISTINCT a, b AS bee, c see, * , t.*, s.t.* FROM t "
      "WHERE a > 1 GROUP BY a, b HAVING count(*) > 2 "
      "ORDER BY a DESC NULLS FIRST, b ASC, c NULLS LAST LIMIT 10 OFFSET 20");
  EXPECT_TRUE(query.distinct);
  ASSERT_EQ(query.select_list.size(), 6u);
  EXPECT_FALSE(query.select_list[0].alias);
  EXPECT_EQ(query.select_list[1].alias->name, "bee");
  EXPECT_EQ(query.select_list[2].alias->name, "see");
  EXPECT_TRUE(std::get<Star>(query.select_list[3].value).qualifier.empty());
  EXPECT_EQ(Names(std::get<Star>(query.select_list[4].value).qualifier),
            std::vector<std::string>{"t"});
  EXPECT_EQ(Names(std::get<Star>(query.select_list[5].value).qualifier),
            (std::vector<std::string>{"s", "t"}));
  ASSERT_TRUE(query.from);
  EXPECT_TRUE(query.where);
  EXPECT_EQ(query.group_by.size(), 2u);
  EXPECT_TRUE(query.having);
  ASSERT_EQ(query.order_by.size(), 3u);
  EXPECT_TRUE(query.order_by[0].descending);
  EXPECT_EQ(query.order_by[0].nulls, NullsOrder::kFirst);
  EXPECT_FALSE(query.order_by[1].descending);
  EXPECT_EQ(query.order_by[1].nulls, NullsOrder::kDefault);
  EXPECT_EQ(query.order_by[2].nulls, NullsOrder::kLast);
  EXPECT_EQ(query.limit, 10);
  EXPECT_EQ(query.offset, 20);

  auto no_from = StatementAs<Query>("SELECT 1 + 1");
  EXPECT_FALSE(no_from.from);
}

TEST(ParseStatements, Joins) {
  auto query = StatementAs<Query>(
      "SELECT 1 FROM a JOIN b ON b.id = a.id INNER JOIN c ON TRUE LEFT JOIN d ON TRUE "
      "LEFT OUTER JOIN e ON TRUE RIGHT JOIN f ON TRUE FULL OUTER JOIN g ON TRUE");
  ASSERT_TRUE(query.from);
  ASSERT_EQ(query.from->joins.size(), 6u);
  const JoinKind expected[] = {JoinKind::kInner, JoinKind::kInner, JoinKind::kLeft,
                               JoinKind::kLeft,  JoinKind::kRight, JoinKind::kFull};
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(query.from->joins[i].kind, expected[i]) << i;
  EXPECT_EQ(Names(std::get<NamedTable>(query.from->joins[5].table.node).name),
            std::vector<std::string>{"g"});
}

TEST(ParseStatements, IntervalJoinIsAnOrdinaryCondition) {
  auto query = StatementAs<Query>(
      "SELECT 1 FROM fulfilment a JOIN fulfilment b ON b.order_id = a.order_id "
      "AND b.occurred_at BETWEEN a.occurred_at AND a.occurred_at + INTERVAL '2' HOUR");
  const Expr& on = query.from->joins[0].condition;
  const auto& conjunction = std::get<BinaryOp>(on.node);
  EXPECT_EQ(conjunction.op, BinaryOperator::kAnd);
  const auto& between = std::get<Between>(conjunction.right->node);
  EXPECT_EQ(ToSql(*between.high), "a.occurred_at + INTERVAL '2' HOUR");
  const auto& alias = std::get<NamedTable>(query.from->first.node).alias;
  EXPECT_EQ(alias->name, "a");
}

TEST(ParseStatements, WindowTableFunctions) {
  auto tumble =
      StatementAs<Query>("SELECT 1 FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) AS w");
  const auto& window = std::get<WindowTable>(tumble.from->first.node);
  EXPECT_EQ(Names(std::get<NamedTable>(window.input).name), std::vector<std::string>{"fulfilment"});
  EXPECT_EQ(Names(window.time_column), std::vector<std::string>{"occurred_at"});
  EXPECT_EQ(ToSql(std::get<Tumble>(window.window).size), "INTERVAL '1' MINUTE");
  EXPECT_FALSE(std::get<Tumble>(window.window).offset);
  EXPECT_EQ(window.alias->name, "w");

  // The Flink spelling is the same tree.
  EXPECT_EQ(ParseStatement("SELECT 1 FROM TUMBLE(TABLE fulfilment, DESCRIPTOR(occurred_at), "
                           "INTERVAL '1' MINUTE) AS w"),
            ParseStatement("SELECT 1 FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
                           "AS w"));

  auto hop = StatementAs<Query>(
      "SELECT 1 FROM HOP(s, ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE, INTERVAL '10' SECOND)");
  const auto& hop_window = std::get<Hop>(std::get<WindowTable>(hop.from->first.node).window);
  EXPECT_EQ(ToSql(hop_window.slide), "INTERVAL '1' MINUTE");
  EXPECT_EQ(ToSql(hop_window.size), "INTERVAL '5' MINUTE");
  EXPECT_EQ(ToSql(*hop_window.offset), "INTERVAL '10' SECOND");

  // Three spellings of a keyed session window, one tree.
  const std::string positional =
      "SELECT 1 FROM SESSION(orders, ts, INTERVAL '30' MINUTE, order_id, region)";
  EXPECT_EQ(ParseStatement(positional),
            ParseStatement("SELECT 1 FROM SESSION(orders PARTITION BY (order_id, region), ts, "
                           "INTERVAL '30' MINUTE)"));
  EXPECT_EQ(ParseStatement(positional),
            ParseStatement("SELECT 1 FROM SESSION(TABLE orders PARTITION BY (order_id, region), "
                           "DESCRIPTOR(ts), INTERVAL '30' MINUTE)"));
  auto session = StatementAs<Query>(positional);
  const auto& keys =
      std::get<Session>(std::get<WindowTable>(session.from->first.node).window).partition_by;
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(ToSql(keys[1]), "region");
  EXPECT_EQ(Canonical(positional), positional);

  auto over_subquery =
      StatementAs<Query>("SELECT 1 FROM TUMBLE((SELECT * FROM s), ts, INTERVAL '1' HOUR)");
  EXPECT_TRUE(std::holds_alternative<Subquery>(
      std::get<WindowTable>(over_subquery.from->first.node).input));

  // Not reserved: without '(' these words are plain names.
  auto named = StatementAs<Query>("SELECT session FROM tumble hop");
  EXPECT_EQ(std::get<NamedTable>(named.from->first.node).alias->name, "hop");
}

TEST(ParseStatements, TimeTravel) {
  auto query = StatementAs<Query>(
      "SELECT 1 FROM lake.orders FOR SYSTEM_TIME AS OF '2026-01-01T00:00:00Z' AS o "
      "JOIN lake.items FOR VERSION AS OF 17 i ON i.order_id = o.id");
  const auto& orders = std::get<NamedTable>(query.from->first.node);
  EXPECT_EQ(Names(orders.name), (std::vector<std::string>{"lake", "orders"}));
  EXPECT_EQ(orders.time_travel->kind, TimeTravel::Kind::kSystemTime);
  EXPECT_EQ(std::get<StringLiteral>(orders.time_travel->at.node).value, "2026-01-01T00:00:00Z");
  EXPECT_EQ(orders.alias->name, "o");
  const auto& items = std::get<NamedTable>(query.from->joins[0].table.node);
  EXPECT_EQ(items.time_travel->kind, TimeTravel::Kind::kVersion);
  EXPECT_EQ(std::get<IntegerLiteral>(items.time_travel->at.node).value, 17);
  EXPECT_EQ(items.alias->name, "i");
}

// ---- Names and locations ------------------------------------------------------------------------

TEST(ParseNames, UnquotedAreLowerCasedQuotedAreKept) {
  auto query = StatementAs<Query>("SELECT Warehouse_ID, \"Warehouse ID\", \"a\"\"b\" FROM T");
  EXPECT_EQ(ToSql(std::get<Expr>(query.select_list[0].value)), "warehouse_id");
  EXPECT_EQ(std::get<ColumnRef>(std::get<Expr>(query.select_list[1].value).node).path[0].name,
            "Warehouse ID");
  EXPECT_EQ(std::get<ColumnRef>(std::get<Expr>(query.select_list[2].value).node).path[0].name,
            "a\"b");
  EXPECT_EQ(Names(std::get<NamedTable>(query.from->first.node).name),
            std::vector<std::string>{"t"});
  // Quoting only where needed when printing.
  EXPECT_EQ(Canonical("SELECT \"lower\", \"Upper\", \"order\", \"with space\", \"1st\" FROM t"),
            "SELECT lower, \"Upper\", \"order\", \"with space\", \"1st\" FROM t");
  EXPECT_EQ(QuoteIdentifier("a\"b"), "\"a\"\"b\"");
}

TEST(ParseNames, DottedPathsStayPathsForThePlanner) {
  Expr nested = ParseExpr("e.customer.tier");
  EXPECT_EQ(Names(std::get<ColumnRef>(nested.node).path),
            (std::vector<std::string>{"e", "customer", "tier"}));
  // After a dot any word is a name, reserved or not.
  EXPECT_EQ(Names(ExprAs<ColumnRef>("t.order.from").path),
            (std::vector<std::string>{"t", "order", "from"}));
  // A subscript or parentheses end the path: what follows is field access on a value.
  Expr field = ParseExpr("lines[1].sku");
  const auto& access = std::get<FieldAccess>(field.node);
  EXPECT_EQ(access.field.name, "sku");
  const auto& subscript = std::get<Subscript>(access.base->node);
  EXPECT_EQ(Names(std::get<ColumnRef>(subscript.base->node).path),
            std::vector<std::string>{"lines"});
  EXPECT_EQ(std::get<IntegerLiteral>(subscript.index->node).value, 1);
  EXPECT_TRUE(std::holds_alternative<FieldAccess>(ParseExpr("(payload).amount").node));
  EXPECT_EQ(std::get<StringLiteral>(ExprAs<Subscript>("payload['key']").index->node).value, "key");
}

TEST(ParseNames, NonReservedKeywordsAreNames) {
  EXPECT_EQ(Canonical("SELECT timestamp, date, interval, key, source, type, stream, view, "
                      "session, filter, first, last, nulls, partition, year FROM t"),
            "SELECT timestamp, date, interval, key, source, type, stream, view, session, "
            "filter, first, last, nulls, partition, year FROM t");
  EXPECT_EQ(Canonical("SELECT a FROM t ORDER BY nulls NULLS FIRST"),
            "SELECT a FROM t ORDER BY nulls NULLS FIRST");
  EXPECT_EQ(Canonical("SELECT count(*) filter FROM t"), "SELECT count(*) AS filter FROM t");
}

TEST(ParseLocations, EveryNodeKnowsWhereItStarted) {
  auto query = StatementAs<Query>("SELECT a,\n       b + c AS d\nFROM t AS x\nWHERE \"é\" = 'ü'");
  const SelectItem& second = query.select_list[1];
  EXPECT_EQ(second.location, (SourceLocation{17, 2, 8}));
  const Expr& sum = std::get<Expr>(second.value);
  EXPECT_EQ(sum.location, (SourceLocation{17, 2, 8}));
  EXPECT_EQ(std::get<BinaryOp>(sum.node).right->location, (SourceLocation{21, 2, 12}));
  EXPECT_EQ(second.alias->location, (SourceLocation{26, 2, 17}));
  EXPECT_EQ(query.from->first.location, (SourceLocation{33, 3, 6}));
}

TEST(ParseLocations, ColumnsCountCodePoints) {
  // 'ü' and '€' are 2 and 3 bytes; the column counts each as one.
  EXPECT_EQ(ErrorOf("SELECT 'ü€', #"), "line 1, column 14: unexpected character '#'");
  auto query = StatementAs<Query>("SELECT 'ü€', x");
  EXPECT_EQ(std::get<Expr>(query.select_list[1].value).location, (SourceLocation{16, 1, 14}));
}

// ---- Expressions --------------------------------------------------------------------------------

TEST(ParseExpressions, PrecedenceTable) {
  // OR < AND < NOT < comparison/IS/IN/LIKE/BETWEEN < || < + - < * / % < unary - < :: < . []
  EXPECT_EQ(Grouping("a OR b AND c"), "(a OR (b AND c))");
  EXPECT_EQ(Grouping("a AND b OR c"), "((a AND b) OR c)");
  EXPECT_EQ(Grouping("NOT a AND b"), "((NOT a) AND b)");
  EXPECT_EQ(Grouping("NOT a = b"), "(NOT (a = b))");
  EXPECT_EQ(Grouping("NOT a IS NULL"), "(NOT (a IS NULL))");
  EXPECT_EQ(Grouping("a = b || c"), "(a = (b || c))");
  EXPECT_EQ(Grouping("a || b + c"), "(a || (b + c))");
  EXPECT_EQ(Grouping("a + b * c"), "(a + (b * c))");
  EXPECT_EQ(Grouping("a * b + c"), "((a * b) + c)");
  EXPECT_EQ(Grouping("-a * b"), "((-a) * b)");
  EXPECT_EQ(Grouping("-a::int"), "(-CAST(a AS INT))");
  EXPECT_EQ(Grouping("a::json.b"), "(CAST(a AS JSON).b)");
  EXPECT_EQ(Grouping("a.b[1]::text"), "CAST((a.b[1]) AS VARCHAR)");
  EXPECT_EQ(Grouping("a LIKE b || c"), "(a LIKE (b || c))");
  EXPECT_EQ(Grouping("a IN (1) AND b"), "((a IN (1)) AND b)");
  EXPECT_EQ(Grouping("a BETWEEN 1 AND 2 AND c"), "((a BETWEEN 1 AND 2) AND c)");
  EXPECT_EQ(Grouping("a BETWEEN b + 1 AND c * 2"), "(a BETWEEN (b + 1) AND (c * 2))");
  EXPECT_EQ(Grouping("a = b IS NULL"), "((a = b) IS NULL)");
  EXPECT_EQ(Grouping("a IS NOT DISTINCT FROM b + 1"), "(a IS NOT DISTINCT FROM (b + 1))");
}

TEST(ParseExpressions, Associativity) {
  EXPECT_EQ(Grouping("a - b - c"), "((a - b) - c)");
  EXPECT_EQ(Grouping("a / b * c % d"), "(((a / b) * c) % d)");
  EXPECT_EQ(Grouping("a || b || c"), "((a || b) || c)");
  EXPECT_EQ(Grouping("a OR b OR c"), "((a OR b) OR c)");
  EXPECT_EQ(Grouping("a = b = c"), "((a = b) = c)");
  EXPECT_EQ(Grouping("x::int::text"), "CAST(CAST(x AS INT) AS VARCHAR)");
  EXPECT_EQ(Grouping("a[1][2]"), "((a[1])[2])");
  EXPECT_EQ(Grouping("NOT NOT a"), "(NOT (NOT a))");
  EXPECT_EQ(Grouping("- - a"), "(-((-a)))");
}

TEST(ParseExpressions, MinimalParenthesesKeepTheGrouping) {
  EXPECT_EQ(ToSql(ParseExpr("(a + b) * c")), "(a + b) * c");
  EXPECT_EQ(ToSql(ParseExpr("a + (b * c)")), "a + b * c");
  EXPECT_EQ(ToSql(ParseExpr("a - (b - c)")), "a - (b - c)");
  EXPECT_EQ(ToSql(ParseExpr("(a OR b) AND NOT (c OR d)")), "(a OR b) AND NOT (c OR d)");
  EXPECT_EQ(ToSql(ParseExpr("(a = b) = (c = d)")), "a = b = (c = d)");
  EXPECT_EQ(ToSql(ParseExpr("-(a + b)")), "-(a + b)");
  EXPECT_EQ(ToSql(ParseExpr("(-a)::int")), "CAST(-a AS INT)");
}

TEST(ParseExpressions, NumbersAndNegation) {
  EXPECT_EQ(ExprAs<IntegerLiteral>("-9223372036854775808").value,
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(ExprAs<IntegerLiteral>("9223372036854775807").value,
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(ExprAs<IntegerLiteral>("- 42").value, -42);
  EXPECT_EQ(ExprAs<DecimalLiteral>("-1.50").text, "-1.50");
  EXPECT_EQ(ExprAs<DecimalLiteral>("2.5E-3").text, "2.5e-3");
  EXPECT_EQ(ExprAs<DecimalLiteral>(".5").text, ".5");
  // Parentheses keep a negation a negation, and a tighter operator binds first.
  EXPECT_TRUE(std::holds_alternative<UnaryOp>(ParseExpr("-(5)").node));
  const UnaryOp negated_cast = ExprAs<UnaryOp>("-5::text");
  EXPECT_TRUE(std::holds_alternative<Cast>(negated_cast.operand->node));
  // Unary plus is dropped.
  EXPECT_EQ(ParseExpr("+a"), ParseExpr("a"));
}

TEST(ParseExpressions, Literals) {
  EXPECT_EQ(ExprAs<StringLiteral>("'it''s'").value, "it's");
  EXPECT_TRUE(std::holds_alternative<NullLiteral>(ParseExpr("NULL").node));
  EXPECT_FALSE(ExprAs<BooleanLiteral>("false").value);
  const TypedLiteral timestamp = ExprAs<TypedLiteral>("TIMESTAMP '2026-11-25 08:30:00Z'");
  EXPECT_EQ(timestamp.type, TypeKind::kTimestamp);
  EXPECT_EQ(timestamp.value, "2026-11-25 08:30:00Z");
  EXPECT_EQ(ExprAs<TypedLiteral>("date '2026-11-25'").type, TypeKind::kDate);

  const IntervalLiteral minutes = ExprAs<IntervalLiteral>("INTERVAL '5' MINUTE");
  EXPECT_EQ(minutes.value, "5");
  EXPECT_EQ(minutes.unit, IntervalUnit::kMinute);
  EXPECT_FALSE(minutes.to_unit);
  const IntervalLiteral text = ExprAs<IntervalLiteral>("INTERVAL '5 minutes'");
  EXPECT_EQ(text.value, "5 minutes");
  EXPECT_FALSE(text.unit);
  const IntervalLiteral range = ExprAs<IntervalLiteral>("interval '1:30' hour to minute");
  EXPECT_EQ(range.unit, IntervalUnit::kHour);
  EXPECT_EQ(range.to_unit, IntervalUnit::kMinute);
  EXPECT_EQ(ParseExpr("INTERVAL 5 MINUTES"), ParseExpr("INTERVAL '5' MINUTE"));
}

TEST(ParseExpressions, Predicates) {
  const IsTest is = ExprAs<IsTest>("a IS NOT TRUE");
  EXPECT_EQ(is.predicate, IsPredicate::kTrue);
  EXPECT_TRUE(is.negated);
  EXPECT_EQ(ExprAs<BinaryOp>("a IS DISTINCT FROM b").op, BinaryOperator::kIsDistinctFrom);
  const InList in = ExprAs<InList>("a NOT IN (1, 2, 3)");
  EXPECT_TRUE(in.negated);
  EXPECT_EQ(in.list.size(), 3u);
  const Between between = ExprAs<Between>("a NOT BETWEEN 1 AND 2");
  EXPECT_TRUE(between.negated);
  const Like like = ExprAs<Like>("a NOT ILIKE 'x!%' ESCAPE '!'");
  EXPECT_TRUE(like.negated);
  EXPECT_TRUE(like.case_insensitive);
  EXPECT_EQ(std::get<StringLiteral>((*like.escape)->node).value, "!");
  EXPECT_EQ(ExprAs<BinaryOp>("a != b").op, BinaryOperator::kNotEq);
  EXPECT_EQ(ParseExpr("a != b"), ParseExpr("a <> b"));
}

TEST(ParseExpressions, CallsCastsCaseExtract) {
  const FunctionCall count = ExprAs<FunctionCall>("COUNT(*)");
  EXPECT_EQ(count.name, "count");
  EXPECT_TRUE(count.star);
  EXPECT_TRUE(count.args.empty());
  const FunctionCall distinct = ExprAs<FunctionCall>("count(DISTINCT x) FILTER (WHERE y > 0)");
  EXPECT_TRUE(distinct.distinct);
  ASSERT_EQ(distinct.args.size(), 1u);
  EXPECT_EQ(ToSql(**distinct.filter), "y > 0");
  const FunctionCall percentile = ExprAs<FunctionCall>("approx_percentile(duration_ms, 0.95)");
  EXPECT_EQ(percentile.args.size(), 2u);
  EXPECT_TRUE(ExprAs<FunctionCall>("now()").args.empty());

  EXPECT_EQ(ParseExpr("x::decimal(10,2)"), ParseExpr("CAST(x AS NUMERIC(10, 2))"));
  EXPECT_EQ(ExprAs<Cast>("CAST(x AS timestamp with time zone)").type.kind, TypeKind::kTimestamptz);
  EXPECT_EQ(ExprAs<Cast>("x::varchar(20)").type.length, 20);

  const Case simple = ExprAs<Case>("CASE x WHEN 1 THEN 'a' WHEN 2 THEN 'b' END");
  EXPECT_TRUE(simple.operand);
  EXPECT_EQ(simple.whens.size(), 2u);
  EXPECT_FALSE(simple.else_result);
  const Case searched = ExprAs<Case>("CASE WHEN a THEN 1 ELSE 2 END");
  EXPECT_FALSE(searched.operand);
  EXPECT_TRUE(searched.else_result);

  const Extract extract = ExprAs<Extract>("EXTRACT(Epoch FROM ts)");
  EXPECT_EQ(extract.field, "epoch");
  EXPECT_EQ(ToSql(ParseExpr("extract(epoch from ts)")), "EXTRACT(EPOCH FROM ts)");
}

TEST(ParseExpressions, StandaloneExpressionMustEnd) {
  EXPECT_EQ(ParseExpression("a = 1 b").status().message(),
            "line 1, column 7: expected the end of the expression, found 'b'");
  EXPECT_TRUE(ParseExpression("event_type IN ('payment.captured', 'refund.issued')").ok());
}

// ---- Errors -------------------------------------------------------------------------------------

TEST(ParseErrors, NameWhatWasExpectedAndWhatWasFoundWhere) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"SELECT a,\n  count(* FROM t",
       "line 2, column 11: expected ')' to close '(' opened at line 2, column 8, found 'FROM'"},
      {"SELECT a FROM t WHERE (a = 1 AND (b = 2)\nGROUP BY a",
       "line 2, column 1: expected ')' to close '(' opened at line 1, column 23, found 'GROUP'"},
      {"SELECT order FROM t",
       "line 1, column 8: expected an expression, found 'order' ('order' is a reserved word; "
       "if it is meant as a name, quote it: \"order\")"},
      {"CREATE STREAM select (a INT)",
       "line 1, column 15: expected a stream name, found 'select' ('select' is a reserved word; "
       "if it is meant as a name, quote it: \"select\")"},
      {"SELECT a FROM t AS from",
       "line 1, column 20: expected an alias after AS, found 'from' ('from' is a reserved word; "
       "if it is meant as a name, quote it: \"from\")"},
      {"SELECT 'abc",
       "line 1, column 8: unterminated string literal: no closing ' before the end "
       "of the input"},
      {"SELECT \"abc",
       "line 1, column 8: unterminated quoted identifier: no closing \" before the "
       "end of the input"},
      {"SELECT 1 /* a /* nested */ comment",
       "line 1, column 10: unterminated /* comment: no closing */ before the end of the input"},
      {"SELECT 12abc", "line 1, column 8: invalid number '12abc'"},
      {"SELECT 1.2.3", "line 1, column 8: invalid number '1.2.3'"},
      {"SELECT 1e+", "line 1, column 8: invalid number '1e+': the exponent has no digits"},
      {"SELECT 9223372036854775808",
       "line 1, column 8: integer 9223372036854775808 is out of range for BIGINT "
       "(-9223372036854775808 to 9223372036854775807)"},
      {"SELECT 1, -9223372036854775809",
       "line 1, column 11: integer -9223372036854775809 is out of range for BIGINT "
       "(-9223372036854775808 to 9223372036854775807)"},
      {"SELECT a\n  # b", "line 2, column 3: unexpected character '#'"},
      {"SELECT a | b", "line 1, column 10: unexpected character '|' (did you mean '||'?)"},
      {"SELECT a == b", "line 1, column 10: '==' is not an operator; use '='"},
      {"SELECT `a`",
       "line 1, column 8: unexpected character '`' (quote names with double quotes: \"name\")"},
      {"SELECT \"\"", "line 1, column 8: zero-length quoted identifier \"\""},
      {"SELECT a FROM t WHERE", "line 1, column 22: expected an expression, found end of input"},
      {"SELECT a FROM t x y",
       "line 1, column 19: expected ';' or the end of the input after the statement, found 'y'"},
      {"SELECT a FROM t, u",
       "line 1, column 16: a comma-separated FROM list is not supported; use JOIN ... ON"},
      {"SELECT a FROM t JOIN u WHERE a",
       "line 1, column 24: expected ON and the join condition after the joined table, found "
       "'WHERE'"},
      {"SELECT CAST(a AS money)",
       "line 1, column 18: unknown data type 'money' (expected BOOLEAN, INT, BIGINT, REAL, "
       "DOUBLE, DECIMAL, VARCHAR, TIMESTAMP, TIMESTAMPTZ, DATE, INTERVAL, JSON or JSONB)"},
      {"SELECT CASE WHEN a THEN b FROM t",
       "line 1, column 27: expected WHEN, ELSE or END to close the CASE opened at line 1, column "
       "8, found 'FROM'"},
      {"SELECT a FROM TUMBLE(s, ts)",
       "line 1, column 27: expected ',' and the window size, found ')'"},
      {"SELECT a FROM HOP(s, ts, INTERVAL '1' MINUTE)",
       "line 1, column 45: expected ',' and the window size, found ')'"},
      {"SELECT a FROM TUMBLE(s PARTITION BY k, ts, INTERVAL '1' MINUTE)",
       "line 1, column 24: PARTITION BY is only allowed in SESSION windows"},
      {"SELECT a FROM SESSION(s PARTITION BY k, ts, INTERVAL '1' MINUTE, j)",
       "line 1, column 64: the session key is given by PARTITION BY already; no more arguments"},
      {"CREATE TABLE t (a INT, b INT, a TEXT)",
       "line 1, column 31: column 'a' is defined twice (first at line 1, column 17)"},
      {"CREATE TABLE t (a INT PRIMARY KEY, PRIMARY KEY (a))",
       "line 1, column 36: a second PRIMARY KEY (the first is at line 1, column 23)"},
      {"CREATE TABLE t (a INT, PRIMARY KEY (b))",
       "line 1, column 37: PRIMARY KEY column 'b' is not a column of the table"},
      {"CREATE STREAM s (a INT PRIMARY KEY)",
       "line 1, column 24: PRIMARY KEY is only allowed in CREATE TABLE"},
      {"CREATE STREAM s WITH (retention = '1 day', retention = '2 days')",
       "line 1, column 44: option 'retention' is given twice (first at line 1, column 23)"},
      {"CREATE STREAM s WITH (retention '1 day')",
       "line 1, column 33: expected '=' after the option name, found string '1 day'"},
      {"CREATE MATERIALIZED VIEW v SELECT 1",
       "line 1, column 28: expected WITH (...) or AS after the view name, found 'SELECT'"},
      {"CREATE VIEW v AS SELECT 1",
       "line 1, column 8: expected STREAM, TABLE, MATERIALIZED VIEW or ALERT after CREATE, "
       "found 'VIEW'"},
      {"CREATE ALERT a v",
       "line 1, column 16: expected ON and the view the alert watches, found 'v'"},
      {"UPDATE t SET a = 1",
       "line 1, column 1: expected a statement (SELECT, CREATE, DROP, SHOW or DESCRIBE), found "
       "'UPDATE'"},
      {"SHOW USERS",
       "line 1, column 6: expected STREAMS, TABLES, VIEWS, MATERIALIZED VIEWS or ALERTS after "
       "SHOW, found 'USERS'"},
      {"SELECT a IS MAYBE",
       "line 1, column 13: expected NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM after IS, found "
       "'MAYBE'"},
      {"SELECT INTERVAL '1' MINUTE TO HOUR",
       "line 1, column 31: MINUTE TO HOUR: the second unit must be smaller than the first"},
      {"SELECT INTERVAL 5",
       "line 1, column 18: expected a unit (YEAR, MONTH, DAY, HOUR, MINUTE or SECOND) after "
       "INTERVAL 5, found end of input"},
      {"SELECT x IN (SELECT 1)",
       "line 1, column 14: subqueries are not supported in IN; list "
       "the values"},
      {"SELECT (SELECT 1)", "line 1, column 9: subqueries are only supported in FROM"},
      {"SELECT a.b(1)", "line 1, column 8: function names cannot be qualified"},
      {"SELECT CAST(a AS DECIMAL(40, 2))",
       "line 1, column 26: the DECIMAL precision must be between 1 and 38, not 40"},
      {"SELECT a LIMIT -1",
       "line 1, column 16: expected a non-negative integer after LIMIT, found '-'"},
      {"SELECT t.* AS x", "line 1, column 12: '*' cannot have an alias"},
      {"SELECT (a).*", "line 1, column 12: expected a field name after '.', found '*'"},
      {"SELECT f(x) FILTER (x > 1)", "line 1, column 21: expected WHERE after FILTER (, found 'x'"},
      {"SELECT a FROM lake.t FOR TIME AS OF 1",
       "line 1, column 26: expected SYSTEM_TIME or VERSION after FOR, found 'TIME'"},
      {"SELECT a ORDER BY a NULLS",
       "line 1, column 26: expected FIRST or LAST after NULLS, found "
       "end of input"},
      {"SELECT 'a very long string literal that goes on and on and on' 'x'",
       "line 1, column 64: expected ';' or the end of the input after the statement, found "
       "string 'x'"},
      {"SELECT 1 + 'a very long string literal that goes on and on and on' x y",
       "line 1, column 70: expected ';' or the end of the input after the statement, found 'y'"},
      {"SELECT \xC3", "line 1, column 8: invalid UTF-8 byte 0xC3"},
      {std::string_view("SELECT \0", 8), "line 1, column 8: unexpected NUL byte"},
      {"SELECT \x01", "line 1, column 8: unexpected control character U+0001"},
  };
  for (const auto& [sql, message] : cases) EXPECT_EQ(ErrorOf(sql), message) << sql;
}

TEST(ParseErrors, LongTokensAreShortenedInMessages) {
  std::string long_name(100, 'x');
  EXPECT_EQ(ErrorOf("SELECT a " + long_name + " b"),
            "line 1, column 111: expected ';' or the end of the input after the statement, found "
            "'b'");
  EXPECT_EQ(ErrorOf("SELECT a b " + long_name),
            "line 1, column 12: expected ';' or the end of the input after the statement, found "
            "'" +
                std::string(40, 'x') + "...'");
}

TEST(ParseErrors, TooLongText) {
  std::string text = "SELECT 1" + std::string(kMaxSqlBytes, ' ');
  EXPECT_EQ(ErrorOf(text), "line 1, column 1: SQL text too long: 1048584 bytes, at most 1048576");
}

// ---- Nesting limits -----------------------------------------------------------------------------

std::string Repeat(std::string_view piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

TEST(ParseLimits, ModerateNestingIsFine) {
  EXPECT_TRUE(Parse("SELECT " + Repeat("(", 200) + "1" + Repeat(")", 200)).ok());
  EXPECT_TRUE(Parse("SELECT 1" + Repeat(" + 1", 200)).ok());
  EXPECT_TRUE(Parse("SELECT " + Repeat("f(", 200) + "1" + Repeat(")", 200)).ok());
  EXPECT_TRUE(
      Parse("SELECT * FROM " + Repeat("(SELECT * FROM ", 100) + "t" + Repeat(")", 100)).ok());
  // Joins are a flat list: no limit from nesting.
  EXPECT_TRUE(Parse("SELECT 1 FROM t" + Repeat(" JOIN t ON TRUE", 1000)).ok());
  // Lists are flat too.
  EXPECT_TRUE(Parse("SELECT a IN (" + Repeat("1, ", 10000) + "1)").ok());
}

TEST(ParseLimits, DeepNestingIsAnErrorNotACrash) {
  const std::string too_deep = "nested too deeply: more than 256 levels";
  const std::string inputs[] = {
      "SELECT " + Repeat("(", 300) + "1" + Repeat(")", 300),
      "SELECT " + Repeat("(", 100000),
      "SELECT 1" + Repeat(" + 1", 300),
      "SELECT a" + Repeat(" AND a", 100000),
      "SELECT " + Repeat("NOT ", 300) + "a",
      "SELECT " + Repeat("- ", 300) + "a",
      "SELECT " + Repeat("f(", 300) + "1" + Repeat(")", 300),
      "SELECT " + Repeat("CASE WHEN ", 300),
      "SELECT a" + Repeat("[1]", 300),
      "SELECT a" + Repeat("::int", 300),
      "SELECT * FROM " + Repeat("(SELECT * FROM ", 300) + "t" + Repeat(")", 300),
      "SELECT * FROM " + Repeat("TUMBLE((SELECT * FROM ", 300),
  };
  for (const std::string& sql : inputs) {
    std::string message = ErrorOf(sql);
    EXPECT_NE(message.find(too_deep), std::string::npos) << message;
    EXPECT_EQ(message.rfind("line 1, column ", 0), 0u) << message;
  }
}

// ---- Robustness ---------------------------------------------------------------------------------

// Whatever the input, Parse() returns; an error has a positioned message, and a success prints
// to SQL that parses back to the same tree.
void CheckRobust(std::string_view sql) {
  Result<std::vector<Statement>> parsed = Parse(sql);
  if (!parsed.ok()) {
    EXPECT_EQ(parsed.status().message().rfind("line ", 0), 0u) << parsed.status().message();
    return;
  }
  for (const Statement& statement : *parsed) {
    std::string printed = ToSql(statement);
    Result<std::vector<Statement>> reparsed = Parse(printed);
    ASSERT_TRUE(reparsed.ok()) << printed << "\n" << reparsed.status().message();
    ASSERT_EQ(reparsed->size(), 1u);
    EXPECT_EQ(reparsed->front(), statement) << printed;
  }
}

TEST(ParseRobustness, RandomBytes) {
  std::mt19937 random(42);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(random() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(random() % 256);
    CheckRobust(bytes);
  }
}

TEST(ParseRobustness, RandomTokenSoup) {
  // Shuffled grammar pieces reach far deeper into the parser than random bytes do.
  const std::vector<std::string_view> pieces = {
      "SELECT",
      "FROM",
      "WHERE",
      "GROUP BY",
      "ORDER BY",
      "HAVING",
      "LIMIT",
      "JOIN",
      "ON",
      "LEFT",
      "AS",
      "a",
      "t.b",
      "\"Q\"",
      "1",
      "-2.5",
      "'s'",
      "(",
      ")",
      ",",
      ";",
      "+",
      "-",
      "*",
      "/",
      "||",
      "::",
      "int",
      "=",
      "<>",
      "AND",
      "OR",
      "NOT",
      "IS",
      "NULL",
      "IN",
      "LIKE",
      "BETWEEN",
      "CASE",
      "WHEN",
      "THEN",
      "ELSE",
      "END",
      "CAST",
      "[",
      "]",
      ".",
      "count",
      "DISTINCT",
      "TUMBLE",
      "SESSION",
      "TABLE",
      "INTERVAL",
      "'1'",
      "MINUTE",
      "CREATE",
      "STREAM",
      "WITH",
      "MATERIALIZED VIEW",
      "FILTER",
      "EXTRACT",
      "PARTITION",
      "DESCRIPTOR",
      "FOR SYSTEM_TIME AS OF",
      "TIMESTAMP",
      "DESC",
  };
  std::mt19937 random(7);
  for (int i = 0; i < 20000; ++i) {
    std::string sql;
    int length = static_cast<int>(random() % 24);
    for (int j = 0; j < length; ++j) {
      sql += pieces[random() % pieces.size()];
      sql += ' ';
    }
    CheckRobust(sql);
  }
}

TEST(ParseRobustness, EveryPrefixOfAValidStatement) {
  const std::string sql =
      "CREATE MATERIALIZED VIEW v WITH (emit = 'on_close') AS SELECT s.k, count(*) FILTER "
      "(WHERE x IS NOT NULL) AS n, CASE WHEN a BETWEEN 1 AND 2 THEN 'x' ELSE y::text END "
      "FROM SESSION(TABLE s PARTITION BY k, DESCRIPTOR(ts), INTERVAL '5' MINUTE) AS s "
      "LEFT JOIN lake.t FOR VERSION AS OF 3 AS t ON t.k = s.k WHERE s.v[1].w LIKE 'p%' "
      "GROUP BY 1 ORDER BY 2 DESC NULLS LAST LIMIT 5";
  ASSERT_TRUE(Parse(sql).ok());
  for (size_t length = 0; length <= sql.size(); ++length) CheckRobust(sql.substr(0, length));
}

}  // namespace
}  // namespace sluice::sql
