// A view's output table in the lake (stream/view_table.h): each commit is the view's whole
// contents at one version, earlier snapshots keep theirs (time travel), nothing is written
// when the view did not change, a crash leaves no half commit, and retention expires old
// snapshots.
#include "stream/view_table.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/time.h"
#include "lake/iceberg_table.h"
#include "lake/parquet_reader.h"
#include "support/unreadable_rows.h"

namespace sluice::stream {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDay = int64_t{24} * 3600 * 1'000'000;

class ViewTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-view-table-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    view_ = std::make_shared<store::View>(
        store::ViewDefinition{"per_warehouse",
                              {"warehouse", "orders", "last_at"},
                              {"warehouse"},
                              "CREATE MATERIALIZED VIEW per_warehouse ..."});
  }
  void TearDown() override { fs::remove_all(dir_); }

  ViewTableOptions Options(
      std::optional<lake::ColumnType> orders_type = lake::ColumnType::kInt64) const {
    ViewTableOptions o;
    o.root = (dir_ / "lake").string();
    o.name = "per_warehouse";
    o.columns = {{"warehouse", lake::ColumnType::kString},
                 {"orders", orders_type},
                 {"last_at", lake::ColumnType::kTimestampMicros}};
    return o;
  }

  // The rows of `snapshot` as "warehouse=orders" strings, in file order.
  std::vector<std::string> Rows(const lake::Snapshot& snapshot) {
    auto table = lake::IcebergTable::Open((dir_ / "lake").string(), "per_warehouse").value();
    std::vector<std::string> rows;
    for (const lake::DataFileEntry& f : table->LiveFiles(snapshot).value()) {
      const std::string bytes =
          lake::ReadWholeFile((fs::path(table->dir()) / f.file.path).string()).value();
      auto reader = lake::ParquetReader::Open(bytes).value();
      lake::ColumnBuffer names(lake::ColumnType::kString), orders(lake::ColumnType::kInt64);
      for (size_t g = 0; g < reader.info().row_groups.size(); ++g) {
        EXPECT_TRUE(reader.ReadColumn(g, 0, names).ok());
        EXPECT_TRUE(reader.ReadColumn(g, 1, orders).ok());
        for (size_t r = 0; r < names.size(); ++r)
          rows.push_back(std::string(names.StringAt(r)) + "=" + std::to_string(orders.Int64At(r)));
      }
    }
    return rows;
  }

  std::vector<lake::Snapshot> Snapshots() {
    return lake::IcebergTable::Open((dir_ / "lake").string(), "per_warehouse").value()->snapshots();
  }

  fs::path dir_;
  ManualClock clock_{ParseRfc3339("2026-11-27T08:00:00Z").value()};
  std::shared_ptr<store::View> view_;
};

TEST_F(ViewTableTest, EverySnapshotIsTheWholeViewAtOneVersion) {
  auto table = ViewTable::Open(Options(), clock_);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  view_->Reset({{"WH-1", R"({"warehouse":"WH-1","orders":3,"last_at":"2026-11-27T07:59:00Z"})"},
                {"WH-2", R"({"warehouse":"WH-2","orders":5,"last_at":"2026-11-27T07:58:00Z"})"}},
               7);
  EXPECT_TRUE((*table)->Commit(*view_).value());
  EXPECT_FALSE((*table)->Commit(*view_).value());  // unchanged: nothing written
  clock_.Advance(60'000'000);
  view_->Apply({{"WH-1", R"({"warehouse":"WH-1","orders":4,"last_at":"2026-11-27T08:00:30Z"})"},
                {"WH-2", ""},
                {"WH-ü", R"({"warehouse":"WH-ü","orders":1,"last_at":"2026-11-27T08:00:31Z"})"}},
               10);
  EXPECT_TRUE((*table)->Commit(*view_).value());
  EXPECT_EQ((*table)->committed_version(), 8u);

  const std::vector<lake::Snapshot> snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 2u);
  EXPECT_EQ(snapshots[0].summary.at("sluice.view-version"), "7");
  EXPECT_EQ(snapshots[1].summary.at("sluice.view-version"), "8");
  EXPECT_EQ(snapshots[1].summary.at("operation"), "overwrite");
  EXPECT_EQ(Rows(snapshots[0]), (std::vector<std::string>{"WH-1=3", "WH-2=5"}));
  EXPECT_EQ(Rows(snapshots[1]), (std::vector<std::string>{"WH-1=4", "WH-ü=1"}));

  // Reopened (a restart): it knows the version it committed.
  table->reset();
  table = ViewTable::Open(Options(), clock_);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ((*table)->committed_version(), 8u);
  EXPECT_FALSE((*table)->Commit(*view_).value());
}

