#include "sql/expr.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "sql/event_fields.h"
#include "sql/functions.h"
#include "sql/parser.h"

namespace sluice::sql {
namespace {

constexpr std::string_view kEvent = R"({
  "event_id": "evt-1", "event_type": "fulfilment.exception", "warehouse_id": "WH-03",
  "occurred_at": "2026-11-25T08:30:15.250Z", "amount_minor": 12345, "ratio": 0.25,
  "neg": -7, "big": 9223372036854775807, "flag": true, "nothing": null, "empty": "",
  "note": "Caf\u00e9 \"quoted\"", "unicode": "ÀÉÎ straße",
  "source": {"service": "wms-picking", "region": "eu-west-1", "nested": {"deep": 42}},
  "customer": {"tier": "gold"},
  "lines": [{"sku": "SKU-1", "qty": 2, "price": 1.5}, {"sku": "SKU-2", "qty": 3}],
  "tags": ["a", "b", "c"], "empty_list": [], "text_number": "12", "at_text": "2026-11-25 10:00:00"
})";

// Evaluates `sql` over kEvent (or `event`) and renders the result as "TYPE value", "NULL", or
// "ERROR message"; bind errors render as "BIND message".
std::string Eval(std::string_view sql, std::string_view event = kEvent) {
  Result<Expr> parsed = ParseExpression(sql);
  if (!parsed.ok()) return "PARSE " + parsed.status().message();
  Scope scope;
  scope.SetEventRelation({"fulfilment", "e"});
  scope.AddColumn("event_time", Type::kTimestamp, 0);
  scope.AddColumn("window_start", Type::kTimestamp, 1, "w");
  Result<BoundExpr> bound = Bind(*parsed, scope);
  if (!bound.ok()) return "BIND " + bound.status().message();
  FieldSet fields;
  Result<CompiledExpr> compiled = Compile(*bound, fields);
  if (!compiled.ok()) return "BIND " + compiled.status().message();
  EventFieldExtractor extractor(fields);
  std::string record(event);
  record.reserve(record.size() + simdjson::SIMDJSON_PADDING);
  Status extracted = extractor.Extract(record);
  if (!extracted.ok()) return "EVENT " + extracted.message();
  const Value columns[2] = {Value::Timestamp(ParseTimestamp("2026-11-25T08:30:15.25Z").value()),
                            Value::Timestamp(ParseTimestamp("2026-11-25T08:30:00Z").value())};
  EvalContext ctx;
  const Value v = compiled->Evaluate(Row{extractor.values(), columns}, ctx);
  if (!ctx.ok()) return "ERROR " + ctx.error().message();
  if (v.is_null()) return "NULL";
  std::string text;
  AppendText(text, v);
  return std::string(TypeName(v.type)) + " " + text;
}

Expr P(std::string_view sql) {
  Result<Expr> parsed = ParseExpression(sql);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  return parsed.ok() ? std::move(parsed).value() : Expr{};
}

std::string StaticType(std::string_view sql) {
  Scope scope;
  scope.SetEventRelation({});
  Result<BoundExpr> bound = Bind(P(sql), scope);
  return bound.ok() ? std::string(TypeName(bound->type)) : bound.status().message();
}

TEST(ExprTest, Fields) {
  EXPECT_EQ(Eval("warehouse_id"), "VARCHAR WH-03");
  EXPECT_EQ(Eval("e.warehouse_id"), "VARCHAR WH-03");
  EXPECT_EQ(Eval("fulfilment.amount_minor"), "BIGINT 12345");
  EXPECT_EQ(Eval("ratio"), "DOUBLE 0.25");
  EXPECT_EQ(Eval("flag"), "BOOLEAN true");
  EXPECT_EQ(Eval("nothing"), "NULL");
  EXPECT_EQ(Eval("missing"), "NULL");
  EXPECT_EQ(Eval("note"), "VARCHAR Café \"quoted\"");
  EXPECT_EQ(Eval("source.service"), "VARCHAR wms-picking");
  EXPECT_EQ(Eval("source.nested.deep"), "BIGINT 42");
  EXPECT_EQ(Eval("e.source.nested.deep"), "BIGINT 42");
  EXPECT_EQ(Eval("source.missing.deep"), "NULL");
  EXPECT_EQ(Eval("warehouse_id.x"), "NULL");  // not an object
  EXPECT_EQ(Eval("lines[1].sku"), "VARCHAR SKU-1");
  EXPECT_EQ(Eval("lines[2].qty"), "BIGINT 3");
  EXPECT_EQ(Eval("lines[3].sku"), "NULL");
  EXPECT_EQ(Eval("lines[0].sku"), "NULL");
  EXPECT_EQ(Eval("tags[3]"), "VARCHAR c");
  EXPECT_EQ(Eval("source['region']"), "VARCHAR eu-west-1");
  EXPECT_EQ(Eval("customer"), "JSON {\"tier\": \"gold\"}");
  EXPECT_EQ(Eval("tags"), "JSON [\"a\", \"b\", \"c\"]");
  EXPECT_EQ(Eval("big"), "BIGINT 9223372036854775807");
  EXPECT_EQ(Eval("cardinality(lines)"), "BIGINT 2");
  EXPECT_EQ(Eval("cardinality(empty_list)"), "BIGINT 0");
  EXPECT_EQ(Eval("cardinality(source)"), "NULL");
  EXPECT_EQ(Eval("json_array_length(tags)"), "BIGINT 3");
  EXPECT_EQ(Eval("cardinality(missing)"), "NULL");
}

