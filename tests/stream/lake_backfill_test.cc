// A view's backfill from the lake (backfill = 'lake'): the events the log's retention deleted
// are read from the stream's archive, then the log; the view ends as if the log had kept
// everything, and a restore from its checkpoint does not read the lake again.
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/time.h"
#include "lake/iceberg_table.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/archive.h"
#include "stream/archive_reader.h"
#include "stream/stream_pipeline.h"
#include "support/one_stream_catalog.h"

namespace sluice::stream {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kHour = int64_t{3600} * 1'000'000;
constexpr int64_t kDay = 24 * kHour;
const int64_t kT0 = ParseRfc3339("2026-11-25T08:00:00Z").value();

class LakeBackfillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-lake-backfill-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    log::LogOptions options;
    options.partitions = 2;
    options.segment_bytes = 4096;  // many segments, so retention can delete most of them
    options.retention_micros = kDay;
    log_ = log::Log::Open((dir_ / "log").string(), options, clock_, syncer_).value();
    checkpoints_ = CheckpointStore::Open((dir_ / "state").string()).value();
  }
  void TearDown() override {
    pipeline_.reset();
    checkpoints_.reset();
    log_.reset();
    fs::remove_all(dir_);
  }

  // Appends events i in [from, from + n): event time kT0 + i minutes, amount i.
  void Append(int from, int n) {
    for (int i = from; i < from + n; ++i) {
      const int64_t t = kT0 + int64_t{i} * 60'000'000;
      payloads_.push_back(fmt::format(
          R"({{"event_id":"e{}","occurred_at":"{}","amount_minor":{}}})", i, FormatRfc3339(t), i));
      const log::RecordToAppend record{t, payloads_.back(), 0};
      auto appended = log_->Append(static_cast<uint32_t>(i % 2), std::span(&record, 1));
      ASSERT_TRUE(appended.ok());
      ASSERT_TRUE(syncer_.WaitDurable(appended->sync_ticket).ok());
    }
  }

  void ArchiveAll() {
    ArchiveOptions o;
    o.root = (dir_ / "lake").string();
    o.table = "orders";
    o.columns = {{"event_id", "", lake::ColumnType::kString},
                 {"occurred_at", "", lake::ColumnType::kTimestampMicros},
                 {"amount_minor", "", lake::ColumnType::kInt64}};
    auto archive = Archive::Open(o, *log_, clock_, metrics_);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    ASSERT_TRUE((*archive)->RunOnce(/*force=*/true).ok());
  }

  std::optional<ArchiveReaderOptions> Lake() const {
    ArchiveReaderOptions o;
    o.root = (dir_ / "lake").string();
    o.table = "orders";
    return o;
  }

  // A new pipeline with view v (as after a restart), backfilling from the lake or the log.
  void StartView(bool from_lake, const std::string& checkpoint_id = "v@1") {
    pipeline_.reset();
    const std::string sql = fmt::format(
        "CREATE MATERIALIZED VIEW v WITH (backfill = '{}') AS SELECT count(*) AS n, "
        "sum(amount_minor) AS total, count(DISTINCT event_id) AS ids FROM orders",
        from_lake ? "lake" : "log");
    auto statements = sql::Parse(sql);
    ASSERT_TRUE(statements.ok());
    test_support::OneStream catalog("orders", /*archive=*/true);
    auto plan =
        sql::PlanView(std::get<sql::CreateMaterializedView>(statements->at(0).node), catalog);
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    view_ = std::make_shared<store::View>(ViewDefinitionFor(*plan, sql));
    StreamPipelineOptions options;
    options.stream = "orders";
    pipeline_ = std::make_unique<StreamPipeline>(options, *log_, *checkpoints_, clock_, metrics_);
    const Status added = pipeline_->AddView(*plan, checkpoint_id, view_, nullptr, nullptr,
                                            from_lake ? Lake() : std::nullopt);
    ASSERT_TRUE(added.ok()) << added.ToString();
  }

  void Process() {
    while (pipeline_->ProcessAvailable().value() > 0) {
    }
  }

  std::string Row() const {
    std::string rows;
    EXPECT_TRUE(view_->ForEachRow([&](const std::string& row) { rows += row; }).ok());
    return rows;
  }

  fs::path dir_;
  ManualClock clock_{kT0};
  MetricsRegistry metrics_;
  log::Syncer syncer_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::shared_ptr<store::View> view_;
  std::unique_ptr<StreamPipeline> pipeline_;
  std::vector<std::string> payloads_;
};

// 0 + 1 + ... + (n - 1)
int64_t SumBelow(int n) {
  return int64_t{n} * (n - 1) / 2;
}

