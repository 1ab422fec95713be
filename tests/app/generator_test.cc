#include "app/generator.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "app/http_client.h"
#include "base/clock.h"
#include "base/time.h"

// The replacement operator new below uses malloc, so free() in operator delete is correct.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Counts heap allocations so that the test can check the generator's steady state allocates
// nothing per event.
namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace sluice::app {
namespace {

constexpr int64_t kT0 = 1767225600123456;  // 2026-01-01T00:00:00.123456Z

const std::set<std::string> kOperational = {
    "order.received", "order.allocated",     "pick.started",       "pick.completed",
    "pack.completed", "shipment.dispatched", "shipment.delivered", "fulfilment.exception"};
const std::set<std::string> kFinancial = {"payment.captured", "refund.issued", "carrier.charge"};

// Lifecycle steps in order; exceptions and refunds are not steps.
int Step(const std::string& type) {
  static const std::map<std::string, int> kSteps = {
      {"order.received", 0},      {"payment.captured", 1}, {"order.allocated", 2},
      {"pick.started", 3},        {"pick.completed", 4},   {"pack.completed", 5},
      {"shipment.dispatched", 6}, {"carrier.charge", 7},   {"shipment.delivered", 8}};
  auto it = kSteps.find(type);
  return it == kSteps.end() ? -1 : it->second;
}

struct Event {
  std::string json;
  int64_t time;
  GeneratedEvent info;
};

std::vector<Event> Generate(FulfilmentGenerator& gen, int n, int64_t start = kT0) {
  std::vector<Event> events;
  events.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    Event e;
    e.time = start + int64_t{i} * 71'000;  // ~14 events/s
    e.info = gen.Append(e.json, e.time);
    events.push_back(std::move(e));
  }
  return events;
}

TEST(FulfilmentGenerator, EveryEventIsValidSingleLineJsonWithTheEnvelope) {
  FulfilmentGenerator gen(42);
  simdjson::dom::parser parser;
  std::set<std::string> types;
  for (const Event& e : Generate(gen, 10000)) {
    ASSERT_EQ(e.json.find('\n'), std::string::npos);
    ASSERT_EQ(e.info.begin, 0u);
    ASSERT_EQ(e.info.size, e.json.size());
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(e.json).get(doc), simdjson::SUCCESS) << e.json;
    std::string_view id, type, occurred, wh, order;
    ASSERT_EQ(doc["event_id"].get_string().get(id), simdjson::SUCCESS);
    ASSERT_EQ(doc["event_type"].get_string().get(type), simdjson::SUCCESS);
    ASSERT_EQ(doc["occurred_at"].get_string().get(occurred), simdjson::SUCCESS);
    ASSERT_EQ(doc["warehouse_id"].get_string().get(wh), simdjson::SUCCESS);
    ASSERT_EQ(doc["order_id"].get_string().get(order), simdjson::SUCCESS);
    EXPECT_FALSE(id.empty());
    EXPECT_EQ(EventTypeName(e.info.type), type);
    EXPECT_TRUE(kOperational.count(std::string(type)) || kFinancial.count(std::string(type)))
        << type;
    EXPECT_EQ(IsFinancial(e.info.type), kFinancial.count(std::string(type)) == 1);
    types.insert(std::string(type));
    // occurred_at: RFC 3339, millisecond precision, UTC.
    ASSERT_EQ(occurred.size(), kOccurredAtWidth);
    EXPECT_EQ(occurred.back(), 'Z');
    Result<int64_t> t = ParseRfc3339(occurred);
    ASSERT_TRUE(t.ok()) << occurred;
    EXPECT_EQ(*t, e.time / 1000 * 1000);
    EXPECT_EQ(e.json.substr(e.info.occurred_at_offset, kOccurredAtWidth), occurred);
    // WH-01..WH-12
    ASSERT_EQ(wh.size(), 5u);
    EXPECT_EQ(wh.substr(0, 3), "WH-");
    int n = std::atoi(std::string(wh.substr(3)).c_str());
    EXPECT_GE(n, 1);
    EXPECT_LE(n, 12);
    EXPECT_EQ(FulfilmentGenerator::WarehouseId(e.info.warehouse_index), wh);
  }
  EXPECT_EQ(types.size(), 11u) << "every event type appears in 10k events";
}