TEST(ExprTest, PathsReadWholeAndInside) {
  // `source` is read whole and `source.service` inside it: both from one extraction.
  EXPECT_EQ(Eval("source.service || ' ' || cast(source AS VARCHAR)"),
            "VARCHAR wms-picking {\"service\": \"wms-picking\", \"region\": \"eu-west-1\", "
            "\"nested\": {\"deep\": 42}}");
  EXPECT_EQ(Eval("cardinality(tags) + cardinality(lines) + length(cast(tags AS VARCHAR))"),
            "BIGINT 20");
  // Run-time JSON access: subscripts computed per row, fields of computed JSON values.
  EXPECT_EQ(Eval("tags[cardinality(tags)]"), "VARCHAR c");
  EXPECT_EQ(Eval("(coalesce(customer, source)).tier"), "VARCHAR gold");
  EXPECT_EQ(Eval("lines[amount_minor - 12343].price"), "NULL");
  EXPECT_EQ(Eval("lines[amount_minor - 12344].price"), "DOUBLE 1.5");
}

TEST(ExprTest, Columns) {
  EXPECT_EQ(Eval("event_time"), "TIMESTAMP 2026-11-25 08:30:15.25");
  EXPECT_EQ(Eval("w.window_start"), "TIMESTAMP 2026-11-25 08:30:00");
  EXPECT_EQ(Eval("date_trunc('minute', event_time) = w.window_start"), "BOOLEAN true");
}

TEST(ExprTest, Arithmetic) {
  EXPECT_EQ(Eval("amount_minor / 100"), "BIGINT 123");
  EXPECT_EQ(Eval("amount_minor / 100.0"), "DOUBLE 123.45");
  EXPECT_EQ(Eval("-7 / 2"), "BIGINT -3");
  EXPECT_EQ(Eval("neg % 3"), "BIGINT -1");
  EXPECT_EQ(Eval("7 % -3"), "BIGINT 1");
  EXPECT_EQ(Eval("7.5 % 2"), "DOUBLE 1.5");
  EXPECT_EQ(Eval("1 / 0"), "NULL");
  EXPECT_EQ(Eval("1.0 / 0"), "NULL");
  EXPECT_EQ(Eval("5 % 0"), "NULL");
  EXPECT_EQ(Eval("amount_minor * ratio"), "DOUBLE 3086.25");
  EXPECT_EQ(Eval("amount_minor + 1 - 2 * 3"), "BIGINT 12340");
  EXPECT_EQ(Eval("big + 1"),
            "ERROR line 1, column 1: BIGINT out of range: 9223372036854775807 + 1");
  EXPECT_EQ(Eval("-9223372036854775808 / -1"),
            "BIND line 1, column 1: BIGINT out of range: -9223372036854775808 / -1");
  EXPECT_EQ(Eval("-big - 2"),
            "ERROR line 1, column 1: BIGINT out of range: -9223372036854775807 - 2");
  EXPECT_EQ(Eval("-(amount_minor)"), "BIGINT -12345");
  EXPECT_EQ(Eval("warehouse_id + 1"), "NULL");  // a string where a number is needed
  EXPECT_EQ(Eval("text_number + 1"), "NULL");
  EXPECT_EQ(Eval("nothing + 1"), "NULL");
  EXPECT_EQ(Eval("'a' || 1 || true || 1.5"), "VARCHAR a1true1.5");
  EXPECT_EQ(Eval("'a' || nothing"), "NULL");
  EXPECT_EQ(Eval("1e300 * 1e300"), "DOUBLE inf");
}

TEST(ExprTest, Comparisons) {
  EXPECT_EQ(Eval("event_type = 'fulfilment.exception'"), "BOOLEAN true");
  EXPECT_EQ(Eval("event_type <> 'fulfilment.exception'"), "BOOLEAN false");
  EXPECT_EQ(Eval("amount_minor > 12344.5"), "BOOLEAN true");
  EXPECT_EQ(Eval("1 = 1.0"), "BOOLEAN true");
  EXPECT_EQ(Eval("'B' < 'a'"), "BOOLEAN true");
  EXPECT_EQ(Eval("nothing = 1"), "NULL");
  EXPECT_EQ(Eval("warehouse_id = 3"), "NULL");  // incomparable at run time
  EXPECT_EQ(Eval("occurred_at > TIMESTAMP '2026-11-25T08:00:00Z'"), "BOOLEAN true");
  EXPECT_EQ(Eval("occurred_at < DATE '2026-11-25'"), "BOOLEAN false");
  EXPECT_EQ(Eval("at_text = TIMESTAMP '2026-11-25 10:00:00'"), "BOOLEAN true");
  EXPECT_EQ(Eval("warehouse_id < TIMESTAMP '2026-11-25 10:00:00'"), "NULL");
  EXPECT_EQ(Eval("event_time > '2026-11-25T08:30:00Z'"), "BOOLEAN true");
  EXPECT_EQ(Eval("nothing IS DISTINCT FROM NULL"), "BOOLEAN false");
  EXPECT_EQ(Eval("amount_minor IS DISTINCT FROM NULL"), "BOOLEAN true");
  EXPECT_EQ(Eval("amount_minor IS NOT DISTINCT FROM 12345.0"), "BOOLEAN true");
  EXPECT_EQ(Eval("warehouse_id IS DISTINCT FROM 3"), "BOOLEAN true");
}

