// Idempotent ingest of exactly-once events (ingest/dedup_index.h, ingest/delivery.h): duplicates
// within a request, across requests, from concurrent requests, across restarts and a crash
// between the append and the index write, the horizon, and streams or events that are
// at-least-once.
#include <atomic>
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <simdjson.h>

#include "ingest/dedup_index.h"
#include "ingest/delivery.h"
#include "ingest/ingestor.h"

namespace sluice::ingest {
namespace {

namespace fs = std::filesystem;

Result<std::shared_ptr<const DeliveryRule>> Rule(bool exactly_once, std::string when) {
  sql::StreamSpec spec;
  spec.name = "s";
  spec.delivery = exactly_once ? sql::Delivery::kExactlyOnce : sql::Delivery::kAtLeastOnce;
  spec.exactly_once_when = std::move(when);
  return DeliveryRule::Make(spec);
}

constexpr int64_t kHour = kMicrosPerHour;

std::string Event(std::string_view id, std::string_view type = "payment.captured") {
  return fmt::format(
      R"({{"event_id":"{}","event_type":"{}","order_id":"o-{}","occurred_at":"2026-11-25T08:00:00Z"}})",
      id, type, id);
}

std::string Ndjson(const std::vector<std::string>& events) {
  std::string body;
  for (const std::string& e : events) body += e + "\n";
  return body;
}

class DedupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-dedup-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    Close();
    fs::remove_all(dir_);
  }

  // Opens (or reopens) the stream: its logs, its dedup index caught up with the log, an
  // ingestor. `when` = "" with `exactly_once`: every event is exactly-once.
  void Open(bool exactly_once = true, std::string when = "", int64_t horizon = 24 * kHour,
            uint32_t partitions = 4, size_t filter_bytes = DedupIndex::kDefaultFilterBytes) {
    log::LogOptions options;
    options.partitions = partitions;
    log_ = log::Log::Open((dir_ / "s").string(), options, clock_, syncer_).value();
    options.partitions = 1;
    dead_letters_ =
        log::Log::Open((dir_ / "s.dead_letters").string(), options, clock_, syncer_).value();
    StreamConfig config;
    config.name = "s";
    config.fields.partition_key = "order_id";
    config.delivery = Rule(exactly_once, when).value();
    if (!config.delivery->none()) {
      index_ = DedupIndex::Open((dir_ / "s.dedup").string(), log_->partitions(), horizon, clock_,
                                filter_bytes)
                   .value();
      auto caught_up = index_->CatchUp(*log_, config.fields, *config.delivery);
      ASSERT_TRUE(caught_up.ok()) << caught_up.status().ToString();
      caught_up_ = *caught_up;
    }
    ingestor_ = std::make_unique<Ingestor>(syncer_, clock_, metrics_);
    ingestor_->AddStream(config, log_.get(), dead_letters_.get(), index_.get());
  }

  void Close() {
    ingestor_.reset();
    index_.reset();
    log_.reset();
    dead_letters_.reset();
  }

  IngestAnswer Post(const std::string& ndjson) {
    std::string body = ndjson;
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    std::promise<Result<IngestAnswer>> promise;
    ingestor_->Ingest("s", BodyFormat::kNdjson, body, {},
                      [&](Result<IngestAnswer> answer) { promise.set_value(std::move(answer)); });
    Result<IngestAnswer> answer = promise.get_future().get();
    EXPECT_TRUE(answer.ok()) << answer.status().ToString();
    return answer.ok() ? *answer : IngestAnswer{};
  }

  // The ids stored in the log, in partition order, each as often as it is stored.
  std::multiset<std::string> StoredIds() {
    std::multiset<std::string> ids;
    for (uint32_t p = 0; p < log_->partitions(); ++p) {
      auto reader = log_->NewReader(p, 0);
      for (;;) {
        auto batch = reader->Read(1 << 20);
        if (!batch.ok() || batch->empty()) break;
        for (const log::RecordView& r : *batch) {
          const size_t at = r.payload.find("\"event_id\":\"") + 12;
          ids.insert(std::string(r.payload.substr(at, r.payload.find('"', at) - at)));
        }
      }
    }
    return ids;
  }

