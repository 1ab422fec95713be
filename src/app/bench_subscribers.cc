// `sluice bench --mode subscribers` (bench.h): ingest throughput with and without many
// WebSocket subscribers of a view that updates at a fixed rate.
#include "app/bench_subscribers.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "app/generator.h"
#include "base/clock.h"

namespace sluice::app {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kStream = "bench_ticks";
constexpr std::string_view kView = "bench_ticks_view";

// The unsigned number after `key` (e.g. "\"version\":") in `text`, or -1.
int64_t NumberAfter(std::string_view text, std::string_view key) {
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return -1;
  uint64_t value = 0;
  const char* begin = text.data() + at + key.size();
  auto [end, ec] = std::from_chars(begin, text.data() + text.size(), value);
  return ec == std::errc() ? static_cast<int64_t>(value) : -1;
}

// One raw WebSocket client: the upgrade, then unmasked server frames parsed by hand.
struct Subscriber {
  int fd = -1;
  bool upgraded = false;
  bool closed = false;
  bool have_snapshot = false;
  uint64_t version = 0;
  std::string in;       // received bytes not yet parsed
  std::string message;  // a fragmented message being assembled
  uint64_t deltas_in_window = 0;
  uint64_t gaps = 0;       // a delta that does not follow the version held
  uint64_t coalesced = 0;  // deltas marked coalesced
  uint64_t resyncs = 0;    // snapshots after the first
};

struct SwarmStats {
  size_t clients = 0;
  size_t closed = 0;
  uint64_t min_deltas = 0;
  uint64_t max_deltas = 0;
  uint64_t gaps = 0;
  uint64_t coalesced = 0;
  uint64_t resyncs = 0;
};

// Many subscribers on one epoll thread.
class Swarm {
 public:
  Swarm(const HttpUrl& url, int batch_ms, std::atomic<bool>& measuring)
      : url_(url), batch_ms_(batch_ms), measuring_(measuring) {}
  ~Swarm() { Stop(); }

  Status Connect(int n) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addresses = nullptr;
    if (int rc =
            getaddrinfo(url_.host.c_str(), std::to_string(url_.port).c_str(), &hints, &addresses);
        rc != 0)
      return Status::Unavailable(fmt::format("cannot resolve {}: {}", url_.host, gai_strerror(rc)));
    epoll_ = epoll_create1(0);
    const std::string request = fmt::format(
        "GET {}/v1/subscribe?view={}{} HTTP/1.1\r\nHost: {}:{}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n",
        url_.path, kView, batch_ms_ > 0 ? fmt::format("&batch_ms={}", batch_ms_) : "", url_.host,
        url_.port);
    subscribers_.resize(static_cast<size_t>(n));
    Status result = Status::Ok();
    for (size_t i = 0; i < subscribers_.size(); ++i) {
      Subscriber& s = subscribers_[i];
      s.fd = socket(addresses->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (s.fd < 0 || connect(s.fd, addresses->ai_addr, addresses->ai_addrlen) != 0 ||
          send(s.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
              static_cast<ssize_t>(request.size())) {
        result = Status::Unavailable(
            fmt::format("subscriber {} could not connect: {}", i, std::strerror(errno)));
        subscribers_.resize(i + (s.fd >= 0 ? 1 : 0));
        break;
      }
      int one = 1;
      setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      epoll_ctl(epoll_, EPOLL_CTL_ADD, s.fd, &ev);
    }
    freeaddrinfo(addresses);
    thread_ = std::thread([this] { Loop(); });
    return result;
  }

  size_t snapshots() const { return snapshots_.load(); }

  // Stops reading and closes every connection.
  void Stop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    thread_.join();
    for (Subscriber& s : subscribers_)
      if (s.fd >= 0) close(s.fd);
    if (epoll_ >= 0) close(epoll_);
    epoll_ = -1;
  }

  // After Stop().
  SwarmStats Stats() const {
    SwarmStats st;
    st.clients = subscribers_.size();
    st.min_deltas = UINT64_MAX;
    for (const Subscriber& s : subscribers_) {
      st.closed += s.closed ? 1 : 0;
      st.min_deltas = std::min(st.min_deltas, s.deltas_in_window);
      st.max_deltas = std::max(st.max_deltas, s.deltas_in_window);
      st.gaps += s.gaps;
      st.coalesced += s.coalesced;
      st.resyncs += s.resyncs;
    }
    if (subscribers_.empty()) st.min_deltas = 0;
    return st;
  }

