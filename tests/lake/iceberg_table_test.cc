#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "lake/avro.h"
#include "lake/iceberg_table.h"

namespace sluice::lake {
namespace {

namespace fs = std::filesystem;

// 2026-11-27T08:00:00Z
constexpr int64_t kT0Micros = 1795766400ll * kMicrosPerSecond;

class IcebergTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("iceberg_table_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  IcebergTableSpec Spec() {
    IcebergTableSpec spec;
    spec.fields = {
        {0, "event_time", {IcebergTypeId::kTimestamptz}, true},
        {0, "user_id", {IcebergTypeId::kString}, true},
        {0, "amount", {IcebergTypeId::kDecimal, 12, 2}, false},
        {0, "score", {IcebergTypeId::kDouble}, false},
        {0, "n", {IcebergTypeId::kLong}, false},
        {0, "ok", {IcebergTypeId::kBoolean}, false},
    };
    spec.hour_partition_source = "event_time";
    spec.properties = {{"owner", "sluice"}};
    return spec;
  }

  std::unique_ptr<IcebergTable> CreateTable() {
    auto t = IcebergTable::Create(root_.string(), "events", Spec(), clock_);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return std::move(t).value();
  }

  // Writes a fake data file and describes it.
  DataFile MakeFile(IcebergTable& t, int32_t hour, const std::string& name, int64_t rows) {
    DataFile f;
    f.path = t.DataPath(hour, name);
    fs::create_directories(fs::path(t.dir()) / fs::path(f.path).parent_path());
    std::ofstream(fs::path(t.dir()) / f.path) << "parquet bytes " << name;
    f.record_count = rows;
    f.file_size_in_bytes = static_cast<int64_t>(fs::file_size(fs::path(t.dir()) / f.path));
    f.partition_hour = hour;
    int64_t lo = int64_t{hour} * kMicrosPerHour;
    f.stats.value_counts = {{1, rows}, {2, rows}};
    f.stats.null_value_counts = {{1, 0}, {3, 1}};
    f.stats.column_sizes = {{1, 100}};
    f.stats.lower_bounds = {{1, SingleLong(lo)}, {2, "alice"}, {3, SingleDecimal(-1234)}};
    f.stats.upper_bounds = {{1, SingleLong(lo + kMicrosPerHour - 1)}, {2, "zoe"}};
    return f;
  }

  bool Exists(IcebergTable& t, const std::string& rel) {
    return fs::exists(fs::path(t.dir()) / rel);
  }

