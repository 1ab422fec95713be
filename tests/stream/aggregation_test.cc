#include "stream/aggregation.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "base/time.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/stream_pipeline.h"
#include "support/one_stream_catalog.h"

namespace sluice::stream {
namespace {

namespace fs = std::filesystem;

using test_support::OneStream;

sql::ViewPlan PlanOf(std::string_view sql_text) {
  auto statements = sql::Parse(sql_text);
  EXPECT_TRUE(statements.ok()) << statements.status().message();
  const auto& create = std::get<sql::CreateMaterializedView>(statements->at(0).node);
  OneStream catalog;
  auto plan = sql::PlanView(create, catalog);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  return std::move(plan).value();
}

const int64_t kT0 = ParseRfc3339("2026-11-25T08:00:00Z").value();

std::string Ts(int64_t micros) {
  return FormatRfc3339(micros);
}

constexpr std::string_view kCountPerMinute =
    "CREATE MATERIALIZED VIEW events_per_minute AS "
    "SELECT warehouse_id, event_type, window_start, count(*) AS events, "
    "sum(amount_minor) AS amount_minor "
    "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
    "GROUP BY warehouse_id, event_type, window_start";

// A stream pipeline over a real log and checkpoint store in a temporary directory, with one
// view (more can be added), driven by ProcessAvailable() on the test's thread.
class StreamPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-view-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    CrashAll();
    fs::remove_all(dir_);
  }

  void OpenAll(std::string_view sql_text = kCountPerMinute) {
    sql_ = std::string(sql_text);
    log::LogOptions lo;
    lo.partitions = 2;
    log_ = log::Log::Open((dir_ / "log").string(), lo, clock_, syncer_).value();
    checkpoints_ = CheckpointStore::Open((dir_ / "state").string()).value();
    StreamPipelineOptions options;
    options.stream = "fulfilment";
    options.read_bytes_per_partition = read_bytes_;
    options.partition_idle_micros = idle_micros_;
    options.checkpoint_interval_micros = checkpoint_interval_micros_;
    pipeline_ = std::make_unique<StreamPipeline>(options, *log_, *checkpoints_, clock_, metrics_);
    view_ = AddView(sql_, "v#1");
  }

  std::shared_ptr<store::View> AddView(const std::string& sql_text, const std::string& id) {
    const sql::ViewPlan plan = PlanOf(sql_text);
    auto view = std::make_shared<store::View>(ViewDefinitionFor(plan, sql_text));
    Status added = pipeline_->AddView(plan, id, view);
    EXPECT_TRUE(added.ok()) << added.ToString();
    return view;
  }
  // Simulates a crash: drops everything without a final checkpoint.
  void CrashAll() {
    pipeline_.reset();  // never started: the destructor does not checkpoint
    view_.reset();
    checkpoints_.reset();
    log_.reset();
  }
  void Reopen() {
    CrashAll();
    OpenAll(sql_);
  }

  void AppendJson(uint32_t partition, const std::string& json, int64_t event_time) {
    payloads_.push_back(json);
    log::RecordToAppend r{event_time, payloads_.back()};
    auto appended = log_->Append(partition, std::span(&r, 1));
    ASSERT_TRUE(appended.ok()) << appended.status().ToString();
    ASSERT_TRUE(syncer_.WaitDurable(appended->sync_ticket).ok());
  }

  void Append(uint32_t partition, const std::string& warehouse, const std::string& type,
              int64_t event_time, std::string extra = "") {
    AppendJson(partition,
               R"({"event_id":"e)" + std::to_string(payloads_.size()) + R"(","warehouse_id":")" +
                   warehouse + R"(","event_type":")" + type + R"(","occurred_at":")" +
                   Ts(event_time) + "\"" + extra + "}",
               event_time);
  }

  size_t Process() {
    auto n = pipeline_->ProcessAvailable();
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : 0;
  }

  std::string Row(const std::string& warehouse, const std::string& type, int64_t window_start,
                  int count, std::string amount = "null") {
    return R"({"warehouse_id":")" + warehouse + R"(","event_type":")" + type +
           R"(","window_start":")" + Ts(window_start) + R"(","events":)" + std::to_string(count) +
           R"(,"amount_minor":)" + amount + "}";
  }

  // The view's rows, as JSON texts in key order.
  std::vector<std::string> Rows(const std::shared_ptr<store::View>& view = nullptr) {
    std::string snapshot = (view ? view : view_)->SnapshotJson().value();
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(snapshot);
    std::vector<std::string> rows;
    for (simdjson::dom::element row : doc["rows"].get_array())
      rows.push_back(simdjson::minify(row));
    return rows;
  }

  bool Has(const std::string& row) {
    for (const std::string& r : Rows())
      if (r == row) return true;
    return false;
  }

  fs::path dir_;
  ManualClock clock_{kT0};
  MetricsRegistry metrics_;
  log::Syncer syncer_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::shared_ptr<store::View> view_;
  std::unique_ptr<StreamPipeline> pipeline_;
  std::string sql_;
  size_t read_bytes_ = 1 << 20;
  int64_t idle_micros_ = 0;  // a caught-up partition is idle at once (time stands still here)
  int64_t checkpoint_interval_micros_ = kMicrosPerSecond;  // with Start(): the thread's cadence
  std::vector<std::string> payloads_;
};

TEST_F(StreamPipelineTest, CountsOutOfOrderEventsIntoTheirEventTimeWindows) {
  OpenAll();
  // Arrival order differs from event time order, across minutes and partitions.
  Append(0, "WH-01", "pick.completed", kT0 + 90 * kMicrosPerSecond);  // 08:01
  Append(1, "WH-01", "pick.completed", kT0 + 10 * kMicrosPerSecond);  // 08:00, late
  Append(0, "WH-01", "pick.completed", kT0 + 59 * kMicrosPerSecond);  // 08:00
  Append(1, "WH-02", "payment.captured", kT0 + 61 * kMicrosPerSecond, R"(,"amount_minor":1250)");
  Append(0, "WH-01", "pick.completed", kT0 - 1);  // 07:59
  ASSERT_EQ(Process(), 5u);
  EXPECT_TRUE(Has(Row("WH-01", "pick.completed", kT0, 2)));
  EXPECT_TRUE(Has(Row("WH-01", "pick.completed", kT0 + kMicrosPerMinute, 1)));
  EXPECT_TRUE(Has(Row("WH-02", "payment.captured", kT0 + kMicrosPerMinute, 1, "1250")));
  EXPECT_TRUE(Has(Row("WH-01", "pick.completed", kT0 - kMicrosPerMinute, 1)));
  EXPECT_EQ(view_->row_count(), 4u);
  EXPECT_EQ(view_->version(), 1u);  // one round, one delta
}