TEST(ExprTest, ThreeValuedLogic) {
  EXPECT_EQ(Eval("NULL AND FALSE"), "BOOLEAN false");
  EXPECT_EQ(Eval("NULL AND TRUE"), "NULL");
  EXPECT_EQ(Eval("NULL OR TRUE"), "BOOLEAN true");
  EXPECT_EQ(Eval("NULL OR FALSE"), "NULL");
  EXPECT_EQ(Eval("NOT nothing"), "NULL");
  EXPECT_EQ(Eval("NOT flag"), "BOOLEAN false");
  EXPECT_EQ(Eval("flag AND amount_minor > 1 AND warehouse_id = 'WH-03'"), "BOOLEAN true");
  EXPECT_EQ(Eval("warehouse_id AND TRUE"), "NULL");  // a string is not a boolean
  EXPECT_EQ(Eval("nothing IS NULL"), "BOOLEAN true");
  EXPECT_EQ(Eval("missing IS NOT NULL"), "BOOLEAN false");
  EXPECT_EQ(Eval("flag IS TRUE"), "BOOLEAN true");
  EXPECT_EQ(Eval("nothing IS NOT TRUE"), "BOOLEAN true");
  EXPECT_EQ(Eval("nothing IS UNKNOWN"), "BOOLEAN true");
  EXPECT_EQ(Eval("(1 > 2) IS FALSE"), "BOOLEAN true");
  EXPECT_EQ(Eval("warehouse_id IS TRUE"), "BOOLEAN false");
}

TEST(ExprTest, InBetweenLike) {
  EXPECT_EQ(Eval("warehouse_id IN ('WH-01', 'WH-03')"), "BOOLEAN true");
  EXPECT_EQ(Eval("warehouse_id NOT IN ('WH-01', 'WH-03')"), "BOOLEAN false");
  EXPECT_EQ(Eval("warehouse_id IN ('WH-01', NULL)"), "NULL");
  EXPECT_EQ(Eval("warehouse_id NOT IN ('WH-01', NULL)"), "NULL");
  EXPECT_EQ(Eval("amount_minor IN (1, 12345.0)"), "BOOLEAN true");
  EXPECT_EQ(Eval("nothing IN (1, 2)"), "NULL");
  EXPECT_EQ(Eval("amount_minor BETWEEN 12000 AND 13000"), "BOOLEAN true");
  EXPECT_EQ(Eval("amount_minor NOT BETWEEN 12000 AND 13000"), "BOOLEAN false");
  EXPECT_EQ(Eval("amount_minor BETWEEN 13000 AND NULL"), "BOOLEAN false");
  EXPECT_EQ(Eval("amount_minor BETWEEN 1 AND NULL"), "NULL");
  EXPECT_EQ(Eval("occurred_at BETWEEN '2026-11-25T08:00:00Z' AND TIMESTAMP '2026-11-26 00:00:00'"),
            "BOOLEAN true");
  EXPECT_EQ(Eval("event_type LIKE 'fulfilment.%'"), "BOOLEAN true");
  EXPECT_EQ(Eval("event_type LIKE '%exception'"), "BOOLEAN true");
  EXPECT_EQ(Eval("event_type LIKE '%ment.exc%'"), "BOOLEAN true");
  EXPECT_EQ(Eval("event_type LIKE 'fulfilment_exception'"), "BOOLEAN true");
  EXPECT_EQ(Eval("event_type LIKE 'f%l%t%n'"), "BOOLEAN true");
  EXPECT_EQ(Eval("event_type LIKE 'f%x%a'"), "BOOLEAN false");
  EXPECT_EQ(Eval("event_type NOT LIKE 'order.%'"), "BOOLEAN true");
  EXPECT_EQ(Eval("event_type ILIKE 'FULFILMENT.%'"), "BOOLEAN true");
  EXPECT_EQ(Eval("'100%' LIKE '100!%' ESCAPE '!'"), "BOOLEAN true");
  EXPECT_EQ(Eval("'1000' LIKE '100!%' ESCAPE '!'"), "BOOLEAN false");
  EXPECT_EQ(Eval("'a_c' LIKE 'a\\_c' ESCAPE '\\'"), "BOOLEAN true");
  EXPECT_EQ(Eval("'é' LIKE '_'"), "BOOLEAN true");
  EXPECT_EQ(Eval("unicode LIKE '___ %'"), "BOOLEAN true");
  EXPECT_EQ(Eval("nothing LIKE 'a%'"), "NULL");
  EXPECT_EQ(Eval("'abc' LIKE warehouse_id"), "BOOLEAN false");
  EXPECT_EQ(Eval("'ab' LIKE 'a!' ESCAPE '!'"),
            "BIND line 1, column 1: LIKE pattern must not end with the escape character");
}