  fs::path dir_;
  ManualClock clock_{1'700'000'000'000'000};
  MetricsRegistry metrics_;
  log::Syncer syncer_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<log::Log> dead_letters_;
  std::unique_ptr<DedupIndex> index_;
  std::unique_ptr<Ingestor> ingestor_;
  uint64_t caught_up_ = 0;
};

TEST_F(DedupTest, DuplicateWithinOneRequestIsAppendedOnce) {
  Open();
  IngestAnswer a = Post(Ndjson({Event("e1"), Event("e2"), Event("e1"), Event("e1")}));
  EXPECT_EQ(a.accepted, 2u);
  EXPECT_EQ(a.duplicates, 2u);
  EXPECT_TRUE(a.rejected.empty());
  EXPECT_EQ(a.ToJson(), R"({"accepted":2,"duplicates":2,"rejected":[]})");
  EXPECT_EQ(StoredIds(), (std::multiset<std::string>{"e1", "e2"}));
}

TEST_F(DedupTest, RetriedRequestCountsDuplicatesAndRejectsNothing) {
  Open();
  const std::string body = Ndjson({Event("e1"), Event("e2"), R"({"no_id":1})", Event("e3")});
  IngestAnswer first = Post(body);
  EXPECT_EQ(first.accepted, 3u);
  EXPECT_EQ(first.duplicates, 0u);
  ASSERT_EQ(first.rejected.size(), 1u);
  IngestAnswer again = Post(body);
  EXPECT_EQ(again.accepted, 0u);
  EXPECT_EQ(again.duplicates, 3u);
  ASSERT_EQ(again.rejected.size(), 1u);  // still invalid, not a duplicate
  EXPECT_EQ(again.rejected[0].index, 2u);
  // A new id beside old ones is appended.
  IngestAnswer mixed = Post(Ndjson({Event("e2"), Event("e4")}));
  EXPECT_EQ(mixed.accepted, 1u);
  EXPECT_EQ(mixed.duplicates, 1u);
  EXPECT_EQ(StoredIds(), (std::multiset<std::string>{"e1", "e2", "e3", "e4"}));
}

TEST_F(DedupTest, ConcurrentRequestsWithTheSameIdsAppendEachOnce) {
  Open();
  constexpr int kRounds = 40;
  constexpr int kPerRequest = 50;
  std::atomic<uint64_t> accepted{0}, duplicates{0};
  auto producer = [&](int seed) {
    for (int round = 0; round < kRounds; ++round) {
      std::vector<std::string> events;
      // Both threads send the same ids, in different orders.
      for (int i = 0; i < kPerRequest; ++i) {
        const int k = seed == 0 ? i : kPerRequest - 1 - i;
        events.push_back(Event(fmt::format("r{}-{}", round, k)));
      }
      IngestAnswer a = Post(Ndjson(events));
      accepted += a.accepted;
      duplicates += a.duplicates;
    }
  };
  std::thread t1(producer, 0), t2(producer, 1);
  t1.join();
  t2.join();
  EXPECT_EQ(accepted.load(), uint64_t{kRounds * kPerRequest});
  EXPECT_EQ(duplicates.load(), uint64_t{kRounds * kPerRequest});
  const std::multiset<std::string> ids = StoredIds();
  EXPECT_EQ(ids.size(), size_t{kRounds * kPerRequest});
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
}

TEST_F(DedupTest, DuplicatesAreDetectedAcrossARestart) {
  Open();
  EXPECT_EQ(Post(Ndjson({Event("e1"), Event("e2")})).accepted, 2u);
  Close();
  Open();
  EXPECT_EQ(caught_up_, 0u);  // a clean stop recorded the indexed offsets
  IngestAnswer a = Post(Ndjson({Event("e1"), Event("e2"), Event("e3")}));
  EXPECT_EQ(a.accepted, 1u);
  EXPECT_EQ(a.duplicates, 2u);
}

// An index written in the first key layout ('k' + id) is emptied and rebuilt from the log, so
// every id appended before the upgrade is still a duplicate afterwards.
TEST_F(DedupTest, IndexOfThePreviousKeyLayoutIsRebuiltFromTheLog) {
  Open();
  EXPECT_EQ(Post(Ndjson({Event("e1"), Event("e2")})).accepted, 2u);
  Close();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), (dir_ / "s.dedup").string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    // What the old layout held: its id keys, and the partitions recorded as fully indexed.
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    std::vector<std::string> current;
    for (it->SeekToFirst(); it->Valid(); it->Next())
      if (it->key()[0] == 'h') current.push_back(it->key().ToString());
    it.reset();
    ASSERT_EQ(current.size(), 2u);
    for (const std::string& k : current) ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), k).ok());
    for (const char* id : {"e1", "e2"})
      ASSERT_TRUE(
          db->Put(rocksdb::WriteOptions(), std::string("k") + id, std::string(8, '\0')).ok());
  }
  Open();
  EXPECT_EQ(caught_up_, 2u);  // both ids read again from the log
  EXPECT_EQ(index_->StoredIdsForTesting(), 2u);
  IngestAnswer a = Post(Ndjson({Event("e1"), Event("e2"), Event("e3")}));
  EXPECT_EQ(a.accepted, 1u);
  EXPECT_EQ(a.duplicates, 2u);
}