  fs::path root_;
  ManualClock clock_{kT0Micros};
};

TEST(IcebergValuesTest, SingleValueSerialization) {
  EXPECT_EQ(SingleLong(1), std::string("\x01\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(SingleInt(-2), std::string("\xfe\xff\xff\xff", 4));
  EXPECT_EQ(SingleBoolean(true), std::string("\x01", 1));
  EXPECT_EQ(SingleDouble(1.0), std::string("\0\0\0\0\0\0\xf0\x3f", 8));
  EXPECT_EQ(SingleDecimal(0), std::string("\x00", 1));
  EXPECT_EQ(SingleDecimal(127), std::string("\x7f", 1));
  EXPECT_EQ(SingleDecimal(128), std::string("\x00\x80", 2));
  EXPECT_EQ(SingleDecimal(-1), std::string("\xff", 1));
  EXPECT_EQ(SingleDecimal(-129), std::string("\xff\x7f", 2));
  EXPECT_EQ(ParseSingleLong(SingleLong(-5)).value(), -5);
  EXPECT_EQ(ParseSingleInt(SingleInt(77)).value(), 77);
  EXPECT_EQ(ParseSingleDouble(SingleDouble(-0.5)).value(), -0.5);
  EXPECT_FALSE(ParseSingleLong("abc").ok());
  EXPECT_EQ(HourToString(HourOfMicros(kT0Micros)), "2026-11-27-08");
  EXPECT_EQ(HourToString(-1), "1969-12-31-23");
  EXPECT_EQ(HourOfMicros(-1), -1);
}

TEST(IcebergValuesTest, Types) {
  for (const char* t : {"boolean", "int", "long", "double", "string", "timestamptz"}) {
    auto parsed = IcebergType::Parse(t);
    ASSERT_TRUE(parsed.ok()) << t;
    EXPECT_EQ(parsed->ToString(), t);
  }
  auto d = IcebergType::Parse("decimal(12, 2)");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->precision, 12);
  EXPECT_EQ(d->scale, 2);
  EXPECT_EQ(d->ToString(), "decimal(12, 2)");
  EXPECT_TRUE(IcebergType::Parse("decimal(5,5)").ok());
  EXPECT_FALSE(IcebergType::Parse("decimal(39,1)").ok());
  EXPECT_FALSE(IcebergType::Parse("decimal(2,3)").ok());
  EXPECT_FALSE(IcebergType::Parse("timestamp").ok());
}

TEST_F(IcebergTableTest, CreateWritesVersionOneAndOpenReadsIt) {
  auto t = CreateTable();
  EXPECT_EQ(t->version(), 1);
  EXPECT_FALSE(t->CurrentSnapshot().has_value());
  EXPECT_TRUE(fs::exists(root_ / "events/metadata/v1.metadata.json"));
  EXPECT_TRUE(fs::exists(root_ / "events/data"));
  std::ifstream hint(root_ / "events/metadata/version-hint.text");
  std::string text;
  hint >> text;
  EXPECT_EQ(text, "1");

  std::ifstream mf(root_ / "events/metadata/v1.metadata.json");
  nlohmann::json j = nlohmann::json::parse(mf);
  EXPECT_EQ(j["format-version"], 2);
  EXPECT_EQ(j["location"], "file://" + (root_ / "events").string());
  EXPECT_EQ(j["current-snapshot-id"], -1);
  EXPECT_EQ(j["last-column-id"], 6);
  EXPECT_EQ(j["schemas"][0]["fields"][2]["type"], "decimal(12, 2)");
  EXPECT_EQ(j["schemas"][0]["fields"][0]["required"], true);
  EXPECT_EQ(j["partition-specs"][0]["fields"][0]["transform"], "hour");
  EXPECT_EQ(j["partition-specs"][0]["fields"][0]["source-id"], 1);
  EXPECT_EQ(j["partition-specs"][0]["fields"][0]["field-id"], 1000);
  EXPECT_EQ(j["properties"]["owner"], "sluice");

  auto again = IcebergTable::Create(root_.string(), "events", Spec(), clock_);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  auto opened = IcebergTable::Open(root_.string(), "events", clock_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)->schema().fields.size(), 6u);
  EXPECT_EQ((*opened)->schema().fields[2].type, (IcebergType{IcebergTypeId::kDecimal, 12, 2}));
  EXPECT_EQ((*opened)->hour_partition_source(), "event_time");
  EXPECT_EQ(IcebergTable::Open(root_.string(), "nope", clock_).status().code(),
            StatusCode::kNotFound);
}

TEST_F(IcebergTableTest, CreateRejectsBadSpecs) {
  IcebergTableSpec spec = Spec();
  spec.hour_partition_source = "user_id";
  EXPECT_FALSE(IcebergTable::Create(root_.string(), "t", spec, clock_).ok());
  spec = Spec();
  spec.fields.push_back(spec.fields[0]);
  EXPECT_FALSE(IcebergTable::Create(root_.string(), "t", spec, clock_).ok());
  EXPECT_FALSE(IcebergTable::Create(root_.string(), "../x", Spec(), clock_).ok());
  EXPECT_FALSE(IcebergTable::Create(root_.string(), "a b", Spec(), clock_).ok());
  EXPECT_FALSE(IcebergTable::Create(root_.string(), "..", Spec(), clock_).ok());
}

TEST_F(IcebergTableTest, CommitsSnapshotsAndReadsThemBack) {
  auto t = CreateTable();
  int32_t h0 = HourOfMicros(kT0Micros);
  AppendFiles a1;
  a1.added = {MakeFile(*t, h0, "a.parquet", 10), MakeFile(*t, h0 + 1, "b.parquet", 5)};
  a1.summary = {{"sluice.last-offset", "14"}};
  auto s1 = t->Commit(a1);
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  EXPECT_EQ(s1->sequence_number, 1);
  EXPECT_FALSE(s1->parent_snapshot_id.has_value());
  EXPECT_EQ(s1->summary.at("operation"), "append");
  EXPECT_EQ(s1->summary.at("total-records"), "15");
  EXPECT_EQ(s1->summary.at("sluice.last-offset"), "14");
  EXPECT_EQ(s1->timestamp_ms, kT0Micros / 1000);
  EXPECT_EQ(a1.added[0].path, "data/event_time_hour=2026-11-27-08/a.parquet");

  clock_.Advance(kMicrosPerMinute);
  AppendFiles a2;
  a2.added = {MakeFile(*t, h0 + 1, "c.parquet", 7)};
  a2.summary = {{"sluice.last-offset", "21"}};
  auto s2 = t->Commit(a2);
  ASSERT_TRUE(s2.ok()) << s2.status().ToString();
  EXPECT_EQ(s2->sequence_number, 2);
  EXPECT_EQ(s2->parent_snapshot_id, s1->snapshot_id);
  EXPECT_EQ(s2->summary.at("total-data-files"), "3");
  EXPECT_EQ(t->version(), 3);

  // A fresh reader sees the same thing.
  auto r = IcebergTable::Open(root_.string(), "events", clock_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE((*r)->CurrentSnapshot().has_value());
  EXPECT_EQ((*r)->CurrentSnapshot()->snapshot_id, s2->snapshot_id);
  EXPECT_EQ((*r)->CurrentSnapshot()->summary.at("sluice.last-offset"), "21");
  auto files = (*r)->LiveFiles(*(*r)->CurrentSnapshot());
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 3u);
  // The newest manifest comes first.
  EXPECT_EQ((*files)[0].file.path, a2.added[0].path);
  EXPECT_EQ((*files)[0].sequence_number, 2);
  EXPECT_EQ((*files)[0].snapshot_id, s2->snapshot_id);
  const DataFileEntry& a = (*files)[1];
  EXPECT_EQ(a.file.path, a1.added[0].path);
  EXPECT_EQ(a.sequence_number, 1);
  EXPECT_EQ(a.file.record_count, 10);
  EXPECT_EQ(a.file.partition_hour, h0);
  EXPECT_EQ(a.file.stats.value_counts, a1.added[0].stats.value_counts);
  EXPECT_EQ(a.file.stats.null_value_counts, a1.added[0].stats.null_value_counts);
  EXPECT_EQ(a.file.stats.column_sizes, a1.added[0].stats.column_sizes);
  EXPECT_EQ(a.file.stats.lower_bounds, a1.added[0].stats.lower_bounds);
  EXPECT_EQ(a.file.stats.upper_bounds, a1.added[0].stats.upper_bounds);

  // Time travel by id and by timestamp.
  auto old = (*r)->SnapshotById(s1->snapshot_id);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ((*r)->LiveFiles(*old)->size(), 2u);
  EXPECT_EQ((*r)->SnapshotAsOf(kT0Micros / 1000 + 59999)->snapshot_id, s1->snapshot_id);
  EXPECT_EQ((*r)->SnapshotAsOf(kT0Micros / 1000 + 60000)->snapshot_id, s2->snapshot_id);
  EXPECT_EQ((*r)->SnapshotAsOf(kT0Micros / 1000 - 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*r)->SnapshotById(12345).status().code(), StatusCode::kNotFound);

  // The manifest list is a readable Avro file with the Iceberg field names.
  std::ifstream lf(fs::path(t->dir()) / "metadata" / fs::path(s2->manifest_list).filename(),
                   std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(lf)), {});
  auto list = avro::ReadAvroContainer(bytes);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->records.size(), 2u);
  EXPECT_EQ(list->metadata.at("format-version"), "2");
  EXPECT_EQ(list->metadata.at("snapshot-id"), std::to_string(s2->snapshot_id));
  EXPECT_EQ(avro::FieldIndex(*list->schema, "added_files_count"), 7);
}