TEST_F(StreamPipelineTest, DeltaCarriesOnlyChangedRows) {
  OpenAll();
  Append(0, "WH-01", "pick.completed", kT0);
  ASSERT_EQ(Process(), 1u);
  std::vector<std::string> deltas;
  view_->Subscribe([&](uint64_t, const auto& d) { deltas.push_back(*d); }, {});
  Append(1, "WH-03", "fulfilment.exception", kT0 + 5);
  ASSERT_EQ(Process(), 1u);
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_NE(deltas[0].find(Row("WH-03", "fulfilment.exception", kT0, 1)), std::string::npos);
  EXPECT_EQ(deltas[0].find("WH-01"), std::string::npos);
  EXPECT_NE(deltas[0].find("\"version\":2"), std::string::npos);
}

TEST_F(StreamPipelineTest, MissingGroupFieldGroupsAsNull) {
  OpenAll();
  AppendJson(0, R"({"event_id":"x","event_type":"order.received"})", kT0);
  ASSERT_EQ(Process(), 1u);
  EXPECT_TRUE(Has(R"({"warehouse_id":null,"event_type":"order.received","window_start":")" +
                  Ts(kT0) + R"(","events":1,"amount_minor":null})"));
}

TEST_F(StreamPipelineTest, AggregatesFiltersAndExpressions) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v AS SELECT upper(warehouse_id) AS wh, window_start, "
      "count(*) AS n, count(amount_minor) AS with_amount, count(DISTINCT order_id) AS orders, "
      "sum(amount_minor) AS total, min(amount_minor) AS lo, max(order_id) AS last_order, "
      "avg(amount_minor) AS mean, count(*) FILTER (WHERE amount_minor > 100) AS big, "
      "window_end FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' HOUR) "
      "WHERE event_type <> 'ignored' GROUP BY upper(warehouse_id), window_start");
  const std::pair<const char*, const char*> events[] = {
      {"wh-1", R"(,"order_id":"A","amount_minor":100)"},
      {"wh-1", R"(,"order_id":"B","amount_minor":250)"},
      {"WH-1", R"(,"order_id":"A","amount_minor":1.5)"},
      {"wh-1", R"(,"order_id":"C")"},
      {"wh-1", R"(,"order_id":"Z","amount_minor":"text is ignored")"},
  };
  for (const auto& [wh, extra] : events) Append(0, wh, "x", kT0 + 1, extra);
  Append(0, "wh-1", "ignored", kT0 + 2, R"(,"order_id":"Y","amount_minor":1000000)");
  ASSERT_EQ(Process(), 6u);
  const std::vector<std::string> rows = Rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], R"({"wh":"WH-1","window_start":")" + Ts(kT0) +
                         R"(","n":5,"with_amount":4,"orders":4,"total":351.5,"lo":1.5,)"
                         R"("last_order":"Z","mean":117.16666666666667,"big":1,"window_end":")" +
                         Ts(kT0 + kMicrosPerHour) + R"("})");
}

TEST_F(StreamPipelineTest, ApproximateAndOrderedAggregates) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v AS SELECT warehouse_id, approx_count_distinct(order_id) AS "
      "orders, approx_percentile(amount_minor, 0.5) AS median, first_value(order_id) AS first, "
      "last_value(order_id) AS last FROM fulfilment GROUP BY warehouse_id");
  // WH-A: 40 orders (exact below 64 distinct values), out of order, a tie at the latest time.
  for (int i = 0; i < 40; ++i) {
    const int64_t t = kT0 + ((i * 7) % 40) * kMicrosPerSecond;
    Append(i % 2, "WH-A", "x", t,
           R"(,"order_id":"A-)" + std::to_string(100 + i) + R"(","amount_minor":)" +
               std::to_string(i + 1));
  }
  Append(0, "WH-A", "x", kT0 + 39 * kMicrosPerSecond, R"(,"order_id":"A-999")");  // the tie
  // WH-B: 3,000 distinct orders: the HyperLogLog estimate.
  for (int i = 0; i < 3000; ++i)
    Append(i % 2, "WH-B", "x", kT0, R"(,"order_id":"B-)" + std::to_string(i) + "\"");
  while (Process() > 0) {
  }
  auto row = [&](const std::string& wh) {
    for (const std::string& r : Rows())
      if (r.find('"' + wh + '"') != std::string::npos) return r;
    return std::string();
  };
  // A-100 is at 08:00:00 (first); A-139 (i=39: (39*7)%40 = 33 s) is not last: i=17 is at 39 s,
  // tied with A-999, which is larger.
  simdjson::dom::parser parser;
  simdjson::dom::element a = parser.parse(row("WH-A"));
  EXPECT_EQ(int64_t(a["orders"]), 41);
  EXPECT_EQ(std::string_view(a["first"]), "A-100");
  EXPECT_EQ(std::string_view(a["last"]), "A-999");
  EXPECT_NEAR(double(a["median"]), 20, 20 * 0.01);  // rank ceil(0.5 * 40) - 1 of 1..40
  const std::string b_text = row("WH-B");
  simdjson::dom::element b = parser.parse(b_text);
  EXPECT_NEAR(double(int64_t(b["orders"])), 3000, 3000 * 0.065);
  EXPECT_TRUE(b["median"].is_null());
  const std::vector<std::string> before = Rows();
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Reopen();
  EXPECT_EQ(Rows(), before);
}

TEST_F(StreamPipelineTest, HavingDeletesRowsThatStopQualifying) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v AS SELECT warehouse_id, window_start, count(*) AS n "
      "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
      "GROUP BY warehouse_id, window_start HAVING count(*) BETWEEN 2 AND 3");
  std::vector<std::string> deltas;
  view_->Subscribe([&](uint64_t, const auto& d) { deltas.push_back(*d); }, {});
  Append(0, "WH-01", "x", kT0);
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(view_->row_count(), 0u);
  EXPECT_TRUE(deltas.empty());  // nothing visible changed: no delta, no version
  Append(0, "WH-01", "x", kT0);
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(view_->row_count(), 1u);
  Append(1, "WH-01", "x", kT0);
  Append(1, "WH-01", "x", kT0);
  ASSERT_EQ(Process(), 2u);
  EXPECT_EQ(view_->row_count(), 0u);
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_NE(deltas[1].find(R"("rows":[],"deleted":[{"warehouse_id":"WH-01")"), std::string::npos)
      << deltas[1];
  // The group's state survives a restart, and the row stays deleted.
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Reopen();
  EXPECT_EQ(view_->row_count(), 0u);
}

