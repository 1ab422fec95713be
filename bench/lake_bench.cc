// Throughput of the lake's hot path: raw JSON events → EventColumns (simdjson on-demand) →
// ParquetWriter (dictionary/PLAIN, ZSTD by default) → a file on disk, fsynced and renamed.
// Reports events/s and the raw JSON size over the Parquet file size.
//
//   build/bench/sluice_microbench --benchmark_filter=Lake
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "app/generator.h"
#include "base/clock.h"
#include "base/time.h"
#include "lake/event_columns.h"
#include "lake/parquet_writer.h"

namespace {

using sluice::lake::ColumnType;
using sluice::lake::Compression;
using sluice::lake::EventColumn;

// Fulfilment events of 300–500 bytes: an envelope, a customer with a nested address, money as
// a decimal string on financial events, and a few operational fields, with realistic
// repetition (orders emit ~9 events, 12 warehouses, a few carriers and cities).
std::vector<std::string> MakeCompactEvents(size_t n) {
  static const char* kTypes[] = {"order.received",      "payment.captured", "order.allocated",
                                 "pick.started",        "pick.completed",   "pack.completed",
                                 "shipment.dispatched", "carrier.charge",   "shipment.delivered"};
  static const char* kCities[] = {"Zürich", "München", "København", "Leeds",  "Kraków",
                                  "Lyon",   "Porto",   "Tallinn",   "Aarhus", "Göteborg"};
  static const char* kCurrencies[] = {"EUR", "CHF", "DKK", "GBP", "PLN", "SEK"};
  static const char* kCarriers[] = {"DHL", "UPS", "DPD", "PostNL", "GLS"};
  static const char* kNotes[] = {"", "fragile", "leave at the door", "call before delivery",
                                 "gift wrap, no invoice in the parcel"};
  uint64_t s = 0x9E3779B97F4A7C15ull;
  auto next = [&](uint32_t m) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s % m);
  };
  std::vector<std::string> events;
  events.reserve(n);
  int64_t t = 1'795'593'600'000'000;  // 2026-11-25T05:00:00Z
  for (size_t i = 0; i < n; ++i) {
    t += 1000 + next(20000);
    const size_t order = i / 9;
    const char* type = kTypes[i % 9];
    const bool financial = i % 9 == 1 || i % 9 == 7;
    std::string e;
    e.reserve(512);
    e += "{\"event_id\":\"evt-7f3a-";
    std::string counter = std::to_string(i);
    e.append(12 - counter.size(), '0');
    e += counter;
    e += "\",\"event_type\":\"";
    e += type;
    e += "\",\"schema_version\":3,\"occurred_at\":\"";
    sluice::AppendRfc3339(e, t - t % 1000);
    e += "\",\"warehouse_id\":\"WH-0";
    e += std::to_string(1 + order % 9);
    e += "\",\"order_id\":\"ORD-7f3a-";
    e += std::to_string(100000 + order);
    e += "\",\"customer\":{\"id\":\"CUS-";
    e += std::to_string(10000 + order * 7 % 50000);
    e += "\",\"tier\":\"";
    e += order % 5 == 0 ? "plus" : "standard";
    e += "\",\"address\":{\"city\":\"";
    e += kCities[order % 10];
    e += "\",\"country\":\"EU\",\"zip\":\"";
    e += std::to_string(1000 + order % 8999);
    e += "\"}},";
    if (financial) {
      e += "\"amount\":\"";
      uint32_t cents = 500 + next(90000);
      e += std::to_string(cents / 100) + "." + std::to_string(10 + cents % 90);
      e += "\",\"currency\":\"";
      e += kCurrencies[order % 6];
      e += "\",\"payment\":{\"method\":\"card\",\"psp\":\"stripe\"},";
    }
    e += "\"qty\":";
    e += std::to_string(1 + next(12));
    e += ",\"weight_kg\":";
    e += std::to_string(next(30000) / 1000.0).substr(0, 5);
    e += ",\"express\":";
    e += order % 4 == 0 ? "true" : "false";
    e += ",\"carrier\":\"";
    e += kCarriers[order % 5];
    e += "\",\"station\":\"PK-";
    e += std::to_string(10 + next(40));
    e += "\",\"operator\":\"op-";
    e += std::to_string(100 + next(300));
    e += "\",\"trace_id\":\"";
    for (int k = 0; k < 16; ++k) e += "0123456789abcdef"[next(16)];
    e += "\",\"note\":\"";
    e += kNotes[order % 5];
    e += "\"}";
    events.push_back(std::move(e));
  }
  return events;
}