TEST_F(IcebergTableTest, CommitValidation) {
  auto t = CreateTable();
  int32_t h = HourOfMicros(kT0Micros);
  EXPECT_EQ(t->Commit({}).status().code(), StatusCode::kInvalidArgument);
  AppendFiles bad;
  bad.added = {MakeFile(*t, h, "a.parquet", 1)};
  bad.summary = {{"operation", "x"}};
  EXPECT_FALSE(t->Commit(bad).ok());
  bad.summary.clear();
  bad.added[0].path = "/abs/a.parquet";
  EXPECT_FALSE(t->Commit(bad).ok());
  AppendFiles ok;
  ok.added = {MakeFile(*t, h, "a.parquet", 1)};
  ASSERT_TRUE(t->Commit(ok).ok());
  EXPECT_FALSE(t->Commit(ok).ok()) << "the same file twice";
  AppendFiles del;
  del.deleted = {"data/nope.parquet"};
  EXPECT_EQ(t->Commit(del).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t->version(), 2);
}

TEST_F(IcebergTableTest, SchemaEvolutionKeepsOldSnapshotsReadable) {
  auto t = CreateTable();
  int32_t h = HourOfMicros(kT0Micros);
  AppendFiles a1;
  a1.added = {MakeFile(*t, h, "a.parquet", 3)};
  auto s1 = t->Commit(a1);
  ASSERT_TRUE(s1.ok());
  ASSERT_TRUE(t->AddOptionalField("country", {IcebergTypeId::kString}).ok());
  EXPECT_EQ(t->AddOptionalField("country", {IcebergTypeId::kString}).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(t->schema().schema_id, 1);
  EXPECT_EQ(t->schema().fields.back().id, 7);
  EXPECT_FALSE(t->schema().fields.back().required);
  AppendFiles a2;
  a2.added = {MakeFile(*t, h, "b.parquet", 4)};
  a2.added[0].stats.value_counts[7] = 4;
  auto s2 = t->Commit(a2);
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(s1->schema_id, 0);
  EXPECT_EQ(s2->schema_id, 1);

  auto r = IcebergTable::Open(root_.string(), "events", clock_);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ((*r)->schemas().size(), 2u);
  EXPECT_EQ((*r)->schemas()[0].fields.size(), 6u);
  EXPECT_EQ((*r)->schema().fields.size(), 7u);
  EXPECT_EQ((*r)->SnapshotById(s1->snapshot_id).value().schema_id, 0);
  EXPECT_EQ((*r)->LiveFiles(*(*r)->CurrentSnapshot())->size(), 2u);
  EXPECT_EQ((*r)->LiveFiles((*r)->SnapshotById(s1->snapshot_id).value())->size(), 1u);
}

TEST_F(IcebergTableTest, DeleteAndExpireRemoveUnreferencedFiles) {
  auto t = CreateTable();
  int32_t h = HourOfMicros(kT0Micros);
  AppendFiles a1;
  a1.added = {MakeFile(*t, h, "old1.parquet", 3), MakeFile(*t, h, "old2.parquet", 2)};
  auto s1 = t->Commit(a1);
  ASSERT_TRUE(s1.ok());
  clock_.Advance(kMicrosPerHour);
  AppendFiles a2;
  a2.added = {MakeFile(*t, h + 1, "new.parquet", 4)};
  auto s2 = t->Commit(a2);
  ASSERT_TRUE(s2.ok());
  clock_.Advance(kMicrosPerHour);
  // Retention drops the oldest hour.
  AppendFiles d;
  d.deleted = {a1.added[0].path, a1.added[1].path};
  auto s3 = t->Commit(d);
  ASSERT_TRUE(s3.ok()) << s3.status().ToString();
  EXPECT_EQ(s3->summary.at("operation"), "delete");
  EXPECT_EQ(s3->summary.at("deleted-records"), "5");
  EXPECT_EQ(s3->summary.at("total-records"), "4");
  auto live = t->LiveFiles(*s3);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].file.path, a2.added[0].path);
  EXPECT_EQ((*live)[0].sequence_number, 2);
  // Deleted files stay on disk while an older snapshot needs them.
  EXPECT_TRUE(Exists(*t, a1.added[0].path));
  EXPECT_EQ(t->LiveFiles(*s2)->size(), 3u);

  // Overwrite: add and delete in one snapshot.
  clock_.Advance(kMicrosPerHour);
  AppendFiles o;
  o.added = {MakeFile(*t, h + 1, "compacted.parquet", 4)};
  o.deleted = {a2.added[0].path};
  auto s4 = t->Commit(o);
  ASSERT_TRUE(s4.ok()) << s4.status().ToString();
  EXPECT_EQ(s4->summary.at("operation"), "overwrite");
  EXPECT_EQ(t->LiveFiles(*s4)->size(), 1u);

  // Expire everything before s4: only s4 stays.
  auto removed = t->ExpireSnapshots(s4->timestamp_ms);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_GT(*removed, 3);
  EXPECT_EQ(t->snapshots().size(), 1u);
  EXPECT_FALSE(Exists(*t, a1.added[0].path));
  EXPECT_FALSE(Exists(*t, a1.added[1].path));
  EXPECT_FALSE(Exists(*t, a2.added[0].path));
  EXPECT_TRUE(Exists(*t, o.added[0].path));
  EXPECT_FALSE(fs::exists(fs::path(t->dir()) / fs::path(a1.added[0].path).parent_path()))
      << "the emptied partition directory is removed";
  EXPECT_EQ(t->SnapshotById(s1->snapshot_id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(t->SnapshotAsOf(s2->timestamp_ms).status().code(), StatusCode::kNotFound);
  // The files of the kept snapshot are all still there.
  std::set<std::string> metadata_files;
  for (const auto& e : fs::directory_iterator(fs::path(t->dir()) / "metadata")) {
    if (e.path().extension() == ".avro") metadata_files.insert(e.path().filename().string());
  }
  EXPECT_TRUE(metadata_files.count(fs::path(s4->manifest_list).filename().string()));
  EXPECT_FALSE(metadata_files.count(fs::path(s1->manifest_list).filename().string()));
  auto r = IcebergTable::Open(root_.string(), "events", clock_);
  ASSERT_TRUE(r.ok());
  auto files = (*r)->LiveFiles(*(*r)->CurrentSnapshot());
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 1u);
  // Expiring again is a no-op; the current snapshot is never expired.
  EXPECT_EQ(t->ExpireSnapshots(s4->timestamp_ms + kMicrosPerDay).value(), 0);
  EXPECT_EQ(t->snapshots().size(), 1u);
}