TEST_F(StreamPipelineTest, HopWindowsPutAnEventInEveryWindowThatCoversIt) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v AS SELECT window_start, window_end, count(*) AS n "
      "FROM HOP(fulfilment, occurred_at, INTERVAL '1' MINUTE, INTERVAL '3' MINUTE) "
      "GROUP BY window_start, window_end");
  Append(0, "WH-01", "x", kT0 + 150 * kMicrosPerSecond);  // 08:02:30
  Append(1, "WH-01", "x", kT0 + 30 * kMicrosPerSecond);   // 08:00:30, out of order
  ASSERT_EQ(Process(), 2u);
  auto row = [](int64_t start, int n) {
    return R"({"window_start":")" + Ts(start) + R"(","window_end":")" +
           Ts(start + 3 * kMicrosPerMinute) + R"(","n":)" + std::to_string(n) + "}";
  };
  const std::vector<std::string> expected = {
      row(kT0 - 2 * kMicrosPerMinute, 1), row(kT0 - kMicrosPerMinute, 1), row(kT0, 2),
      row(kT0 + kMicrosPerMinute, 1), row(kT0 + 2 * kMicrosPerMinute, 1)};
  EXPECT_EQ(Rows(), expected);
}

TEST_F(StreamPipelineTest, OnCloseEmitsAWindowOnceTheWatermarkPassesIt) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v WITH (emit = 'on_close') AS SELECT window_start, count(*) AS n "
      "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) GROUP BY window_start");
  Append(0, "WH-01", "x", kT0 + 10 * kMicrosPerSecond);
  Append(0, "WH-01", "x", kT0 + 50 * kMicrosPerSecond);
  ASSERT_EQ(Process(), 2u);
  EXPECT_EQ(view_->row_count(), 0u);                     // the 08:00 window is still open
  Append(1, "WH-01", "x", kT0 + 64 * kMicrosPerSecond);  // watermark 08:00:59: still open
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(view_->row_count(), 0u);
  Append(1, "WH-01", "x", kT0 + 65 * kMicrosPerSecond);  // watermark 08:01:00: closes 08:00
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(Rows(), std::vector<std::string>{R"({"window_start":")" + Ts(kT0) + R"(","n":2})"});
  Append(0, "WH-01", "x", kT0 + 30 * kMicrosPerSecond);  // too late for 08:00: dropped
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(Rows(), std::vector<std::string>{R"({"window_start":")" + Ts(kT0) + R"(","n":2})"});
  // Closed windows stay in the view across a restart; open ones are still open.
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Reopen();
  EXPECT_EQ(view_->row_count(), 1u);
  Append(0, "WH-01", "x", kT0 + 200 * kMicrosPerSecond);
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(view_->row_count(), 2u);
  EXPECT_TRUE(Has(R"({"window_start":")" + Ts(kT0 + kMicrosPerMinute) + R"(","n":2})"));
}

TEST_F(StreamPipelineTest, RetentionPurgesOldWindowsFromStateAndView) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v WITH (retention = '10 minutes') AS SELECT window_start, "
      "count(*) AS n FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
      "GROUP BY window_start");
  Append(0, "WH-01", "x", kT0);
  Append(0, "WH-01", "x", kT0 + 5 * kMicrosPerMinute);
  ASSERT_EQ(Process(), 2u);
  EXPECT_EQ(view_->row_count(), 2u);
  // Watermark 08:14:55: the 08:00 window ended more than 10 minutes before it, 08:05 did not.
  Append(1, "WH-01", "x", kT0 + 15 * kMicrosPerMinute);
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(view_->row_count(), 2u);
  EXPECT_FALSE(Has(R"({"window_start":")" + Ts(kT0) + R"(","n":1})"));
  Append(1, "WH-01", "x", kT0 + 30 * kMicrosPerSecond);  // for the purged window: dropped
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(view_->row_count(), 2u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Reopen();
  EXPECT_EQ(view_->row_count(), 2u);
}

// A final window's groups leave memory once checkpointed; a late event for one reads its
// group back (from the store, or from a failed commit's changes), so the view is the same as
// if every group had stayed, also after a restart.
TEST_F(StreamPipelineTest, FinalWindowsLeaveMemoryAndALateEventReadsItsGroupBack) {
  OpenAll();
  const std::string labels = "pipeline=\"events_per_minute\"";
  auto groups = [&] { return metrics_.GetGauge("sluice_pipeline_groups", "", labels)->value(); };
  auto reloaded = [&] {
    return metrics_.GetCounter("sluice_pipeline_groups_reloaded_total", "", labels)->value();
  };
  for (int minute = 0; minute < 10; ++minute)
    for (int k = 0; k < 3; ++k)
      Append(0, "WH-0" + std::to_string(k), "x", kT0 + minute * kMicrosPerMinute);
  ASSERT_EQ(Process(), 30u);
  // Watermark 08:08:55: the windows up to 08:07 are final, but not yet checkpointed.
  EXPECT_EQ(groups(), 30);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Process();
  EXPECT_EQ(groups(), 6);  // 08:08 and 08:09
  EXPECT_EQ(view_->row_count(), 30u);

  Append(0, "WH-01", "x", kT0 + 30 * kMicrosPerSecond);  // late: its group is read back
  Append(0, "WH-09", "x", kT0);                          // late, a group that never existed
  ASSERT_EQ(Process(), 2u);
  EXPECT_TRUE(Has(Row("WH-01", "x", kT0, 2)));
  EXPECT_TRUE(Has(Row("WH-09", "x", kT0, 1)));
  EXPECT_EQ(reloaded(), 1u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Process();
  EXPECT_EQ(groups(), 6);
  Append(0, "WH-01", "x", kT0 + 40 * kMicrosPerSecond);
  ASSERT_EQ(Process(), 1u);
  EXPECT_TRUE(Has(Row("WH-01", "x", kT0, 3)));
  EXPECT_EQ(reloaded(), 2u);

  // The commit fails: the group leaves memory with its state only in the pipeline's retry.
  checkpoints_->FailNextCommitsForTesting(1);
  EXPECT_FALSE(pipeline_->Checkpoint().ok());
  Process();
  EXPECT_EQ(groups(), 6);
  Append(0, "WH-01", "x", kT0 + 50 * kMicrosPerSecond);
  ASSERT_EQ(Process(), 1u);
  EXPECT_TRUE(Has(Row("WH-01", "x", kT0, 4)));
  ASSERT_TRUE(pipeline_->Checkpoint().ok());

  const std::vector<std::string> before = Rows();
  EXPECT_EQ(before.size(), 31u);
  Reopen();
  EXPECT_EQ(Rows(), before);
  Process();
  EXPECT_EQ(groups(), 6);  // the final windows' groups stay on disk
  Append(0, "WH-01", "x", kT0 + 55 * kMicrosPerSecond);
  ASSERT_EQ(Process(), 1u);
  EXPECT_TRUE(Has(Row("WH-01", "x", kT0, 5)));
}

// on_close: closed windows leave memory too; an event for one is dropped (not read back).
TEST_F(StreamPipelineTest, ClosedWindowsLeaveMemory) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v WITH (emit = 'on_close') AS SELECT warehouse_id, event_type, "
      "window_start, count(*) AS events, sum(amount_minor) AS amount_minor "
      "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
      "GROUP BY warehouse_id, event_type, window_start");
  const std::string labels = "pipeline=\"v\"";
  for (int minute = 0; minute < 10; ++minute)
    Append(0, "WH-01", "x", kT0 + minute * kMicrosPerMinute);
  ASSERT_EQ(Process(), 10u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Process();
  EXPECT_EQ(metrics_.GetGauge("sluice_pipeline_groups", "", labels)->value(), 2);
  EXPECT_EQ(view_->row_count(), 8u);
  Append(0, "WH-01", "x", kT0 + 30 * kMicrosPerSecond);
  ASSERT_EQ(Process(), 1u);
  EXPECT_TRUE(Has(Row("WH-01", "x", kT0, 1)));
  EXPECT_EQ(metrics_.GetCounter("sluice_dropped_events_total", "", labels)->value(), 1u);
  EXPECT_EQ(metrics_.GetCounter("sluice_pipeline_groups_reloaded_total", "", labels)->value(), 0u);
}