TEST(FulfilmentGenerator, SizesAreBetween800BytesAnd3_2KiloBytesAndSpreadOut) {
  FulfilmentGenerator gen(7);
  std::vector<size_t> sizes;
  for (const Event& e : Generate(gen, 10000)) sizes.push_back(e.json.size());
  std::sort(sizes.begin(), sizes.end());
  EXPECT_GE(sizes.front(), 800u);
  EXPECT_LE(sizes.back(), 3200u);
  size_t p10 = sizes[sizes.size() / 10], p50 = sizes[sizes.size() / 2],
         p90 = sizes[sizes.size() * 9 / 10];
  double mean = 0;
  for (size_t s : sizes) mean += static_cast<double>(s);
  mean /= static_cast<double>(sizes.size());
  EXPECT_LT(p10, 1100u);
  EXPECT_GT(p90, 2300u);
  EXPECT_GT(p50, 1300u);
  EXPECT_LT(p50, 2000u);
  EXPECT_GT(mean, 1400);
  EXPECT_LT(mean, 2100);
}

TEST(FulfilmentGenerator, EventIdsAreUniqueAndHaveAnOverwritableCounter) {
  FulfilmentGenerator gen(GeneratorOptions{.seed = 3, .id_tag = "run9"});
  std::set<std::string> ids;
  simdjson::dom::parser parser;
  uint64_t expected_counter = 0;
  for (Event& e : Generate(gen, 10000)) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(e.json).get(doc), simdjson::SUCCESS);
    std::string_view id;
    ASSERT_EQ(doc["event_id"].get_string().get(id), simdjson::SUCCESS);
    EXPECT_TRUE(ids.insert(std::string(id)).second) << "duplicate " << id;
    EXPECT_EQ(id.substr(0, 9), "evt-run9-");
    EXPECT_EQ(e.info.counter, ++expected_counter);
    // The counter digits sit where the info says; overwriting them keeps the JSON valid.
    std::string digits = e.json.substr(e.info.id_counter_offset, kEventIdDigits);
    EXPECT_EQ(std::stoull(digits), e.info.counter);
    WriteFixedDigits(987654321012ull, e.json.data() + e.info.id_counter_offset, kEventIdDigits);
    ASSERT_EQ(parser.parse(e.json).get(doc), simdjson::SUCCESS);
    ASSERT_EQ(doc["event_id"].get_string().get(id), simdjson::SUCCESS);
    EXPECT_EQ(id, "evt-run9-987654321012");
  }
  EXPECT_EQ(gen.events_generated(), 10000u);
}

TEST(FulfilmentGenerator, OrdersMoveThroughTheirLifecycleInOrder) {
  FulfilmentGenerator gen(11);
  simdjson::dom::parser parser;
  struct OrderSeen {
    int last_step = -1;
    bool paid = false;
    std::string warehouse;
    std::string currency;
    int exceptions = 0;
    int refunds = 0;
  };
  std::map<std::string, OrderSeen> orders;
  int completed = 0, exceptions = 0, refunds = 0;
  for (const Event& e : Generate(gen, 20000)) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(e.json).get(doc), simdjson::SUCCESS);
    std::string type(doc["event_type"].get_string().value());
    std::string order(doc["order_id"].get_string().value());
    std::string wh(doc["warehouse_id"].get_string().value());
    OrderSeen& o = orders[order];
    if (o.warehouse.empty()) o.warehouse = wh;
    EXPECT_EQ(o.warehouse, wh) << order << " changed warehouse";
    int step = Step(type);
    if (step >= 0) {
      EXPECT_EQ(step, o.last_step + 1) << order << ": " << type << " after step " << o.last_step;
      o.last_step = step;
      if (step == 1) o.paid = true;
      if (step == 8) ++completed;
    } else if (type == "fulfilment.exception") {
      EXPECT_GE(o.last_step, 0) << "exception before order.received";
      ++o.exceptions;
      ++exceptions;
    } else {
      ASSERT_EQ(type, "refund.issued");
      EXPECT_TRUE(o.paid) << order << ": refund before payment";
      ++o.refunds;
      ++refunds;
    }
  }
  for (const auto& [id, o] : orders) EXPECT_GE(o.last_step, 0) << id << " never received";
  EXPECT_GT(completed, 1000);
  EXPECT_GT(exceptions, 100);
  EXPECT_GT(refunds, 20);
  // The pool stays bounded: orders complete rather than pile up.
  EXPECT_LT(gen.active_orders(), 1024u);
}

