#include "app/bench.h"
#include "app/bench_subscribers.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/generator.h"
#include "app/http_client.h"
#include "base/clock.h"
#include "base/time.h"

namespace sluice::app {

using SteadyClock = std::chrono::steady_clock;

namespace {

double Ms(SteadyClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Percentiles {
  size_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0, min = 0, mean = 0;
};

Percentiles Summarize(std::vector<double> values) {
  Percentiles p;
  p.count = values.size();
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  auto rank = [&](double q) {
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::clamp<size_t>(i, 1, values.size()) - 1];
  };
  p.p50 = rank(0.50);
  p.p95 = rank(0.95);
  p.p99 = rank(0.99);
  p.min = values.front();
  p.max = values.back();
  double sum = 0;
  for (double v : values) sum += v;
  p.mean = sum / static_cast<double>(values.size());
  return p;
}

double Round3(double v) {
  return std::round(v * 1000) / 1000;
}

// Reads the integer after `"key":` in a small JSON answer; 0 when absent.
int64_t FindInt(std::string_view body, std::string_view quoted_key_colon) {
  size_t p = body.find(quoted_key_colon);
  if (p == std::string_view::npos) return 0;
  p += quoted_key_colon.size();
  while (p < body.size() && body[p] == ' ') ++p;
  int64_t v = 0;
  std::from_chars(body.data() + p, body.data() + body.size(), v);
  return v;
}

int64_t CountOccurrences(std::string_view body, std::string_view needle) {
  int64_t n = 0;
  for (size_t p = body.find(needle); p != std::string_view::npos;
       p = body.find(needle, p + needle.size()))
    ++n;
  return n;
}

uint32_t RandomU32() {
  std::random_device rd;
  return rd() ^ static_cast<uint32_t>(SystemClock::Default().NowMicros()) ^
         (static_cast<uint32_t>(::getpid()) << 16);
}

std::string Trim(const std::string& s) {
  std::string t = s.substr(0, 300);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

std::string Grouped(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

// ---------------------------------------------------------------------------------------------
// Latency mode
// ---------------------------------------------------------------------------------------------

// Events sent and not yet seen in the view, per view row key, in send order.
class LatencyTracker {
 public:
  struct Pending {
    int64_t expected;  // the row's `events` count once this event is counted
    SteadyClock::time_point sent;
    bool measured;  // false during the warm-up
  };

  // Registers the event about to be sent at `sent` (just before its request is written);
  // returns the row count that will confirm it.
  int64_t Add(const std::string& key, bool measured, SteadyClock::time_point sent) {
    std::lock_guard lock(mu_);
    KeyState& k = keys_[key];
    int64_t expected = ++k.sent;
    k.pending.push_back({expected, sent, measured});
    ++outstanding_;
    if (measured) ++outstanding_measured_;
    return expected;
  }
  // The request failed: the server will not count the event (unless it already did).
  void Withdraw(const std::string& key, int64_t expected) {
    std::lock_guard lock(mu_);
    KeyState& k = keys_[key];
    if (!k.pending.empty() && k.pending.back().expected == expected) {
      if (k.pending.back().measured) --outstanding_measured_;
      --outstanding_;
      k.pending.pop_back();
      --k.sent;
    }
  }
  // A view row for `key` shows `events`.
  void Observe(const std::string& key, int64_t events, SteadyClock::time_point t) {
    std::lock_guard lock(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end()) {
      ++unknown_rows_;
      return;
    }
    auto& q = it->second.pending;
    while (!q.empty() && q.front().expected <= events) {
      const Pending& p = q.front();
      if (p.measured) {
        // A delta can beat the HTTP answer, never the write of the request.
        latencies_ms_.push_back(Ms(t - p.sent));
        --outstanding_measured_;
      }
      --outstanding_;
      q.pop_front();
    }
    if (events > it->second.sent) over_counted_ = true;
  }

  int64_t outstanding() const {
    std::lock_guard lock(mu_);
    return outstanding_;
  }
  int64_t outstanding_measured() const {
    std::lock_guard lock(mu_);
    return outstanding_measured_;
  }
  std::vector<double> latencies() const {
    std::lock_guard lock(mu_);
    return latencies_ms_;
  }
  bool over_counted() const {
    std::lock_guard lock(mu_);
    return over_counted_;
  }

 private:
  struct KeyState {
    int64_t sent = 0;
    std::deque<Pending> pending;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, KeyState> keys_;
  std::vector<double> latencies_ms_;
  int64_t outstanding_ = 0;
  int64_t outstanding_measured_ = 0;
  int64_t unknown_rows_ = 0;
  bool over_counted_ = false;
};

struct ReaderState {
  std::mutex mu;
  std::condition_variable cv;
  bool snapshot_seen = false;
  bool finished = false;
  std::string error;
  int64_t snapshot_version = 0;
  int64_t snapshot_rows = 0;
  // Written by the reader only; read after join().
  int64_t messages = 0;
  int64_t snapshots = 0;
  int64_t version_gaps = 0;
  int64_t stale_deltas = 0;
  int64_t parse_errors = 0;
};

void ReadSubscription(WebSocketClient& ws, const std::string& warehouse, LatencyTracker& tracker,
                      ReaderState& state, const std::atomic<bool>& stopping) {
  simdjson::dom::parser parser;
  std::string message;
  std::string key;
  int64_t last_version = -1;
  for (;;) {
    Status s = ws.Read(message);
    auto received = SteadyClock::now();
    if (!s.ok()) {
      std::lock_guard lock(state.mu);
      if (!stopping.load()) state.error = s.message();
      state.finished = true;
      state.cv.notify_all();
      return;
    }
    ++state.messages;
    simdjson::dom::element doc;
    if (parser.parse(message).get(doc) != simdjson::SUCCESS) {
      ++state.parse_errors;
      continue;
    }
    std::string_view type;
    int64_t version = -1;
    if (doc["type"].get_string().get(type) != simdjson::SUCCESS) type = "";
    if (doc["version"].get_int64().get(version) != simdjson::SUCCESS) version = -1;
    simdjson::dom::array rows;
    bool has_rows = doc["rows"].get_array().get(rows) == simdjson::SUCCESS;
    if (type == "snapshot") {
      ++state.snapshots;
      last_version = version;
      std::lock_guard lock(state.mu);
      if (!state.snapshot_seen) {
        state.snapshot_seen = true;
        state.snapshot_version = version;
        state.snapshot_rows = has_rows ? static_cast<int64_t>(rows.size()) : 0;
        state.cv.notify_all();
      }
    } else if (type == "delta") {
      if (last_version >= 0 && version >= 0) {
        if (version <= last_version) {
          ++state.stale_deltas;  // a re-emission we already have
          continue;
        }
        if (version != last_version + 1) ++state.version_gaps;
      }
      last_version = version;
    } else {
      continue;
    }
    if (!has_rows) continue;
    for (simdjson::dom::element row : rows) {
      std::string_view wh, event_type, window;
      int64_t events;
      if (row["warehouse_id"].get_string().get(wh) != simdjson::SUCCESS || wh != warehouse)
        continue;
      if (row["event_type"].get_string().get(event_type) != simdjson::SUCCESS ||
          row["window_start"].get_string().get(window) != simdjson::SUCCESS ||
          row["events"].get_int64().get(events) != simdjson::SUCCESS)
        continue;
      key.assign(event_type);
      key += '|';
      key += window;
      tracker.Observe(key, events, received);
    }
  }
}

int RunLatency(const BenchOptions& o, const HttpUrl& url, int64_t warmup_us, int64_t duration_us,
               int64_t lost_after_us) {
  if (!(o.rate > 0)) {
    spdlog::error("bench: --rate must be positive in latency mode");
    return 2;
  }
  const std::string warehouse = fmt::format("BENCH-{:08x}", RandomU32());
  const std::string target = url.path + "/v1/streams/" + o.stream + "/events";

  WebSocketClient ws;
  Status s = ws.Connect(url.host, url.port, url.path + "/v1/subscribe?view=" + o.view);
  if (!s.ok()) {
    spdlog::error("bench: cannot subscribe to view '{}': {}", o.view, s.message());
    return 1;
  }
  LatencyTracker tracker;
  ReaderState state;
  std::atomic<bool> stopping{false};
  std::thread reader([&] { ReadSubscription(ws, warehouse, tracker, state, stopping); });
  auto stop_reader = [&] {
    stopping.store(true);
    ws.Shutdown();
    reader.join();
  };
  {
    std::unique_lock lock(state.mu);
    state.cv.wait_for(lock, std::chrono::seconds(10),
                      [&] { return state.snapshot_seen || state.finished; });
    if (!state.snapshot_seen) {
      std::string why = state.error.empty() ? "no snapshot within 10 s" : state.error;
      lock.unlock();
      stop_reader();
      spdlog::error("bench: subscription to '{}' failed: {}", o.view, why);
      return 1;
    }
  }

  HttpClient client(url.host, url.port, std::chrono::seconds(10));
  if (Status c = client.Connect(); !c.ok()) {
    stop_reader();
    spdlog::error("bench: {}", c.message());
    return 1;
  }
  if (!o.json) {
    fmt::print(stderr,
               "sluice bench: subscribed to '{}' (version {}, {} rows); sending {} events/s as "
               "warehouse {} for {:.1f} s + {:.1f} s warm-up\n",
               o.view, state.snapshot_version, state.snapshot_rows, o.rate, warehouse,
               static_cast<double>(duration_us) / 1e6, static_cast<double>(warmup_us) / 1e6);
  }

  FulfilmentGenerator generator(
      GeneratorOptions{.seed = o.seed,
                       .id_tag = fmt::format("bench-{}", warehouse.substr(6)),
                       .warehouse_id = warehouse});
  const auto start = SteadyClock::now();
  const auto warm_end = start + std::chrono::microseconds(warmup_us);
  const auto end = warm_end + std::chrono::microseconds(duration_us);
  const double interval_ns = 1e9 / o.rate;
  std::string body;
  std::string key;
  int64_t sent = 0, sent_measured = 0, http_errors = 0, bytes_measured = 0;
  std::string first_error;
  for (int64_t i = 0;; ++i) {
    auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(interval_ns * i));
    if (due >= end) break;
    if (SteadyClock::now() < due) std::this_thread::sleep_until(due);
    if (state.finished) break;  // the subscription died: nothing more can be confirmed
    bool measured = due >= warm_end;
    int64_t wall = SystemClock::Default().NowMicros();
    body.clear();
    GeneratedEvent ev = generator.Append(body, wall);
    body += '\n';
    key.assign(EventTypeName(ev.type));
    key += '|';
    AppendMinuteStart(key, wall);
    int64_t expected = tracker.Add(key, measured, SteadyClock::now());
    Result<HttpResponse> r = client.Post(target, "application/x-ndjson", body);
    ++sent;
    if (measured) {
      ++sent_measured;
      bytes_measured += static_cast<int64_t>(body.size());
    }
    bool ok = r.ok() && r->status == 200 && FindInt(r->body, "\"accepted\":") == 1;
    if (!ok) {
      if (measured) ++http_errors;
      if (first_error.empty()) {
        first_error =
            r.ok() ? fmt::format("HTTP {}: {}", r->status, Trim(r->body)) : r.status().message();
        spdlog::warn("bench: request failed: {}", first_error);
      }
      // A transport error leaves it open whether the server counted the event; assume not.
      tracker.Withdraw(key, expected);
    }
  }
  const auto send_end = SteadyClock::now();

  // Wait for the stragglers.
  const auto give_up = send_end + std::chrono::microseconds(lost_after_us);
  while (tracker.outstanding() > 0 && SteadyClock::now() < give_up && !state.finished)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  int64_t lost = tracker.outstanding_measured();
  stop_reader();
  ws.Close();

  Percentiles p = Summarize(tracker.latencies());
  double measured_s = std::chrono::duration<double>(send_end - warm_end).count();
  if (measured_s <= 0) measured_s = static_cast<double>(duration_us) / 1e6;
  double events_per_s = static_cast<double>(sent_measured) / measured_s;
  double mb_per_s = static_cast<double>(bytes_measured) / 1e6 / measured_s;

  if (o.json) {
    nlohmann::ordered_json j;
    j["mode"] = "latency";
    j["url"] = o.url;
    j["view"] = o.view;
    j["warehouse_id"] = warehouse;
    j["rate"] = o.rate;
    j["duration_s"] = Round3(measured_s);
    j["sent"] = sent_measured;
    j["events"] = p.count;
    j["events_per_s"] = Round3(events_per_s);
    j["mb_per_s"] = Round3(mb_per_s);
    j["p50_ms"] = Round3(p.p50);
    j["p95_ms"] = Round3(p.p95);
    j["p99_ms"] = Round3(p.p99);
    j["max_ms"] = Round3(p.max);
    j["min_ms"] = Round3(p.min);
    j["mean_ms"] = Round3(p.mean);
    j["lost"] = lost;
    j["errors"] = http_errors;
    j["version_gaps"] = state.version_gaps;
    j["snapshots"] = state.snapshots;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print(
        "sluice bench latency: {} events at {:.1f} events/s over {:.1f} s (view {}, warehouse "
        "{})\n",
        sent_measured, events_per_s, measured_s, o.view, warehouse);
    fmt::print(
        "  HTTP send -> view delta: p50 {:.2f} ms  p95 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms  "
        "mean {:.2f} ms  ({} confirmed)\n",
        p.p50, p.p95, p.p99, p.max, p.mean, p.count);
    fmt::print("  lost {}  HTTP errors {}  version gaps {}  snapshots {}\n", lost, http_errors,
               state.version_gaps, state.snapshots);
  }
  if (!state.error.empty()) spdlog::error("bench: subscription ended: {}", state.error);
  if (tracker.over_counted())
    spdlog::warn("bench: a view row counted more events than were sent for it (retried request?)");
  return (lost == 0 && http_errors == 0 && state.error.empty() && p.count > 0) ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Throughput mode
// ---------------------------------------------------------------------------------------------

struct PoolBatch {
  std::string body;
  std::vector<uint32_t> id_offsets;
  std::vector<uint32_t> time_offsets;
  std::vector<uint32_t> order_tag_offsets;
  int64_t events = 0;
};

struct WorkerResult {
  int64_t requests = 0;
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;
  int64_t errors = 0;
  int64_t events_sent = 0;
  int64_t bytes = 0;
  std::vector<double> latencies_ms;
  SteadyClock::time_point last_done{};
  std::string first_error;
};

std::string_view TargetName(BenchTarget target) {
  return target == BenchTarget::kClickHouse ? "clickhouse" : "sluice";
}

// Percent-encodes everything but RFC 3986 unreserved characters, for a URL query value.
std::string PercentEncode(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~')
      out += c;
    else
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return out;
}

// The request target that ingests one NDJSON batch.
std::string IngestTarget(const BenchOptions& o, const HttpUrl& url) {
  if (o.target == BenchTarget::kSluice) return url.path + "/v1/streams/" + o.stream + "/events";
  // The events carry many fields the peer's table has no column for (nested objects and arrays
  // included), and occurred_at is RFC 3339 with milliseconds and 'Z', which ClickHouse's default
  // ("basic") DateTime parser rejects. Settings go in the URL so the peer needs no profile.
  return url.path + "/?query=" +
         PercentEncode(fmt::format("INSERT INTO sluice_bench.{} FORMAT JSONEachRow", o.stream)) +
         "&input_format_skip_unknown_fields=1&date_time_input_format=best_effort";
}

// Adds the answer to a request that got HTTP 200 to `res`. Sluice says how many events it
// accepted, deduplicated and rejected; ClickHouse answers 200 (with an empty body) only when the
// whole INSERT succeeded.
void CountAnswer(BenchTarget target, const HttpResponse& r, const PoolBatch& b, WorkerResult& res) {
  if (target == BenchTarget::kClickHouse) {
    res.accepted += b.events;
    return;
  }
  res.accepted += FindInt(r.body, "\"accepted\":");
  res.duplicates += FindInt(r.body, "\"duplicates\":");
  res.rejected += CountOccurrences(r.body, "\"index\":");
}

// The order-id tag of connection `connection`'s pass `pass` over its pool: distinct for every
// (pass, connection) until 65,536 passes in all have been made.
uint16_t OrderTagFor(int connection, int connections, uint64_t pass) {
  return static_cast<uint16_t>(pass * static_cast<uint64_t>(connections) +
                               static_cast<uint64_t>(connection));
}

void WriteHex16(uint16_t v, char out[4]) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 3; i >= 0; --i, v >>= 4) out[i] = kHex[v & 0xF];
}

std::vector<PoolBatch> MakePool(uint64_t seed, const std::string& tag, size_t batch,
                                size_t batches) {
  FulfilmentGenerator generator(GeneratorOptions{.seed = seed, .id_tag = tag});
  std::vector<PoolBatch> pool(batches);
  int64_t now = SystemClock::Default().NowMicros();
  for (PoolBatch& b : pool) {
    b.body.reserve(batch * 2048);
    b.id_offsets.reserve(batch);
    b.time_offsets.reserve(batch);
    for (size_t i = 0; i < batch; ++i) {
      GeneratedEvent ev = generator.Append(b.body, now);
      b.body += '\n';
      b.id_offsets.push_back(static_cast<uint32_t>(ev.id_counter_offset));
      b.time_offsets.push_back(static_cast<uint32_t>(ev.occurred_at_offset));
      b.order_tag_offsets.push_back(static_cast<uint32_t>(ev.order_tag_offset));
    }
    b.events = static_cast<int64_t>(batch);
  }
  return pool;
}

std::string QuoteSql(std::string_view text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// --delivery: creates (if missing) `<stream>_<delivery>`, a copy of the stream's options with
// that delivery, and returns its name.
Result<std::string> PrepareDeliveryStream(const BenchOptions& o, const HttpUrl& url) {
  HttpClient client(url.host, url.port, std::chrono::seconds(60));
  SLUICE_RETURN_IF_ERROR(client.Connect());
  auto sql = [&](const std::string& text) -> Result<nlohmann::json> {
    SLUICE_ASSIGN_OR_RETURN(HttpResponse r,
                            client.Post(url.path + "/v1/sql", "application/sql", text));
    nlohmann::json answer = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (r.status != 200 || !answer.is_object() || !answer.contains("results"))
      return Status::InvalidArgument(fmt::format("{}: HTTP {}: {}", text, r.status, Trim(r.body)));
    return answer["results"][0];
  };
  SLUICE_ASSIGN_OR_RETURN(nlohmann::json described, sql("DESCRIBE " + o.stream));
  const nlohmann::json& options = described["options"];
  auto text = [&](const char* key) {
    return options.contains(key) && options[key].is_string() ? options[key].get<std::string>()
                                                             : std::string();
  };
  const std::string name = o.stream + "_" + o.delivery;
  std::string create = fmt::format(
      "CREATE STREAM IF NOT EXISTS {} WITH (delivery = {}, event_time = {}, dedup_key = {}, "
      "retention = {}",
      name, QuoteSql(o.delivery), QuoteSql(text("event_time")), QuoteSql(text("dedup_key")),
      QuoteSql(text("retention")));
  if (!text("subject").empty()) create += ", subject = " + QuoteSql(text("subject"));
  if (!text("partition_key").empty())
    create += ", partition_key = " + QuoteSql(text("partition_key"));
  if (options.contains("partitions") && options["partitions"].is_number_integer())
    create += fmt::format(", partitions = {}", options["partitions"].get<int64_t>());
  create += ")";
  SLUICE_RETURN_IF_ERROR(sql(create).status());
  return name;
}

}  // namespace

int RunThroughput(BenchOptions o, const HttpUrl& url, int64_t warmup_us, int64_t duration_us,
                  ThroughputFigures* figures) {
  if (!o.delivery.empty()) {
    if (o.target != BenchTarget::kSluice) {
      spdlog::error("bench: --delivery needs --target sluice");
      return 2;
    }
    Result<std::string> stream = PrepareDeliveryStream(o, url);
    if (!stream.ok()) {
      spdlog::error("bench: --delivery {}: {}", o.delivery, stream.status().message());
      return 1;
    }
    o.stream = *stream;
  }
  const int connections = std::max(1, o.connections);
  const size_t batch = std::max<size_t>(1, o.batch);
  const std::string target = IngestTarget(o, url);
  const uint32_t run = RandomU32();
  // Distinct batches per connection: up to 4, within ~64 MB for all connections together.
  size_t per_batch_bytes = batch * 1800;
  size_t batches = std::clamp<size_t>(
      (64u << 20) / std::max<size_t>(1, per_batch_bytes * static_cast<size_t>(connections)), 1, 4);

  auto gen_start = SteadyClock::now();
  std::vector<std::vector<PoolBatch>> pools;
  for (int c = 0; c < connections; ++c)
    pools.push_back(MakePool(o.seed + static_cast<uint64_t>(c), fmt::format("tp{:08x}c{}", run, c),
                             batch, batches));
  size_t pool_bytes = 0;
  for (const auto& pool : pools)
    for (const PoolBatch& b : pool) pool_bytes += b.body.size();
  if (!o.json) {
    fmt::print(stderr,
               "sluice bench: generated {} batches of {} events ({:.1f} MB) in {:.2f} s; "
               "{} connections POSTing for {:.1f} s + {:.1f} s warm-up\n",
               batches * static_cast<size_t>(connections), batch,
               static_cast<double>(pool_bytes) / 1e6, Ms(SteadyClock::now() - gen_start) / 1000,
               connections, static_cast<double>(duration_us) / 1e6,
               static_cast<double>(warmup_us) / 1e6);
  }

  std::vector<WorkerResult> results(static_cast<size_t>(connections));
  std::latch ready(connections);
  std::atomic<bool> go{false};
  std::atomic<bool> connect_failed{false};
  SteadyClock::time_point start, warm_end, end;  // written before `go`, read after
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      WorkerResult& res = results[static_cast<size_t>(c)];
      std::vector<PoolBatch>& pool = pools[static_cast<size_t>(c)];
      HttpClient client(url.host, url.port, std::chrono::seconds(60));
      if (Status s = client.Connect(); !s.ok()) {
        res.first_error = s.message();
        connect_failed.store(true);
      }
      ready.count_down();
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      if (connect_failed.load()) return;
      res.latencies_ms.reserve(4096);
      uint64_t counter = 0;
      char ts[kOccurredAtWidth];
      // With --max-rate, request `req` of this connection is due at start + req * interval.
      const double interval_s = o.max_rate > 0 ? static_cast<double>(batch) *
                                                     static_cast<double>(connections) / o.max_rate
                                               : 0;
      for (uint64_t req = 0;; ++req) {
        if (interval_s > 0) {
          std::this_thread::sleep_until(
              start + std::chrono::duration_cast<SteadyClock::duration>(
                          std::chrono::duration<double>(interval_s * static_cast<double>(req))));
        }
        auto now = SteadyClock::now();
        if (now >= end) break;
        PoolBatch& b = pool[req % pool.size()];
        FormatMillisTimestamp(SystemClock::Default().NowMicros(), ts);
        // Each pass over the pool is a new set of orders: an order id recurs through its
        // lifecycle only, as in real traffic (a repeated order would pile up in per-order
        // state: sessions, interval joins).
        char order_tag[4];
        WriteHex16(OrderTagFor(c, connections, req / pool.size()), order_tag);
        char* data = b.body.data();
        for (size_t i = 0; i < b.id_offsets.size(); ++i) {
          WriteFixedDigits(++counter, data + b.id_offsets[i], kEventIdDigits);
          std::memcpy(data + b.time_offsets[i], ts, kOccurredAtWidth);
          std::memcpy(data + b.order_tag_offsets[i], order_tag, sizeof order_tag);
        }
        auto t0 = SteadyClock::now();
        Result<HttpResponse> r = client.Post(target, "application/x-ndjson", b.body);
        auto t1 = SteadyClock::now();
        bool measured = t0 >= warm_end;
        if (!r.ok() || r->status != 200) {
          if (measured) ++res.errors;
          if (res.first_error.empty())
            res.first_error = r.ok() ? fmt::format("HTTP {}: {}", r->status, Trim(r->body))
                                     : r.status().message();
          if (!r.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
        if (!measured) continue;
        ++res.requests;
        CountAnswer(o.target, *r, b, res);
        res.events_sent += b.events;
        res.bytes += static_cast<int64_t>(b.body.size());
        res.latencies_ms.push_back(Ms(t1 - t0));
        res.last_done = std::max(res.last_done, t1);
      }
    });
  }
  ready.wait();
  start = SteadyClock::now();
  warm_end = start + std::chrono::microseconds(warmup_us);
  end = warm_end + std::chrono::microseconds(duration_us);
  go.store(true, std::memory_order_release);
  for (std::thread& t : threads) t.join();

  WorkerResult total;
  for (WorkerResult& r : results) {
    total.requests += r.requests;
    total.accepted += r.accepted;
    total.duplicates += r.duplicates;
    total.rejected += r.rejected;
    total.errors += r.errors;
    total.events_sent += r.events_sent;
    total.bytes += r.bytes;
    total.latencies_ms.insert(total.latencies_ms.end(), r.latencies_ms.begin(),
                              r.latencies_ms.end());
    total.last_done = std::max(total.last_done, r.last_done);
    if (total.first_error.empty()) total.first_error = r.first_error;
  }
  if (connect_failed.load()) {
    spdlog::error("bench: {}", total.first_error);
    return 1;
  }
  if (!total.first_error.empty())
    spdlog::warn("bench: first failed request: {}", total.first_error);
  double secs = total.requests > 0
                    ? std::chrono::duration<double>(total.last_done - warm_end).count()
                    : static_cast<double>(duration_us) / 1e6;
  if (secs <= 0) secs = static_cast<double>(duration_us) / 1e6;
  Percentiles p = Summarize(std::move(total.latencies_ms));
  double events_per_s = static_cast<double>(total.accepted) / secs;
  double mb_per_s = static_cast<double>(total.bytes) / 1e6 / secs;

  if (figures != nullptr) {
    figures->events_per_s = events_per_s;
    figures->p50_ms = p.p50;
    figures->p99_ms = p.p99;
    figures->errors = total.errors + total.rejected;
  } else if (o.json) {
    nlohmann::ordered_json j;
    j["mode"] = "throughput";
    j["target"] = TargetName(o.target);
    j["url"] = o.url;
    j["stream"] = o.stream;
    j["connections"] = connections;
    j["batch"] = batch;
    j["duration_s"] = Round3(secs);
    j["events"] = total.accepted;
    j["sent"] = total.events_sent;
    j["events_per_s"] = Round3(events_per_s);
    j["mb_per_s"] = Round3(mb_per_s);
    j["requests"] = total.requests;
    j["errors"] = total.errors;
    j["duplicates"] = total.duplicates;
    j["rejected"] = total.rejected;
    j["p50_ms"] = Round3(p.p50);
    j["p95_ms"] = Round3(p.p95);
    j["p99_ms"] = Round3(p.p99);
    j["max_ms"] = Round3(p.max);
    j["mean_ms"] = Round3(p.mean);
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print(
        "sluice bench throughput ({}, stream {}): {} connections, batches of {} events, {:.1f} s "
        "measured\n",
        TargetName(o.target), o.stream, connections, batch, secs);
    fmt::print("  accepted {} events: {} events/s, {:.1f} MB/s of request bodies\n",
               Grouped(total.accepted), Grouped(static_cast<int64_t>(events_per_s)), mb_per_s);
    fmt::print(
        "  {} requests: p50 {:.1f} ms  p99 {:.1f} ms  max {:.1f} ms per request; errors {}, "
        "duplicates {}, rejected {}\n",
        total.requests, p.p50, p.p99, p.max, total.errors, total.duplicates, total.rejected);
  }
  return total.errors == 0 && total.rejected == 0 && total.requests > 0 ? 0 : 1;
}

void AddBenchOptions(CLI::App* sub, BenchOptions& options) {
  sub->add_option("--url", options.url, "the server to drive")->capture_default_str();
  sub->add_option("--mode", options.mode,
                  "latency: end-to-end latency at --rate; throughput: batches back to back; "
                  "subscribers: throughput with and without --subscribers WebSocket clients of a "
                  "view updated --view-rate times per second")
      ->check(CLI::IsMember({"latency", "throughput", "subscribers"}))
      ->capture_default_str();
  sub->add_option("--target", options.target,
                  "throughput mode: the server at --url is sluice, or a clickhouse peer set up "
                  "by scripts/clickhouse-peer.sh (INSERT into table sluice_bench.<stream>)")
      ->transform(CLI::CheckedTransformer(
                      std::map<std::string, BenchTarget>{{"sluice", BenchTarget::kSluice},
                                                         {"clickhouse", BenchTarget::kClickHouse}})
                      .description("{sluice,clickhouse}"))
      ->type_name("TEXT")
      ->default_str("sluice");
  sub->add_option("--rate", options.rate, "latency mode: events per second (open loop)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--max-rate", options.max_rate,
                  "throughput mode: cap on events per second over all connections, e.g. to "
                  "check that views keep up with a given load (0 = back to back)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--subscribers", options.subscribers,
                  "subscribers mode: WebSocket clients in the rounds with subscribers")
      ->check(CLI::Range(1, 20000))
      ->capture_default_str();
  sub->add_option("--batch-ms", options.batch_ms,
                  "subscribers mode: pacing asked by each subscriber (?batch_ms=: at most one "
                  "write per this many ms, every delta still its own message); 0: none")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  sub->add_option("--view-rate", options.view_rate,
                  "subscribers mode: updates per second of the subscribed view (one event each)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--rounds", options.rounds,
                  "subscribers mode: pairs of rounds with and without subscribers (in ABBA order)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  sub->add_option("--duration", options.duration, "measured time, after the warm-up")
      ->capture_default_str();
  sub->add_option("--warmup", options.warmup, "time sending before measuring")
      ->capture_default_str();
  sub->add_option("--connections", options.connections,
                  "throughput mode: parallel keep-alive connections (one thread each)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  sub->add_option("--batch", options.batch, "throughput mode: events per request")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  sub->add_option("--stream", options.stream,
                  "stream to POST to (--target clickhouse: table sluice_bench.<stream>)")
      ->capture_default_str();
  sub->add_option("--delivery", options.delivery,
                  "throughput mode: POST to <stream>_<delivery>, a copy of --stream with this "
                  "delivery (created if missing), to measure the cost of exactly-once")
      ->check(CLI::IsMember({"at_least_once", "exactly_once"}));
  sub->add_option("--view", options.view,
                  "latency mode: view to subscribe to; it must count events per (warehouse_id, "
                  "event_type, window_start) in a column `events`, like the default")
      ->capture_default_str();
  sub->add_option("--lost-after", options.lost_after,
                  "latency mode: events not seen this long after the last send count as lost")
      ->capture_default_str();
  sub->add_option("--seed", options.seed, "random seed of the event content")
      ->capture_default_str();
  sub->add_flag("--json", options.json, "print one JSON object with all figures");
}

int RunBench(const BenchOptions& options) {
  auto duration_arg = [](const std::string& name, const std::string& text, int64_t& out) {
    Result<int64_t> d = ParseDuration(text);
    if (!d.ok()) {
      spdlog::error("bench: {}: {}", name, d.status().message());
      return false;
    }
    out = *d;
    return true;
  };
  int64_t duration_us = 0, warmup_us = 0, lost_after_us = 0;
  if (!duration_arg("--duration", options.duration, duration_us) ||
      !duration_arg("--warmup", options.warmup, warmup_us) ||
      !duration_arg("--lost-after", options.lost_after, lost_after_us))
    return 2;
  if (duration_us <= 0) {
    spdlog::error("bench: --duration must be positive");
    return 2;
  }
  Result<HttpUrl> url = ParseHttpUrl(options.url);
  if (!url.ok()) {
    spdlog::error("bench: --url: {}", url.status().message());
    return 2;
  }
  if (options.mode == "latency" && options.target != BenchTarget::kSluice) {
    spdlog::error("bench: latency mode drives Sluice only (--target {} needs --mode throughput)",
                  TargetName(options.target));
    return 2;
  }
  if (options.mode == "latency")
    return RunLatency(options, *url, warmup_us, duration_us, lost_after_us);
  if (options.mode == "throughput")
    return RunThroughput(options, *url, warmup_us, duration_us, nullptr);
  if (options.mode == "subscribers") return RunSubscribers(options, *url, warmup_us, duration_us);
  spdlog::error("bench: unknown --mode '{}' (expected latency, throughput or subscribers)",
                options.mode);
  return 2;
}

}  // namespace sluice::app