TEST(ExprTest, Case) {
  EXPECT_EQ(Eval("CASE WHEN amount_minor > 10000 THEN 'large' WHEN amount_minor > 100 THEN "
                 "'medium' ELSE 'small' END"),
            "VARCHAR large");
  EXPECT_EQ(Eval("CASE WHEN nothing THEN 1 END"), "NULL");
  EXPECT_EQ(Eval("CASE warehouse_id WHEN 'WH-01' THEN 1 WHEN 'WH-03' THEN 3 ELSE 0 END"),
            "BIGINT 3");
  EXPECT_EQ(Eval("CASE nothing WHEN NULL THEN 1 ELSE 2 END"), "BIGINT 2");
  EXPECT_EQ(Eval("CASE WHEN flag THEN 1 ELSE 2.5 END"), "DOUBLE 1.0");
  EXPECT_EQ(StaticType("CASE WHEN a THEN 1 ELSE 2.5 END"), "DOUBLE");
  EXPECT_EQ(StaticType("CASE WHEN a THEN b ELSE 2.5 END"), "ANY");
  // Only the branch taken is evaluated: no overflow error from the other one.
  EXPECT_EQ(Eval("CASE WHEN flag THEN 1 ELSE big + 1 END"), "BIGINT 1");
}

TEST(ExprTest, Casts) {
  EXPECT_EQ(Eval("CAST(text_number AS BIGINT) + 1"), "BIGINT 13");
  EXPECT_EQ(Eval("text_number::int * 2"), "BIGINT 24");
  EXPECT_EQ(Eval("CAST(warehouse_id AS BIGINT)"),
            "ERROR line 1, column 1: invalid input for BIGINT: 'WH-03'");
  EXPECT_EQ(Eval("CAST('x' AS BIGINT)"), "BIND line 1, column 1: invalid input for BIGINT: 'x'");
  EXPECT_EQ(Eval("CAST(2.5 AS BIGINT)"), "BIGINT 2");  // half to even
  EXPECT_EQ(Eval("CAST(3.5 AS BIGINT)"), "BIGINT 4");
  EXPECT_EQ(Eval("CAST(1e19 AS BIGINT)"),
            "BIND line 1, column 1: 1e+19 is out of range for BIGINT");
  EXPECT_EQ(Eval("CAST(amount_minor AS DOUBLE) / 3"), "DOUBLE 4115.0");
  EXPECT_EQ(Eval("CAST(amount_minor / 7.0 AS DECIMAL(10, 2))"), "DOUBLE 1763.57");
  EXPECT_EQ(Eval("CAST(amount_minor AS VARCHAR) || '!'"), "VARCHAR 12345!");
  EXPECT_EQ(Eval("CAST(ratio AS VARCHAR)"), "VARCHAR 0.25");
  EXPECT_EQ(Eval("CAST(100.0 AS VARCHAR)"), "VARCHAR 100.0");
  EXPECT_EQ(Eval("CAST(flag AS VARCHAR)"), "VARCHAR true");
  EXPECT_EQ(Eval("CAST(occurred_at AS TIMESTAMP)"), "TIMESTAMP 2026-11-25 08:30:15.25");
  EXPECT_EQ(Eval("occurred_at::timestamptz::date"), "DATE 2026-11-25");
  EXPECT_EQ(Eval("CAST(event_time AS VARCHAR)"), "VARCHAR 2026-11-25 08:30:15.25");
  EXPECT_EQ(Eval("CAST('2026-11-25T09:30:00+01:00' AS TIMESTAMP)"),
            "TIMESTAMP 2026-11-25 08:30:00");
  // Ten characters that are not a date (found by the fuzzer: once an endless recursion).
  EXPECT_EQ(Eval("CAST('not a date' AS DATE)"),
            "BIND line 1, column 1: invalid input for DATE: 'not a date'");
  EXPECT_EQ(Eval("DATE '2026-11-25' + 9223372036854775807"),
            "BIND line 1, column 1: DATE out of range");
  EXPECT_EQ(Eval("CAST('yes' AS BOOLEAN)"), "BOOLEAN true");
  EXPECT_EQ(Eval("CAST(0 AS BOOLEAN)"), "BOOLEAN false");
  EXPECT_EQ(Eval("CAST(' 42 ' AS BIGINT)"), "BIGINT 42");
  EXPECT_EQ(Eval("CAST('1.5e3' AS DOUBLE)"), "DOUBLE 1500.0");
  EXPECT_EQ(Eval("CAST('90 minutes' AS INTERVAL)"), "INTERVAL 01:30:00");
  EXPECT_EQ(Eval("CAST('{\"a\": [1, 2]}' AS JSON)"), "JSON {\"a\": [1, 2]}");
  EXPECT_EQ(Eval("CAST('{\"a\": ' AS JSON)").substr(0, 45),
            "BIND line 1, column 1: invalid input for JSON");
  EXPECT_EQ(Eval("('{\"a\": {\"b\": 7}}'::json).a.b"), "BIGINT 7");
  EXPECT_EQ(Eval("CAST(lines AS VARCHAR) LIKE '[{%'"), "BOOLEAN true");
  EXPECT_EQ(Eval("CAST(flag = TRUE AS TIMESTAMP)"),
            "BIND line 1, column 1: cannot cast BOOLEAN to TIMESTAMP");
  EXPECT_EQ(Eval("CAST(flag AS TIMESTAMP)"), "NULL");    // a boolean at run time: no such cast
  EXPECT_EQ(Eval("CAST(source AS TIMESTAMP)"), "NULL");  // JSON at run time: no such cast
  EXPECT_EQ(Eval("CAST(nothing AS BIGINT)"), "NULL");
}

