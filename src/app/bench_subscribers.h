// Internal to `sluice bench` (bench.cc): the throughput run as a building block, and the
// subscribers mode (bench.h) built on it.
#pragma once

#include <cstdint>

#include "app/bench.h"
#include "app/http_client.h"

namespace sluice::app {

// What a throughput run measured (its report is not printed when these are asked for).
struct ThroughputFigures {
  double events_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t errors = 0;  // failed or rejected requests
};

// Throughput mode; `figures` (optional) receives the figures instead of printing them.
int RunThroughput(BenchOptions o, const HttpUrl& url, int64_t warmup_us, int64_t duration_us,
                  ThroughputFigures* figures);

// Subscribers mode (bench.h); returns 0 when every round completed and every subscriber saw
// every version of the view in order, 1 otherwise.
int RunSubscribers(const BenchOptions& o, const HttpUrl& url, int64_t warmup_us,
                   int64_t duration_us);

}  // namespace sluice::app
