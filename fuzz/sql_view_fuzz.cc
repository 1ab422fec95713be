// libFuzzer target: arbitrary bytes as SQL; every CREATE MATERIALIZED VIEW in it is planned
// against a catalog with one stream, and a plan that succeeds runs over a few fixed events,
// ordinary and odd, with out-of-order event times. Nothing may crash, hang or hit undefined
// behaviour (ASan + UBSan); planning errors must say "line L, column C: "; and the operator's
// checkpoint must round-trip: the view restored from it (Rows() after Restore()) is the view the
// original's changes built and, given the same further events, both views stay the same. (The
// view, not the original's Rows(): closed SESSION windows leave the operator's memory while
// their rows stay in the view.)
// Interval joins of the stream with itself run through the join operator (view_operator.h).
// Every CREATE STREAM is planned too (errors inside an exactly_once_when string are relocated
// to the statement's line and column, and must still say so); an accepted exactly_once_when
// must compile at ingest (ingest/delivery.h) and is evaluated over the same events.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "base/clock.h"
#include "ingest/delivery.h"
#include "sql/event_fields.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/view_operator.h"

namespace {

using namespace sluice;

const char* const kEvents[] = {
    R"({"event_id":"evt-1","event_type":"fulfilment.exception","warehouse_id":"WH-03",)"
    R"("occurred_at":"2026-11-25T08:30:15.250Z","amount_minor":12345,"ratio":0.25,"flag":true,)"
    R"("source":{"service":"wms","nested":{"deep":[1,{"x":"y"}]}},"lines":[{"sku":"A","qty":2},)"
    R"({"sku":"B\u00e9","qty":3}],"tags":["a","b"],"note":"100% \"quoted\" \\ é"})",
    R"({"amount_minor":9223372036854775807,"ratio":-1e308,"lines":[],"source":null,)"
    R"("occurred_at":"not a time","warehouse_id":"","flag":"yes","tags":{}})",
    R"({"amount_minor":-9223372036854775808,"ratio":1e-320,"lines":"x","source":[1,2,3],)"
    R"("occurred_at":12,"warehouse_id":null,"flag":0,"huge":123456789012345678901234567890})",
    R"({"event_type":"pick.completed","warehouse_id":"WH\u0000-01","amount_minor":5,"ratio":NaN})",
    R"({"event_type":"pick.completed","warehouse_id":"WH-01","amount_minor":7,"ratio":2.5})",
};
// Event times (seconds after 08:00), out of order, some far behind.
const int64_t kSeconds[] = {0, 65, 30, 3600, 10, 7200, -86400, 59, 61, 120};

class OneStream : public sql::PlannerCatalog {
 public:
  OneStream() {
    spec_.name = "fulfilment";
    spec_.columns.push_back({"ratio", sql::Type::kDouble, "DOUBLE"});
  }
  const sql::StreamSpec* FindStream(std::string_view name) const override {
    return name == "fulfilment" ? &spec_ : nullptr;
  }
  std::vector<std::string> StreamNames() const override { return {"fulfilment"}; }
  bool IsView(std::string_view name) const override { return name == "v0"; }

 private:
  sql::StreamSpec spec_;
};

bool IsSqlError(const Status& status) {
  return status.message().rfind("line ", 0) == 0;
}

struct Run {
  sql::FieldSet fields;
  std::unique_ptr<stream::ViewOperator> aggregator;  // an interval join's too (no tables here)
  std::unique_ptr<sql::EventFieldExtractor> extractor;
  std::map<std::string, std::string> view;  // the rows the changes built

  explicit Run(const sql::ViewPlan& plan) {
    auto created = stream::ViewOperator::Create(plan, fields, nullptr, /*partitions=*/2);
    if (!created.ok()) __builtin_trap();  // a plan the planner accepted must compile
    aggregator = std::move(created).value();
    extractor = std::make_unique<sql::EventFieldExtractor>(fields);
  }

  void Feed(size_t from, size_t to) {
    const int64_t t0 = 1795593600000000;  // 2026-11-25T08:00:00Z
    for (size_t i = from; i < to; ++i) {
      std::string record = kEvents[i % std::size(kEvents)];
      record.reserve(record.size() + simdjson::SIMDJSON_PADDING);
      if (!extractor->Extract(record).ok()) continue;
      aggregator->Add(extractor->values(), t0 + kSeconds[i % std::size(kSeconds)] * 1000000,
                      static_cast<uint32_t>(i % 2));
      if (i % 3 == 2) Apply();
    }
    Apply();
  }

  void Apply() {
    std::vector<store::RowChange> changes;
    aggregator->TakeChanges(changes);
    for (store::RowChange& c : changes) {
      if (c.row_json.empty()) {
        view.erase(c.key);
      } else {
        view[c.key] = std::move(c.row_json);
      }
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<std::vector<sql::Statement>> parsed = sql::Parse(text);
  if (!parsed.ok()) return 0;
  OneStream catalog;
  for (const sql::Statement& statement : *parsed) {
    if (const auto* stream = std::get_if<sql::CreateStream>(&statement.node)) {
      Result<sql::StreamSpec> spec = sql::PlanStream(*stream);
      if (!spec.ok()) {
        if (!IsSqlError(spec.status())) __builtin_trap();
        continue;
      }
      auto rule = ingest::DeliveryRule::Make(*spec);
      if (!rule.ok()) __builtin_trap();  // a predicate the planner accepted must compile
      for (size_t i = 0; i < std::size(kEvents); ++i) {
        std::string record = kEvents[i];
        record.reserve(record.size() + simdjson::SIMDJSON_PADDING);
        (void)(*rule)->Matches(record, 1795593600000000 + kSeconds[i] * 1000000);
      }
      continue;
    }
    const auto* create = std::get_if<sql::CreateMaterializedView>(&statement.node);
    if (create == nullptr) continue;
    Result<sql::ViewPlan> plan = sql::PlanView(*create, catalog);
    if (!plan.ok()) {
      if (!IsSqlError(plan.status())) __builtin_trap();
      continue;
    }
    Run original(*plan);
    original.Feed(0, 10);
    std::vector<std::pair<std::string, std::string>> state;
    original.aggregator->TakeCheckpointChanges(state);
    std::map<std::string, std::string> checkpoint;
    for (auto& [k, v] : state) {
      if (v.empty()) {
        checkpoint.erase(k);
      } else {
        checkpoint[k] = v;
      }
    }
    Run restored(*plan);
    if (!restored.aggregator->Restore(checkpoint, original.aggregator->Meta()).ok())
      __builtin_trap();
    restored.view = restored.aggregator->Rows();
    if (restored.view != original.view) __builtin_trap();
    original.Feed(10, 20);
    restored.Feed(10, 20);
    if (restored.view != original.view) __builtin_trap();
  }
  return 0;
}