// on_update sessions without retention leave memory once no in-time event can reach them; a
// late event that can reads its key's sessions back (from memory not yet checkpointed, or from
// the store) and merges with them as if they had stayed.
TEST_F(StreamPipelineTest, ExpiredOnUpdateSessionsAreReadBackByALateEvent) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v AS SELECT warehouse_id, window_start, window_end, count(*) AS n "
      "FROM SESSION(fulfilment, occurred_at, INTERVAL '5' MINUTE) "
      "GROUP BY warehouse_id, window_start, window_end");
  const std::string labels = "pipeline=\"v\"";
  auto groups = [&] { return metrics_.GetGauge("sluice_pipeline_groups", "", labels)->value(); };
  auto row = [](const std::string& wh, int64_t start, int64_t end, int n) {
    return R"({"warehouse_id":")" + wh + R"(","window_start":")" + Ts(start) +
           R"(","window_end":")" + Ts(end) + R"(","n":)" + std::to_string(n) + "}";
  };
  const int64_t m = kMicrosPerMinute;
  Append(0, "WH-A", "x", kT0);
  Append(0, "WH-A", "x", kT0 + m);
  Append(0, "WH-A", "x", kT0 + 10 * m);
  Append(0, "WH-B", "x", kT0 + 40 * m);  // watermark 08:39:55: WH-A's sessions expire
  ASSERT_EQ(Process(), 4u);
  EXPECT_EQ(groups(), 1);
  EXPECT_EQ(Rows(), (std::vector<std::string>{row("WH-A", kT0, kT0 + 6 * m, 2),
                                              row("WH-A", kT0 + 10 * m, kT0 + 15 * m, 1),
                                              row("WH-B", kT0 + 40 * m, kT0 + 45 * m, 1)}));
  // Before any checkpoint: the expired sessions come back from memory.
  Append(0, "WH-A", "x", kT0 + 150 * kMicrosPerSecond);
  ASSERT_EQ(Process(), 1u);
  EXPECT_TRUE(Has(row("WH-A", kT0, kT0 + 450 * kMicrosPerSecond, 3)));
  EXPECT_EQ(groups(), 1);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Process();
  // After it: from the store. 08:06 bridges both sessions of WH-A: they merge.
  Append(0, "WH-A", "x", kT0 + 6 * m);
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(Rows(), (std::vector<std::string>{row("WH-A", kT0, kT0 + 15 * m, 5),
                                              row("WH-B", kT0 + 40 * m, kT0 + 45 * m, 1)}));
  EXPECT_EQ(metrics_.GetCounter("sluice_pipeline_groups_reloaded_total", "", labels)->value(), 2u);
  EXPECT_EQ(groups(), 1);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  const std::vector<std::string> before = Rows();
  Reopen();
  EXPECT_EQ(Rows(), before);
  Append(0, "WH-A", "x", kT0 + 14 * m);  // within the merged session, read back again
  ASSERT_EQ(Process(), 1u);
  EXPECT_TRUE(Has(row("WH-A", kT0, kT0 + 19 * m, 6)));
}

TEST_F(StreamPipelineTest, OtherTimeColumnsAreReadFromTheEvent) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) AS n "
      "FROM TUMBLE(fulfilment, promised_by, INTERVAL '1' DAY) GROUP BY window_start");
  Append(0, "WH-01", "x", kT0, R"(,"promised_by":"2026-11-27T10:00:00Z")");
  Append(0, "WH-01", "x", kT0, R"(,"promised_by":"not a time")");
  Append(0, "WH-01", "x", kT0);
  ASSERT_EQ(Process(), 3u);
  EXPECT_EQ(Rows(), std::vector<std::string>{R"({"window_start":"2026-11-27T00:00:00Z","n":1})"});
}

TEST_F(StreamPipelineTest, DataErrorsSkipTheEventAndCount) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v AS SELECT CAST(warehouse_id AS BIGINT) AS wh, count(*) AS n "
      "FROM fulfilment GROUP BY CAST(warehouse_id AS BIGINT)");
  Append(0, "12", "x", kT0);
  Append(0, "WH-01", "x", kT0);  // CAST fails: skipped
  ASSERT_EQ(Process(), 2u);
  EXPECT_EQ(Rows(), std::vector<std::string>{R"({"wh":12,"n":1})"});
  EXPECT_NE(metrics_.RenderPrometheus().find("sluice_pipeline_eval_errors_total{pipeline=\"v\"} 1"),
            std::string::npos);
}

