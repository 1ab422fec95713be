// Micro-benchmarks of SQL expressions over events (src/sql): the one-pass extraction of the
// fields a typical view reads from a generated fulfilment event (~1.7 KB), and the evaluation of
// each expression of that view on the extracted values.
//
//   BM_ExtractViewFields       extraction only; ns per event = Time / 2000
//   BM_EvaluateView            evaluation of all the view's expressions; ns per event = Time / 2000
//   BM_ExtractAndEvaluateView  both, as a pipeline runs them; ns per event = Time / 2000
//   BM_Expression/<i>          one expression; ns per evaluation = Time / 2000
//
// The view: SELECT warehouse_id, event_type = 'fulfilment.exception', amount_minor / 100.0,
// CASE ... END, date_trunc('minute', event_time), cardinality(lines), source.service,
// lines[1].sku, ... (kViewExpressions below). Times on a shared machine are noisy; compare
// minima of --benchmark_repetitions.
#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>

#include "app/generator.h"
#include "base/clock.h"
#include "sql/event_fields.h"
#include "sql/expr.h"
#include "sql/parser.h"

namespace {

using namespace sluice;
using namespace sluice::sql;

constexpr const char* kViewExpressions[] = {
    "warehouse_id",
    "event_type = 'fulfilment.exception'",
    "amount_minor / 100.0",
    "CASE WHEN amount_minor >= 100000 THEN 'large' WHEN amount_minor >= 10000 THEN 'medium' "
    "ELSE 'small' END",
    "date_trunc('minute', event_time)",
    "cardinality(lines)",
    "source.service",
    "lines[1].sku",
    "event_type LIKE 'pick.%'",
    "coalesce(customer.tier, 'none')",
};

struct Events {
  std::vector<std::string> records;  // each with simdjson padding reserved
  size_t bytes = 0;
};

const Events& FulfilmentEvents() {
  static const Events events = [] {
    Events e;
    app::FulfilmentGenerator gen(42);
    int64_t now = SystemClock::Default().NowMicros();
    for (int i = 0; i < 2000; ++i) {
      std::string record;
      gen.Append(record, now + i * 1000);
      e.bytes += record.size();
      record.reserve(record.size() + simdjson::SIMDJSON_PADDING);
      e.records.push_back(std::move(record));
    }
    return e;
  }();
  return events;
}

// The view's expressions compiled against one FieldSet, as a pipeline would hold them.
struct View {
  FieldSet fields;
  std::vector<CompiledExpr> exprs;
  int occurred_at = -1;
};

View& TheView() {
  static View* view = [] {
    auto* v = new View;
    Scope scope;
    scope.SetEventRelation({"fulfilment"});
    scope.AddColumn("event_time", Type::kTimestamp, 0);
    v->occurred_at = v->fields.Add({{"occurred_at", -1}});
    for (const char* text : kViewExpressions) {
      Result<Expr> parsed = ParseExpression(text);
      Result<BoundExpr> bound = Bind(parsed.value(), scope);
      Result<CompiledExpr> compiled = Compile(bound.value(), v->fields);
      v->exprs.push_back(std::move(compiled).value());
    }
    return v;
  }();
  return *view;
}

// The extracted values of every event, and each event's event_time column (what the planner
// computes from occurred_at), so that evaluation can be measured alone.
struct Extracted {
  std::vector<std::vector<Value>> fields;
  std::vector<Value> event_time;
};

const Extracted& ExtractedEvents() {
  static const Extracted* extracted = [] {
    auto* x = new Extracted;
    View& view = TheView();
    EventFieldExtractor extractor(view.fields);
    for (const std::string& r : FulfilmentEvents().records) {
      (void)extractor.Extract(r);
      x->fields.emplace_back(extractor.values().begin(), extractor.values().end());
      const Value at = extractor.values()[static_cast<size_t>(view.occurred_at)];
      Result<int64_t> ts = ParseTimestamp(at.str());
      x->event_time.push_back(ts.ok() ? Value::Timestamp(*ts) : Value());
    }
    return x;
  }();
  return *extracted;
}

void Report(benchmark::State& state) {
  const Events& events = FulfilmentEvents();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.records.size()));
  state.counters["avg_event_bytes"] =
      static_cast<double>(events.bytes) / static_cast<double>(events.records.size());
}

void BM_ExtractViewFields(benchmark::State& state) {
  const Events& events = FulfilmentEvents();
  EventFieldExtractor extractor(TheView().fields);
  for (auto _ : state) {
    for (const std::string& r : events.records) {
      if (!extractor.Extract(r).ok()) state.SkipWithError("extraction failed");
      benchmark::DoNotOptimize(extractor.values().data());
    }
  }
  state.counters["fields"] = static_cast<double>(TheView().fields.size());
  Report(state);
}
BENCHMARK(BM_ExtractViewFields);

void BM_EvaluateView(benchmark::State& state) {
  const Extracted& x = ExtractedEvents();
  const View& view = TheView();
  EvalContext ctx;
  for (auto _ : state) {
    for (size_t i = 0; i < x.fields.size(); ++i) {
      const Row row{x.fields[i], std::span<const Value>(&x.event_time[i], 1)};
      for (const CompiledExpr& e : view.exprs) benchmark::DoNotOptimize(e.Evaluate(row, ctx));
      ctx.Reset();
    }
  }
  state.counters["expressions"] = static_cast<double>(view.exprs.size());
  Report(state);
}
BENCHMARK(BM_EvaluateView);

void BM_ExtractAndEvaluateView(benchmark::State& state) {
  const Events& events = FulfilmentEvents();
  View& view = TheView();
  EventFieldExtractor extractor(view.fields);
  EvalContext ctx;
  for (auto _ : state) {
    for (const std::string& r : events.records) {
      if (!extractor.Extract(r).ok()) state.SkipWithError("extraction failed");
      Value event_time;
      const Value at = extractor.values()[static_cast<size_t>(view.occurred_at)];
      Result<int64_t> ts = ParseTimestamp(at.str());
      if (ts.ok()) event_time = Value::Timestamp(*ts);
      const Row row{extractor.values(), std::span<const Value>(&event_time, 1)};
      for (const CompiledExpr& e : view.exprs) benchmark::DoNotOptimize(e.Evaluate(row, ctx));
      ctx.Reset();
    }
  }
  Report(state);
}
BENCHMARK(BM_ExtractAndEvaluateView);

void BM_Expression(benchmark::State& state) {
  const Extracted& x = ExtractedEvents();
  const CompiledExpr& e = TheView().exprs[static_cast<size_t>(state.range(0))];
  EvalContext ctx;
  for (auto _ : state) {
    for (size_t i = 0; i < x.fields.size(); ++i) {
      const Row row{x.fields[i], std::span<const Value>(&x.event_time[i], 1)};
      benchmark::DoNotOptimize(e.Evaluate(row, ctx));
    }
    ctx.Reset();
  }
  state.SetLabel(kViewExpressions[state.range(0)]);
  Report(state);
}
BENCHMARK(BM_Expression)->DenseRange(0, std::size(kViewExpressions) - 1);

}  // namespace