TEST(FulfilmentGenerator, FinancialEventsCarryIntegerAmountsInTheWarehouseCurrency) {
  FulfilmentGenerator gen(5);
  simdjson::dom::parser parser;
  std::map<std::string, std::string> currency_of;
  std::map<std::string, int64_t> paid;  // order → amount captured
  int financial = 0;
  for (const Event& e : Generate(gen, 10000)) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(e.json).get(doc), simdjson::SUCCESS);
    std::string type(doc["event_type"].get_string().value());
    int64_t amount;
    if (!IsFinancial(e.info.type)) {
      EXPECT_NE(doc["amount_minor"].get_int64().get(amount), simdjson::SUCCESS)
          << "operational events have no amount_minor: " << type;
      continue;
    }
    ++financial;
    ASSERT_TRUE(doc["amount_minor"].is_int64()) << e.json;
    amount = doc["amount_minor"].get_int64().value();
    EXPECT_GT(amount, 0) << e.json;
    std::string_view currency;
    ASSERT_EQ(doc["currency"].get_string().get(currency), simdjson::SUCCESS);
    ASSERT_EQ(currency.size(), 3u);
    EXPECT_TRUE(
        std::all_of(currency.begin(), currency.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
    std::string wh(doc["warehouse_id"].get_string().value());
    auto [it, inserted] = currency_of.emplace(wh, std::string(currency));
    EXPECT_EQ(it->second, currency) << wh << " uses one currency";
    EXPECT_EQ(FulfilmentGenerator::WarehouseCurrency(e.info.warehouse_index), currency);
    std::string order(doc["order_id"].get_string().value());
    if (type == "payment.captured") paid[order] = amount;
    if (type == "refund.issued") {
      ASSERT_TRUE(paid.count(order));
      EXPECT_LE(amount, paid[order]) << "refund larger than the payment";
    }
  }
  EXPECT_GT(financial, 1500);
  std::set<std::string> currencies;
  for (const auto& [wh, c] : currency_of) currencies.insert(c);
  EXPECT_GE(currencies.size(), 4u);  // EUR, GBP, USD, SEK, PLN
}

TEST(FulfilmentGenerator, ExceptionsHaveARealisticCodeAndSeverity) {
  FulfilmentGenerator gen(9);
  simdjson::dom::parser parser;
  const std::set<std::string> codes = {"STOCKOUT",        "DAMAGED_ITEM",       "ADDRESS_INVALID",
                                       "CARRIER_DELAY",   "LABEL_PRINT_FAILED", "WEIGHT_MISMATCH",
                                       "SCANNER_OFFLINE", "CUSTOMS_HOLD"};
  const std::set<std::string> severities = {"low", "medium", "high", "critical"};
  std::set<std::string> seen;
  for (const Event& e : Generate(gen, 20000)) {
    if (e.info.type != EventType::kFulfilmentException) continue;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(e.json).get(doc), simdjson::SUCCESS);
    std::string code(doc["exception_code"].get_string().value());
    std::string severity(doc["severity"].get_string().value());
    EXPECT_TRUE(codes.count(code)) << code;
    EXPECT_TRUE(severities.count(severity)) << severity;
    seen.insert(code);
  }
  EXPECT_GE(seen.size(), 6u);
}

TEST(FulfilmentGenerator, DeterministicForASeed) {
  FulfilmentGenerator a(123), b(123), c(124);
  std::string sa, sb, sc;
  for (int i = 0; i < 500; ++i) {
    a.Append(sa, kT0 + i);
    b.Append(sb, kT0 + i);
    c.Append(sc, kT0 + i);
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(FulfilmentGenerator, FixedWarehouseOverride) {
  FulfilmentGenerator gen(GeneratorOptions{.seed = 1, .warehouse_id = "BENCH-00c0ffee"});
  simdjson::dom::parser parser;
  for (const Event& e : Generate(gen, 500)) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(e.json).get(doc), simdjson::SUCCESS);
    EXPECT_EQ(doc["warehouse_id"].get_string().value(), "BENCH-00c0ffee");
  }
}

