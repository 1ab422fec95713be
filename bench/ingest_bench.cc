// Micro-benchmarks of the per-event ingest hot path: splitting an NDJSON body and parsing +
// validating every event with simdjson on-demand (one pass, no DOM).
#include <benchmark/benchmark.h>

#include "app/generator.h"
#include "base/clock.h"
#include "ingest/event_parser.h"

namespace {

std::string MakeBody(size_t events) {
  sluice::app::FulfilmentGenerator gen(42);
  std::string body;
  int64_t now = sluice::SystemClock::Default().NowMicros();
  for (size_t i = 0; i < events; ++i) {
    gen.Append(body, now + static_cast<int64_t>(i) * 1000);
    body += '\n';
  }
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  return body;
}

void BM_SplitAndParseNdjson(benchmark::State& state) {
  const std::string body = MakeBody(5000);
  sluice::ingest::EventParser parser({"event_id", "occurred_at", "order_id"});
  std::vector<sluice::ingest::RecordSlice> slices;
  sluice::ingest::EventFields fields;
  for (auto _ : state) {
    slices.clear();
    if (!sluice::ingest::SplitBody(body, sluice::ingest::BodyFormat::kNdjson, slices).ok())
      state.SkipWithError("split failed");
    for (const auto& s : slices) {
      if (!parser.Parse(s.bytes, fields).ok()) state.SkipWithError("parse failed");
    }
    benchmark::DoNotOptimize(fields);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * slices.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_SplitAndParseNdjson)->Unit(benchmark::kMillisecond);

void BM_SplitJsonArray(benchmark::State& state) {
  std::string ndjson = MakeBody(5000);
  std::string body = "[";
  size_t pos = 0;
  while (pos < ndjson.size()) {
    size_t nl = ndjson.find('\n', pos);
    if (body.size() > 1) body += ',';
    body.append(ndjson, pos, nl - pos);
    pos = nl + 1;
  }
  body += ']';
  std::vector<sluice::ingest::RecordSlice> slices;
  for (auto _ : state) {
    slices.clear();
    if (!sluice::ingest::SplitBody(body, sluice::ingest::BodyFormat::kJson, slices).ok())
      state.SkipWithError("split failed");
    benchmark::DoNotOptimize(slices.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_SplitJsonArray)->Unit(benchmark::kMillisecond);

}  // namespace