Status CrashAt(CommitPoint point, void* arg) {
  return point == *static_cast<CommitPoint*>(arg) ? Status::IOError("simulated crash")
                                                  : Status::Ok();
}

TEST_F(IcebergTableTest, CrashBeforeVersionHintLeavesPreviousVersionCurrent) {
  int32_t h = HourOfMicros(kT0Micros);
  int64_t first_id = 0;
  {
    auto t = CreateTable();
    AppendFiles a1;
    a1.added = {MakeFile(*t, h, "a.parquet", 3)};
    a1.summary = {{"sluice.last-offset", "2"}};
    auto s1 = t->Commit(a1);
    ASSERT_TRUE(s1.ok());
    first_id = s1->snapshot_id;
    CommitPoint crash = CommitPoint::kAfterMetadataFile;
    t->SetCommitFaultHook(&CrashAt, &crash);
    AppendFiles a2;
    a2.added = {MakeFile(*t, h, "b.parquet", 4)};
    a2.summary = {{"sluice.last-offset", "6"}};
    EXPECT_FALSE(t->Commit(a2).ok());
    // The metadata file of the failed commit is there, but not current.
    EXPECT_TRUE(fs::exists(root_ / "events/metadata/v3.metadata.json"));
  }
  auto t = IcebergTable::Open(root_.string(), "events", clock_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->version(), 2);
  EXPECT_EQ((*t)->CurrentSnapshot()->snapshot_id, first_id);
  EXPECT_EQ((*t)->CurrentSnapshot()->summary.at("sluice.last-offset"), "2");
  EXPECT_EQ((*t)->LiveFiles(*(*t)->CurrentSnapshot())->size(), 1u);

  // The caller replays from offset 3; the next commit skips the orphan version number.
  AppendFiles again;
  again.added = {MakeFile(**t, h, "b2.parquet", 4)};
  again.summary = {{"sluice.last-offset", "6"}};
  auto s = (*t)->Commit(again);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*t)->version(), 4);
  EXPECT_EQ(s->parent_snapshot_id, first_id);
  auto r = IcebergTable::Open(root_.string(), "events", clock_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->version(), 4);
  EXPECT_EQ((*r)->LiveFiles(*(*r)->CurrentSnapshot())->size(), 2u);
}

