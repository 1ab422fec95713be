// `sluice bench`: drives a running Sluice server and reports what it measured.
//
// - latency (default): events are POSTed one per request at --rate (open loop) while a
//   WebSocket subscription to --view watches for them; the latency of an event is the time
//   from just before its request is written to the arrival of the view delta that counts it.
// - throughput: --connections keep-alive connections POST pre-generated batches of --batch
//   events back to back; reports accepted events/s, MB/s and per-request latency.
//   With --target clickhouse the same batches go to a ClickHouse peer instead (see
//   docs/bench-peers.md), so that both engines are measured with the same client and events.
//   With --delivery at_least_once|exactly_once the batches go to `<stream>_<delivery>`, a copy
//   of --stream (its subject, keys, partitions and retention, from DESCRIBE) with that
//   delivery, created if missing: the cost of exactly-once is two such runs side by side.
// - subscribers: a view updated --view-rate times per second (the `bench_ticks` stream, one
//   event per request) subscribed by --subscribers WebSocket clients (raw frames on one epoll
//   thread, every delta's version checked), while throughput mode drives --stream; rounds
//   alternate without and with the subscribers against the same server, and the report gives
//   the ingest ratio, the deltas each client received and any gap, coalesced delta or resync.
//
// See docs/gen-and-bench.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace sluice::app {

// The server at --url. Only throughput mode can drive a peer: latency mode needs Sluice's
// WebSocket view subscription.
enum class BenchTarget {
  kSluice,
  kClickHouse,  // POSTs batches as INSERT ... FORMAT JSONEachRow into sluice_bench.<stream>
};

struct BenchOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string mode = "latency";  // latency | throughput
  BenchTarget target = BenchTarget::kSluice;
  double rate = 120;             // latency mode: events/s
  std::string duration = "60s";  // measured time, after the warm-up
  int connections = 2;           // throughput mode
  size_t batch = 5000;           // throughput mode: events per request
  double max_rate = 0;           // throughput mode: events/s over all connections; 0 = no cap
  std::string stream = "fulfilment";
  std::string delivery;  // throughput mode: "" = --stream itself, else a copy with this delivery
  std::string view = "events_per_minute";  // latency mode
  bool json = false;
  uint64_t seed = 7;
  std::string warmup = "2s";
  std::string lost_after = "5s";  // latency mode: unconfirmed this long after the end = lost
  int subscribers = 1000;         // subscribers mode
  double view_rate = 100;         // subscribers mode: view updates per second
  int batch_ms = 0;               // subscribers mode: the subscriptions' ?batch_ms= (0: none)
  int rounds = 2;                 // subscribers mode: pairs of rounds
};

void AddBenchOptions(CLI::App* sub, BenchOptions& options);

// Returns the process exit code: 0 when the run completed without errors or lost events,
// 1 when the server could not be reached, requests failed or events were lost, 2 for bad
// options. Prints the report on stdout; logs problems through spdlog.
int RunBench(const BenchOptions& options);

}  // namespace sluice::app
