#include "stream/tumbling_count.h"

#include <filesystem>
#include <iostream>
#include <random>

#include <gtest/gtest.h>

#include "base/time.h"

namespace sluice::stream {
namespace {

namespace fs = std::filesystem;

class TumblingCountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-stream-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    OpenAll();
  }
  void TearDown() override {
    CloseAll();
    fs::remove_all(dir_);
  }

  void OpenAll() {
    log::LogOptions lo;
    lo.partitions = 2;
    log_ = log::Log::Open((dir_ / "log").string(), lo, clock_, syncer_).value();
    checkpoints_ = CheckpointStore::Open((dir_ / "state").string()).value();
    options_.name = "events_per_minute";
    view_ = std::make_unique<store::View>(TumblingCountViewDefinition(options_, "fulfilment"));
    pipeline_ =
        TumblingCountPipeline::Create(options_, *log_, *view_, *checkpoints_, clock_, metrics_)
            .value();
  }
  // Simulates a crash: drops everything without a final checkpoint.
  void CrashAll() {
    pipeline_.reset();  // never started: the destructor does not checkpoint
    view_.reset();
    checkpoints_.reset();
    log_.reset();
  }
  void CloseAll() { CrashAll(); }

  void Append(uint32_t partition, const std::string& warehouse, const std::string& type,
              int64_t event_time) {
    payloads_.push_back(R"({"event_id":"e)" + std::to_string(payloads_.size()) +
                        R"(","warehouse_id":")" + warehouse + R"(","event_type":")" + type +
                        R"("})");
    log::RecordToAppend r{event_time, payloads_.back()};
    auto appended = log_->Append(partition, std::span(&r, 1));
    ASSERT_TRUE(appended.ok()) << appended.status().ToString();
    ASSERT_TRUE(syncer_.WaitDurable(appended->sync_ticket).ok());
  }

  std::string Row(const std::string& warehouse, const std::string& type, int64_t window_start,
                  int count) {
    return R"({"warehouse_id":")" + warehouse + R"(","event_type":")" + type +
           R"(","window_start":")" + FormatRfc3339(window_start) + R"(","events":)" +
           std::to_string(count) + "}";
  }

  bool SnapshotHas(const std::string& row) {
    return view_->SnapshotJson().find(row) != std::string::npos;
  }

  fs::path dir_;
  ManualClock clock_{ParseRfc3339("2026-11-25T08:00:00Z").value()};
  MetricsRegistry metrics_;
  log::Syncer syncer_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::unique_ptr<store::View> view_;
  std::unique_ptr<TumblingCountPipeline> pipeline_;
  TumblingCountOptions options_;
  std::vector<std::string> payloads_;
  const int64_t t0_ = ParseRfc3339("2026-11-25T08:00:00Z").value();
};

TEST_F(TumblingCountTest, CountsOutOfOrderEventsIntoTheirEventTimeWindows) {
  // Arrival order differs from event time order, across minutes and partitions.
  Append(0, "WH-01", "pick.completed", t0_ + 90 * kMicrosPerSecond);  // 08:01
  Append(1, "WH-01", "pick.completed", t0_ + 10 * kMicrosPerSecond);  // 08:00, late
  Append(0, "WH-01", "pick.completed", t0_ + 59 * kMicrosPerSecond);  // 08:00
  Append(1, "WH-02", "order.received", t0_ + 61 * kMicrosPerSecond);  // 08:01
  Append(0, "WH-01", "pick.completed", t0_ - 1);                      // 07:59
  ASSERT_EQ(pipeline_->ProcessAvailable().value(), 5u);
  EXPECT_TRUE(SnapshotHas(Row("WH-01", "pick.completed", t0_, 2)));
  EXPECT_TRUE(SnapshotHas(Row("WH-01", "pick.completed", t0_ + kMicrosPerMinute, 1)));
  EXPECT_TRUE(SnapshotHas(Row("WH-02", "order.received", t0_ + kMicrosPerMinute, 1)));
  EXPECT_TRUE(SnapshotHas(Row("WH-01", "pick.completed", t0_ - kMicrosPerMinute, 1)));
  EXPECT_EQ(view_->row_count(), 4u);
  EXPECT_EQ(view_->version(), 1u);  // one round, one delta
}