TEST_F(IcebergTableTest, CrashAfterManifestsLeavesOnlyOrphans) {
  auto t = CreateTable();
  int32_t h = HourOfMicros(kT0Micros);
  CommitPoint crash = CommitPoint::kAfterManifests;
  t->SetCommitFaultHook(&CrashAt, &crash);
  AppendFiles a;
  a.added = {MakeFile(*t, h, "a.parquet", 3)};
  EXPECT_FALSE(t->Commit(a).ok());
  t->SetCommitFaultHook(nullptr, nullptr);
  EXPECT_EQ(t->version(), 1);
  EXPECT_FALSE(fs::exists(root_ / "events/metadata/v2.metadata.json"));
  auto s = t->Commit(a);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(t->version(), 2);
}

TEST_F(IcebergTableTest, StaleWriterIsRejected) {
  auto t1 = CreateTable();
  auto t2 = IcebergTable::Open(root_.string(), "events", clock_);
  ASSERT_TRUE(t2.ok());
  int32_t h = HourOfMicros(kT0Micros);
  AppendFiles a;
  a.added = {MakeFile(*t1, h, "a.parquet", 3)};
  ASSERT_TRUE(t1->Commit(a).ok());
  AppendFiles b;
  b.added = {MakeFile(*t1, h, "b.parquet", 3)};
  EXPECT_EQ((*t2)->Commit(b).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(t1->version(), 2);
}

TEST_F(IcebergTableTest, ManifestsMergeAndOldMetadataGoesWhenAsked) {
  IcebergTableSpec spec = Spec();
  spec.properties = {{"commit.manifest.min-count-to-merge", "3"},
                     {"write.metadata.previous-versions-max", "2"},
                     {"write.metadata.delete-after-commit.enabled", "true"}};
  auto created = IcebergTable::Create(root_.string(), "events", spec, clock_);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  IcebergTable& t = **created;
  int32_t h = HourOfMicros(kT0Micros);
  std::vector<Snapshot> snaps;
  for (int i = 0; i < 7; ++i) {
    clock_.Advance(kMicrosPerSecond);
    AppendFiles a;
    a.added = {MakeFile(t, h + i, "f" + std::to_string(i) + ".parquet", i + 1)};
    auto s = t.Commit(a);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    snaps.push_back(*s);
  }
  // Each manifest list stays at most 3 manifests long.
  for (const auto& s : snaps) {
    std::ifstream lf(fs::path(t.dir()) / "metadata" / fs::path(s.manifest_list).filename(),
                     std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(lf)), {});
    auto list = avro::ReadAvroContainer(bytes);
    ASSERT_TRUE(list.ok());
    EXPECT_LE(list->records.size(), 3u);
  }
  auto files = t.LiveFiles(snaps.back());
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 7u);
  for (const auto& f : *files) {
    // Sequence numbers survive the merge: file i was added by commit i + 1.
    int i = std::stoi(fs::path(f.file.path).stem().string().substr(1));
    EXPECT_EQ(f.sequence_number, i + 1) << f.file.path;
    EXPECT_EQ(f.snapshot_id, snaps[static_cast<size_t>(i)].snapshot_id) << f.file.path;
    EXPECT_EQ(f.file.record_count, i + 1);
  }
  // Old snapshots still read the same.
  EXPECT_EQ(t.LiveFiles(snaps[2])->size(), 3u);
  // Only the current metadata file and the two before it remain.
  EXPECT_EQ(t.version(), 8);
  for (int v = 1; v <= 8; ++v) {
    EXPECT_EQ(fs::exists(root_ / "events/metadata" / ("v" + std::to_string(v) + ".metadata.json")),
              v >= 6)
        << v;
  }
  auto r = IcebergTable::Open(root_.string(), "events", clock_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->LiveFiles(*(*r)->CurrentSnapshot())->size(), 7u);
}

