#include "app/gen.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "app/generator.h"
#include "app/http_client.h"
#include "base/clock.h"
#include "base/time.h"

namespace sluice::app {

using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxBodyBytes = 15u << 20;  // the server takes at most 16 MiB per request
constexpr size_t kStdoutChunk = 1u << 20;

// Parses "--rate": a non-negative number or "max" (returned as -1).
std::string ValidateRate(std::string& text) {
  if (text == "max") return {};
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || *end != '\0' || !std::isfinite(v) || v < 0)
    return fmt::format("'{}' is not a rate (expected events per second, 0 or 'max')", text);
  return {};
}

double ParseRateText(const std::string& text) {
  return text == "max" ? -1.0 : std::strtod(text.c_str(), nullptr);
}

uint64_t RandomBits() {
  std::random_device rd;
  uint64_t r = (uint64_t{rd()} << 32) ^ rd();
  return r ^ static_cast<uint64_t>(SystemClock::Default().NowMicros()) ^
         (static_cast<uint64_t>(::getpid()) << 40);
}

// The figures a POSTing run reports.
struct PostTotals {
  int64_t requests = 0;
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;
  int64_t unsent = 0;
  int64_t failed_attempts = 0;
};

// Sends batches to the ingest endpoint, retrying transient failures with backoff.
class Poster {
 public:
  Poster(const HttpUrl& url, const std::string& stream, const std::atomic<bool>& stop)
      : client_(url.host, url.port, std::chrono::seconds(30)),
        target_(url.path + "/v1/streams/" + stream + "/events"),
        stop_(stop) {}

  const std::string& target() const { return target_; }
  const PostTotals& totals() const { return totals_; }
  bool fatal() const { return fatal_; }

  void Send(const std::string& body, int64_t events) {
    auto backoff = std::chrono::milliseconds(100);
    for (;;) {
      ++totals_.requests;
      Result<HttpResponse> r = client_.Post(target_, "application/x-ndjson", body);
      if (r.ok() && r->status == 200) {
        Account(r->body, events);
        return;
      }
      if (r.ok() && r->status >= 400 && r->status < 500 && r->status != 408 && r->status != 429) {
        // The whole request was refused; retrying the same body will not help.
        totals_.rejected += events;
        spdlog::error("gen: POST {} answered {}: {}", target_, r->status, Trim(r->body));
        if (r->status == 404 || r->status == 415) fatal_ = true;
        return;
      }
      ++totals_.failed_attempts;
      std::string why =
          r.ok() ? fmt::format("HTTP {}: {}", r->status, Trim(r->body)) : r.status().message();
      auto now = SteadyClock::now();
      if (totals_.failed_attempts == 1 || now - last_warning_ > std::chrono::seconds(10)) {
        spdlog::warn("gen: POST {} failed ({}); retrying in {} ms", target_, why, backoff.count());
        last_warning_ = now;
      }
      if (!SleepUnlessStopped(backoff)) {
        totals_.unsent += events;
        return;
      }
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
    }
  }

 private:
  static std::string Trim(const std::string& body) {
    std::string s = body.substr(0, 300);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }

  bool SleepUnlessStopped(std::chrono::milliseconds d) {
    auto until = SteadyClock::now() + d;
    while (SteadyClock::now() < until) {
      if (stop_.load(std::memory_order_relaxed)) return false;
      std::this_thread::sleep_for(std::min<SteadyClock::duration>(std::chrono::milliseconds(50),
                                                                  until - SteadyClock::now()));
    }
    return !stop_.load(std::memory_order_relaxed);
  }

  void Account(const std::string& body, int64_t events) {
    int64_t accepted = 0, duplicates = 0, rejected = 0;
    simdjson::dom::element doc;
    if (parser_.parse(body).get(doc) == simdjson::SUCCESS) {
      int64_t v;
      if (doc["accepted"].get_int64().get(v) == simdjson::SUCCESS) accepted = v;
      if (doc["duplicates"].get_int64().get(v) == simdjson::SUCCESS) duplicates = v;
      simdjson::dom::array rej;
      if (doc["rejected"].get_array().get(rej) == simdjson::SUCCESS) {
        rejected = static_cast<int64_t>(rej.size());
        if (rejected > 0) {
          std::string_view first;
          if (rej.at(0)["error"].get_string().get(first) != simdjson::SUCCESS) first = "?";
          spdlog::warn("gen: {} of {} events rejected, e.g.: {}", rejected, events, first);
        }
      }
    } else {
      spdlog::warn("gen: unexpected ingest answer: {}", Trim(body));
      accepted = events;  // status 200 means the batch was taken
    }
    totals_.accepted += accepted;
    totals_.duplicates += duplicates;
    totals_.rejected += rejected;
  }

  HttpClient client_;
  std::string target_;
  const std::atomic<bool>& stop_;
  PostTotals totals_;
  bool fatal_ = false;
  SteadyClock::time_point last_warning_{};
  simdjson::dom::parser parser_;
};

}  // namespace

