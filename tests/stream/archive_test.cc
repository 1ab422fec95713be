// The compliance archive (stream/archive.h): every record of the log in exactly one committed
// Parquet file of its event hour, resumption from the snapshot's offsets, cleanup of files
// written for a commit that never happened, retention through snapshots, and the hash chain.
#include "stream/archive.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "lake/hash_chain.h"
#include "lake/iceberg_table.h"
#include "lake/parquet_reader.h"

namespace sluice::stream {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kHour = int64_t{3600} * 1'000'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kStart = 1'764'230'400'000'000;  // 2025-11-27T08:00:00Z

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-archive-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    log::LogOptions options;
    options.partitions = 2;
    log_ = log::Log::Open((dir_ / "log").string(), options, clock_, syncer_).value();
  }
  void TearDown() override {
    archive_.reset();
    log_.reset();
    fs::remove_all(dir_);
  }

  ArchiveOptions Options() const {
    ArchiveOptions o;
    o.root = (dir_ / "lake").string();
    o.table = "orders";
    o.columns = {{"event_id", "", lake::ColumnType::kString},
                 {"occurred_at", "", lake::ColumnType::kTimestampMicros},
                 {"amount_minor", "", lake::ColumnType::kInt64}};
    o.commit_interval_micros = 10'000'000;
    o.housekeeping_interval_micros = kHour;
    return o;
  }
  void OpenArchive() {
    auto opened = Archive::Open(Options(), *log_, clock_, metrics_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    archive_ = std::move(opened).value();
  }

  // Appends `n` events, `n_hours` hours apart in event time, alternating partitions.
  void Append(int from, int n, int64_t event_time = kStart, int64_t step = 0) {
    for (int i = from; i < from + n; ++i) {
      const int64_t t = event_time + (i - from) * step;
      const std::string payload = fmt::format(
          R"({{"event_id":"e{}","occurred_at":"{}","amount_minor":{}}})", i, FormatTime(t), i);
      const log::RecordToAppend record{t, payload, 0};
      auto appended = log_->Append(static_cast<uint32_t>(i % 2), std::span(&record, 1));
      ASSERT_TRUE(appended.ok());
      ASSERT_TRUE(syncer_.WaitDurable(appended->sync_ticket).ok());
    }
  }
  static std::string FormatTime(int64_t micros) {
    const time_t seconds = static_cast<time_t>(micros / 1'000'000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }

  // (partition, offset) of every row in the table's current snapshot, and the event ids.
  std::multiset<std::pair<int64_t, int64_t>> Rows(std::multiset<std::string>* ids = nullptr) {
    std::multiset<std::pair<int64_t, int64_t>> rows;
    auto table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
    auto current = table->CurrentSnapshot();
    if (!current) return rows;
    for (const lake::DataFileEntry& e : table->LiveFiles(*current).value()) {
      const std::string bytes = lake::ReadWholeFile(table->dir() + "/" + e.file.path).value();
      auto reader = lake::ParquetReader::Open(bytes).value();
      const size_t columns = reader.info().columns.size();
      EXPECT_EQ(reader.info().columns[columns - 2].name, "_partition");
      for (size_t g = 0; g < reader.info().row_groups.size(); ++g) {
        lake::ColumnBuffer partition(lake::ColumnType::kInt64), offset(lake::ColumnType::kInt64),
            id(lake::ColumnType::kString);
        EXPECT_TRUE(reader.ReadColumn(g, columns - 2, partition).ok());
        EXPECT_TRUE(reader.ReadColumn(g, columns - 1, offset).ok());
        EXPECT_TRUE(reader.ReadColumn(g, 0, id).ok());
        for (size_t r = 0; r < partition.size(); ++r) {
          rows.emplace(partition.Int64At(r), offset.Int64At(r));
          if (ids) ids->insert(std::string(id.StringAt(r)));
        }
      }
    }
    return rows;
  }

  std::string ChainPath() const {
    return (dir_ / "lake" / "orders" / "sluice-hash-chain.jsonl").string();
  }

  fs::path dir_;
  ManualClock clock_{kStart + 2 * kHour};
  MetricsRegistry metrics_;
  log::Syncer syncer_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<Archive> archive_;
};

TEST_F(ArchiveTest, EveryRecordIsCommittedOnceInTheFileOfItsHour) {
  OpenArchive();
  Append(0, 300, kStart, kHour / 100);  // three event hours
  ASSERT_TRUE(archive_->RunOnce(/*force=*/false).ok());
  EXPECT_TRUE(Rows().empty());  // read, not committed yet (not due)
  clock_.Advance(10'000'000);
  ASSERT_TRUE(archive_->RunOnce(false).ok());
  std::multiset<std::string> ids;
  const auto rows = Rows(&ids);
  EXPECT_EQ(rows.size(), 300u);
  EXPECT_EQ(std::set(rows.begin(), rows.end()).size(), 300u);
  EXPECT_EQ(std::set(ids.begin(), ids.end()).size(), 300u);
  auto table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  const auto live = table->LiveFiles(*table->CurrentSnapshot()).value();
  std::set<int32_t> hours;
  for (const auto& e : live) hours.insert(*e.file.partition_hour);
  EXPECT_EQ(hours.size(), 3u);
  EXPECT_EQ(table->CurrentSnapshot()->summary.at("sluice.offsets"), "150,150");
  EXPECT_EQ(archive_->committed_offsets(), (std::vector<uint64_t>{150, 150}));
  const lake::VerifyReport report = lake::Verify(ChainPath(), table->dir()).value();
  EXPECT_TRUE(report.ok()) << report.ToJson();
  EXPECT_EQ(report.files_checked, 6u);  // an hour's file per lane (two lanes: two threads)
}

TEST_F(ArchiveTest, BufferedBytesPastCommitBytesForceACommitBeforeTheInterval) {
  ArchiveOptions o = Options();
  o.commit_bytes = 4000;  // ~50 of these events
  auto opened = Archive::Open(o, *log_, clock_, metrics_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  archive_ = std::move(opened).value();
  Append(0, 20);
  ASSERT_TRUE(archive_->RunOnce(/*force=*/false).ok());
  EXPECT_TRUE(Rows().empty());  // below both thresholds: nothing committed
  Append(20, 200);
  ASSERT_TRUE(archive_->RunOnce(false).ok());  // the clock has not moved
  EXPECT_GE(Rows().size(), 50u);
  EXPECT_LE(Rows().size(), 220u);
  ASSERT_TRUE(archive_->RunOnce(false).ok());
  ASSERT_TRUE(archive_->RunOnce(false).ok());
  ASSERT_TRUE(archive_->Stop().ok());
  EXPECT_EQ(Rows().size(), 220u);
}

TEST_F(ArchiveTest, ARestartResumesFromTheSnapshotAndDropsUncommittedFiles) {
  OpenArchive();
  Append(0, 100);
  ASSERT_TRUE(archive_->RunOnce(/*force=*/true).ok());
  archive_.reset();  // a clean stop (nothing more to commit)
  Append(100, 50);
  // What a crash leaves: files written for the next commit, and a writer's temporary file.
  auto table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  const int64_t next = table->CurrentSnapshot()->sequence_number + 1;
  const fs::path hour_dir =
      fs::path(table->dir()) / table->DataPath(lake::HourOfMicros(kStart), "x");
  std::ofstream(hour_dir.parent_path() / fmt::format("{}-1-99.parquet", next)) << "half";
  std::ofstream(hour_dir.parent_path() / "a.parquet.tmp-1-1") << "half";
  OpenArchive();
  EXPECT_FALSE(fs::exists(hour_dir.parent_path() / fmt::format("{}-1-99.parquet", next)));
  EXPECT_FALSE(fs::exists(hour_dir.parent_path() / "a.parquet.tmp-1-1"));
  EXPECT_EQ(archive_->committed_offsets(), (std::vector<uint64_t>{50, 50}));
  ASSERT_TRUE(archive_->RunOnce(/*force=*/true).ok());
  const auto rows = Rows();
  EXPECT_EQ(rows.size(), 150u);
  EXPECT_EQ(std::set(rows.begin(), rows.end()).size(), 150u);
  EXPECT_TRUE(lake::Verify(ChainPath(), table->dir()).value().ok());
}

TEST_F(ArchiveTest, PartitionsPastRetentionLeaveThroughASnapshotAndExpiry) {
  OpenArchive();
  Append(0, 20, kStart - 100 * kDay);  // an old hour
  Append(20, 20, kStart);              // a recent one
  ASSERT_TRUE(archive_->RunOnce(/*force=*/true).ok());
  EXPECT_EQ(Rows().size(), 40u);
  clock_.Advance(kHour);
  ASSERT_TRUE(archive_->Housekeep().ok());
  std::multiset<std::string> ids;
  EXPECT_EQ(Rows(&ids).size(), 20u);
  EXPECT_EQ(ids.count("e0"), 0u);
  EXPECT_EQ(ids.count("e20"), 1u);
  // Once the snapshots that still held the old file are past retention, the file goes from
  // the disk too; the recent hour's file, now past retention as well, leaves the table but
  // stays on disk while a snapshot within the retention (the last append's) still holds it.
  clock_.Advance(91 * kDay);
  Append(40, 1, clock_.NowMicros());
  ASSERT_TRUE(archive_->RunOnce(/*force=*/true).ok());
  ASSERT_TRUE(archive_->Housekeep().ok());
  ids.clear();
  EXPECT_EQ(Rows(&ids).size(), 1u);
  EXPECT_EQ(ids.count("e40"), 1u);
  std::set<int32_t> hours_on_disk;
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "lake" / "orders" / "data"))
    if (e.is_regular_file())
      hours_on_disk.insert(static_cast<int32_t>(std::stol(
          e.path().filename().string().substr(e.path().filename().string().find('-') + 1))));
  EXPECT_EQ(hours_on_disk.count(lake::HourOfMicros(kStart - 100 * kDay)), 0u);
  EXPECT_EQ(hours_on_disk.count(lake::HourOfMicros(kStart)), 1u);
  const lake::VerifyReport report =
      lake::Verify(ChainPath(), (dir_ / "lake" / "orders").string()).value();
  EXPECT_TRUE(report.ok()) << report.ToJson();
}