 private:
  void Loop() {
    std::vector<epoll_event> events(1024);
    std::vector<char> buffer(1 << 16);
    while (!stop_.load(std::memory_order_relaxed)) {
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 50);
      for (int e = 0; e < n; ++e) {
        Subscriber& s = subscribers_[events[static_cast<size_t>(e)].data.u64];
        for (;;) {
          const ssize_t got = recv(s.fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
          if (got > 0) {
            s.in.append(buffer.data(), static_cast<size_t>(got));
            if (static_cast<size_t>(got) < buffer.size()) break;
            continue;
          }
          if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            s.closed = true;
            epoll_ctl(epoll_, EPOLL_CTL_DEL, s.fd, nullptr);
          }
          break;
        }
        Parse(s);
      }
    }
  }

  void Parse(Subscriber& s) {
    size_t pos = 0;
    if (!s.upgraded) {
      const size_t end = s.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (s.in.compare(0, 12, "HTTP/1.1 101") != 0) {
        spdlog::error("bench: subscription refused: {}", s.in.substr(0, s.in.find("\r\n")));
        s.closed = true;
        s.in.clear();
        return;
      }
      s.upgraded = true;
      pos = end + 4;
    }
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(s.in[i]); };
    while (s.in.size() - pos >= 2) {
      const uint8_t b0 = byte(pos);
      const uint8_t b1 = byte(pos + 1);
      size_t header = 2;
      uint64_t length = b1 & 0x7f;
      if (length == 126) {
        if (s.in.size() - pos < 4) break;
        length = (uint64_t{byte(pos + 2)} << 8) | byte(pos + 3);
        header = 4;
      } else if (length == 127) {
        if (s.in.size() - pos < 10) break;
        length = 0;
        for (size_t i = 0; i < 8; ++i) length = (length << 8) | byte(pos + 2 + i);
        header = 10;
      }
      if (b1 & 0x80) header += 4;  // masked: a server must not, but skip the key if it does
      if (s.in.size() - pos < header + length) break;
      const std::string_view payload(s.in.data() + pos + header, length);
      pos += header + length;
      const uint8_t opcode = b0 & 0x0f;
      const bool fin = (b0 & 0x80) != 0;
      if (opcode == 0x8) {
        s.closed = true;
      } else if (opcode == 0x9) {  // ping: answer with a (masked, key 0) pong
        std::string pong{static_cast<char>(0x8a), static_cast<char>(0x80 | payload.size())};
        pong.append(4, '\0');
        pong.append(payload.substr(0, 125));
        (void)send(s.fd, pong.data(), pong.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      } else if (opcode <= 0x2) {
        if (fin && s.message.empty()) {
          OnMessage(s, payload);
        } else {
          s.message.append(payload);
          if (fin) {
            OnMessage(s, s.message);
            s.message.clear();
          }
        }
      }
    }
    s.in.erase(0, pos);
  }

  void OnMessage(Subscriber& s, std::string_view text) {
    const int64_t version = NumberAfter(text, "\"version\":");
    if (text.starts_with(R"({"type":"snapshot")")) {
      if (s.have_snapshot && measuring_.load(std::memory_order_relaxed)) ++s.resyncs;
      if (!s.have_snapshot) snapshots_.fetch_add(1);
      s.have_snapshot = true;
      s.version = static_cast<uint64_t>(version);
      return;
    }
    if (!text.starts_with(R"({"type":"delta")")) {
      s.closed = true;  // "dropped"
      return;
    }
    const int64_t since = NumberAfter(text, "\"since\":");
    // Judged in the measured window only: while the bench connects the other clients (on this
    // thread), the first ones legitimately fall behind.
    const bool measured = measuring_.load(std::memory_order_relaxed);
    if (measured && (!s.have_snapshot || version != static_cast<int64_t>(s.version + 1) ||
                     since != static_cast<int64_t>(s.version)))
      ++s.gaps;
    if (measured && text.find("\"coalesced\":true") != std::string_view::npos) ++s.coalesced;
    s.version = static_cast<uint64_t>(version);
    if (measured) ++s.deltas_in_window;
  }

