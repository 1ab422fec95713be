#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/crc32c.h"
#include "base/json_writer.h"
#include "base/metrics.h"
#include "base/status.h"
#include "base/thread_priority.h"
#include "base/time.h"

namespace sluice {
namespace {

TEST(Crc32c, KnownVectors) {
  // RFC 3720 (iSCSI) test vectors.
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  char zeros[32] = {};
  EXPECT_EQ(Crc32c(zeros, 32), 0x8A9136AAu);
  char ones[32];
  for (char& c : ones) c = static_cast<char>(0xFF);
  EXPECT_EQ(Crc32c(ones, 32), 0x62A8AB43u);
}

TEST(Crc32c, ExtendsIncrementally) {
  const char* text = "The quick brown fox jumps over the lazy dog";
  uint32_t whole = Crc32c(text, 43);
  uint32_t part = Crc32c(text, 10);
  EXPECT_EQ(Crc32c(text + 10, 33, part), whole);
}

TEST(Rfc3339, ParsesUtcAndOffsets) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(ParseRfc3339("2026-11-25T08:30:00Z").value(), 1795595400LL * kMicrosPerSecond);
  EXPECT_EQ(ParseRfc3339("2026-11-25T09:30:00+01:00").value(),
            ParseRfc3339("2026-11-25T08:30:00Z").value());
  EXPECT_EQ(ParseRfc3339("2026-11-25t08:30:00.123456z").value(),
            1795595400LL * kMicrosPerSecond + 123456);
  EXPECT_EQ(ParseRfc3339("2026-11-25T08:30:00.1Z").value(),
            1795595400LL * kMicrosPerSecond + 100000);
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59Z").value(), -kMicrosPerSecond);
}

TEST(Rfc3339, RejectsWithReason) {
  for (const char* bad : {"", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-25",
                          "2026-11-25T08:30:00", "2026-11-25T25:00:00Z", "2026-11-25T08:30:00Zx",
                          "20261125T083000Z", "2026-11-25T08:30:00.Z", "not a date"}) {
    auto r = ParseRfc3339(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("RFC 3339"), std::string::npos) << bad;
  }
  EXPECT_NE(ParseRfc3339("2026-13-01T00:00:00Z").status().message().find("month"),
            std::string::npos);
}

TEST(Rfc3339, FormatRoundTrips) {
  for (int64_t t : {int64_t{0}, int64_t{1795595400} * kMicrosPerSecond,
                    int64_t{1795595400} * kMicrosPerSecond + 123000,
                    int64_t{1795595400} * kMicrosPerSecond + 7, -kMicrosPerSecond - 5}) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)).value(), t) << FormatRfc3339(t);
  }
  EXPECT_EQ(FormatRfc3339(1795595400LL * kMicrosPerSecond), "2026-11-25T08:30:00Z");
  EXPECT_EQ(FormatRfc3339(1795595400LL * kMicrosPerSecond + 5000), "2026-11-25T08:30:00.005Z");
  EXPECT_EQ(FormatRfc3339(1795595400LL * kMicrosPerSecond + 5), "2026-11-25T08:30:00.000005Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339(253402300799LL * kMicrosPerSecond), "9999-12-31T23:59:59Z");
  // Outside years 0-9999 (the formatting by hand), printf's output as before.
  EXPECT_EQ(FormatRfc3339(253402300800LL * kMicrosPerSecond), "10000-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(-62167219200LL * kMicrosPerSecond - 1), "-001-12-31T23:59:59.999999Z");
}

TEST(Duration, Parses) {
  EXPECT_EQ(ParseDuration("7 days").value(), 7 * kMicrosPerDay);
  EXPECT_EQ(ParseDuration("5 seconds").value(), 5 * kMicrosPerSecond);
  EXPECT_EQ(ParseDuration("250ms").value(), 250 * kMicrosPerMilli);
  EXPECT_EQ(ParseDuration("2 years").value(), 730 * kMicrosPerDay);
  EXPECT_EQ(ParseDuration("1h").value(), kMicrosPerHour);
  EXPECT_FALSE(ParseDuration("seven days").ok());
  EXPECT_FALSE(ParseDuration("7 fortnights").ok());
  EXPECT_FALSE(ParseDuration("7 days later").ok());
}

TEST(FloorDiv, HandlesNegatives) {
  EXPECT_EQ(FloorDiv(-1, 60), -1);
  EXPECT_EQ(FloorDiv(-60, 60), -1);
  EXPECT_EQ(FloorDiv(59, 60), 0);
}

TEST(JsonWriter, EscapesAndRepairsUtf8) {
  std::string out;
  AppendJsonString(out, std::string_view("a\"b\\c\n\x01 é", 10));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001 é\"");
  out.clear();
  AppendJsonString(out, std::string_view("x\xff\xc3", 3));
  EXPECT_EQ(out, "\"x\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(Status, CarriesCodeAndMessage) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  Status err = Status::NotFound("no such stream");
  EXPECT_EQ(err.code(), StatusCode::kNotFound);
  EXPECT_EQ(err.ToString(), "NotFound: no such stream");
  Result<int> r = Status::InvalidArgument("bad");
  EXPECT_FALSE(r.ok());
  Result<int> v = 3;
  EXPECT_EQ(v.value(), 3);
  EXPECT_EQ(Status::FromErrno("write", ENOSPC).code(), StatusCode::kResourceExhausted);
}

TEST(ThreadPriority, LowersOnlyTheCallingThreadAndItsNewThreads) {
  auto nice_of = [](pid_t tid) {
    errno = 0;
    return getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
  };
  const pid_t main_tid = static_cast<pid_t>(syscall(SYS_gettid));
  const int main_nice = nice_of(main_tid);
  int own = -100, inherited = -100;
  std::thread([&] {
    const int before = nice_of(static_cast<pid_t>(syscall(SYS_gettid)));
    Status st = SetCurrentThreadNice(std::min(before + 5, 19));
    ASSERT_TRUE(st.ok()) << st.ToString();
    own = nice_of(static_cast<pid_t>(syscall(SYS_gettid)));
    std::thread([&] { inherited = nice_of(static_cast<pid_t>(syscall(SYS_gettid))); }).join();
  }).join();
  EXPECT_EQ(own, std::min(main_nice + 5, 19));
  EXPECT_EQ(inherited, own);
  EXPECT_EQ(nice_of(main_tid), main_nice);  // the other threads keep theirs
}

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock(100);
  EXPECT_EQ(clock.NowMicros(), 100);
  clock.Advance(50);
  EXPECT_EQ(clock.NowMicros(), 150);
}

TEST(Metrics, RendersPrometheusText) {
  MetricsRegistry registry;
  registry.GetCounter("sluice_x_total", "X things", "stream=\"a\"")->Add(3);
  auto* h = registry.GetHistogram("sluice_lat_seconds", "Latency", "", {1000, 10000});
  h->ObserveMicros(500);
  h->ObserveMicros(5000);
  h->ObserveMicros(50000);
  std::string text = registry.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE sluice_x_total counter\nsluice_x_total{stream=\"a\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("sluice_lat_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_lat_seconds_bucket{le=\"0.01\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_lat_seconds_count 3\n"), std::string::npos);
  EXPECT_EQ(registry.GetCounter("sluice_x_total", "X things", "stream=\"a\"")->value(), 3u);
}

}  // namespace
}  // namespace sluice