TEST_F(ArchiveTest, ManifestsCarryColumnMetricsAndFilesTheFieldIds) {
  ArchiveOptions o = Options();
  o.threads = 1;  // one file for the hour
  auto opened = Archive::Open(o, *log_, clock_, metrics_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  archive_ = std::move(opened).value();
  Append(0, 100, kStart, 1'000'000);  // one hour, event times kStart + i seconds
  ASSERT_TRUE(archive_->RunOnce(/*force=*/true).ok());
  auto table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  const auto live = table->LiveFiles(*table->CurrentSnapshot()).value();
  ASSERT_EQ(live.size(), 1u);
  const lake::DataFileStats& stats = live[0].file.stats;
  const int32_t event_id = table->schema().Find("event_id")->id;
  const int32_t occurred_at = table->schema().Find("occurred_at")->id;
  const int32_t amount = table->schema().Find("amount_minor")->id;
  const int32_t raw = table->schema().Find("_raw")->id;
  const int32_t offset = table->schema().Find("_offset")->id;
  EXPECT_EQ(stats.value_counts.at(occurred_at), 100);
  EXPECT_EQ(stats.null_value_counts.at(amount), 0);
  EXPECT_EQ(lake::ParseSingleLong(stats.lower_bounds.at(occurred_at)).value(), kStart);
  EXPECT_EQ(lake::ParseSingleLong(stats.upper_bounds.at(occurred_at)).value(), kStart + 99'000'000);
  EXPECT_EQ(lake::ParseSingleLong(stats.lower_bounds.at(amount)).value(), 0);
  EXPECT_EQ(lake::ParseSingleLong(stats.upper_bounds.at(amount)).value(), 99);
  EXPECT_EQ(stats.lower_bounds.at(event_id), "e0");
  EXPECT_EQ(stats.upper_bounds.at(event_id), "e99");
  EXPECT_EQ(lake::ParseSingleLong(stats.upper_bounds.at(offset)).value(), 49);
  EXPECT_GT(stats.column_sizes.at(raw), 0);
  EXPECT_EQ(stats.lower_bounds.count(raw), 0u);
  const std::string bytes = lake::ReadWholeFile(table->dir() + "/" + live[0].file.path).value();
  auto reader = lake::ParquetReader::Open(bytes).value();
  for (const lake::ColumnSpec& c : reader.info().columns)
    EXPECT_EQ(c.field_id, table->schema().Find(c.name)->id) << c.name;
}

TEST_F(ArchiveTest, SnapshotsThinToOnePerHourThenExpire) {
  OpenArchive();
  // A commit every 20 minutes for 10 hours: 30 snapshots.
  for (int i = 0; i < 30; ++i) {
    Append(i, 1, clock_.NowMicros());
    ASSERT_TRUE(archive_->RunOnce(/*force=*/true).ok());
    clock_.Advance(20 * 60 * 1'000'000ll);
  }
  ASSERT_TRUE(archive_->Housekeep().ok());
  auto table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  const int64_t now_ms = clock_.NowMicros() / 1000;
  std::set<int64_t> hours;
  for (const lake::Snapshot& s : table->snapshots()) {
    if (s.timestamp_ms < now_ms - 3600 * 1000) {
      EXPECT_TRUE(hours.insert(s.timestamp_ms / (3600 * 1000)).second)
          << "two snapshots older than an hour in the same hour";
    }
  }
  EXPECT_GE(hours.size(), 8u);
  EXPECT_LT(table->snapshots().size(), 15u);
  // Every kept snapshot still reads: the files it needs are on disk.
  for (const lake::Snapshot& s : table->snapshots()) {
    auto live = table->LiveFiles(s);
    ASSERT_TRUE(live.ok()) << live.status().ToString();
    for (const auto& e : *live) EXPECT_TRUE(fs::exists(fs::path(table->dir()) / e.file.path));
  }
  EXPECT_EQ(Rows().size(), 30u);
  // Past the hourly retention only the current snapshot stays.
  clock_.Advance(8 * kDay);
  ASSERT_TRUE(archive_->Housekeep().ok());
  table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  EXPECT_EQ(table->snapshots().size(), 1u);
  EXPECT_EQ(Rows().size(), 30u);
  EXPECT_TRUE(lake::Verify(ChainPath(), table->dir()).value().ok());
  // The metadata files of earlier versions are deleted after each commit (the archive's table
  // sets write.metadata.delete-after-commit.enabled).
  size_t metadata_files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(table->dir()) / "metadata"))
    if (e.path().string().ends_with(".metadata.json")) ++metadata_files;
  EXPECT_LE(metadata_files, 21u);
}