TEST(FulfilmentGenerator, NoHeapAllocationPerEventOnceWarm) {
  FulfilmentGenerator gen(17);
  std::string out;
  out.reserve(64 << 20);
  for (int i = 0; i < 2000; ++i) gen.Append(out, kT0 + i * 1000);
  int64_t before = g_allocations.load();
  for (int i = 0; i < 10000; ++i) gen.Append(out, kT0 + (2000 + i) * 1000);
  EXPECT_EQ(g_allocations.load() - before, 0);
  // The counting hook works.
  void* probe = ::operator new(64);
  ::operator delete(probe);
  EXPECT_EQ(g_allocations.load() - before, 1);
}

TEST(Timestamps, MillisAndMinuteFormats) {
  char buf[kOccurredAtWidth];
  FormatMillisTimestamp(kT0, buf);
  EXPECT_EQ(std::string(buf, kOccurredAtWidth), "2026-01-01T00:00:00.123Z");
  FormatMillisTimestamp(951782400999999, buf);  // leap day
  EXPECT_EQ(std::string(buf, kOccurredAtWidth), "2000-02-29T00:00:00.999Z");
  std::string minute;
  AppendMinuteStart(minute, ParseRfc3339("2026-03-07T13:45:59.999Z").value());
  EXPECT_EQ(minute, "2026-03-07T13:45:00Z");
}

TEST(RateSchedule, AveragesFourteenPerSecondWithShiftChangeSpikes) {
  int64_t day = ParseRfc3339("2026-05-04T00:00:00Z").value();
  double sum = 0;
  int n = 0;
  for (int64_t t = day; t < day + kMicrosPerDay; t += kMicrosPerSecond) {
    sum += ScheduledRate(Schedule::kShift, t);
    ++n;
  }
  EXPECT_NEAR(sum / n, kAverageRate, 0.2);
  auto at = [&](const char* hhmm) {
    return ScheduledRate(Schedule::kShift,
                         ParseRfc3339(std::string("2026-05-04T") + hhmm + ":00Z").value());
  };
  EXPECT_NEAR(at("06:05"), kPeakRate, 0.01);
  EXPECT_NEAR(at("14:00"), kPeakRate, 0.01);
  EXPECT_NEAR(at("21:58"), kPeakRate, 0.01);
  EXPECT_LT(at("03:00"), 10);
  EXPECT_LT(at("10:00"), 16);
  EXPECT_GT(at("10:00"), 5);
  EXPECT_LT(at("06:30"), 20);
  EXPECT_EQ(ScheduledRate(Schedule::kFlat, day), kAverageRate);
  EXPECT_EQ(ScheduledRate(Schedule::kPeak, day), kPeakRate);
  EXPECT_FALSE(ParseSchedule("bursty").ok());
}

TEST(RateSchedule, SpeedupRunsTheScheduleClockFaster) {
  int64_t wall = ParseRfc3339("2026-05-04T12:00:00Z").value();
  Result<int64_t> start = ParseTimeOfDayBefore("05:50", wall);
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(FormatRfc3339(*start), "2026-05-04T05:50:00Z");
  ScheduleClock clock(wall, *start, 60);
  EXPECT_EQ(FormatRfc3339(clock.ScheduleTime(wall + 10 * kMicrosPerSecond)),
            "2026-05-04T06:00:00Z");
  EXPECT_NEAR(ScheduledRate(Schedule::kShift, clock.ScheduleTime(wall + 10 * kMicrosPerSecond)),
              kPeakRate, 0.01);
  EXPECT_FALSE(ParseTimeOfDayBefore("25:00", wall).ok());
  EXPECT_EQ(FormatRfc3339(ParseTimeOfDayBefore("13:00", wall).value()), "2026-05-03T13:00:00Z");
}

TEST(ParseHttpUrl, Forms) {
  Result<HttpUrl> u = ParseHttpUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "");
  u = ParseHttpUrl("localhost:18080/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, 18080);
  u = ParseHttpUrl("http://example.com/sluice/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "/sluice");
  u = ParseHttpUrl("ws://[::1]:9000");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_FALSE(ParseHttpUrl("https://x:1").ok());
  EXPECT_FALSE(ParseHttpUrl("http://x:99999").ok());
  EXPECT_FALSE(ParseHttpUrl("http://:80").ok());
}

}  // namespace
}  // namespace sluice::app