  const HttpUrl url_;
  const int batch_ms_;
  std::atomic<bool>& measuring_;
  std::vector<Subscriber> subscribers_;
  int epoll_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> snapshots_{0};
};

Status PrepareTicks(HttpClient& client, const HttpUrl& url) {
  const std::string statements[] = {
      fmt::format("CREATE STREAM {} WITH (event_time = 'at', partitions = 1)", kStream),
      fmt::format("CREATE MATERIALIZED VIEW {} AS SELECT source, count(*) AS ticks FROM {} "
                  "GROUP BY source",
                  kView, kStream)};
  for (const std::string& sql : statements) {
    Result<HttpResponse> r = client.Post(url.path + "/v1/sql", "application/sql", sql);
    if (!r.ok()) return r.status();
    if (r->status != 200 && r->status != 409)
      return Status::Internal(fmt::format("{}: HTTP {}: {}", sql, r->status, r->body));
  }
  return Status::Ok();
}

int64_t ViewVersion(HttpClient& client, const HttpUrl& url) {
  Result<HttpResponse> r = client.Get(fmt::format("{}/v1/views/{}", url.path, kView));
  return r.ok() && r->status == 200 ? NumberAfter(r->body, "\"version\":") : -1;
}

double MetricValue(HttpClient& client, const HttpUrl& url, std::string_view name) {
  Result<HttpResponse> r = client.Get(url.path + "/metrics");
  if (!r.ok()) return -1;
  const std::string key = fmt::format("\n{} ", name);
  const size_t at = r->body.find(key);
  if (at == std::string::npos) return 0;
  return std::strtod(r->body.c_str() + at + key.size(), nullptr);
}

struct Round {
  int subscribers = 0;
  ThroughputFigures ingest;
  int64_t ticks = 0;     // tick requests answered in the measured window
  int64_t versions = 0;  // versions the view advanced in the measured window
  SwarmStats swarm;
  double server_coalesced = 0;
  double server_resyncs = 0;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int RunSubscribers(const BenchOptions& o, const HttpUrl& url, int64_t warmup_us,
                   int64_t duration_us) {
  HttpClient control(url.host, url.port, std::chrono::seconds(30));
  if (Status st = PrepareTicks(control, url); !st.ok()) {
    spdlog::error("bench: preparing {}: {}", kStream, st.message());
    return 1;
  }
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop_ticks{false};
  std::atomic<int64_t> ticks_in_window{0};
  std::atomic<int64_t> tick_errors{0};
  // One event per request at --view-rate, through every round: the view's pipeline costs the
  // same with and without subscribers, so the rounds differ by the subscribers only. Requests
  // wait for a group commit (slower under load), so several connections share the rate.
  constexpr int kTickConnections = 16;
  const uint32_t run = static_cast<uint32_t>(SystemClock::Default().NowMicros());
  const auto tick_interval = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(kTickConnections / o.view_rate));
  const auto ticks_start = SteadyClock::now();
  std::vector<std::thread> tickers;
  for (int c = 0; c < kTickConnections; ++c) {
    tickers.emplace_back([&, c] {
      HttpClient client(url.host, url.port, std::chrono::seconds(30));
      const std::string target = fmt::format("{}/v1/streams/{}/events", url.path, kStream);
      auto due = ticks_start + tick_interval * c / kTickConnections;
      char at[kOccurredAtWidth];
      for (uint64_t n = 0; !stop_ticks.load(); ++n) {
        std::this_thread::sleep_until(due);
        due += tick_interval;
        FormatMillisTimestamp(SystemClock::Default().NowMicros(), at);
        const std::string body =
            fmt::format(R"({{"event_id":"tick-{:08x}-{}-{}","at":"{}","source":"s{}"}})", run, c, n,
                        std::string_view(at, kOccurredAtWidth), n % 20) +
            "\n";
        Result<HttpResponse> r = client.Post(target, "application/x-ndjson", body);
        if (!r.ok() || r->status != 200 || r->body.find("\"accepted\":1") == std::string::npos) {
          if (tick_errors.fetch_add(1) == 0)
            spdlog::warn("bench: tick failed: {}", r.ok() ? r->body : r.status().message());
          continue;
        }
        if (measuring.load()) ticks_in_window.fetch_add(1);
      }
    });
  }

