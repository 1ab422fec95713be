#include "log/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

namespace sluice::log {
namespace {

namespace fs = std::filesystem;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-log-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    options_.partitions = 2;
    options_.segment_bytes = 4096;  // several segments with little data
    options_.index_interval_bytes = 256;
  }
  void TearDown() override {
    log_.reset();
    fs::remove_all(dir_);
  }

  void Open() {
    log_.reset();
    auto opened = Log::Open(dir_.string(), options_, clock_, syncer_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    log_ = std::move(opened.value());
  }

 public:
  static std::string Payload(uint64_t i) {
    return "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i % 97, 'x') + "\"}";
  }

 protected:
  // Appends `n` records (one write each) to `partition` and waits until they are durable.
  void AppendMany(uint32_t partition, uint64_t first_n, uint64_t n) {
    for (uint64_t i = first_n; i < first_n + n; ++i) {
      std::string p = Payload(i);
      RecordToAppend r{static_cast<int64_t>(i) * 10, p};
      auto appended = log_->Append(partition, std::span(&r, 1));
      ASSERT_TRUE(appended.ok()) << appended.status().ToString();
      ASSERT_TRUE(syncer_.WaitDurable(appended->sync_ticket).ok());
    }
  }

  std::vector<std::pair<uint64_t, std::string>> ReadAll(uint32_t partition, uint64_t from,
                                                        size_t max_bytes = 1000) {
    std::vector<std::pair<uint64_t, std::string>> out;
    auto reader = log_->NewReader(partition, from);
    while (true) {
      auto batch = reader->Read(max_bytes);
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok() || batch->empty()) break;
      for (const RecordView& r : batch.value()) {
        // Payloads must be followed by readable padding for in-place parsing.
        volatile char last_pad = r.payload.data()[r.payload.size() + kReadPadding - 1];
        (void)last_pad;
        out.emplace_back(r.offset, std::string(r.payload));
      }
    }
    return out;
  }

  std::vector<fs::path> Segments(uint32_t partition) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_ / ("p" + std::to_string(partition))))
      if (e.path().extension() == ".log") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  LogOptions options_;
  ManualClock clock_{1'800'000'000'000'000};
  Syncer syncer_;
  std::unique_ptr<Log> log_;
};

TEST_F(LogTest, AppendAndReadBackAcrossSegments) {
  Open();
  AppendMany(0, 0, 300);
  EXPECT_GT(Segments(0).size(), 3u);
  EXPECT_EQ(log_->EndOffset(0), 300u);
  EXPECT_EQ(log_->DurableEndOffset(0), 300u);
  EXPECT_EQ(log_->EndOffset(1), 0u);
  auto all = ReadAll(0, 0);
  ASSERT_EQ(all.size(), 300u);
  for (uint64_t i = 0; i < 300; ++i) {
    EXPECT_EQ(all[i].first, i);
    EXPECT_EQ(all[i].second, Payload(i));
  }
}

TEST_F(LogTest, BatchAppendAssignsConsecutiveOffsets) {
  Open();
  std::vector<std::string> payloads;
  for (int i = 0; i < 50; ++i) payloads.push_back(Payload(i));
  std::vector<RecordToAppend> records;
  for (auto& p : payloads) records.push_back({7, p});
  auto a = log_->Append(1, records);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first_offset, 0u);
  auto b = log_->Append(1, records);
  EXPECT_EQ(b->first_offset, 50u);
  ASSERT_TRUE(syncer_.WaitDurable(b->sync_ticket).ok());
  EXPECT_EQ(ReadAll(1, 0).size(), 100u);
}

TEST_F(LogTest, RecordsKeepTheirTimesAndSchemaIdAcrossReopen) {
  Open();
  std::vector<RecordToAppend> records = {
      {111, "{\"a\":1}", 7}, {222, "{\"b\":2}", 0}, {333, "{\"c\":3}", 4000000000u}};
  auto appended = log_->Append(0, records);
  ASSERT_TRUE(appended.ok());
  ASSERT_TRUE(syncer_.WaitDurable(appended->sync_ticket).ok());
  Open();  // the fields come back from disk, through recovery of the active segment
  auto reader = log_->NewReader(0, 0);
  auto batch = reader->Read(1 << 20);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*batch)[i].event_time_micros, records[i].event_time_micros);
    EXPECT_EQ((*batch)[i].schema_id, records[i].schema_id);
    EXPECT_EQ((*batch)[i].payload, records[i].payload);
  }
}