TEST(ExprTest, Times) {
  EXPECT_EQ(Eval("date_trunc('minute', occurred_at)"), "TIMESTAMP 2026-11-25 08:30:00");
  EXPECT_EQ(Eval("date_trunc('hour', event_time)"), "TIMESTAMP 2026-11-25 08:00:00");
  EXPECT_EQ(Eval("date_trunc('day', event_time)"), "TIMESTAMP 2026-11-25 00:00:00");
  EXPECT_EQ(Eval("date_trunc('week', event_time)"), "TIMESTAMP 2026-11-23 00:00:00");
  EXPECT_EQ(Eval("date_trunc('month', event_time)"), "TIMESTAMP 2026-11-01 00:00:00");
  EXPECT_EQ(Eval("date_trunc('quarter', event_time)"), "TIMESTAMP 2026-10-01 00:00:00");
  EXPECT_EQ(Eval("date_trunc('year', DATE '2026-11-25')"), "TIMESTAMP 2026-01-01 00:00:00");
  EXPECT_EQ(Eval("date_trunc('fortnight', event_time)").substr(0, 49),
            "BIND line 1, column 12: unknown unit 'fortnight' ");
  EXPECT_EQ(Eval("EXTRACT(year FROM occurred_at)"), "BIGINT 2026");
  EXPECT_EQ(Eval("EXTRACT(month FROM event_time)"), "BIGINT 11");
  EXPECT_EQ(Eval("EXTRACT(day FROM event_time)"), "BIGINT 25");
  EXPECT_EQ(Eval("EXTRACT(hour FROM event_time)"), "BIGINT 8");
  EXPECT_EQ(Eval("EXTRACT(minute FROM event_time)"), "BIGINT 30");
  EXPECT_EQ(Eval("EXTRACT(second FROM event_time)"), "BIGINT 15");
  EXPECT_EQ(Eval("EXTRACT(millisecond FROM event_time)"), "BIGINT 15250");
  EXPECT_EQ(Eval("EXTRACT(epoch FROM event_time)"), "DOUBLE 1795595415.25");
  EXPECT_EQ(Eval("EXTRACT(dow FROM event_time)"), "BIGINT 3");
  EXPECT_EQ(Eval("EXTRACT(isodow FROM DATE '2026-11-29')"), "BIGINT 7");
  EXPECT_EQ(Eval("EXTRACT(doy FROM DATE '2026-02-01')"), "BIGINT 32");
  EXPECT_EQ(Eval("EXTRACT(week FROM DATE '2027-01-01')"), "BIGINT 53");
  EXPECT_EQ(Eval("EXTRACT(epoch FROM INTERVAL '90' MINUTE)"), "DOUBLE 5400.0");
  EXPECT_EQ(Eval("EXTRACT(hour FROM INTERVAL '90' MINUTE)"),
            "BIND line 1, column 19: only epoch can be extracted from an INTERVAL (its seconds)");
  EXPECT_EQ(Eval("EXTRACT(fortnight FROM event_time)").substr(0, 51),
            "BIND line 1, column 1: unknown field 'fortnight' fo");
  EXPECT_EQ(Eval("date_part('hour', occurred_at)"), "BIGINT 8");
  EXPECT_EQ(Eval("occurred_at + INTERVAL '2' HOUR"), "TIMESTAMP 2026-11-25 10:30:15.25");
  EXPECT_EQ(Eval("event_time - INTERVAL '1 day 02:00:00'"), "TIMESTAMP 2026-11-24 06:30:15.25");
  EXPECT_EQ(Eval("event_time - TIMESTAMP '2026-11-25 08:00:00'"), "INTERVAL 00:30:15.25");
  EXPECT_EQ(Eval("event_time - occurred_at"), "INTERVAL 00:00:00");
  EXPECT_EQ(Eval("DATE '2026-11-25' - DATE '2026-11-01'"), "BIGINT 24");
  EXPECT_EQ(Eval("DATE '2026-11-25' + 7"), "DATE 2026-12-02");
  EXPECT_EQ(Eval("INTERVAL '1:30' HOUR TO MINUTE * 2"), "INTERVAL 03:00:00");
  EXPECT_EQ(Eval("INTERVAL '5 minutes' / 2"), "INTERVAL 00:02:30");
  EXPECT_EQ(Eval("INTERVAL '1' MONTH").substr(0, 62),
            "BIND line 1, column 1: intervals of months or years are not su");
  EXPECT_EQ(Eval("to_timestamp(1.5)"), "TIMESTAMP 1970-01-01 00:00:01.5");
  EXPECT_EQ(Eval("to_timestamp(amount_minor)"), "TIMESTAMP 1970-01-01 03:25:45");
  EXPECT_EQ(Eval("epoch(event_time)"), "DOUBLE 1795595415.25");
  EXPECT_EQ(Eval("epoch_ms(event_time)"), "BIGINT 1795595415250");
  EXPECT_EQ(Eval("date_trunc('minute', warehouse_id)"), "NULL");  // not a time
  EXPECT_EQ(Eval("TIMESTAMP 'garbage'").substr(0, 61),
            "BIND line 1, column 1: invalid input for TIMESTAMP: 'garbage'");
  EXPECT_EQ(Eval("TIMESTAMP '2026-11-25'"), "TIMESTAMP 2026-11-25 00:00:00");
}