TEST_F(IcebergTableTest, LiveFilesForHoursPrunesByPartition) {
  auto t = CreateTable();
  int32_t h = HourOfMicros(kT0Micros);
  for (int i = 0; i < 6; ++i) {
    AppendFiles a;
    a.added = {MakeFile(*t, h + i, "f" + std::to_string(i) + ".parquet", 1)};
    if (i == 5) {
      a.added.push_back(MakeFile(*t, h, "nohour.parquet", 1));
      a.added.back().partition_hour.reset();
    }
    ASSERT_TRUE(t->Commit(a).ok());
  }
  auto names = [&](int32_t from, int32_t to) {
    auto files = t->LiveFilesForHours(*t->CurrentSnapshot(), from, to);
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    std::set<std::string> out;
    for (const auto& f : *files) out.insert(fs::path(f.file.path).filename().string());
    return out;
  };
  EXPECT_EQ(names(h + 1, h + 2),
            (std::set<std::string>{"f1.parquet", "f2.parquet", "nohour.parquet"}));
  EXPECT_EQ(names(h + 100, h + 200), (std::set<std::string>{"nohour.parquet"}));
  EXPECT_EQ(names(h, h + 5).size(), 7u);
}

TEST_F(IcebergTableTest, UnpartitionedTable) {
  IcebergTableSpec spec = Spec();
  spec.hour_partition_source.clear();
  auto t = IcebergTable::Create(root_.string(), "flat", spec, clock_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->DataPath(5, "x.parquet"), "data/x.parquet");
  AppendFiles bad;
  bad.added = {MakeFile(**t, 5, "x.parquet", 2)};
  EXPECT_EQ((*t)->Commit(bad).status().code(), StatusCode::kInvalidArgument);
  AppendFiles a;
  a.added = {MakeFile(**t, 5, "x.parquet", 2), MakeFile(**t, 5, "y.parquet", 3)};
  for (auto& f : a.added) f.partition_hour.reset();
  auto s1 = (*t)->Commit(a);
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  AppendFiles again;
  again.added = {a.added[1]};
  EXPECT_EQ((*t)->Commit(again).status().code(), StatusCode::kInvalidArgument);
  auto r = IcebergTable::Open(root_.string(), "flat", clock_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->hour_partition_source(), "");
  auto files = (*r)->LiveFiles(*(*r)->CurrentSnapshot());
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 2u);
  EXPECT_FALSE((*files)[0].file.partition_hour.has_value());
  EXPECT_EQ((*files)[1].file.record_count, 3);
}