TEST_F(LogTest, SeekByOffsetIntoTheMiddleOfASegment) {
  Open();
  AppendMany(0, 0, 200);
  for (uint64_t from : {0u, 1u, 17u, 99u, 150u, 199u}) {
    auto tail = ReadAll(0, from, 300);
    ASSERT_EQ(tail.size(), 200 - from) << from;
    EXPECT_EQ(tail.front().first, from);
    EXPECT_EQ(tail.front().second, Payload(from));
  }
  EXPECT_TRUE(ReadAll(0, 200).empty());
}

TEST_F(LogTest, ReadReturnsAtLeastOneRecordLargerThanMaxBytes) {
  Open();
  std::string big(10000, 'b');
  RecordToAppend r{0, big};
  ASSERT_TRUE(syncer_.WaitDurable(log_->Append(0, std::span(&r, 1))->sync_ticket).ok());
  auto all = ReadAll(0, 0, 100);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].second, big);
}

TEST_F(LogTest, OffsetForTimeUsesLogTime) {
  Open();
  for (int i = 0; i < 100; ++i) {
    clock_.Set(1'800'000'000'000'000 + i * 1000);
    AppendMany(0, i, 1);
  }
  EXPECT_EQ(log_->OffsetForTime(0, 0).value(), 0u);
  EXPECT_EQ(log_->OffsetForTime(0, 1'800'000'000'000'000 + 42 * 1000).value(), 42u);
  EXPECT_EQ(log_->OffsetForTime(0, 1'800'000'000'000'000 + 42 * 1000 - 1).value(), 42u);
  EXPECT_EQ(log_->OffsetForTime(0, 1'900'000'000'000'000).value(), 100u);
}

TEST_F(LogTest, LogTimeNeverGoesBackwards) {
  Open();
  AppendMany(0, 0, 1);
  clock_.Advance(-5'000'000);  // the wall clock steps back
  AppendMany(0, 1, 1);
  auto reader = log_->NewReader(0, 0);
  auto batch = reader->Read(1000);
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_GE((*batch)[1].log_time_micros, (*batch)[0].log_time_micros);
}

TEST_F(LogTest, ReopenKeepsEverythingAndContinuesOffsets) {
  Open();
  AppendMany(0, 0, 120);
  AppendMany(1, 0, 5);
  Open();  // clean close + reopen
  EXPECT_EQ(log_->EndOffset(0), 120u);
  EXPECT_EQ(log_->EndOffset(1), 5u);
  AppendMany(0, 120, 10);
  auto all = ReadAll(0, 0);
  ASSERT_EQ(all.size(), 130u);
  EXPECT_EQ(all[125].second, Payload(125));
}

TEST_F(LogTest, PartitionCountIsFixedAtCreation) {
  Open();
  options_.partitions = 8;
  Open();
  EXPECT_EQ(log_->partitions(), 2u);
}

TEST_F(LogTest, RecoveryTruncatesATornTail) {
  Open();
  AppendMany(0, 0, 10);
  log_.reset();
  fs::path last = Segments(0).back();
  auto size = fs::file_size(last);
  fs::resize_file(last, size - 5);  // cut the last record short
  Open();
  EXPECT_EQ(log_->EndOffset(0), 9u);
  AppendMany(0, 9, 3);  // appends continue right after the last complete record
  auto all = ReadAll(0, 0);
  ASSERT_EQ(all.size(), 12u);
  EXPECT_EQ(all[9].second, Payload(9));
  EXPECT_EQ(all[11].first, 11u);
}

TEST_F(LogTest, RecoveryTruncatesATailWithABadCrc) {
  Open();
  AppendMany(0, 0, 10);
  log_.reset();
  fs::path last = Segments(0).back();
  auto size = fs::file_size(last);
  {
    int fd = ::open(last.c_str(), O_RDWR);
    char c;
    ASSERT_EQ(::pread(fd, &c, 1, static_cast<off_t>(size - 3)), 1);
    c ^= 0x10;  // flip one bit in the last record's payload
    ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(size - 3)), 1);
    ::close(fd);
  }
  Open();
  EXPECT_EQ(log_->EndOffset(0), 9u);
  auto all = ReadAll(0, 0);
  ASSERT_EQ(all.size(), 9u);
  EXPECT_EQ(all.back().second, Payload(8));
}

// Overwrites `bytes` at `position` of `file` with `value` (XOR when `flip`).
void Damage(const fs::path& file, off_t position, size_t bytes, char value, bool flip = false) {
  int fd = ::open(file.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::string data(bytes, '\0');
  ASSERT_EQ(::pread(fd, data.data(), bytes, position), static_cast<ssize_t>(bytes));
  for (char& c : data) c = flip ? static_cast<char>(c ^ value) : value;
  ASSERT_EQ(::pwrite(fd, data.data(), bytes, position), static_cast<ssize_t>(bytes));
  ::close(fd);
}

// The offsets ReadAll returns, checking every payload is the one appended at its offset.
std::vector<uint64_t> OffsetsOf(const std::vector<std::pair<uint64_t, std::string>>& records) {
  std::vector<uint64_t> offsets;
  for (const auto& [offset, payload] : records) {
    EXPECT_EQ(payload, LogTest::Payload(offset));
    offsets.push_back(offset);
  }
  return offsets;
}

std::vector<uint64_t> AllBut(uint64_t n, std::vector<uint64_t> missing) {
  std::vector<uint64_t> out;
  for (uint64_t i = 0; i < n; ++i)
    if (std::find(missing.begin(), missing.end(), i) == missing.end()) out.push_back(i);
  return out;
}

TEST_F(LogTest, AFlippedBitInASealedSegmentSkipsThatRecordOnly) {
  Open();
  AppendMany(0, 0, 300);
  Damage(Segments(0).front(), 100, 1, 0x01, /*flip=*/true);  // inside record 1's payload
  // Every record but the damaged one is served, the damaged one never; reported once.
  EXPECT_EQ(OffsetsOf(ReadAll(0, 0)), AllBut(300, {1}));
  EXPECT_EQ(OffsetsOf(ReadAll(0, 0, 100000)), AllBut(300, {1}));
  EXPECT_EQ(log_->damaged_records(), 1u);
}

TEST_F(LogTest, ADamagedLengthIsSkippedToTheNextIntactRecord) {
  Open();
  AppendMany(0, 0, 300);
  Damage(Segments(0).front(), 0, 4, '\x7f');  // record 0's length: 0x7f7f7f7f
  EXPECT_EQ(OffsetsOf(ReadAll(0, 0)), AllBut(300, {0}));
}

TEST_F(LogTest, ASegmentDamagedToItsEndIsSkippedToTheNext) {
  Open();
  AppendMany(0, 0, 300);
  const fs::path first = Segments(0).front();
  const auto size = fs::file_size(first);
  Damage(first, 100, size - 100, '\0');
  auto all = OffsetsOf(ReadAll(0, 0));
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front(), 0u);
  // Then the second segment's records, in order, up to the end.
  EXPECT_GT(all[1], 1u);
  EXPECT_EQ(all.back(), 299u);
  for (size_t i = 2; i < all.size(); ++i) EXPECT_EQ(all[i], all[i - 1] + 1);
}

TEST_F(LogTest, RecoveryKeepsTheRecordsAfterDamageInsideTheActiveSegment) {
  options_.segment_bytes = 1 << 20;  // one segment
  Open();
  AppendMany(0, 0, 50);
  log_.reset();
  Damage(Segments(0).back(), 300, 1, 0x40, /*flip=*/true);
  Open();
  EXPECT_EQ(log_->EndOffset(0), 50u);  // not truncated: intact records follow the damage
  EXPECT_EQ(log_->damaged_records(), 1u);
  const std::vector<uint64_t> served = OffsetsOf(ReadAll(0, 0));
  ASSERT_EQ(served.size(), 49u);
  AppendMany(0, 50, 2);  // appends go on after the last record
  EXPECT_EQ(OffsetsOf(ReadAll(0, 0)).back(), 51u);
}

TEST_F(LogTest, AppendsStopWhileLessThanTheDiskReserveIsFree) {
  options_.disk_reserve_bytes = uint64_t{1} << 62;  // more than any disk has
  Open();
  std::string p = Payload(0);
  RecordToAppend r{0, p};
  auto appended = log_->Append(0, std::span(&r, 1));
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(appended.status().message().find("disk nearly full"), std::string::npos);
  EXPECT_EQ(log_->EndOffset(0), 0u);  // nothing appended
  options_.disk_reserve_bytes = 1;
  Open();
  AppendMany(0, 0, 1);
  EXPECT_EQ(log_->EndOffset(0), 1u);
}

TEST_F(LogTest, RetentionDeletesOldSegmentsByTheInjectedClock) {
  options_.retention_micros = 7 * kMicrosPerDay;
  Open();
  AppendMany(0, 0, 200);  // several segments at "day 0"
  const size_t segments_before = Segments(0).size();
  ASSERT_GT(segments_before, 2u);
  clock_.Advance(6 * kMicrosPerDay);
  EXPECT_EQ(log_->EnforceRetention().value(), 0u);
  AppendMany(0, 200, 5);  // day 6: a fresh segment (the old active one is rolled by age)
  clock_.Advance(2 * kMicrosPerDay);  // day 8: the day-0 segments are past 7 days
  EXPECT_GE(log_->EnforceRetention().value(), segments_before - 1);
  EXPECT_EQ(log_->StartOffset(0), 200u);
  auto reader = log_->NewReader(0, 0);  // positioned before the start: skips to it
  auto batch = reader->Read(100000);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 5u);
  EXPECT_EQ((*batch)[0].offset, 200u);
  // Offsets are never reused after a restart.
  Open();
  EXPECT_EQ(log_->StartOffset(0), 200u);
  EXPECT_EQ(log_->EndOffset(0), 205u);
  clock_.Advance(8 * kMicrosPerDay);  // everything expires, even the active segment
  EXPECT_GE(log_->EnforceRetention().value(), 1u);
  EXPECT_EQ(log_->StartOffset(0), 205u);
  EXPECT_EQ(log_->EndOffset(0), 205u);
  AppendMany(0, 205, 1);
  EXPECT_EQ(ReadAll(0, 0).front().first, 205u);
}

TEST_F(LogTest, GroupCommitServesConcurrentAppenders) {
  options_.segment_bytes = 1 << 20;
  Open();
  constexpr int kThreads = 4, kPerThread = 500;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string p = std::to_string(t) + ":" + std::to_string(i);
        RecordToAppend r{0, p};
        auto a = log_->Append(static_cast<uint32_t>(t % 2), std::span(&r, 1));
        ASSERT_TRUE(a.ok());
        syncer_.WhenDurable(a->sync_ticket, [&](const Status& st) {
          EXPECT_TRUE(st.ok());
          done.fetch_add(1);
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  // Every callback fires; then every record is readable exactly once, in offset order.
  for (int i = 0; i < 500 && done.load() < kThreads * kPerThread; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(done.load(), kThreads * kPerThread);
  std::set<std::string> seen;
  for (uint32_t p = 0; p < 2; ++p) {
    auto all = ReadAll(p, 0, 1 << 20);
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(all[i].first, i);
      EXPECT_TRUE(seen.insert(all[i].second).second) << all[i].second;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_F(LogTest, WaitForDurableWakesOnAppend) {
  Open();
  const uint64_t generation = log_->durable_generation();
  EXPECT_FALSE(log_->WaitForDurable(generation, std::chrono::milliseconds(20)));
  std::thread writer([&] { AppendMany(1, 0, 1); });
  EXPECT_TRUE(log_->WaitForDurable(generation, std::chrono::seconds(10)));
  writer.join();
  EXPECT_EQ(ReadAll(1, 0).size(), 1u);
}

TEST_F(LogTest, ReadersSeeOnlyDurableRecords) {
  Open();
  std::string p = "x";
  RecordToAppend r{0, p};
  auto a = log_->Append(0, std::span(&r, 1));
  ASSERT_TRUE(a.ok());
  // Until the syncer reports the ticket, the durable end may lag the end; a reader never
  // returns anything past the durable end.
  auto reader = log_->NewReader(0, 0);
  auto batch = reader->Read(1000);
  ASSERT_TRUE(batch.ok());
  EXPECT_LE(batch->size(), log_->DurableEndOffset(0));
  ASSERT_TRUE(syncer_.WaitDurable(a->sync_ticket).ok());
  EXPECT_EQ(log_->DurableEndOffset(0), 1u);
  EXPECT_EQ(ReadAll(0, 0).size(), 1u);
}

}  // namespace
}  // namespace sluice::log