TEST(ExprTest, StringFunctions) {
  EXPECT_EQ(Eval("lower(event_type) = upper(event_type)"), "BOOLEAN false");
  EXPECT_EQ(Eval("upper(warehouse_id)"), "VARCHAR WH-03");
  EXPECT_EQ(Eval("lower(unicode)"), "VARCHAR àéî straße");
  EXPECT_EQ(Eval("upper('àé')"), "VARCHAR ÀÉ");
  EXPECT_EQ(Eval("length(unicode)"), "BIGINT 10");
  EXPECT_EQ(Eval("char_length(empty)"), "BIGINT 0");
  EXPECT_EQ(Eval("octet_length('é')"), "BIGINT 2");
  EXPECT_EQ(Eval("substr(warehouse_id, 4)"), "VARCHAR 03");
  EXPECT_EQ(Eval("substring(warehouse_id, 1, 2)"), "VARCHAR WH");
  EXPECT_EQ(Eval("substr('hello', 0, 2)"), "VARCHAR h");
  EXPECT_EQ(Eval("substr(unicode, 2, 2)"), "VARCHAR ÉÎ");
  EXPECT_EQ(Eval("substr('hello', 2, -1)"),
            "BIND line 1, column 1: negative substring length not allowed");
  EXPECT_EQ(Eval("substr(warehouse_id, 2, neg)"),
            "ERROR line 1, column 1: negative substring length not allowed");
  EXPECT_EQ(Eval("trim('  a b  ')"), "VARCHAR a b");
  EXPECT_EQ(Eval("ltrim('xxaxx', 'x')"), "VARCHAR axx");
  EXPECT_EQ(Eval("rtrim('xxaxx', 'x')"), "VARCHAR xxa");
  EXPECT_EQ(Eval("replace(event_type, '.', '/')"), "VARCHAR fulfilment/exception");
  EXPECT_EQ(Eval("replace('aaa', '', 'b')"), "VARCHAR aaa");
  EXPECT_EQ(Eval("starts_with(event_type, 'fulfilment')"), "BOOLEAN true");
  EXPECT_EQ(Eval("ends_with(event_type, 'order')"), "BOOLEAN false");
  EXPECT_EQ(Eval("concat(warehouse_id, '-', nothing, 7)"), "VARCHAR WH-03-7");
  EXPECT_EQ(Eval("concat_ws('/', warehouse_id, nothing, source.service)"),
            "VARCHAR WH-03/wms-picking");
  EXPECT_EQ(Eval("strpos(event_type, 'exception')"), "BIGINT 12");
  EXPECT_EQ(Eval("strpos(unicode, 'straße')"), "BIGINT 5");
  EXPECT_EQ(Eval("strpos(event_type, 'zzz')"), "BIGINT 0");
  EXPECT_EQ(Eval("split_part(event_type, '.', 2)"), "VARCHAR exception");
  EXPECT_EQ(Eval("split_part(event_type, '.', -1)"), "VARCHAR exception");
  EXPECT_EQ(Eval("split_part(event_type, '.', 3)"), "VARCHAR ");
  EXPECT_EQ(Eval("split_part('a', '.', 0)"),
            "BIND line 1, column 1: field position must not be zero");
  EXPECT_EQ(Eval("\"left\"(warehouse_id, 2) || \"right\"(warehouse_id, -3)"), "VARCHAR WH03");
  EXPECT_EQ(Eval("lower(amount_minor)"), "NULL");  // a number where text is needed
  EXPECT_EQ(Eval("contains(note, 'quoted')"), "BOOLEAN true");
}

