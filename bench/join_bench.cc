// Micro-benchmarks of the lookup join (src/stream/view_operator.h) on generated fulfilment
// events, fields already extracted (as in the pipeline, where extraction is shared):
//
//   BM_LookupJoinView/0   a tumbling count and sum per (region, type), region from a
//                         `warehouses` table joined on warehouse_id: ViewOperator::Add
//   BM_LookupJoinView/1   the same view grouped by the event's warehouse_id, without a join
//                         (the baseline: the difference is the join's cost per event)
//   BM_LookupProbe        only the lookup: key evaluation, encoding, read lock and hash probe
//
// ns per event = Time / 4000.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "app/generator.h"
#include "base/time.h"
#include "sql/event_fields.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/reference_table.h"
#include "stream/view_operator.h"

namespace {

using namespace sluice;

constexpr int kEvents = 4000;

constexpr const char* kViews[] = {
    "CREATE MATERIALIZED VIEW v AS SELECT w.region, e.event_type, window_start, count(*) AS "
    "events, sum(e.amount_minor) AS amount_minor FROM TUMBLE(fulfilment, occurred_at, "
    "INTERVAL '1' MINUTE) AS e JOIN warehouses AS w ON e.warehouse_id = w.warehouse_id "
    "GROUP BY w.region, e.event_type, window_start",
    "CREATE MATERIALIZED VIEW v AS SELECT warehouse_id, event_type, window_start, count(*) AS "
    "events, sum(amount_minor) AS amount_minor FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' "
    "MINUTE) GROUP BY warehouse_id, event_type, window_start",
};
constexpr const char* kViewNames[] = {"lookup_join_region", "no_join_baseline"};

class Catalog : public sql::PlannerCatalog {
 public:
  Catalog() {
    stream_.name = "fulfilment";
    auto statements = sql::Parse(
        "CREATE TABLE warehouses (warehouse_id VARCHAR PRIMARY KEY, region VARCHAR, "
        "capacity BIGINT)");
    table_ = sql::PlanTable(std::get<sql::CreateTable>(statements->at(0).node)).value();
  }
  const sql::StreamSpec* FindStream(std::string_view name) const override {
    return name == "fulfilment" ? &stream_ : nullptr;
  }
  std::vector<std::string> StreamNames() const override { return {"fulfilment"}; }
  bool IsView(std::string_view) const override { return false; }
  const sql::TableSpec* FindTable(std::string_view name) const override {
    return name == "warehouses" ? &table_ : nullptr;
  }
  const sql::TableSpec& table() const { return table_; }

 private:
  sql::StreamSpec stream_;
  sql::TableSpec table_;
};

struct Fixture {
  Catalog catalog;
  std::filesystem::path dir;
  std::unique_ptr<stream::CheckpointStore> store;
  std::shared_ptr<stream::ReferenceTable> table;
  std::vector<std::vector<sql::Value>> values;
  std::vector<std::string> records;
  std::vector<int64_t> times;

  Fixture() {
    dir = std::filesystem::temp_directory_path() /
          ("sluice-join-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    store = stream::CheckpointStore::Open(dir.string()).value();
    table = stream::ReferenceTable::Open(catalog.table(), "warehouses@0", *store).value();
    std::string rows = "warehouse_id,region,capacity\n";
    for (int i = 1; i <= 12; ++i)
      rows += fmt::format("WH-{:02},{},{}\n", i, i % 3 == 0 ? "north" : "south", i * 100);
    (void)table->Write(stream::TableBodyFormat::kCsv, rows).value();
    app::FulfilmentGenerator gen(42);
    const int64_t start = ParseRfc3339("2026-11-25T08:00:00Z").value();
    for (int i = 0; i < kEvents; ++i) {
      const int64_t t = start + i * (10 * kMicrosPerMinute / kEvents);
      std::string record;
      gen.Append(record, t);
      record.reserve(record.size() + simdjson::SIMDJSON_PADDING);
      records.push_back(std::move(record));
      times.push_back(t);
    }
  }
  ~Fixture() {
    table.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }

  std::unique_ptr<stream::ViewOperator> Operator(int view, sql::FieldSet& fields) {
    auto statements = sql::Parse(kViews[view]);
    const sql::ViewPlan plan =
        sql::PlanView(std::get<sql::CreateMaterializedView>(statements->at(0).node), catalog)
            .value();
    auto op = stream::ViewOperator::Create(plan, fields, table).value();
    sql::EventFieldExtractor extractor(fields);
    values.clear();
    for (const std::string& r : records) {
      (void)extractor.Extract(r);
      values.emplace_back(extractor.values().begin(), extractor.values().end());
    }
    return op;
  }
};

Fixture& TheFixture() {
  static Fixture fixture;
  return fixture;
}

void BM_LookupJoinView(benchmark::State& state) {
  Fixture& f = TheFixture();
  sql::FieldSet fields;
  auto op = f.Operator(static_cast<int>(state.range(0)), fields);
  std::vector<store::RowChange> changes;
  for (auto _ : state) {
    for (int i = 0; i < kEvents; ++i) op->Add(f.values[i], f.times[i]);
    state.PauseTiming();
    changes.clear();
    op->TakeChanges(changes);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kEvents);
  state.counters["groups"] = static_cast<double>(op->group_count());
  state.counters["misses"] = static_cast<double>(op->lookup_misses());
  state.SetLabel(kViewNames[state.range(0)]);
}
BENCHMARK(BM_LookupJoinView)->DenseRange(0, 1);

void BM_LookupProbe(benchmark::State& state) {
  Fixture& f = TheFixture();
  sql::FieldSet fields;
  const int slot = fields.Add({{"warehouse_id", -1}});
  auto op = f.Operator(1, fields);
  std::string key;
  int64_t hits = 0;
  for (auto _ : state) {
    for (int i = 0; i < kEvents; ++i) {
      key.clear();
      if (!stream::AppendJoinKey(key, f.values[i][static_cast<size_t>(slot)])) continue;
      const auto lock = f.table->LockForReading();
      hits += f.table->Find(key) != nullptr;
    }
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations() * kEvents);
}
BENCHMARK(BM_LookupProbe);

}  // namespace