// A snapshot is the whole view or nothing: rows that cannot be read fail the commit, leave no
// snapshot and no data file, and a later commit of a readable view works.
TEST_F(ViewTableTest, RowsThatCannotBeReadCommitNothing) {
  auto table = ViewTable::Open(Options(), clock_);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  auto unreadable = std::make_shared<store::View>(
      store::ViewDefinition{"per_warehouse", {"warehouse", "orders", "last_at"}, {"warehouse"}, ""},
      /*restoring=*/true);
  unreadable->UseStore(std::make_shared<test_support::UnreadableRows>(), 2);
  unreadable->Reset(
      {{"WH-1", R"({"warehouse":"WH-1","orders":3,"last_at":"2026-11-27T07:59:00Z"})"}}, 4);
  Result<bool> failed = (*table)->Commit(*unreadable);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("the disk is gone"), std::string::npos);
  EXPECT_TRUE(Snapshots().empty());
  size_t data_files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "lake"))
    if (entry.path().extension() == ".parquet") ++data_files;
  EXPECT_EQ(data_files, 0u);

  view_->Reset({{"WH-1", R"({"warehouse":"WH-1","orders":3,"last_at":"2026-11-27T07:59:00Z"})"}},
               4);
  EXPECT_TRUE((*table)->Commit(*view_).value());
  ASSERT_EQ(Snapshots().size(), 1u);
  EXPECT_EQ(Rows(Snapshots()[0]), (std::vector<std::string>{"WH-1=3"}));
}

TEST_F(ViewTableTest, AFileWrittenForACommitThatNeverHappenedIsRemoved) {
  auto table = ViewTable::Open(Options(), clock_);
  view_->Reset({{"WH-1", R"({"warehouse":"WH-1","orders":3})"}}, 1);
  ASSERT_TRUE((*table)->Commit(*view_).value());
  const fs::path data = fs::path((*table)->dir()) / "data";
  std::ofstream(data / "2-v2.parquet") << "half";
  std::ofstream(data / "2-v2.parquet.tmp-1-1") << "half";
  table->reset();
  table = ViewTable::Open(Options(), clock_);
  ASSERT_TRUE(table.ok());
  EXPECT_FALSE(fs::exists(data / "2-v2.parquet"));
  EXPECT_FALSE(fs::exists(data / "2-v2.parquet.tmp-1-1"));
  EXPECT_TRUE(fs::exists(data / "1-v1.parquet"));
}

TEST_F(ViewTableTest, ATableWithOtherColumnsIsRefused) {
  auto table = ViewTable::Open(Options(), clock_);
  view_->Reset({{"WH-1", R"({"warehouse":"WH-1","orders":3})"}}, 1);
  ASSERT_TRUE((*table)->Commit(*view_).value());
  auto other = ViewTable::Open(Options(lake::ColumnType::kDouble), clock_);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("exists with other columns"), std::string::npos);
}

TEST_F(ViewTableTest, AnUntypedColumnTakesTheTypeOfItsFirstValue) {
  auto table = ViewTable::Open(Options(/*orders_type=*/std::nullopt), clock_);
  ASSERT_TRUE(table.ok());
  // An empty view (or only nulls) cannot type the column yet: no table, no commit.
  EXPECT_FALSE((*table)->Commit(*view_).value());
  view_->Reset({{"WH-1", R"({"warehouse":"WH-1","orders":null})"}}, 1);
  EXPECT_FALSE((*table)->Commit(*view_).value());
  EXPECT_FALSE(fs::exists(dir_ / "lake" / "per_warehouse"));
  view_->Reset({{"WH-1", R"({"warehouse":"WH-1","orders":null})"},
                {"WH-2", R"({"warehouse":"WH-2","orders":12})"}},
               2);
  EXPECT_TRUE((*table)->Commit(*view_).value());
  auto iceberg = lake::IcebergTable::Open((dir_ / "lake").string(), "per_warehouse").value();
  EXPECT_EQ(iceberg->schema().fields[1].type.ToString(), "long");
  EXPECT_EQ(iceberg->schema().fields[2].type.ToString(), "timestamptz");
  EXPECT_EQ(iceberg->schema().fields[3].name, "_raw");
  // Reopened, an untyped column accepts the type the table has.
  table->reset();
  table = ViewTable::Open(Options(std::nullopt), clock_);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ((*table)->committed_version(), 2u);
}

TEST_F(ViewTableTest, RetentionExpiresOldSnapshotsAndTheirFiles) {
  auto table = ViewTable::Open(Options(), clock_);
  for (int i = 1; i <= 3; ++i) {
    view_->Reset({{"WH-1", fmt::format(R"({{"warehouse":"WH-1","orders":{}}})", i)}},
                 static_cast<uint64_t>(i));
    ASSERT_TRUE((*table)->Commit(*view_).value());
    clock_.Advance(4 * kDay);
  }
  // Now 12 days after the first commit: the first two snapshots (12 and 8 days old) go.
  EXPECT_EQ((*table)->Housekeep().value(), 2 * 3);  // 2 data files, manifests, manifest lists
  const std::vector<lake::Snapshot> snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(Rows(snapshots[0]), (std::vector<std::string>{"WH-1=3"}));
}

}  // namespace
}  // namespace sluice::stream
