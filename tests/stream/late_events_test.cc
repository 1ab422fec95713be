// The late-events side output of a stream pipeline: events a view's windows refuse are appended
// to the view's late-events log with their position, time, watermark and reason, once per
// position, also when a restart replays the log (with and without a checkpoint).
#include "stream/late_events.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/time.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/stream_pipeline.h"
#include "support/one_stream_catalog.h"

namespace sluice::stream {
namespace {

namespace fs = std::filesystem;

using test_support::OneStream;

const int64_t kT0 = ParseRfc3339("2026-11-25T08:00:00Z").value();

class LateEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-late-events-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    log::LogOptions one;
    one.partitions = 1;
    input_ = log::Log::Open((dir_ / "input").string(), one, clock_, syncer_).value();
    late_ = log::Log::Open((dir_ / "late").string(), one, clock_, syncer_).value();
    checkpoints_ = CheckpointStore::Open((dir_ / "state").string()).value();
    Start();
  }
  void TearDown() override {
    pipeline_.reset();
    checkpoints_.reset();
    late_.reset();
    input_.reset();
    fs::remove_all(dir_);
  }

  // A new pipeline (as after a crash: the old one is dropped without a checkpoint).
  void Start() {
    pipeline_.reset();
    constexpr std::string_view kSql =
        "CREATE MATERIALIZED VIEW v WITH (emit = 'on_close') AS SELECT window_start, count(*) AS n "
        "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) GROUP BY window_start";
    auto statements = sql::Parse(kSql);
    OneStream catalog;
    const sql::ViewPlan plan =
        sql::PlanView(std::get<sql::CreateMaterializedView>(statements->at(0).node), catalog)
            .value();
    view_ = std::make_shared<store::View>(ViewDefinitionFor(plan, std::string(kSql)));
    StreamPipelineOptions options;
    options.stream = "fulfilment";
    pipeline_ = std::make_unique<StreamPipeline>(options, *input_, *checkpoints_, clock_, metrics_);
    ASSERT_TRUE(pipeline_->AddView(plan, "v@1", view_, late_.get()).ok());
  }

  void Append(const std::string& id, int64_t t) {
    payloads_.push_back(R"({"event_id":")" + id + R"(","occurred_at":")" + FormatRfc3339(t) +
                        "\"}");
    log::RecordToAppend r{t, payloads_.back()};
    auto appended = input_->Append(0, std::span(&r, 1));
    ASSERT_TRUE(appended.ok());
    ASSERT_TRUE(syncer_.WaitDurable(appended->sync_ticket).ok());
  }

  void Process() {
    while (pipeline_->ProcessAvailable().value() > 0) {
    }
  }

  std::vector<LateEvent> Late() {
    // Entries are durable at the next group commit: wait for it.
    for (int i = 0; i < 200 && late_->DurableEndOffset(0) < late_->EndOffset(0); ++i)
      late_->WaitForDurable(late_->durable_generation(), std::chrono::milliseconds(10));
    return ReadLateEvents(*late_, 0, 100).value().items;
  }

  fs::path dir_;
  ManualClock clock_{kT0};
  MetricsRegistry metrics_;
  log::Syncer syncer_;
  std::unique_ptr<log::Log> input_, late_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::shared_ptr<store::View> view_;
  std::unique_ptr<StreamPipeline> pipeline_;
  std::vector<std::string> payloads_;
};

TEST_F(LateEventsTest, RefusedEventsAreRecordedOncePerPositionAcrossRestarts) {
  Append("e1", kT0 + 10 * kMicrosPerSecond);
  Append("e2", kT0 + 150 * kMicrosPerSecond);  // watermark 08:02:25: 08:00 and 08:01 close
  Process();
  Append("e3", kT0 + 40 * kMicrosPerSecond);
  Process();
  std::vector<LateEvent> late = Late();
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].partition, 0u);
  EXPECT_EQ(late[0].source_offset, 2u);
  EXPECT_EQ(late[0].event_time_micros, kT0 + 40 * kMicrosPerSecond);
  EXPECT_EQ(late[0].watermark_micros, kT0 + 145 * kMicrosPerSecond);
  EXPECT_EQ(late[0].reason, "window_closed");
  EXPECT_EQ(late[0].raw, payloads_[2]);

  // A crash before any checkpoint: the replay refuses e3 again but does not record it again.
  Start();
  Process();
  EXPECT_EQ(Late().size(), 1u);

  // After a checkpoint, a new late event, a crash: the replay from the checkpoint again
  // refuses it, still once.
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Append("e4", kT0 + 70 * kMicrosPerSecond);
  Process();
  ASSERT_EQ(Late().size(), 2u);
  Start();
  Process();
  late = Late();
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[1].source_offset, 3u);
  // And without a crash, a later late event appends after them.
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Start();
  Append("e5", kT0 + 5 * kMicrosPerSecond);
  Process();
  EXPECT_EQ(Late().size(), 3u);
}

TEST(LateEventTest, PayloadRoundTripsAndBadHeadersAreCorruption) {
  const std::string payload = LateEventPayload(3, 77, 1'000'000, 500'000, "past_retention",
                                               "{\"a\":\"line\\nbreak\"}\nraw tail");
  log::RecordView record;
  record.offset = 9;
  record.log_time_micros = 42;
  record.payload = payload;
  auto decoded = DecodeLateEvent(record);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->partition, 3u);
  EXPECT_EQ(decoded->source_offset, 77u);
  EXPECT_EQ(decoded->event_time_micros, 1'000'000);
  EXPECT_EQ(decoded->watermark_micros, 500'000);
  EXPECT_EQ(decoded->reason, "past_retention");
  EXPECT_EQ(decoded->raw, "{\"a\":\"line\\nbreak\"}\nraw tail");
  for (std::string bad : {"", "no header", "{\"partition\":1}\nx", "[1]\nx"}) {
    record.payload = bad;
    EXPECT_EQ(DecodeLateEvent(record).status().code(), StatusCode::kCorruption) << bad;
  }
}

}  // namespace
}  // namespace sluice::stream
