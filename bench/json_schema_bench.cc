// Micro-benchmarks of JSON Schema validation on the ingest hot path: the cost of validating a
// typical fulfilment event (the generator's events, ~1.7 KB on average) against the schema the
// default `fulfilment` stream registers in production (app/fulfilment_schema.cc), next to the
// cost of the plain on-demand walk (what ingest did before validation). Each iteration reads
// 2000 events: ns per event = Time / 2000 = 1e9 / items_per_second.
//
// The bar (issue #3: "validation costs <= 1 us per typical 1.7 KB event"): the cost of validation
// is BM_IngestEventParserFulfilmentSchema minus BM_IngestEventParser, the same parser on the same
// events with validation off (the `true` schema of a stream without a subject); it must stay
// within 1 us per event. BM_OnDemandWalkOnly is the floor: simdjson reading every value once.
// Times on a shared machine are noisy; compare minima of --benchmark_repetitions,
// and instruction counts under `valgrind --tool=callgrind`, which are stable.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "app/fulfilment_schema.h"
#include "app/generator.h"
#include "base/clock.h"
#include "ingest/event_parser.h"
#include "schema/json_schema.h"

namespace {

struct Events {
  std::vector<std::string> records;  // each with simdjson padding reserved
  size_t bytes = 0;
};

const Events& FulfilmentEvents() {
  static const Events events = [] {
    Events e;
    sluice::app::FulfilmentGenerator gen(42);
    int64_t now = sluice::SystemClock::Default().NowMicros();
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

void Report(benchmark::State& state, const Events& events) {
  const auto n = static_cast<int64_t>(state.iterations() * events.records.size());
  state.SetItemsProcessed(n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * events.bytes));
  state.counters["avg_event_bytes"] =
      static_cast<double>(events.bytes) / static_cast<double>(events.records.size());
}

// The walk ingest did per event before schema validation (event_parser.cc's ConsumeValue):
// every value read once with simdjson on-demand, nothing checked beyond JSON validity.
simdjson::error_code Walk(simdjson::ondemand::value value) {
  using simdjson::ondemand::json_type;
  json_type type;
  SIMDJSON_TRY(value.type().get(type));
  switch (type) {
    case json_type::object: {
      simdjson::ondemand::object obj;
      SIMDJSON_TRY(value.get_object().get(obj));
      for (auto field : obj) {
        std::string_view key;
        SIMDJSON_TRY(field.unescaped_key().get(key));
        SIMDJSON_TRY(Walk(field.value()));
      }
      return simdjson::SUCCESS;
    }
    case json_type::array: {
      simdjson::ondemand::array arr;
      SIMDJSON_TRY(value.get_array().get(arr));
      for (auto element : arr) {
        simdjson::ondemand::value v;
        SIMDJSON_TRY(element.get(v));
        SIMDJSON_TRY(Walk(v));
      }
      return simdjson::SUCCESS;
    }
    case json_type::string: {
      std::string_view s;
      return value.get_string().get(s);
    }
    case json_type::number: {
      double d;
      return value.get_double().get(d);
    }
    case json_type::boolean: {
      bool b;
      return value.get_bool().get(b);
    }
    case json_type::null: {
      bool is_null = false;
      return value.is_null().get(is_null);
    }
  }
  return simdjson::INCORRECT_TYPE;
}

void BM_OnDemandWalkOnly(benchmark::State& state) {
  const Events& events = FulfilmentEvents();
  simdjson::ondemand::parser parser;
  for (auto _ : state) {
    for (const std::string& r : events.records) {
      simdjson::padded_string_view input(r.data(), r.size(), r.capacity());
      simdjson::ondemand::document doc;
      simdjson::ondemand::value root;
      if (parser.iterate(input).get(doc) || doc.get_value().get(root) || Walk(root))
        state.SkipWithError("walk failed");
    }
  }
  Report(state, events);
}
BENCHMARK(BM_OnDemandWalkOnly);

// Ingest's EventParser as it stands (the walk plus picking out id, time and partition key;
// with the validator wired in, on the `true` schema of a stream that has none).
void BM_IngestEventParser(benchmark::State& state) {
  const Events& events = FulfilmentEvents();
  sluice::ingest::EventParser parser({"event_id", "occurred_at", "order_id"});
  sluice::ingest::EventFields fields;
  for (auto _ : state) {
    for (const std::string& r : events.records)
      if (!parser.Parse(r, fields).ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(fields);
  }
  Report(state, events);
}
BENCHMARK(BM_IngestEventParser);

// EventParser on the default `fulfilment` stream: the walk, the production schema and the
// engine's fields, in one pass. The bar is this within 1 us of BM_IngestEventParser per event.
void BM_IngestEventParserFulfilmentSchema(benchmark::State& state) {
  const Events& events = FulfilmentEvents();
  auto schema = sluice::schema::CompileJsonSchema(sluice::app::FulfilmentSchemaJson());
  if (!schema.ok()) {
    state.SkipWithError(schema.status().message().c_str());
    return;
  }
  sluice::ingest::EventParser parser({"event_id", "occurred_at", "order_id"}, schema.value(), 1);
  sluice::ingest::EventFields fields;
  for (const std::string& r : events.records) {
    sluice::Status st = parser.Parse(r, fields);
    if (!st.ok()) {
      state.SkipWithError(("a generated event is invalid: " + st.message()).c_str());
      return;
    }
  }
  for (auto _ : state) {
    for (const std::string& r : events.records)
      if (!parser.Parse(r, fields).ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(fields);
  }
  Report(state, events);
}
BENCHMARK(BM_IngestEventParserFulfilmentSchema);

// The walk with full schema validation and the same fields captured in the same pass.
void BM_WalkAndValidate(benchmark::State& state) {
  const Events& events = FulfilmentEvents();
  auto schema = sluice::schema::CompileJsonSchema(sluice::app::FulfilmentSchemaJson());
  if (!schema.ok()) {
    state.SkipWithError(schema.status().message().c_str());
    return;
  }
  const std::vector<std::string> captured = {"event_id", "occurred_at", "order_id"};
  sluice::schema::JsonSchemaValidator validator(schema.value(), captured);
  for (const std::string& r : events.records) {
    sluice::Status st = validator.Validate(r);
    if (!st.ok()) {
      state.SkipWithError(("a generated event is invalid: " + st.message()).c_str());
      return;
    }
  }
  for (auto _ : state) {
    for (const std::string& r : events.records)
      if (!validator.Validate(r).ok()) state.SkipWithError("validation failed");
    benchmark::DoNotOptimize(validator.captured(0));
  }
  Report(state, events);
}
BENCHMARK(BM_WalkAndValidate);

// The same walk against `true`: the validator's own overhead (duplicate-key detection and
// captures) without any keyword to check.
void BM_WalkAndValidateTrueSchema(benchmark::State& state) {
  const Events& events = FulfilmentEvents();
  auto schema = sluice::schema::CompileJsonSchema("true");
  const std::vector<std::string> captured = {"event_id", "occurred_at", "order_id"};
  sluice::schema::JsonSchemaValidator validator(schema.value(), captured);
  for (auto _ : state) {
    for (const std::string& r : events.records)
      if (!validator.Validate(r).ok()) state.SkipWithError("validation failed");
  }
  Report(state, events);
}
BENCHMARK(BM_WalkAndValidateTrueSchema);

}  // namespace