Status FailAfterManifests(lake::CommitPoint point, void*) {
  return point == lake::CommitPoint::kAfterManifests ? Status::IOError("injected crash")
                                                     : Status::Ok();
}

TEST_F(ArchiveTest, CompactionRewritesAClosedHoursSmallFilesKeepingRowsOffsetsAndTimeTravel) {
  ArchiveOptions o = Options();
  o.threads = 1;
  o.compaction_min_files = 4;
  auto opened = Archive::Open(o, *log_, clock_, metrics_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  archive_ = std::move(opened).value();
  // Ten commits of 30 events each into the current hour: ten small files.
  const int64_t hour_start = clock_.NowMicros();
  for (int i = 0; i < 10; ++i) {
    Append(i * 30, 30, hour_start + i * 60'000'000ll);
    ASSERT_TRUE(archive_->RunOnce(/*force=*/true).ok());
    clock_.Advance(1'000'000);
  }
  auto table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  ASSERT_EQ(table->LiveFiles(*table->CurrentSnapshot()).value().size(), 10u);
  const lake::Snapshot before = *table->CurrentSnapshot();
  std::multiset<std::string> ids_before;
  const auto rows_before = Rows(&ids_before);
  ASSERT_EQ(rows_before.size(), 300u);

  // Within the grace period nothing is compacted.
  ASSERT_TRUE(archive_->Housekeep().ok());
  table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  EXPECT_EQ(table->LiveFiles(*table->CurrentSnapshot()).value().size(), 10u);

  // A crash in the compaction's commit: nothing changes, and nothing is left behind.
  clock_.Advance(2 * kHour);
  archive_->SetCommitFaultHookForTest(&FailAfterManifests, nullptr);
  EXPECT_FALSE(archive_->Housekeep().ok());
  archive_->SetCommitFaultHookForTest(nullptr, nullptr);
  archive_.reset();
  opened = Archive::Open(o, *log_, clock_, metrics_);
  ASSERT_TRUE(opened.ok());
  archive_ = std::move(opened).value();
  EXPECT_EQ(Rows(), rows_before);

  ASSERT_TRUE(archive_->Housekeep().ok());
  table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  const auto live = table->LiveFiles(*table->CurrentSnapshot()).value();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].file.record_count, 300);
  EXPECT_EQ(live[0].file.stats.value_counts.at(table->schema().Find("_offset")->id), 300);
  std::multiset<std::string> ids_after;
  EXPECT_EQ(Rows(&ids_after), rows_before);  // the same (partition, offset) rows, once each
  EXPECT_EQ(ids_after, ids_before);
  EXPECT_EQ(table->CurrentSnapshot()->summary.at("sluice.offsets"),
            before.summary.at("sluice.offsets"));
  EXPECT_EQ(archive_->committed_offsets(), (std::vector<uint64_t>{150, 150}));
  // Time travel to before the compaction still reads the ten small files.
  const auto old_files = table->LiveFiles(table->SnapshotById(before.snapshot_id).value()).value();
  EXPECT_EQ(old_files.size(), 10u);
  for (const auto& e : old_files) EXPECT_TRUE(fs::exists(fs::path(table->dir()) / e.file.path));
  // The hash chain: the compacted files removed as such, the new file verified.
  const lake::VerifyReport report = lake::Verify(ChainPath(), table->dir()).value();
  EXPECT_TRUE(report.ok()) << report.ToJson();
  EXPECT_EQ(report.files_checked, 1u);
  // New events keep going to new files after the compaction; nothing is compacted twice.
  Append(300, 10, clock_.NowMicros());
  ASSERT_TRUE(archive_->RunOnce(/*force=*/true).ok());
  EXPECT_EQ(Rows().size(), 310u);
  ASSERT_TRUE(archive_->Housekeep().ok());
  EXPECT_EQ(Rows().size(), 310u);
}