TEST_F(IcebergTableTest, PlantedPathsOutsideTheTableAreRefused) {
  auto t = CreateTable();
  AppendFiles a;
  a.added = {MakeFile(*t, HourOfMicros(kT0Micros), "a.parquet", 1)};
  auto s1 = t->Commit(a);
  ASSERT_TRUE(s1.ok());
  AppendFiles bad;
  bad.added = {a.added[0]};
  bad.added[0].path = "data/../../escape.parquet";
  EXPECT_EQ(t->Commit(bad).status().code(), StatusCode::kInvalidArgument);
  // A metadata file whose manifest list points outside the table directory.
  fs::path meta = root_ / "events/metadata/v2.metadata.json";
  std::ifstream in(meta);
  nlohmann::json j = nlohmann::json::parse(in);
  in.close();
  for (const char* uri : {"file:///etc/hostname", "file:///dev/zero"}) {
    j["snapshots"][0]["manifest-list"] = uri;
    std::ofstream(meta, std::ios::trunc) << j.dump();
    auto r = IcebergTable::Open(root_.string(), "events", clock_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ((*r)->LiveFiles(*(*r)->CurrentSnapshot()).status().code(), StatusCode::kCorruption);
  }
  j["snapshots"][0]["manifest-list"] = j["location"].get<std::string>() + "/../x.avro";
  std::ofstream(meta, std::ios::trunc) << j.dump();
  auto r = IcebergTable::Open(root_.string(), "events", clock_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->LiveFiles(*(*r)->CurrentSnapshot()).status().code(), StatusCode::kCorruption);
}

TEST_F(IcebergTableTest, ConcurrentWritersLoseNoCommit) {
  CreateTable();
  constexpr int kWriters = 4, kCommitsEach = 8;
  int32_t h = HourOfMicros(kT0Micros);
  std::atomic<int> conflicts{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int c = 0; c < kCommitsEach; ++c) {
        for (;;) {
          auto t = IcebergTable::Open(root_.string(), "events", clock_);
          ASSERT_TRUE(t.ok()) << t.status().ToString();
          AppendFiles a;
          a.added = {MakeFile(**t, h + w,
                              "w" + std::to_string(w) + "c" + std::to_string(c) + ".parquet", 1)};
          auto s = (*t)->Commit(a);
          if (s.ok()) break;
          ASSERT_EQ(s.status().code(), StatusCode::kFailedPrecondition) << s.status().ToString();
          ++conflicts;
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  auto t = IcebergTable::Open(root_.string(), "events", clock_);
  ASSERT_TRUE(t.ok());
  const auto& snaps = (*t)->snapshots();
  ASSERT_EQ(snaps.size(), static_cast<size_t>(kWriters * kCommitsEach));
  for (size_t i = 0; i < snaps.size(); ++i) {
    EXPECT_EQ(snaps[i].sequence_number, static_cast<int64_t>(i) + 1);
    if (i > 0) {
      EXPECT_EQ(snaps[i].parent_snapshot_id, snaps[i - 1].snapshot_id);
    }
  }
  EXPECT_EQ(snaps.back().summary.at("total-records"), std::to_string(kWriters * kCommitsEach));
  EXPECT_EQ((*t)->LiveFiles(snaps.back())->size(), static_cast<size_t>(kWriters * kCommitsEach));
  EXPECT_EQ((*t)->version(), kWriters * kCommitsEach + 1);
}

TEST_F(IcebergTableTest, DamagedMetadataIsAnError) {
  auto t = CreateTable();
  std::ofstream(root_ / "events/metadata/version-hint.text", std::ios::trunc) << "x";
  EXPECT_EQ(IcebergTable::Open(root_.string(), "events", clock_).status().code(),
            StatusCode::kCorruption);
  std::ofstream(root_ / "events/metadata/version-hint.text", std::ios::trunc) << "1";
  std::ofstream(root_ / "events/metadata/v1.metadata.json", std::ios::trunc) << "{\"a\":1}";
  EXPECT_EQ(IcebergTable::Open(root_.string(), "events", clock_).status().code(),
            StatusCode::kCorruption);
}

}  // namespace
}  // namespace sluice::lake