// The same events through a run that crashes twice (once before any checkpoint, once after)
// and through an uninterrupted run give the same view.
TEST_F(StreamPipelineTest, RestartFromCheckpointEqualsAnUninterruptedRun) {
  constexpr std::string_view kView =
      "CREATE MATERIALIZED VIEW v AS SELECT warehouse_id, window_start, count(*) AS n, "
      "count(DISTINCT order_id) AS orders, sum(amount_minor) AS total, min(order_id) AS first, "
      "max(amount_minor) AS top, avg(amount_minor) AS mean "
      "FROM HOP(fulfilment, occurred_at, INTERVAL '1' MINUTE, INTERVAL '2' MINUTE) "
      "GROUP BY warehouse_id, window_start";
  std::mt19937 rng(7);
  struct Event {
    uint32_t partition;
    std::string wh, extra;
    int64_t t;
  };
  std::vector<Event> events;
  for (int i = 0; i < 300; ++i) {
    events.push_back({static_cast<uint32_t>(rng() % 2), "WH-0" + std::to_string(rng() % 3),
                      R"(,"order_id":"O-)" + std::to_string(rng() % 40) + R"(","amount_minor":)" +
                          std::to_string(rng() % 10000),
                      kT0 + static_cast<int64_t>(rng() % 600) * kMicrosPerSecond});
  }
  OpenAll(kView);
  for (size_t i = 0; i < 100; ++i)
    Append(events[i].partition, events[i].wh, "x", events[i].t, events[i].extra);
  ASSERT_EQ(Process(), 100u);
  Reopen();  // crash before any checkpoint: everything is replayed
  ASSERT_EQ(Process(), 100u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  for (size_t i = 100; i < 200; ++i)
    Append(events[i].partition, events[i].wh, "x", events[i].t, events[i].extra);
  ASSERT_EQ(Process(), 100u);
  const uint64_t version_before_crash = view_->version();
  Reopen();  // crash after a checkpoint: the 100 after it are replayed
  EXPECT_GE(view_->version(), version_before_crash);
  for (size_t i = 200; i < 300; ++i)
    Append(events[i].partition, events[i].wh, "x", events[i].t, events[i].extra);
  ASSERT_EQ(Process(), 200u);
  EXPECT_GT(view_->version(), version_before_crash);
  const std::vector<std::string> crashed = Rows();

  CrashAll();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  payloads_.clear();
  OpenAll(kView);
  for (const Event& e : events) Append(e.partition, e.wh, "x", e.t, e.extra);
  while (Process() > 0) {
  }
  EXPECT_EQ(Rows(), crashed);
  EXPECT_GT(crashed.size(), 30u);
}

TEST_F(StreamPipelineTest, VersionsKeepGrowingAcrossACrash) {
  OpenAll();
  Append(0, "WH-01", "pick.completed", kT0);
  ASSERT_EQ(Process(), 1u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());  // checkpoint at version 1
  for (int i = 0; i < 4; ++i) {               // versions 2..5, never checkpointed
    Append(i % 2, "WH-02", "pick.completed", kT0);
    ASSERT_EQ(Process(), 1u);
  }
  const uint64_t before_crash = view_->version();
  ASSERT_EQ(before_crash, 5u);
  Reopen();
  // The replay (one round for all four records) must not reuse 2..5 for different contents.
  EXPECT_GE(view_->version(), before_crash);
  ASSERT_EQ(Process(), 4u);
  EXPECT_GT(view_->version(), before_crash);
  EXPECT_TRUE(Has(Row("WH-02", "pick.completed", kT0, 4)));
}

// Views added to a running stream catch up on their own readers (here in small chunks, while
// events keep arriving), then share the live reads; each ends as a view run alone would.
TEST_F(StreamPipelineTest, ViewsAddedLaterCatchUpAndShareTheStream) {
  read_bytes_ = 400;  // a few records per read: catching up takes many rounds
  constexpr std::string_view kPerWarehouse =
      "CREATE MATERIALIZED VIEW w AS SELECT warehouse_id, window_start, count(*) AS n, "
      "sum(amount_minor) AS total FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
      "GROUP BY warehouse_id, window_start";
  OpenAll(kPerWarehouse);
  std::mt19937 rng(3);
  auto add = [&](int n) {
    for (int i = 0; i < n; ++i)
      Append(rng() % 2, "WH-0" + std::to_string(rng() % 4), "x",
             kT0 + static_cast<int64_t>(rng() % 300) * kMicrosPerSecond,
             R"(,"amount_minor":)" + std::to_string(rng() % 1000));
  };
  add(60);
  for (int i = 0; i < 5; ++i) Process();
  // The same query under another name: it must end with the same rows.
  const std::string same_query =
      "CREATE MATERIALIZED VIEW w2" + std::string(kPerWarehouse.substr(26));
  auto late = AddView(same_query, "w2#2");
  auto other = AddView(
      "CREATE MATERIALIZED VIEW types AS SELECT event_type, count(*) AS n FROM fulfilment "
      "GROUP BY event_type",
      "types#3");
  for (int round = 0; round < 10; ++round) {
    add(5);
    Process();
  }
  while (Process() > 0) {
  }
  EXPECT_EQ(pipeline_->lag("w"), std::optional<uint64_t>(0));
  EXPECT_EQ(pipeline_->lag("w2"), std::optional<uint64_t>(0));
  EXPECT_EQ(Rows(late), Rows());
  EXPECT_EQ(Rows(other), std::vector<std::string>{R"({"event_type":"x","n":110})"});

  // A crash with the views checkpointed at different positions: each resumes from its own.
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  add(20);
  Process();
  const std::vector<std::string> before = Rows();
  // A crash ends every view (their stored rows keep the store open).
  late.reset();
  other.reset();
  Reopen();  // only the first view is re-added by OpenAll; add the other two as at a restart
  late = AddView(same_query, "w2#2");
  while (Process() > 0) {
  }
  EXPECT_EQ(Rows(late), Rows());
  EXPECT_EQ(Rows().size(), before.size());

  // Removing a view leaves the others running.
  pipeline_->RemoveView("w");
  add(10);
  while (Process() > 0) {
  }
  EXPECT_NE(Rows(late), before);
}

// The pipeline reads a chunk of each partition in turn: with a dense and a sparse partition,
// a chunk of the sparse one spans many minutes of the dense one. Per-partition watermarks keep
// in-order producers from being late; an event late within its own partition still is.
TEST_F(StreamPipelineTest, InterleavedPartitionsWithSkewProduceNoLateEvents) {
  read_bytes_ = 2048;  // about 14 events per partition and round
  OpenAll(
      "CREATE MATERIALIZED VIEW v WITH (emit = 'on_close') AS SELECT window_start, count(*) AS n "
      "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) GROUP BY window_start");
  for (int s = 0; s < 3600; s += 6) Append(0, "WH-01", "x", kT0 + s * kMicrosPerSecond);
  for (int s = 3; s < 3600; s += 60) Append(1, "WH-02", "x", kT0 + s * kMicrosPerSecond);
  size_t rounds = 0;
  while (Process() > 0) ++rounds;
  EXPECT_GE(rounds, 20u);
  const std::string labels = "pipeline=\"v\"";
  EXPECT_EQ(metrics_.GetCounter("sluice_late_events_total", "", labels)->value(), 0u);
  EXPECT_EQ(metrics_.GetCounter("sluice_dropped_events_total", "", labels)->value(), 0u);
  // Every minute but the last (still open: the watermark is 08:59:49) has 10 + 1 events.
  const std::vector<std::string> rows = Rows();
  ASSERT_EQ(rows.size(), 59u);
  for (int m = 0; m < 59; ++m)
    EXPECT_EQ(rows[static_cast<size_t>(m)],
              R"({"window_start":")" + Ts(kT0 + m * kMicrosPerMinute) + R"(","n":11})");
  EXPECT_EQ(metrics_.GetGauge("sluice_watermark_micros", "", labels)->value(),
            kT0 + 3594 * kMicrosPerSecond - 5 * kMicrosPerSecond);

  // Behind the watermark (and its own partition) by far more than the delay: late, dropped.
  Append(1, "WH-02", "x", kT0 + 30 * kMicrosPerMinute);
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(metrics_.GetCounter("sluice_late_events_total", "", labels)->value(), 1u);
  EXPECT_EQ(metrics_.GetCounter("sluice_dropped_events_total", "", labels)->value(), 1u);

  // A restart keeps each partition's watermark: partition 1 (at 08:59:03) still holds the
  // view back while it has input, partition 0 (at 08:59:54) does not once caught up.
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Reopen();
  Append(1, "WH-02", "x", kT0 + 3605 * kMicrosPerSecond);
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(metrics_.GetGauge("sluice_watermark_micros", "", labels)->value(),
            kT0 + 3600 * kMicrosPerSecond);
  EXPECT_EQ(Rows().size(), 60u);
  EXPECT_EQ(metrics_.GetCounter("sluice_late_events_total", "", labels)->value(), 1u);
}

// Live, a producer's batch may become durable in one partition a moment before another: a
// caught-up partition keeps holding the watermark back for the idle timeout, then stops.
TEST_F(StreamPipelineTest, ACaughtUpPartitionTurnsIdleAfterTheIdleTimeout) {
  idle_micros_ = kMicrosPerSecond;
  OpenAll(
      "CREATE MATERIALIZED VIEW v WITH (emit = 'on_close') AS SELECT window_start, count(*) AS n "
      "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) GROUP BY window_start");
  const std::string labels = "pipeline=\"v\"";
  Gauge* watermark = metrics_.GetGauge("sluice_watermark_micros", "", labels);
  Append(0, "WH-01", "x", kT0);
  Append(1, "WH-01", "x", kT0 + 10 * kMicrosPerSecond);
  ASSERT_EQ(Process(), 2u);
  EXPECT_EQ(watermark->value(), kT0 - 5 * kMicrosPerSecond);
  // The first part of a batch: partition 0 only, minutes ahead.
  for (int s = 20; s <= 300; s += 20) Append(0, "WH-01", "x", kT0 + s * kMicrosPerSecond);
  ASSERT_EQ(Process(), 15u);
  EXPECT_EQ(watermark->value(), kT0 + 5 * kMicrosPerSecond);  // partition 1 holds it
  clock_.Advance(kMicrosPerSecond / 2);
  // Its other part, in partition 1: not late.
  for (int s = 30; s <= 300; s += 30) Append(1, "WH-01", "x", kT0 + s * kMicrosPerSecond);
  ASSERT_EQ(Process(), 10u);
  EXPECT_EQ(metrics_.GetCounter("sluice_late_events_total", "", labels)->value(), 0u);
  EXPECT_EQ(watermark->value(), kT0 + 295 * kMicrosPerSecond);
  // Partition 1 goes quiet: once idle for a second it no longer holds partition 0 back.
  Append(0, "WH-01", "x", kT0 + 400 * kMicrosPerSecond);
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(watermark->value(), kT0 + 295 * kMicrosPerSecond);
  clock_.Advance(kMicrosPerSecond);
  ASSERT_EQ(Process(), 0u);
  EXPECT_EQ(watermark->value(), kT0 + 395 * kMicrosPerSecond);
  EXPECT_EQ(view_->row_count(), 6u);  // 08:00 to 08:05 closed
}

// A checkpoint whose commit fails keeps its state changes: the next one writes them, so a
// restart after it loses nothing.
TEST_F(StreamPipelineTest, AFailedCheckpointCommitIsRetriedWithTheSameChanges) {
  OpenAll();
  Append(0, "WH-01", "pick.completed", kT0);
  Append(1, "WH-02", "pick.completed", kT0 + 1);
  ASSERT_EQ(Process(), 2u);
  checkpoints_->FailNextCommitsForTesting(2);
  EXPECT_FALSE(pipeline_->Checkpoint().ok());
  // Changes after the failure: one group changes again, one is new.
  Append(0, "WH-01", "pick.completed", kT0 + 2);
  Append(1, "WH-03", "pick.completed", kT0 + 3);
  ASSERT_EQ(Process(), 2u);
  EXPECT_FALSE(pipeline_->Checkpoint().ok());
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  const std::vector<std::string> before = Rows();
  ASSERT_EQ(before.size(), 3u);
  Reopen();  // a crash: only the checkpoint, nothing to replay
  EXPECT_EQ(Process(), 0u);
  EXPECT_EQ(Rows(), before);
  EXPECT_TRUE(Has(Row("WH-01", "pick.completed", kT0, 2)));
}

// Rollup tiers are sibling views over the same events: each tier's rows equal the base rows
// merged into its coarser windows (count, sum, min, max, avg; a percentile within the sketch's
// error), and each tier keeps its rows for its own age, on the clock.
TEST_F(StreamPipelineTest, RollupTiersReaggregateAndKeepTheirRowsForTheirAge) {
  constexpr std::string_view kBase =
      "CREATE MATERIALIZED VIEW v WITH (retention = '3 days', "
      "rollups = '1 hour after 2 hours, 1 day after 1 day') AS SELECT warehouse_id, "
      "window_start, count(*) AS n, sum(amount_minor) AS total, min(amount_minor) AS low, "
      "max(amount_minor) AS high, avg(amount_minor) AS mean, "
      "approx_percentile(amount_minor, 0.9) AS p90 "
      "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
      "GROUP BY warehouse_id, window_start";
  const sql::ViewPlan base = PlanOf(kBase);
  ASSERT_EQ(base.rollups.size(), 2u);
  EXPECT_EQ(base.rollups[0].name, "v_1h");
  EXPECT_EQ(base.rollups[1].name, "v_1d");
  EXPECT_EQ(base.retention_micros, std::optional<int64_t>(2 * 3600 * kMicrosPerSecond));
  EXPECT_EQ(base.rollups[0].retention_micros, std::optional<int64_t>(kMicrosPerDay));
  EXPECT_EQ(base.rollups[1].retention_micros, std::optional<int64_t>(3 * kMicrosPerDay));
  OpenAll(kBase);
  auto add_tier = [&](size_t i) {
    const sql::ViewPlan plan = sql::RollupPlan(base, i);
    auto view = std::make_shared<store::View>(ViewDefinitionFor(plan, ""));
    EXPECT_TRUE(pipeline_->AddView(plan, plan.name + "#1", view).ok());
    return view;
  };
  auto hours = add_tier(0);
  auto days = add_tier(1);

  // Two warehouses, events every 7 minutes over 30 hours (in order), amounts 1..1000.
  std::mt19937 rng(11);
  struct Sum {
    int64_t n = 0, total = 0, low = INT64_MAX, high = INT64_MIN;
    std::vector<int64_t> amounts;
  };
  std::map<std::pair<std::string, int64_t>, Sum> per_hour;
  const int64_t start = kT0 - kT0 % kMicrosPerDay;  // midnight
  const int64_t kHour = 3600 * kMicrosPerSecond;
  for (int64_t t = start; t < start + 30 * kHour; t += 7 * kMicrosPerMinute) {
    for (const char* wh : {"WH-01", "WH-02"}) {
      const int64_t amount = 1 + static_cast<int64_t>(rng() % 1000);
      Append(0, wh, "x", t, R"(,"amount_minor":)" + std::to_string(amount));
      Sum& h = per_hour[{wh, t - t % kHour}];
      ++h.n;
      h.total += amount;
      h.low = std::min(h.low, amount);
      h.high = std::max(h.high, amount);
      h.amounts.push_back(amount);
    }
  }
  while (Process() > 0) {
  }
  // Every hour row matches the events of its hour; hours past a day's age are gone already
  // (event time is 30 hours on): 7 hours of each warehouse kept... at least the recent ones.
  simdjson::dom::parser parser;
  size_t checked = 0;
  for (const std::string& text : Rows(hours)) {
    simdjson::dom::element row = parser.parse(text);
    const std::string wh{std::string_view(row["warehouse_id"])};
    const int64_t window = ParseRfc3339(std::string_view(row["window_start"])).value();
    const Sum& expected = per_hour.at({wh, window});
    EXPECT_EQ(int64_t(row["n"]), expected.n) << text;
    EXPECT_EQ(int64_t(row["total"]), expected.total) << text;
    EXPECT_EQ(int64_t(row["low"]), expected.low) << text;
    EXPECT_EQ(int64_t(row["high"]), expected.high) << text;
    EXPECT_NEAR(double(row["mean"]), double(expected.total) / double(expected.n), 1e-9) << text;
    std::vector<int64_t> sorted = expected.amounts;
    std::sort(sorted.begin(), sorted.end());
    // Between the two ranks around the 0.9 quantile, within the sketch's relative error.
    const size_t rank = static_cast<size_t>(0.9 * double(sorted.size() - 1));
    const double p90 = double(row["p90"]);
    EXPECT_GE(p90, 0.98 * double(sorted[rank])) << text;
    EXPECT_LE(p90, 1.02 * double(sorted[std::min(rank + 1, sorted.size() - 1)])) << text;
    ++checked;
  }
  EXPECT_GE(checked, 2u * 24);  // the last day of hours (the watermark is at 29:55)
  // Day rows: the first day complete, the second one so far.
  int64_t day_events = 0;
  for (const std::string& text : Rows(days)) {
    simdjson::dom::element row = parser.parse(text);
    day_events += int64_t(row["n"]);
  }
  EXPECT_EQ(day_events, static_cast<int64_t>(payloads_.size()));
  EXPECT_EQ(Rows(days).size(), 4u);
  // Minute rows are kept 2 hours behind the watermark: at most ~2 h of them.
  EXPECT_LE(Rows().size(), 2u * (2 * 60 / 7 + 2));
  EXPECT_GT(Rows().size(), 2u * 10);

  // Quiet for 2 days: the minute and hour rows go, the day rows (3 days) stay.
  clock_.Advance(2 * kMicrosPerDay);
  Process();
  EXPECT_EQ(view_->row_count(), 0u);
  EXPECT_EQ(hours->row_count(), 0u);
  EXPECT_EQ(days->row_count(), 4u);
  clock_.Advance(2 * kMicrosPerDay);
  Process();
  EXPECT_EQ(days->row_count(), 0u);
}

// Retention is measured against the watermark moved on by the time the stream has been quiet:
// without any new event, old windows leave once the (injected) clock says they are past it.
TEST_F(StreamPipelineTest, RetentionPurgesOnTheClockWhenTheStreamIsQuiet) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v WITH (retention = '10 minutes') AS SELECT window_start, "
      "count(*) AS n FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
      "GROUP BY window_start");
  Append(0, "WH-01", "x", kT0);
  Append(0, "WH-01", "x", kT0 + 5 * kMicrosPerMinute);
  ASSERT_EQ(Process(), 2u);
  ASSERT_EQ(view_->row_count(), 2u);
  clock_.Advance(5 * kMicrosPerMinute);  // horizon 08:09:55: nothing is 10 minutes past its end
  Process();
  EXPECT_EQ(view_->row_count(), 2u);
  clock_.Advance(2 * kMicrosPerMinute);  // horizon 08:11:55: the 08:00 window (end 08:01) goes
  Process();
  EXPECT_EQ(view_->row_count(), 1u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  // Events resume below the horizon: one for the purged window is dropped, not re-counted.
  Append(1, "WH-01", "x", kT0 + 30 * kMicrosPerSecond);
  Append(1, "WH-01", "x", kT0 + 6 * kMicrosPerMinute);
  ASSERT_EQ(Process(), 2u);
  EXPECT_EQ(view_->row_count(), 2u);
  EXPECT_FALSE(Has(R"({"window_start":")" + Ts(kT0) + R"(","n":1})"));
  clock_.Advance(20 * kMicrosPerMinute);
  Process();
  EXPECT_EQ(view_->row_count(), 0u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());  // due without input: the purge changed the view
  Reopen();
  EXPECT_EQ(view_->row_count(), 0u);
}

