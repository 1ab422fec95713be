// Micro-benchmarks of JSON Schema validation on the ingest hot path: the cost of validating a
// typical fulfilment event (the generator's events, ~1.7 KB on average) against a realistic
// fulfilment schema, next to the cost of the plain on-demand walk (what ingest did before
// validation). Each iteration reads 2000 events: ns per event = Time / 2000
// = 1e9 / items_per_second.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "app/generator.h"
#include "base/clock.h"
#include "ingest/event_parser.h"
#include "schema/json_schema.h"

namespace {

// The schema a fulfilment stream would register: the envelope, the financial rule (amount and
// currency on money events, via if/then), and the shapes of the nested objects and arrays.
constexpr std::string_view kFulfilmentSchema = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "fulfilment event, v3",
  "type": "object",
  "required": ["event_id", "event_type", "schema_version", "occurred_at", "warehouse_id",
               "order_id", "source"],
  "properties": {
    "event_id": {"type": "string", "pattern": "^evt-[0-9A-Za-z_-]+-[0-9]{12}$"},
    "event_type": {"enum": ["order.received", "payment.captured", "order.allocated",
                            "pick.started", "pick.completed", "pack.completed",
                            "shipment.dispatched", "carrier.charge", "shipment.delivered",
                            "fulfilment.exception", "refund.issued"]},
    "schema_version": {"const": 3},
    "occurred_at": {"type": "string", "format": "date-time"},
    "warehouse_id": {"type": "string", "minLength": 1, "maxLength": 32},
    "order_id": {"type": "string", "pattern": "^ORD-"},
    "source": {
      "type": "object", "required": ["service", "version"],
      "properties": {"service": {"type": "string"}, "instance": {"type": "string"},
                     "region": {"type": "string"}, "version": {"type": "string"}},
      "additionalProperties": false
    },
    "trace_id": {"type": "string", "minLength": 32, "maxLength": 32},
    "span_id": {"type": "string"},
    "amount_minor": {"type": "integer", "minimum": 0},
    "currency": {"type": "string", "minLength": 3, "maxLength": 3},
    "customer": {"type": "object", "required": ["customer_id"],
                 "properties": {"customer_id": {"type": "string"},
                                "tier": {"enum": ["standard", "plus", "business"]},
                                "locale": {"type": "string"},
                                "marketing_opt_in": {"type": "boolean"}}},
    "shipping_address": {"$ref": "#/$defs/address"},
    "billing_address": {"$ref": "#/$defs/address"},
    "ship_to": {"$ref": "#/$defs/address"},
    "promised_by": {"type": "string", "format": "date-time"},
    "lines": {"type": "array", "maxItems": 50, "items": {"$ref": "#/$defs/line"}},
    "parcels": {"anyOf": [{"type": "integer", "minimum": 1},
                          {"type": "array", "items": {"type": "object",
                                                      "required": ["parcel_id", "weight_g"]}}]},
    "charge_breakdown": {"type": "array", "items": {"type": "object",
        "required": ["component", "amount_minor"],
        "properties": {"component": {"type": "string"}, "amount_minor": {"type": "integer"}}}},
    "proof_of_delivery": {"type": "object", "properties": {
        "method": {"enum": ["signature", "photo", "pin_code", "none"]},
        "geo": {"type": "object", "properties": {
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "lon": {"type": "number", "minimum": -180, "maximum": 180}}}}},
    "metadata": {"type": "object", "properties": {
        "schema": {"type": "string"}, "site": {"type": "string"},
        "timezone": {"type": "string"}, "producer_seq": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}}},
    "notes": {"type": "string", "maxLength": 4000},
    "history": {"type": "array", "items": {"type": "object", "required": ["at", "action"],
        "properties": {"at": {"type": "string", "format": "date-time"},
                       "actor": {"type": "string"}, "action": {"type": "string"},
                       "ref": {"type": "string"}}}}
  },
  "if": {"properties": {"event_type": {"enum": ["payment.captured", "refund.issued",
                                                "carrier.charge"]}}},
  "then": {"required": ["amount_minor", "currency"]},
  "$defs": {
    "address": {"type": "object", "required": ["name", "line1", "city", "country"],
                "properties": {"name": {"type": "string", "maxLength": 200},
                               "line1": {"type": "string"}, "line2": {"type": "string"},
                               "city": {"type": "string"}, "postal_code": {"type": "string"},
                               "country": {"type": "string", "minLength": 2, "maxLength": 2},
                               "phone": {"type": "string"}},
                "additionalProperties": false},
    "line": {"type": "object", "required": ["sku", "quantity"],
             "properties": {"line_no": {"type": "integer", "minimum": 1},
                            "sku": {"type": "string"}, "bin": {"type": "string"},
                            "description": {"type": "string"}, "category": {"type": "string"},
                            "quantity": {"type": "integer", "minimum": 1},
                            "unit_price_minor": {"type": "integer", "minimum": 0},
                            "refund_minor": {"type": "integer", "minimum": 0},
                            "weight_g": {"type": "integer", "minimum": 0}}}
  }
})json";

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

// The walk with full schema validation and the same fields captured in the same pass.
void BM_WalkAndValidate(benchmark::State& state) {
  const Events& events = FulfilmentEvents();
  auto schema = sluice::schema::CompileJsonSchema(kFulfilmentSchema);
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

// The same walk against `true`: the validator's own overhead (duplicate-key detection, frames,
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