  std::vector<Round> rounds;
  bool failed = false;
  for (int pair = 0; pair < o.rounds && !failed; ++pair) {
    // ABBA order (without, with, with, without, ...): a machine that drifts over the run (a
    // filling disk, a growing log) then weighs on both sides alike.
    const std::array<int, 2> order =
        pair % 2 == 0 ? std::array<int, 2>{0, o.subscribers} : std::array<int, 2>{o.subscribers, 0};
    for (int subscribers : order) {
      Round round;
      round.subscribers = subscribers;
      Swarm swarm(url, o.batch_ms, measuring);
      if (subscribers > 0) {
        if (Status st = swarm.Connect(subscribers); !st.ok()) {
          spdlog::error("bench: {}", st.message());
          failed = true;
          break;
        }
        const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
        while (swarm.snapshots() < static_cast<size_t>(subscribers) &&
               SteadyClock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (swarm.snapshots() < static_cast<size_t>(subscribers)) {
          spdlog::error("bench: only {} of {} subscribers got their snapshot in 60 s",
                        swarm.snapshots(), subscribers);
          failed = true;
          break;
        }
      }
      double coalesced_before = 0, resyncs_before = 0, coalesced_after = 0, resyncs_after = 0;
      int64_t first_version = 0, last_version = 0;
      std::thread window([&] {
        std::this_thread::sleep_for(std::chrono::microseconds(warmup_us));
        ticks_in_window.store(0);
        HttpClient client(url.host, url.port, std::chrono::seconds(30));
        coalesced_before = MetricValue(client, url, "sluice_websocket_coalesced_total");
        resyncs_before = MetricValue(client, url, "sluice_websocket_resyncs_total");
        first_version = ViewVersion(client, url);
        measuring.store(true);
        std::this_thread::sleep_for(std::chrono::microseconds(duration_us));
        measuring.store(false);
        last_version = ViewVersion(client, url);
        coalesced_after = MetricValue(client, url, "sluice_websocket_coalesced_total");
        resyncs_after = MetricValue(client, url, "sluice_websocket_resyncs_total");
      });
      RunThroughput(o, url, warmup_us, duration_us, &round.ingest);
      window.join();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // deltas still on the way
      swarm.Stop();
      round.swarm = swarm.Stats();
      round.ticks = ticks_in_window.load();
      round.versions = last_version - first_version;
      round.server_coalesced = coalesced_after - coalesced_before;
      round.server_resyncs = resyncs_after - resyncs_before;
      if (!o.json) {
        fmt::print(stderr,
                   "round {}: {:>5} subscribers: ingest {:.0f} events/s (p50 {:.1f} ms, p99 {:.1f} "
                   "ms); view +{} versions, {} ticks",
                   rounds.size() + 1, subscribers, round.ingest.events_per_s, round.ingest.p50_ms,
                   round.ingest.p99_ms, round.versions, round.ticks);
        if (subscribers > 0)
          fmt::print(stderr,
                     "; deltas per client {}..{}, gaps {}, coalesced {} (server {}), resyncs {} "
                     "(server {}), closed {}",
                     round.swarm.min_deltas, round.swarm.max_deltas, round.swarm.gaps,
                     round.swarm.coalesced, round.server_coalesced, round.swarm.resyncs,
                     round.server_resyncs, round.swarm.closed);
        fmt::print(stderr, "\n");
      }
      rounds.push_back(round);
      std::this_thread::sleep_for(std::chrono::seconds(1));  // the server drops the sessions
    }
  }
  stop_ticks.store(true);
  for (std::thread& t : tickers) t.join();
  if (rounds.empty()) return 1;

  std::vector<double> without, with;
  uint64_t min_deltas = UINT64_MAX, max_deltas = 0, gaps = 0, coalesced = 0, resyncs = 0,
           closed = 0;
  int64_t min_versions = INT64_MAX;
  for (const Round& r : rounds) {
    (r.subscribers == 0 ? without : with).push_back(r.ingest.events_per_s);
    min_versions = std::min(min_versions, r.versions);
    if (r.subscribers == 0) continue;
    min_deltas = std::min(min_deltas, r.swarm.min_deltas);
    max_deltas = std::max(max_deltas, r.swarm.max_deltas);
    gaps += r.swarm.gaps;
    // The server's counters see the same messages (and any of clients that never read them).
    coalesced += std::max(r.swarm.coalesced, static_cast<uint64_t>(r.server_coalesced));
    resyncs += std::max(r.swarm.resyncs, static_cast<uint64_t>(r.server_resyncs));
    closed += r.swarm.closed;
  }
  if (with.empty()) min_deltas = 0;
  const double ratio = Median(without) > 0 ? Median(with) / Median(without) : 0;
  std::vector<double> pair_ratios;  // consecutive rounds: with / without of each pair
  for (size_t i = 0; i + 1 < rounds.size(); i += 2) {
    const Round& a = rounds[i].subscribers == 0 ? rounds[i] : rounds[i + 1];
    const Round& b = rounds[i].subscribers == 0 ? rounds[i + 1] : rounds[i];
    if (a.ingest.events_per_s > 0)
      pair_ratios.push_back(b.ingest.events_per_s / a.ingest.events_per_s);
  }
  const double seconds = static_cast<double>(duration_us) / 1e6;
  if (o.json) {
    nlohmann::ordered_json j;
    j["mode"] = "subscribers";
    j["subscribers"] = o.subscribers;
    j["view_rate"] = o.view_rate;
    j["batch_ms"] = o.batch_ms;
    j["duration_s"] = seconds;
    j["max_rate"] = o.max_rate;
    j["ingest_events_per_s_without"] = Median(without);
    j["ingest_events_per_s_with"] = Median(with);
    j["ingest_ratio"] = ratio;
    j["pair_ratios"] = pair_ratios;
    j["deltas_per_client_min"] = min_deltas;
    j["deltas_per_client_max"] = max_deltas;
    j["expected_deltas"] = o.view_rate * seconds;
    j["gaps"] = gaps;
    j["coalesced"] = coalesced;
    j["resyncs"] = resyncs;
    j["closed"] = closed;
    j["tick_errors"] = tick_errors.load();
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Round& r : rounds)
      list.push_back({{"subscribers", r.subscribers},
                      {"events_per_s", r.ingest.events_per_s},
                      {"p99_ms", r.ingest.p99_ms},
                      {"view_versions", r.versions},
                      {"ticks", r.ticks},
                      {"deltas_min", r.swarm.min_deltas},
                      {"deltas_max", r.swarm.max_deltas}});
    j["rounds"] = list;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print(
        "sluice bench subscribers: {} WebSocket clients of a view updated {:.0f} times/s, {:.0f} s "
        "rounds{}{}\n",
        o.subscribers, o.view_rate, seconds,
        o.max_rate > 0 ? fmt::format(", ingest capped at {:.0f} events/s", o.max_rate) : "",
        o.batch_ms > 0 ? fmt::format(", batch_ms={}", o.batch_ms) : "");
    fmt::print(
        "  ingest: {:.0f} events/s without, {:.0f} with subscribers (median): ratio {:.3f}; "
        "pairs {:.3f}\n",
        Median(without), Median(with), ratio, fmt::join(pair_ratios, ", "));
    fmt::print(
        "  deltas per client per round: {}..{} (expected {:.0f} = {:.0f}/s x {:.0f} s; the view "
        "advanced >= {} versions per round); gaps {}, coalesced {}, resyncs {}, closed {}\n",
        min_deltas, max_deltas, o.view_rate * seconds, o.view_rate, seconds, min_versions, gaps,
        coalesced, resyncs, closed);
  }
  const bool complete = gaps == 0 && coalesced == 0 && resyncs == 0 && closed == 0 &&
                        tick_errors.load() == 0 && !failed;
  return complete ? 0 : 1;
}

}  // namespace sluice::app