TEST_F(ArchiveTest, ANewOptionalColumnBecomesANewIcebergFieldAndOldFilesStayReadable) {
  ArchiveOptions o = Options();
  o.threads = 1;
  o.compaction_min_files = 2;
  auto opened = Archive::Open(o, *log_, clock_, metrics_);
  ASSERT_TRUE(opened.ok());
  archive_ = std::move(opened).value();
  const int64_t hour_start = clock_.NowMicros();
  Append(0, 10, hour_start);
  ASSERT_TRUE(archive_->RunOnce(/*force=*/true).ok());
  archive_.reset();
  auto table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  int32_t max_id = 0;
  for (const auto& f : table->schema().fields) max_id = std::max(max_id, f.id);

  // The stream's schema gained an optional field: the archive restarts with it.
  o.columns.push_back({"currency", "", lake::ColumnType::kString});
  opened = Archive::Open(o, *log_, clock_, metrics_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  archive_ = std::move(opened).value();
  for (int i = 10; i < 20; ++i) {
    const std::string payload =
        fmt::format(R"({{"event_id":"e{}","occurred_at":"{}","amount_minor":{},"currency":"EUR"}})",
                    i, FormatTime(hour_start), i);
    const log::RecordToAppend record{hour_start, payload, 0};
    auto appended = log_->Append(static_cast<uint32_t>(i % 2), std::span(&record, 1));
    ASSERT_TRUE(appended.ok());
    ASSERT_TRUE(syncer_.WaitDurable(appended->sync_ticket).ok());
  }
  ASSERT_TRUE(archive_->RunOnce(/*force=*/true).ok());
  table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  const lake::IcebergField* currency = table->schema().Find("currency");
  ASSERT_NE(currency, nullptr);
  const int32_t currency_id = currency->id;  // `table` is opened again below
  EXPECT_GT(currency->id, max_id);
  EXPECT_FALSE(currency->required);
  EXPECT_EQ(table->schemas().size(), 2u);
  // Old and new files both read; the new one has the column under its field id.
  EXPECT_EQ(Rows().size(), 20u);
  int with_currency = 0;
  for (const auto& e : table->LiveFiles(*table->CurrentSnapshot()).value()) {
    const std::string bytes = lake::ReadWholeFile(table->dir() + "/" + e.file.path).value();
    auto reader = lake::ParquetReader::Open(bytes).value();
    for (size_t c = 0; c < reader.info().columns.size(); ++c) {
      if (reader.info().columns[c].name != "currency") continue;
      ++with_currency;
      EXPECT_EQ(reader.info().columns[c].field_id, currency_id);
      lake::ColumnBuffer values(lake::ColumnType::kString);
      ASSERT_TRUE(reader.ReadColumn(0, c, values).ok());
      EXPECT_EQ(values.StringAt(0), "EUR");
    }
  }
  EXPECT_EQ(with_currency, 1);
  // Compaction merges the old file (no currency: nulls) with the new one.
  clock_.Advance(3 * kHour);
  ASSERT_TRUE(archive_->Housekeep().ok());
  table = lake::IcebergTable::Open((dir_ / "lake").string(), "orders", clock_).value();
  const auto live = table->LiveFiles(*table->CurrentSnapshot()).value();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].file.stats.null_value_counts.at(currency_id), 10);
  EXPECT_EQ(Rows().size(), 20u);
}

TEST_F(ArchiveTest, TheEventTimeColumnMustBeATimestamp) {
  ArchiveOptions o = Options();
  o.event_time_column = "event_id";
  EXPECT_EQ(Archive::Open(o, *log_, clock_, metrics_).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::stream