TEST_F(DedupTest, OnlyIdsTheFilterKnowsAreLookedUpOnceItIsFilled) {
  std::vector<std::string> first, second;
  for (int i = 0; i < 200; ++i) first.push_back(Event(fmt::format("a{}", i)));
  for (int i = 0; i < 200; ++i) second.push_back(Event(fmt::format("{}{}", i % 2 ? "a" : "b", i)));
  Open();
  EXPECT_EQ(Post(Ndjson(first)).accepted, 200u);
  Close();
  Open();
  index_->WaitForFilterForTesting();  // filled from RocksDB after the restart
  const uint64_t before = index_->LookupsForTesting();
  IngestAnswer a = Post(Ndjson(second));
  EXPECT_EQ(a.accepted, 100u);
  EXPECT_EQ(a.duplicates, 100u);
  EXPECT_EQ(index_->LookupsForTesting() - before, 100u);  // the duplicates, confirmed
  // Ids stored since the restart are in the filter too.
  EXPECT_EQ(Post(Ndjson(second)).duplicates, 200u);
  EXPECT_EQ(index_->LookupsForTesting() - before, 300u);
}

TEST_F(DedupTest, WithoutRoomForTheFilterEveryIdIsLookedUp) {
  Open(true, "", 24 * kHour, 4, /*filter_bytes=*/0);
  std::vector<std::string> events;
  for (int i = 0; i < 50; ++i) events.push_back(Event(fmt::format("e{}", i)));
  index_->WaitForFilterForTesting();  // empty, so complete until the first insert
  EXPECT_EQ(Post(Ndjson(events)).accepted, 50u);
  EXPECT_EQ(index_->LookupsForTesting(), 0u);
  // Over the cap, the filter dropped those ids, which are within the horizon: every miss is
  // now looked up.
  IngestAnswer a = Post(Ndjson(events));
  EXPECT_EQ(a.duplicates, 50u);
  EXPECT_EQ(index_->LookupsForTesting(), 50u);
  Close();
  Open(true, "", 24 * kHour, 4, /*filter_bytes=*/0);
  EXPECT_EQ(Post(Ndjson(events)).duplicates, 50u);
}