TEST(ExprTest, ConditionalAndMath) {
  EXPECT_EQ(Eval("coalesce(nothing, missing, warehouse_id)"), "VARCHAR WH-03");
  EXPECT_EQ(Eval("coalesce(nothing, 1)"), "BIGINT 1");
  EXPECT_EQ(Eval("coalesce(amount_minor, big + 1)"), "BIGINT 12345");  // lazy
  EXPECT_EQ(Eval("nullif(warehouse_id, 'WH-03')"), "NULL");
  EXPECT_EQ(Eval("nullif(warehouse_id, 'WH-04')"), "VARCHAR WH-03");
  EXPECT_EQ(Eval("greatest(1, amount_minor, nothing, 2.5)"), "BIGINT 12345");
  EXPECT_EQ(Eval("least(3, 1.5, NULL)"), "DOUBLE 1.5");
  EXPECT_EQ(Eval("greatest(NULL, NULL)"), "NULL");
  EXPECT_EQ(Eval("abs(neg)"), "BIGINT 7");
  EXPECT_EQ(Eval("abs(-2.5)"), "DOUBLE 2.5");
  EXPECT_EQ(Eval("abs(-9223372036854775808)"),
            "BIND line 1, column 1: BIGINT out of range: abs(-9223372036854775808)");
  EXPECT_EQ(Eval("round(2.5)"), "DOUBLE 3.0");
  EXPECT_EQ(Eval("round(-2.5)"), "DOUBLE -3.0");
  EXPECT_EQ(Eval("round(amount_minor / 7.0, 2)"), "DOUBLE 1763.57");
  EXPECT_EQ(Eval("round(amount_minor, -2)"), "BIGINT 12300");
  EXPECT_EQ(Eval("round(-12350, -2)"), "BIGINT -12400");
  EXPECT_EQ(Eval("floor(-1.5)"), "DOUBLE -2.0");
  EXPECT_EQ(Eval("ceil(1.2)"), "DOUBLE 2.0");
  EXPECT_EQ(Eval("floor(amount_minor)"), "BIGINT 12345");
  EXPECT_EQ(Eval("sign(neg)"), "BIGINT -1");
  EXPECT_EQ(Eval("sqrt(16)"), "DOUBLE 4.0");
  EXPECT_EQ(Eval("sqrt(neg)"),
            "ERROR line 1, column 1: cannot take the square root of a negative number");
  EXPECT_EQ(Eval("power(2, 10)"), "DOUBLE 1024.0");
  EXPECT_EQ(Eval("ln(exp(1))"), "DOUBLE 1.0");
  EXPECT_EQ(Eval("log10(1000)"), "DOUBLE 3.0");
}

TEST(ExprTest, BindErrors) {
  EXPECT_EQ(Eval("cardinalty(lines)"),
            "BIND line 1, column 1: unknown function 'cardinalty' (did you mean 'cardinality'?)");
  EXPECT_EQ(Eval("a + lower(b) + 1"),
            "BIND line 1, column 1: operator '+' cannot add ANY and VARCHAR");
  EXPECT_EQ(Eval("1 + lower(b)"),
            "BIND line 1, column 1: operator '+' cannot add BIGINT and VARCHAR");
  EXPECT_EQ(Eval("lower(b) + 1"),
            "BIND line 1, column 1: operator '+' cannot add VARCHAR and BIGINT");
  EXPECT_EQ(Eval("lower(b) - 1"),
            "BIND line 1, column 1: operator '-' cannot subtract BIGINT from VARCHAR");
  EXPECT_EQ(Eval("x = 1 AND sum(amount_minor) > 3"),
            "BIND line 1, column 11: aggregate 'sum' is not allowed here");
  EXPECT_EQ(Eval("now()").substr(0, 62),
            "BIND line 1, column 1: now() is not allowed: a view must give ");
  EXPECT_EQ(Eval("current_timestamp").substr(0, 56),
            "BIND line 1, column 1: current_timestamp is not allowed:");
  EXPECT_EQ(Eval("round(1, 2, 3)"),
            "BIND line 1, column 1: function 'round' takes 1 or 2 arguments, found 3: "
            "round(number) -> number, round(number, BIGINT) -> number");
  EXPECT_EQ(Eval("lower(1)"),
            "BIND line 1, column 7: argument 1 of lower(VARCHAR) -> VARCHAR must be VARCHAR, "
            "found BIGINT");
  EXPECT_EQ(Eval("  flag AND\n    lower(x) = 5"),
            "BIND line 2, column 5: operator '=' cannot compare VARCHAR and BIGINT");
  EXPECT_EQ(Eval("1 AND flag"),
            "BIND line 1, column 1: argument of AND must be BOOLEAN, found BIGINT");
  // As in PostgreSQL, a '...' literal takes the type of the other branches.
  EXPECT_EQ(Eval("CASE WHEN flag THEN 'a' ELSE 1 END"),
            "BIND line 1, column 21: invalid input for BIGINT: 'a'");
  EXPECT_EQ(Eval("CASE WHEN flag THEN lower(x) ELSE 1 END"),
            "BIND line 1, column 35: the results of CASE have incompatible types VARCHAR and "
            "BIGINT");
  EXPECT_EQ(Eval("lower(x) IN (1, 2)"),
            "BIND line 1, column 14: the operand and the values of IN have incompatible types "
            "VARCHAR and BIGINT");
  EXPECT_EQ(Eval("upper(x, DISTINCT)").substr(0, 5), "PARSE");
  EXPECT_EQ(Eval("lower(DISTINCT x)"),
            "BIND line 1, column 1: DISTINCT is only valid in aggregates, and 'lower' is not one");
  EXPECT_EQ(Eval("position('a', b)").substr(0, 55),
            "BIND line 1, column 1: unknown function 'position' (use");
  EXPECT_EQ(Eval("source = customer"), "NULL");  // both decided per event: objects
  EXPECT_EQ(Eval("CAST(source AS JSON) = customer"),
            "BIND line 1, column 1: operator '=' cannot compare JSON values; extract a field or "
            "cast to VARCHAR");
  EXPECT_EQ(Eval("event_time + 1"),
            "BIND line 1, column 1: operator '+' cannot add TIMESTAMP and BIGINT");
  EXPECT_EQ(Eval("event_time > 'yesterday'").substr(0, 64),
            "BIND line 1, column 14: invalid input for TIMESTAMP: 'yesterday'");
}