// With the pipeline's own thread, checkpoints are committed on the committer thread while
// rounds go on (here one per round: the interval is 0). Late events keep reading back groups
// whose state is still in flight or just committed, and the view ends as the counts say, also
// after a restart from the final checkpoint.
TEST_F(StreamPipelineTest, CommitsInFlightNeverLoseAGroupsState) {
  checkpoint_interval_micros_ = 0;
  OpenAll();
  pipeline_->Start();
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    // WH-02 moves on a minute every 10 rounds (the 08:00 window turns final and leaves memory
    // once checkpointed); WH-01's events are all late, for the 08:00 window.
    Append(0, "WH-02", "x", kT0 + (1 + round / 10) * kMicrosPerMinute);
    Append(1, "WH-01", "x", kT0 + (round % 50) * kMicrosPerSecond);
    if (round % 7 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::string last_minute = Row("WH-02", "x", kT0 + (kRounds / 10) * kMicrosPerMinute, 10);
  for (int i = 0; i < 1000 && !(Has(Row("WH-01", "x", kT0, kRounds)) && Has(last_minute)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(pipeline_->Stop().ok());
  const std::vector<std::string> before = Rows();
  EXPECT_TRUE(Has(Row("WH-01", "x", kT0, kRounds)));
  for (int minute = 1; minute <= kRounds / 10; ++minute)
    EXPECT_TRUE(Has(Row("WH-02", "x", kT0 + minute * kMicrosPerMinute, 10))) << minute;
  EXPECT_EQ(before.size(), 1u + kRounds / 10);
  Reopen();
  EXPECT_EQ(Process(), 0u);  // everything was in the final checkpoint
  EXPECT_EQ(Rows(), before);
}

// The view's rows are committed with each checkpoint; a restart reads them from the store
// instead of rebuilding them, and what a checkpoint removed (a retention purge) stays removed.
TEST_F(StreamPipelineTest, RowsAreStoredWithTheCheckpointAndReopenedAfterACrash) {
  OpenAll(
      "CREATE MATERIALIZED VIEW v WITH (retention = '10 minutes') AS SELECT warehouse_id, "
      "window_start, count(*) AS n FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
      "GROUP BY warehouse_id, window_start");
  for (int i = 0; i < 20; ++i)
    Append(i % 2, "WH-0" + std::to_string(i % 4), "x", kT0 + i * kMicrosPerSecond);
  ASSERT_EQ(Process(), 20u);
  ASSERT_TRUE(view_->store_backed());
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Result<CheckpointData> data = checkpoints_->Load("v#1");
  ASSERT_TRUE(data.ok());
  ASSERT_EQ(data->row_count, std::optional<uint64_t>(4));
  int stored = 0;
  auto cursor = checkpoints_->Rows("v#1")->Open();
  for (cursor->Seek(""); cursor->Valid(); cursor->Next()) ++stored;
  EXPECT_EQ(stored, 4);
  cursor.reset();

  // Past the retention: the 08:00 rows go, the new window's rows come.
  Append(0, "WH-01", "x", kT0 + 20 * kMicrosPerMinute);
  Append(1, "WH-01", "x", kT0 + 20 * kMicrosPerMinute);
  ASSERT_EQ(Process(), 2u);
  EXPECT_EQ(view_->row_count(), 1u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  const std::vector<std::string> before = Rows();
  Reopen();
  EXPECT_EQ(view_->row_count(), 1u);
  EXPECT_EQ(Rows(), before);
  stored = 0;
  cursor = checkpoints_->Rows("v#1")->Open();
  for (cursor->Seek(""); cursor->Valid(); cursor->Next()) ++stored;
  EXPECT_EQ(stored, 1);
  cursor.reset();
  // Rows applied after the restart are on top of the stored ones.
  Append(0, "WH-02", "x", kT0 + 20 * kMicrosPerMinute);
  ASSERT_EQ(Process(), 1u);
  EXPECT_EQ(view_->row_count(), 2u);
  EXPECT_TRUE(Has(R"({"warehouse_id":"WH-02","window_start":")" + Ts(kT0 + 20 * kMicrosPerMinute) +
                  R"(","n":1})"));
}

// A checkpoint written before views were stored has no rows: they are rebuilt from the state
// once and stored with the next checkpoint.
TEST_F(StreamPipelineTest, ACheckpointWithoutRowsRebuildsThemOnce) {
  OpenAll();
  Append(0, "WH-01", "pick.completed", kT0);
  ASSERT_EQ(Process(), 1u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  ASSERT_TRUE(checkpoints_->Load("v#1")->row_count.has_value());
  // Make it an old checkpoint: state and metadata, no rows.
  Result<CheckpointData> data = checkpoints_->Load("v#1");
  ASSERT_TRUE(data.ok());
  ASSERT_TRUE(checkpoints_->Drop("v#1").ok());
  std::vector<std::pair<std::string, std::string>> state(data->state.begin(), data->state.end());
  ASSERT_TRUE(checkpoints_->Commit("v#1", state, data->offsets, data->version, data->meta).ok());
  ASSERT_FALSE(checkpoints_->Load("v#1")->row_count.has_value());
  Reopen();
  EXPECT_EQ(view_->row_count(), 1u);
  EXPECT_TRUE(Has(Row("WH-01", "pick.completed", kT0, 1)));
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  EXPECT_EQ(checkpoints_->Load("v#1")->row_count, std::optional<uint64_t>(1));
  Reopen();
  EXPECT_TRUE(Has(Row("WH-01", "pick.completed", kT0, 1)));
}

TEST(AggregatorTest, CountsLateEventsButStillAddsThem) {
  sql::FieldSet fields;
  auto aggregator = Aggregator::Create(
      PlanOf("CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) AS n FROM "
             "TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) GROUP BY window_start"),
      fields);
  ASSERT_TRUE(aggregator.ok());
  std::vector<sql::Value> values(fields.size());
  (*aggregator)->Add(values, kT0 + 60 * kMicrosPerSecond);
  (*aggregator)->Add(values, kT0 + 56 * kMicrosPerSecond);  // within the 5 s delay: not late
  (*aggregator)->Add(values, kT0 + 10 * kMicrosPerSecond);  // late, still counted
  EXPECT_EQ((*aggregator)->late_events(), 1u);
  EXPECT_EQ((*aggregator)->watermark(), kT0 + 55 * kMicrosPerSecond);
  std::vector<store::RowChange> changes;
  (*aggregator)->TakeChanges(changes);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ((*aggregator)->group_count(), 2u);
}

}  // namespace
}  // namespace sluice::stream