TEST_F(DedupTest, CrashBetweenAppendAndIndexWriteLosesNothing) {
  Open();
  EXPECT_EQ(Post(Ndjson({Event("e1")})).accepted, 1u);
  Close();
  // A request whose events reached the log but whose index write did not happen (kill -9
  // between the two): append straight to the log.
  log::LogOptions options;
  options.partitions = 4;
  {
    auto log = log::Log::Open((dir_ / "s").string(), options, clock_, syncer_).value();
    const std::string e2 = Event("e2"), e3 = Event("e3", "shipment.dispatched");
    std::vector<log::RecordToAppend> records = {{0, e2, 0}, {0, e3, 0}};
    auto appended = log->Append(1, records);
    ASSERT_TRUE(appended.ok());
    ASSERT_TRUE(syncer_.WaitDurable(appended->sync_ticket).ok());
  }
  Open();
  EXPECT_EQ(caught_up_, 2u);  // read back from the log
  IngestAnswer a = Post(Ndjson({Event("e1"), Event("e2"), Event("e3")}));
  EXPECT_EQ(a.accepted, 0u);
  EXPECT_EQ(a.duplicates, 3u);
  EXPECT_EQ(StoredIds(), (std::multiset<std::string>{"e1", "e2", "e3"}));
}

// Ids staged but not yet written to RocksDB when the process dies are read back from the log.
TEST_F(DedupTest, IdsStagedAtACrashAreReadBackFromTheLog) {
  Open();
  EXPECT_EQ(Post(Ndjson({Event("e1"), Event("e2")})).accepted, 2u);
  ASSERT_TRUE(index_->Flush().ok());
  EXPECT_EQ(Post(Ndjson({Event("e3"), Event("e4", "shipment.dispatched")})).accepted, 2u);
  index_->SimulateCrashForTesting();
  Close();
  Open();
  EXPECT_EQ(caught_up_, 2u);  // e3 and e4, past the offsets the last write recorded
  IngestAnswer a = Post(Ndjson({Event("e1"), Event("e2"), Event("e3"), Event("e4"), Event("e5")}));
  EXPECT_EQ(a.accepted, 1u);
  EXPECT_EQ(a.duplicates, 4u);
  EXPECT_EQ(index_->StoredIdsForTesting(), 5u);
  Close();
  Open();
  EXPECT_EQ(caught_up_, 0u);  // a clean stop wrote everything
  EXPECT_EQ(Post(Ndjson({Event("e3"), Event("e5")})).duplicates, 2u);
}

TEST_F(DedupTest, EveryRequestRecordsHowFarEachPartitionIsIndexed) {
  // Only the payments are exactly-once; the shipments land in other partitions too.
  Open(true, "event_type = 'payment.captured'");
  std::vector<std::string> events;
  for (int i = 0; i < 40; ++i)
    events.push_back(Event(fmt::format("s{}", i), "shipment.dispatched"));
  EXPECT_EQ(Post(Ndjson(events)).accepted, 40u);
  EXPECT_EQ(Post(Ndjson({Event("p1")})).accepted, 1u);
  // Nothing was in flight: once the staged ids are written (every second), every partition is
  // complete up to the log's end, so a restart after a kill -9 reads nothing again.
  ASSERT_TRUE(index_->Flush().ok());
  for (uint32_t p = 0; p < log_->partitions(); ++p)
    EXPECT_EQ(index_->IndexedOffsetForTesting(p), log_->EndOffset(p)) << p;
}

TEST_F(DedupTest, IdsExpireAfterTheHorizon) {
  Open(true, "", /*horizon=*/kHour);
  EXPECT_EQ(Post(Ndjson({Event("e1"), Event("e2")})).accepted, 2u);
  clock_.Advance(kHour / 2);
  EXPECT_EQ(Post(Ndjson({Event("e1")})).duplicates, 1u);
  EXPECT_EQ(index_->StoredIdsForTesting(), 2u);
  clock_.Advance(kHour / 2 + 1);
  // Past the horizon the id is new again (and remembered anew).
  IngestAnswer a = Post(Ndjson({Event("e1")}));
  EXPECT_EQ(a.accepted, 1u);
  EXPECT_EQ(a.duplicates, 0u);
  EXPECT_EQ(Post(Ndjson({Event("e1")})).duplicates, 1u);
  // Compaction drops what expired (e2); e1 was appended again and stays.
  ASSERT_TRUE(index_->CompactForTesting().ok());
  EXPECT_EQ(index_->StoredIdsForTesting(), 1u);
  clock_.Advance(2 * kHour);
  ASSERT_TRUE(index_->CompactForTesting().ok());
  EXPECT_EQ(index_->StoredIdsForTesting(), 0u);
}