TEST_F(TumblingCountTest, DeltaCarriesOnlyChangedRows) {
  Append(0, "WH-01", "pick.completed", t0_);
  ASSERT_EQ(pipeline_->ProcessAvailable().value(), 1u);
  std::vector<std::string> deltas;
  view_->Subscribe([&](uint64_t, const auto& d) { deltas.push_back(*d); }, {});
  Append(1, "WH-03", "fulfilment.exception", t0_ + 5);
  ASSERT_EQ(pipeline_->ProcessAvailable().value(), 1u);
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_NE(deltas[0].find(Row("WH-03", "fulfilment.exception", t0_, 1)), std::string::npos);
  EXPECT_EQ(deltas[0].find("WH-01"), std::string::npos);
  EXPECT_NE(deltas[0].find("\"version\":2"), std::string::npos);
}

TEST_F(TumblingCountTest, MissingGroupFieldGroupsAsNull) {
  payloads_.push_back(R"({"event_id":"x","event_type":"order.received"})");
  log::RecordToAppend r{t0_, payloads_.back()};
  ASSERT_TRUE(syncer_.WaitDurable(log_->Append(0, std::span(&r, 1))->sync_ticket).ok());
  ASSERT_EQ(pipeline_->ProcessAvailable().value(), 1u);
  EXPECT_TRUE(SnapshotHas(R"({"warehouse_id":null,"event_type":"order.received")"));
}

TEST_F(TumblingCountTest, RestartFromCheckpointNeitherLosesNorDoubleCounts) {
  std::mt19937 rng(42);
  std::map<std::string, int> truth;
  auto add = [&](int n) {
    for (int i = 0; i < n; ++i) {
      std::string wh = "WH-0" + std::to_string(rng() % 3 + 1);
      int64_t t = t0_ + static_cast<int64_t>(rng() % 180) * kMicrosPerSecond;
      Append(rng() % 2, wh, "pick.completed", t);
      truth[Row(wh, "pick.completed", FloorDiv(t, kMicrosPerMinute) * kMicrosPerMinute, 0)]++;
    }
  };
  add(50);
  ASSERT_EQ(pipeline_->ProcessAvailable().value(), 50u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  add(30);  // processed but not checkpointed when the "crash" happens
  ASSERT_EQ(pipeline_->ProcessAvailable().value(), 30u);
  CrashAll();
  OpenAll();
  add(20);
  // Replays the 30 after the checkpoint plus the 20 new ones.
  ASSERT_EQ(pipeline_->ProcessAvailable().value(), 50u);
  for (const auto& [row_zero, count] : truth) {
    std::string row = row_zero.substr(0, row_zero.size() - 2) + std::to_string(count) + "}";
    EXPECT_TRUE(SnapshotHas(row)) << row;
  }
  // A clean stop checkpoints; reopening replays nothing.
  ASSERT_TRUE(pipeline_->Checkpoint().ok());
  CloseAll();
  OpenAll();
  EXPECT_EQ(pipeline_->ProcessAvailable().value(), 0u);
  size_t rows = truth.size();
  EXPECT_EQ(view_->row_count(), rows);
}

TEST_F(TumblingCountTest, VersionsKeepGrowingAcrossACrash) {
  Append(0, "WH-01", "pick.completed", t0_);
  ASSERT_EQ(pipeline_->ProcessAvailable().value(), 1u);
  ASSERT_TRUE(pipeline_->Checkpoint().ok());  // checkpoint at version 1
  for (int i = 0; i < 4; ++i) {               // versions 2..5, never checkpointed
    Append(i % 2, "WH-02", "pick.completed", t0_);
    ASSERT_EQ(pipeline_->ProcessAvailable().value(), 1u);
  }
  const uint64_t before_crash = view_->version();
  ASSERT_EQ(before_crash, 5u);
  CrashAll();
  OpenAll();
  // The replay (one round for all four records) must not reuse 2..5 for different contents.
  EXPECT_GE(view_->version(), before_crash);
  ASSERT_EQ(pipeline_->ProcessAvailable().value(), 4u);
  EXPECT_GT(view_->version(), before_crash);
  EXPECT_TRUE(SnapshotHas(Row("WH-02", "pick.completed", t0_, 4)));
}

}  // namespace
}  // namespace sluice::stream
