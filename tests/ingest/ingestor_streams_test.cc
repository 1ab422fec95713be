// Streams added and removed while requests are being served (streams created and dropped by
// SQL at run time).
#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "ingest/ingestor.h"

namespace sluice::ingest {
namespace {

namespace fs = std::filesystem;

class IngestorStreamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-ingestor-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    ingestor_.reset();
    logs_.clear();
    fs::remove_all(dir_);
  }

  log::Log* NewLog(const std::string& name) {
    log::LogOptions options;
    options.partitions = 1;
    logs_.push_back(log::Log::Open((dir_ / name).string(), options, clock_, syncer_).value());
    return logs_.back().get();
  }

  void Add(const std::string& name) {
    StreamConfig config;
    config.name = name;
    log::Log* log = NewLog(name);
    log::Log* dead_letters = NewLog(name + ".dead_letters");
    ingestor_->AddStream(config, log, dead_letters);
  }

  Result<IngestAnswer> Post(const std::string& stream) {
    std::string body = R"({"event_id":"e1","occurred_at":"2026-11-25T08:00:00Z"})";
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    std::promise<Result<IngestAnswer>> promise;
    ingestor_->Ingest(stream, BodyFormat::kNdjson, body, {},
                      [&](Result<IngestAnswer> answer) { promise.set_value(std::move(answer)); });
    return promise.get_future().get();
  }

  fs::path dir_;
  ManualClock clock_{0};
  MetricsRegistry metrics_;
  log::Syncer syncer_;
  std::vector<std::unique_ptr<log::Log>> logs_;
  std::unique_ptr<Ingestor> ingestor_ = std::make_unique<Ingestor>(syncer_, clock_, metrics_);
};

TEST_F(IngestorStreamsTest, StreamsAddedAndRemovedWhileServing) {
  Add("steady");
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread producer([&] {
    while (!stop) {
      Result<IngestAnswer> answer = Post("steady");
      if (!answer.ok() || answer->accepted != 1) ++failures;
    }
  });
  for (int i = 0; i < 20; ++i) {
    const std::string name = "s" + std::to_string(i);
    Add(name);
    ASSERT_TRUE(ingestor_->HasStream(name));
    Result<IngestAnswer> answer = Post(name);
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    EXPECT_EQ(answer->accepted, 1u);
    ingestor_->RemoveStream(name);
    EXPECT_FALSE(ingestor_->HasStream(name));
    EXPECT_EQ(Post(name).status().code(), StatusCode::kNotFound);
  }
  stop = true;
  producer.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(IngestorStreamsTest, AStreamCreatedAgainUsesItsNewLog) {
  Add("s");
  Result<IngestAnswer> answer = Post("s");
  ASSERT_TRUE(answer.ok() && answer->accepted == 1) << answer.status().ToString();
  ingestor_->RemoveStream("s");
  Add("t");  // the SQL layer gives a stream created again a fresh log, as here
  StreamConfig config;
  config.name = "s";
  ingestor_->AddStream(config, logs_[2].get(), logs_[3].get());
  answer = Post("s");
  ASSERT_TRUE(answer.ok() && answer->accepted == 1) << answer.status().ToString();
  EXPECT_EQ(logs_[0]->EndOffset(0), 1u);
  EXPECT_EQ(logs_[2]->EndOffset(0), 1u);
}

}  // namespace
}  // namespace sluice::ingest