TEST_F(DedupTest, AtLeastOnceStreamsKeepDuplicates) {
  Open(/*exactly_once=*/false);
  EXPECT_EQ(index_, nullptr);
  const std::string body = Ndjson({Event("e1"), Event("e1")});
  EXPECT_EQ(Post(body).accepted, 2u);
  IngestAnswer a = Post(body);
  EXPECT_EQ(a.accepted, 2u);
  EXPECT_EQ(a.duplicates, 0u);
  EXPECT_EQ(StoredIds().count("e1"), 4u);
}

TEST_F(DedupTest, ExactlyOnceWhenDeduplicatesOnlyMatchingEvents) {
  Open(true, "event_type IN ('payment.captured', 'refund.issued')");
  const std::string body = Ndjson({Event("p1", "payment.captured"),
                                   Event("s1", "shipment.dispatched"), Event("r1", "refund.issued"),
                                   R"({"event_id":"x1",)"
                                   R"("occurred_at":"2026-11-25T08:00:00Z"})"});
  IngestAnswer first = Post(body);
  EXPECT_EQ(first.accepted, 4u);
  IngestAnswer again = Post(body);
  EXPECT_EQ(again.accepted, 2u);  // the shipment and the event without a type (NULL: not matching)
  EXPECT_EQ(again.duplicates, 2u);
  const std::multiset<std::string> ids = StoredIds();
  EXPECT_EQ(ids.count("p1"), 1u);
  EXPECT_EQ(ids.count("r1"), 1u);
  EXPECT_EQ(ids.count("s1"), 2u);
  EXPECT_EQ(ids.count("x1"), 2u);
  // Restart: the catch-up applies the same rule.
  Close();
  fs::remove_all(dir_ / "s.dedup");  // lose the index entirely: rebuilt from the log
  Open(true, "event_type IN ('payment.captured', 'refund.issued')");
  EXPECT_EQ(caught_up_, 2u);
  IngestAnswer after = Post(body);
  EXPECT_EQ(after.accepted, 2u);
  EXPECT_EQ(after.duplicates, 2u);
}

TEST_F(DedupTest, PredicateCanReadTheEventTime) {
  Open(true, "event_time >= TIMESTAMP '2026-01-01 00:00:00'");
  const std::string old_event = R"({"event_id":"old","occurred_at":"2025-06-01T00:00:00Z"})";
  const std::string body = Ndjson({old_event, Event("new")});
  EXPECT_EQ(Post(body).accepted, 2u);
  IngestAnswer again = Post(body);
  EXPECT_EQ(again.accepted, 1u);
  EXPECT_EQ(again.duplicates, 1u);
}

TEST(DeliveryRuleTest, KindsAndErrors) {
  auto none = Rule(false, "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE((*none)->none());
  auto all = Rule(true, "");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE((*all)->all());
  std::string record = R"({"event_type":"a"})";
  record.reserve(record.size() + simdjson::SIMDJSON_PADDING);
  EXPECT_TRUE((*all)->Matches(record, 0));
  auto some = Rule(true, "event_type = 'a'");
  ASSERT_TRUE(some.ok());
  EXPECT_FALSE((*some)->all());
  EXPECT_TRUE((*some)->Matches(record, 0));
  auto bad = Rule(true, "event_type = ");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("exactly_once_when"), std::string::npos);
}

}  // namespace
}  // namespace sluice::ingest