void AddGenOptions(CLI::App* sub, GenOptions& options) {
  sub->add_option("--url", options.url,
                  "POST the events to this Sluice server (http://host:port); without it the "
                  "events are written to stdout as NDJSON");
  sub->add_option("--stream", options.stream, "stream to POST to")->capture_default_str();
  sub->add_option_function<std::string>(
         "--rate", [&options](const std::string& v) { options.rate = ParseRateText(v); },
         "events per second: a number, 0 = follow --schedule, or 'max' = as fast as possible")
      ->check(CLI::Validator(ValidateRate, "RATE|max"))
      ->default_str("0");
  sub->add_option("--count", options.count, "stop after this many events (0 = unlimited)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--duration", options.duration,
                  "stop after this long, e.g. 60s, 10m, 2h (default: unlimited)");
  sub->add_option("--seed", options.seed, "random seed of the event content")
      ->capture_default_str();
  sub->add_option("--batch", options.batch, "events per POST request")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  sub->add_option("--speedup", options.speedup,
                  "run the schedule's clock this many times faster than real time (60 = a day "
                  "in 24 minutes); the rate itself is not scaled")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--schedule", options.schedule,
                  "rate schedule when --rate is 0: shift (~14 events/s, ~120 events/s around "
                  "06:00, 14:00, 22:00 UTC), flat (14/s) or peak (120/s)")
      ->check(CLI::IsMember({"shift", "flat", "peak"}))
      ->capture_default_str();
  sub->add_option("--schedule-start", options.schedule_start,
                  "time of day (HH:MM, UTC) at which the schedule clock starts (default: now); "
                  "e.g. 05:50 with --speedup 60 reaches the 06:00 spike in 10 s");
  sub->add_option("--run-id", options.run_id,
                  "tag included in every event_id (default: random, so that runs with the same "
                  "seed do not produce duplicate ids)");
  sub->add_option("--linger", options.linger,
                  "longest time an event waits for its batch to fill before it is sent")
      ->capture_default_str();
}