TEST(ExprTest, ScopesAndAggregates) {
  Result<Expr> having = ParseExpression("sum(amount_minor) > 100 AND warehouse_id <> 'WH-01'");
  ASSERT_TRUE(having.ok());
  std::vector<const Expr*> aggregates = FindAggregates(*having);
  ASSERT_EQ(aggregates.size(), 1u);
  EXPECT_EQ(ToSql(*aggregates[0]), "sum(amount_minor)");

  // After GROUP BY warehouse_id: the key and the aggregate are columns; nothing else exists.
  Scope after;
  after.AddExpression(*aggregates[0], Type::kBigint, 0);
  after.AddExpression(P("warehouse_id"), Type::kVarchar, 1);
  after.SetUnknownNameHint("after GROUP BY, use a grouping key or an aggregate");
  Result<BoundExpr> bound = Bind(*having, after);
  ASSERT_TRUE(bound.ok()) << bound.status().message();
  FieldSet fields;
  Result<CompiledExpr> compiled = Compile(*bound, fields);
  ASSERT_TRUE(compiled.ok());
  EXPECT_EQ(fields.size(), 0u);
  const Value columns[2] = {Value::Bigint(500), Value::Varchar("WH-02")};
  EvalContext ctx;
  Value v = compiled->Evaluate(Row{{}, columns}, ctx);
  EXPECT_EQ(v.type, Type::kBoolean);
  EXPECT_TRUE(v.boolean);

  Result<BoundExpr> bad = Bind(P("amount_minor > 1"), after);
  EXPECT_EQ(bad.status().message(),
            "line 1, column 1: unknown column 'amount_minor'; after GROUP BY, use a grouping key "
            "or an aggregate");
  Scope where;
  where.SetEventRelation({});
  where.SetAggregateHint("aggregates belong in HAVING, not in WHERE");
  EXPECT_EQ(Bind(P("count(*) > 1"), where).status().message(),
            "line 1, column 1: aggregate 'count' is not allowed here (aggregates belong in "
            "HAVING, not in WHERE)");
  EXPECT_TRUE(IsAggregateFunction("approx_percentile"));
  EXPECT_FALSE(IsAggregateFunction("lower"));
}

TEST(ExprTest, SchemaHookGivesStaticTypes) {
  Scope scope;
  scope.SetEventRelation({});
  scope.SetFieldTypeHook([](const FieldPath& path) -> std::optional<Type> {
    if (path.size() == 1 && path[0].name == "occurred_at") return Type::kTimestamp;
    if (path.size() == 1 && path[0].name == "warehouse_id") return Type::kVarchar;
    return std::nullopt;
  });
  EXPECT_EQ(Bind(P("occurred_at"), scope)->type, Type::kTimestamp);
  EXPECT_EQ(Bind(P("warehouse_id + 1"), scope).status().message(),
            "line 1, column 1: operator '+' cannot add VARCHAR and BIGINT");
}

TEST(ExprTest, ConstantsAreFolded) {
  Scope scope;
  scope.SetEventRelation({});
  FieldSet fields;
  Result<BoundExpr> bound = Bind(P("upper('a' || 'b') || CAST(1 + 2 AS VARCHAR)"), scope);
  ASSERT_TRUE(bound.ok());
  Result<CompiledExpr> compiled = Compile(*bound, fields);
  ASSERT_TRUE(compiled.ok());
  EXPECT_TRUE(compiled->is_constant());
  EvalContext ctx;
  EXPECT_EQ(compiled->Evaluate(Row{}, ctx).str(), "AB3");
  // A data error in a constant is reported when compiling, at its place.
  Result<BoundExpr> overflow = Bind(P("x + (9223372036854775807 + 1)"), scope);
  ASSERT_TRUE(overflow.ok());
  EXPECT_EQ(Compile(*overflow, fields).status().message(),
            "line 1, column 6: BIGINT out of range: 9223372036854775807 + 1");
}

TEST(ExprTest, RegistryListsSignatures) {
  const FunctionDef* f = FindFunction("date_trunc");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->signatures, "date_trunc(unit VARCHAR, TIMESTAMP) -> TIMESTAMP");
  EXPECT_EQ(SimilarFunctionNames("substrng").front(), "substring");
}

}  // namespace
}  // namespace sluice::sql