std::vector<EventColumn> CompactColumns() {
  return {
      {"event_id", "", ColumnType::kString},
      {"event_type", "", ColumnType::kString},
      {"occurred_at", "", ColumnType::kTimestampMicros},
      {"warehouse_id", "", ColumnType::kString},
      {"order_id", "", ColumnType::kString},
      {"customer_id", "customer.id", ColumnType::kString},
      {"city", "customer.address.city", ColumnType::kString},
      {"amount", "amount", ColumnType::kDecimal, 18, 2},
      {"currency", "", ColumnType::kString},
      {"qty", "", ColumnType::kInt64},
      {"weight_kg", "", ColumnType::kDouble},
      {"express", "", ColumnType::kBool},
      {"carrier", "", ColumnType::kString},
  };
}

void RunToParquet(benchmark::State& state, const std::vector<std::string>& events,
                  const std::vector<EventColumn>& columns) {
  const auto compression = static_cast<Compression>(state.range(0));
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("sluice-lake-bench-" + std::to_string(getpid()) + ".parquet"))
                               .string();
  std::vector<std::string_view> views(events.begin(), events.end());
  size_t raw_bytes = 0;
  for (const std::string& e : events) raw_bytes += e.size() + 1;  // as NDJSON
  int64_t file_bytes = 0;
  constexpr size_t kBatch = 4096;
  for (auto _ : state) {
    auto ec = sluice::lake::EventColumns::Make(columns);
    sluice::lake::WriterOptions options;
    options.compression = compression;
    if (state.range(1) != 0) options.zstd_level = static_cast<int>(state.range(1));
    options.zstd_literals = state.range(2) == 0;
    auto writer = sluice::lake::ParquetWriter::OpenFile(path, (*ec)->specs(), options);
    if (!writer.ok()) {
      state.SkipWithError(writer.status().ToString().c_str());
      return;
    }
    for (size_t i = 0; i < views.size(); i += kBatch) {
      std::span<const std::string_view> batch(views.data() + i, std::min(kBatch, views.size() - i));
      if (!(*ec)->AppendBatch(batch, **writer).ok()) state.SkipWithError("append failed");
    }
    if (!(*writer)->Close().ok()) state.SkipWithError("close failed");
    file_bytes = (*writer)->bytes_written();
  }
  std::filesystem::remove(path);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw_bytes));
  state.counters["event_bytes"] = static_cast<double>(raw_bytes) / events.size();
  state.counters["raw_over_file"] = static_cast<double>(raw_bytes) / file_bytes;
}

void BM_LakeCompactEventsToParquet(benchmark::State& state) {
  static const std::vector<std::string> events = MakeCompactEvents(200'000);
  RunToParquet(state, events, CompactColumns());
}
// Arguments: the compression, the ZSTD level (0: the writer's default, 1), 1 = ZSTD literals
// left uncompressed.
BENCHMARK(BM_LakeCompactEventsToParquet)
    ->Args({static_cast<int>(Compression::kZstd), 0, 0})
    ->Args({static_cast<int>(Compression::kZstd), 3, 0})
    ->Args({static_cast<int>(Compression::kSnappy), 0, 0})
    ->Args({static_cast<int>(Compression::kUncompressed), 0, 0})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3);

// The same path on `sluice gen`'s events (0.8–3.2 KB: order lines, addresses, notes).
void BM_LakeGeneratorEventsToParquet(benchmark::State& state) {
  static const std::vector<std::string> events = [] {
    sluice::app::FulfilmentGenerator gen(42);
    std::vector<std::string> out;
    int64_t t = 1'795'593'600'000'000;
    for (int i = 0; i < 50'000; ++i) {
      std::string e;
      gen.Append(e, t + i * 10'000ll);
      out.push_back(std::move(e));
    }
    return out;
  }();
  RunToParquet(state, events,
               {{"event_id", "", ColumnType::kString},
                {"event_type", "", ColumnType::kString},
                {"occurred_at", "", ColumnType::kTimestampMicros},
                {"warehouse_id", "", ColumnType::kString},
                {"order_id", "", ColumnType::kString},
                {"amount_minor", "", ColumnType::kInt64},
                {"currency", "", ColumnType::kString},
                {"carrier", "", ColumnType::kString}});
}
BENCHMARK(BM_LakeGeneratorEventsToParquet)
    ->Args({static_cast<int>(Compression::kZstd), 0, 0})
    ->Args({static_cast<int>(Compression::kZstd), 3, 0})
    ->Args({static_cast<int>(Compression::kZstd), 0, 1})
    ->Args({static_cast<int>(Compression::kZstd), -1, 0})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3);

}  // namespace