int RunGen(const GenOptions& options, const std::atomic<bool>& stop) {
  const bool to_stdout = options.url.empty();
  auto fail = [&](const std::string& message) {
    if (to_stdout) {
      fmt::print(stderr, "sluice gen: {}\n", message);
    } else {
      spdlog::error("gen: {}", message);
    }
    return 2;
  };

  // ---- Options ----
  int64_t duration_micros = 0;
  if (!options.duration.empty()) {
    Result<int64_t> d = ParseDuration(options.duration);
    if (!d.ok()) return fail("--duration: " + d.status().message());
    duration_micros = *d;
  }
  Result<int64_t> linger = ParseDuration(options.linger);
  if (!linger.ok()) return fail("--linger: " + linger.status().message());
  Result<Schedule> schedule = ParseSchedule(options.schedule);
  if (!schedule.ok()) return fail("--schedule: " + schedule.status().message());
  if (!(options.speedup > 0) || !std::isfinite(options.speedup))
    return fail("--speedup must be a positive number");
  if (std::isnan(options.rate)) return fail("--rate must be a number or 'max'");
  if (options.count < 0) return fail("--count must not be negative");
  const size_t batch = std::max<size_t>(1, options.batch);
  const int64_t wall_start = SystemClock::Default().NowMicros();
  int64_t schedule_start = wall_start;
  if (!options.schedule_start.empty()) {
    Result<int64_t> s = ParseTimeOfDayBefore(options.schedule_start, wall_start);
    if (!s.ok()) return fail("--schedule-start: " + s.status().message());
    schedule_start = *s;
  }
  std::optional<HttpUrl> url;
  if (!to_stdout) {
    Result<HttpUrl> u = ParseHttpUrl(options.url);
    if (!u.ok()) return fail("--url: " + u.status().message());
    url = std::move(*u);
  }

  const bool max_rate = options.rate < 0;
  const bool fixed_rate = options.rate > 0;
  std::string run_id = options.run_id;
  if (run_id.empty()) run_id = fmt::format("{:08x}", static_cast<uint32_t>(RandomBits()));
  for (char& c : run_id) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
  }
  FulfilmentGenerator generator(
      GeneratorOptions{.seed = options.seed, .id_tag = fmt::format("{}-{}", options.seed, run_id)});
  ScheduleClock schedule_clock(wall_start, schedule_start, options.speedup);
  std::mt19937_64 arrival_rng(options.seed * 0x9E3779B97F4A7C15ull + 17);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);

  std::optional<Poster> poster;
  if (url) {
    poster.emplace(*url, options.stream, stop);
    std::string pacing =
        max_rate     ? std::string("as fast as possible")
        : fixed_rate ? fmt::format("{} events/s", options.rate)
                     : fmt::format("schedule '{}' (speedup {})", options.schedule, options.speedup);
    spdlog::info("gen: posting to http://{}:{}{}, {}, batch {}", url->host, url->port,
                 poster->target(), pacing, batch);
  }

  // ---- Main loop ----
  const auto start = SteadyClock::now();
  const auto end = duration_micros > 0 ? start + std::chrono::microseconds(duration_micros)
                                       : SteadyClock::time_point::max();
  const auto linger_d = std::chrono::microseconds(*linger);
  auto next_due = start;
  auto batch_started = start;
  std::string buffer;  // the pending batch (POST) or unwritten output (stdout)
  buffer.reserve(to_stdout ? kStdoutChunk + 8192 : std::min<size_t>(batch * 2048, kMaxBodyBytes));
  int64_t in_buffer = 0;
  int64_t generated = 0;
  int64_t bytes = 0;
  int64_t skipped_backlog = 0;
  bool output_failed = false;
  int output_errno = 0;
  auto last_progress = start;

  auto flush = [&] {
    if (in_buffer == 0) return;
    if (to_stdout) {
      if (!output_failed && std::fwrite(buffer.data(), 1, buffer.size(), stdout) != buffer.size())
        output_failed = true;
      if (!output_failed && !max_rate && std::fflush(stdout) != 0) output_failed = true;
      if (output_failed && output_errno == 0) output_errno = errno;
    } else {
      poster->Send(buffer, in_buffer);
    }
    bytes += static_cast<int64_t>(buffer.size());
    buffer.clear();
    in_buffer = 0;
  };

  while (!stop.load(std::memory_order_relaxed) && !output_failed && !(poster && poster->fatal())) {
    if (options.count > 0 && generated >= options.count) break;
    auto now = SteadyClock::now();
    if (now >= end) break;
    if (!max_rate) {
      if (in_buffer > 0 && now - batch_started >= linger_d) {
        flush();
        continue;
      }
      if (next_due > now) {
        auto wake = std::min({next_due, now + std::chrono::milliseconds(100), end});
        if (in_buffer > 0) wake = std::min(wake, batch_started + linger_d);
        std::this_thread::sleep_until(wake);
        continue;
      }
      if (now - next_due > std::chrono::seconds(1)) {
        // Far behind (the server was slow or down): don't burst to catch up.
        ++skipped_backlog;
        next_due = now;
      }
    }

    int64_t wall_now = SystemClock::Default().NowMicros();
    if (in_buffer == 0) batch_started = now;
    generator.Append(buffer, wall_now);
    buffer += '\n';
    ++in_buffer;
    ++generated;

    if (fixed_rate) {
      next_due += std::chrono::nanoseconds(static_cast<int64_t>(1e9 / options.rate));
    } else if (!max_rate) {
      double rate = ScheduledRate(*schedule, schedule_clock.ScheduleTime(wall_now));
      double gap = -std::log(1.0 - uniform(arrival_rng)) / std::max(rate, 1e-3);
      next_due += std::chrono::nanoseconds(static_cast<int64_t>(std::min(gap, 60.0) * 1e9));
    }

    bool full =
        to_stdout
            ? (max_rate ? buffer.size() >= kStdoutChunk : in_buffer >= static_cast<int64_t>(batch))
            : (in_buffer >= static_cast<int64_t>(batch) || buffer.size() >= kMaxBodyBytes);
    if (full) flush();

    if (poster && now - last_progress >= std::chrono::seconds(30)) {
      last_progress = now;
      const PostTotals& t = poster->totals();
      double secs = std::chrono::duration<double>(now - start).count();
      spdlog::debug("gen: {} events in {:.0f} s ({:.1f}/s), {} accepted, {} rejected", generated,
                    secs, static_cast<double>(generated) / secs, t.accepted, t.rejected);
    }
  }
  if (!(poster && poster->fatal())) flush();
  if (to_stdout && !output_failed && std::fflush(stdout) != 0) {
    output_failed = true;
    output_errno = errno;
  }

  // ---- Summary ----
  double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
  double per_s = secs > 0 ? static_cast<double>(generated) / secs : 0;
  if (to_stdout) {
    if (output_failed && output_errno != EPIPE) {
      fmt::print(stderr, "sluice gen: writing to stdout failed: {}\n", std::strerror(output_errno));
      return 1;
    }
    fmt::print(stderr, "sluice gen: {} events, {:.1f} MB in {:.1f} s ({:.1f} events/s)\n",
               generated, static_cast<double>(bytes) / 1e6, secs, per_s);
    return 0;
  }
  const PostTotals& t = poster->totals();
  int64_t unacknowledged = generated - t.accepted - t.duplicates;
  if (skipped_backlog > 0)
    spdlog::info("gen: fell behind the schedule {} times (server slow or unreachable)",
                 skipped_backlog);
  spdlog::info(
      "gen: {} events in {} requests over {:.1f} s ({:.1f} events/s, {:.1f} MB): {} accepted, "
      "{} duplicates, {} rejected, {} unsent, {} failed attempts",
      generated, t.requests, secs, per_s, static_cast<double>(bytes) / 1e6, t.accepted,
      t.duplicates, t.rejected, t.unsent + (poster->fatal() ? in_buffer : 0), t.failed_attempts);
  return unacknowledged == 0 ? 0 : 1;
}

}  // namespace sluice::app
