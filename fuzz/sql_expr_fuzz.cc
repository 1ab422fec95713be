// libFuzzer target: arbitrary bytes as a SQL expression, bound against a fixed scope (a stream
// with qualifier `e`, the columns event_time and w.window_start, and sum(amount_minor) as a
// registered aggregate), compiled, and evaluated over a few fixed events, ordinary and odd.
// Nothing may crash, hang or hit undefined behaviour (ASan + UBSan); every failure must be a
// Status whose message starts with "line L, column C: ", at bind time or at run time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "sql/event_fields.h"
#include "sql/expr.h"
#include "sql/parser.h"

namespace {

using namespace sluice;
using namespace sluice::sql;

const char* const kEvents[] = {
    R"({"event_id":"evt-1","event_type":"fulfilment.exception","warehouse_id":"WH-03",)"
    R"("occurred_at":"2026-11-25T08:30:15.250Z","amount_minor":12345,"ratio":0.25,"flag":true,)"
    R"("source":{"service":"wms","nested":{"deep":[1,{"x":"y"}]}},"lines":[{"sku":"A","qty":2},)"
    R"({"sku":"B\u00e9","qty":3}],"tags":["a","b"],"note":"100% \"quoted\" \\ é"})",
    R"({"amount_minor":9223372036854775807,"ratio":-1e308,"lines":[],"source":null,)"
    R"("occurred_at":"not a time","warehouse_id":"","flag":"yes","tags":{}})",
    R"({"amount_minor":-9223372036854775808,"ratio":1e-320,"lines":"x","source":[1,2,3],)"
    R"("occurred_at":12,"warehouse_id":null,"flag":0,"huge":123456789012345678901234567890})",
    R"([1,2,3])",
    R"({"a":)",
};

struct Fixture {
  Scope scope;
  Fixture() {
    scope.SetEventRelation({"fulfilment", "e"});
    scope.AddColumn("event_time", Type::kTimestamp, 0);
    scope.AddColumn("window_start", Type::kTimestamp, 1, "w");
    scope.AddExpression(ParseExpression("sum(amount_minor)").value(), Type::kBigint, 2);
  }
};

bool IsSqlError(const Status& status) {
  return status.message().rfind("line ", 0) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  Result<Expr> parsed = ParseExpression(sql);
  if (!parsed.ok()) return 0;
  Result<BoundExpr> bound = Bind(parsed.value(), fixture.scope);
  if (!bound.ok()) {
    if (!IsSqlError(bound.status())) __builtin_trap();
    return 0;
  }
  FieldSet fields;
  Result<CompiledExpr> compiled = Compile(bound.value(), fields);
  if (!compiled.ok()) {
    if (!IsSqlError(compiled.status())) __builtin_trap();
    return 0;
  }
  EventFieldExtractor extractor(fields);
  EvalContext ctx;
  const Value columns[3] = {Value::Timestamp(1795595415250000), Value::Timestamp(-1),
                            Value::Bigint(42)};
  for (const char* event : kEvents) {
    std::string record(event);
    record.reserve(record.size() + simdjson::SIMDJSON_PADDING);
    Status extracted = extractor.Extract(record);
    // Values of slots not reached stay NULL, so evaluation runs even after invalid JSON.
    (void)extracted;
    const Value v = compiled->Evaluate(Row{extractor.values(), columns}, ctx);
    if (!ctx.ok() && !IsSqlError(ctx.error())) __builtin_trap();
    if (ctx.ok() && !v.is_null()) {
      std::string text;
      AppendText(text, v);
      AppendJson(text, v);
    }
    ctx.Reset();
  }
  return 0;
}