TEST_F(LakeBackfillTest, AViewReadsWhatTheLogNoLongerHoldsFromTheArchive) {
  Append(0, 600);
  ArchiveAll();
  // Two days later the log's retention deletes the old segments; 100 new events stay in it.
  clock_.Advance(2 * kDay);
  Append(600, 100);
  ASSERT_GT(log_->EnforceRetention().value(), 0u);
  ASSERT_GT(log_->StartOffset(0) + log_->StartOffset(1), 0u);

  // From the log alone, the deleted events are missing (this is what the lake fixes).
  StartView(/*from_lake=*/false, "log@1");
  Process();
  const std::string from_log = Row();
  EXPECT_NE(from_log, fmt::format(R"({{"n":700,"total":{},"ids":700}})", SumBelow(700)));

  StartView(/*from_lake=*/true);
  EXPECT_GT(*pipeline_->lag("v"), 100u);  // the archived records still to read count
  Process();
  EXPECT_EQ(Row(), fmt::format(R"({{"n":700,"total":{},"ids":700}})", SumBelow(700)));
  EXPECT_EQ(*pipeline_->lag("v"), 0u);

  // Restored from its checkpoint, the view does not read the lake again.
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  Append(700, 10);
  StartView(/*from_lake=*/true);
  Process();
  EXPECT_EQ(Row(), fmt::format(R"({{"n":710,"total":{},"ids":710}})", SumBelow(710)));
}

TEST_F(LakeBackfillTest, EventsStillInTheLogAreNotReadTwice) {
  // Everything archived and nothing deleted from the log: the lake adds nothing.
  Append(0, 200);
  ArchiveAll();
  StartView(/*from_lake=*/true);
  Process();
  EXPECT_EQ(Row(), fmt::format(R"({{"n":200,"total":{},"ids":200}})", SumBelow(200)));
}

TEST_F(LakeBackfillTest, ATableWithNothingArchivedIsABackfillFromTheLog) {
  Append(0, 50);
  StartView(/*from_lake=*/true);
  Process();
  EXPECT_EQ(Row(), fmt::format(R"({{"n":50,"total":{},"ids":50}})", SumBelow(50)));
}

TEST_F(LakeBackfillTest, TheArchiveReaderFiltersByHourAndOffset) {
  Append(0, 600);  // 10 hours of events, one a minute
  ArchiveAll();
  ArchiveReaderOptions o = *Lake();
  o.first_hour = lake::HourOfMicros(kT0) + 2;
  o.last_hour = lake::HourOfMicros(kT0) + 3;
  o.below = {1000, 250};  // partition 1: offsets below 250 only (events 1, 3, ..., 499)
  auto reader = ArchiveReader::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->files(), 4u);  // two hours, a file per archive lane (two threads)
  int64_t n = 0;
  for (;;) {
    auto batch = (*reader)->Next();
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (batch->empty()) break;
    for (const ArchivedRecord& r : *batch) {
      ++n;
      EXPECT_GE(r.event_time_micros, kT0 + 2 * kHour);
      EXPECT_LT(r.event_time_micros, kT0 + 4 * kHour);
      EXPECT_EQ(r.payload, payloads_[r.offset * 2 + r.partition]);
      if (r.partition == 1) {
        EXPECT_LT(r.offset, 250u);
      }
    }
  }
  // Hours 2 and 3: events 120..239; partition 1's offsets < 250 are events below 500: all.
  EXPECT_EQ(n, 120);

  o.table = "missing";
  EXPECT_EQ(ArchiveReader::Open(o).status().code(), StatusCode::kNotFound);
}

TEST(LakeBackfillPlan, NeedsTheStreamsArchive) {
  auto statements = sql::Parse(
      "CREATE MATERIALIZED VIEW v WITH (backfill = 'lake') AS SELECT count(*) FROM orders");
  test_support::OneStream catalog("orders", /*archive=*/false);
  auto plan = sql::PlanView(std::get<sql::CreateMaterializedView>(statements->at(0).node), catalog);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(),
            "line 1, column 45: backfill = 'lake' reads the archive of stream orders, which has "
            "none: it needs archive = 'on'");
  statements = sql::Parse(
      "CREATE MATERIALIZED VIEW v WITH (backfill = 'tape') AS SELECT count(*) FROM orders");
  plan = sql::PlanView(std::get<sql::CreateMaterializedView>(statements->at(0).node), catalog);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(),
            "line 1, column 45: backfill must be 'log' or 'lake', not 'tape'");
}

}  // namespace
}  // namespace sluice::stream
