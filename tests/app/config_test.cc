#include "app/config.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace sluice::app {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()));
  std::ofstream(path) << text;
  return path.string();
}

TEST(Config, DefaultsWorkWithoutAFile) {
  Config c;
  EXPECT_EQ(c.data_dir, "./sluice-data");
  EXPECT_EQ(c.http_port, 8080);
  EXPECT_EQ(c.log_retention_micros, 7ll * 24 * 3600 * 1000 * 1000);
  EXPECT_EQ(c.fulfilment_subject, "fulfilment-value");
  EXPECT_TRUE(c.fulfilment_archive);
}

TEST(Config, FileOverridesDefaults) {
  Config c;
  std::string path = WriteFile("sluice-config-ok", R"(
data_dir = "/tmp/x"
[http]
port = 9000
[log]
partitions = 8
retention = "3 days"
[pipeline]
checkpoint_interval = "250ms"
[streams.fulfilment]
subject = ""
archive = false
)");
  ASSERT_TRUE(LoadConfigFile(path, c).ok());
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.http_port, 9000);
  EXPECT_EQ(c.log_partitions, 8u);
  EXPECT_EQ(c.log_retention_micros, 3ll * 24 * 3600 * 1000 * 1000);
  EXPECT_EQ(c.checkpoint_interval_micros, 250000);
  EXPECT_EQ(c.fulfilment_subject, "");
  EXPECT_FALSE(c.fulfilment_archive);
  std::filesystem::remove(path);
}

TEST(Config, LakeSizesAndSnapshotRetention) {
  Config c;
  EXPECT_EQ(c.lake_commit_bytes, 256ll << 20);
  EXPECT_EQ(c.lake_row_group_bytes, 128ll << 20);
  EXPECT_EQ(c.lake_archive_nice, 10);
  std::string path = WriteFile("sluice-config-lake", R"(
[lake]
commit_bytes = "64 MiB"
archive_nice = 0
row_group_bytes = 33554432
zstd_level = 3
snapshot_retention = "30 minutes"
hourly_snapshot_retention = "2 days"
)");
  Status st = LoadConfigFile(path, c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.lake_commit_bytes, 64ll << 20);
  EXPECT_EQ(c.lake_row_group_bytes, 32ll << 20);
  EXPECT_EQ(c.lake_zstd_level, 3);
  EXPECT_EQ(c.lake_archive_nice, 0);
  EXPECT_EQ(c.lake_snapshot_retention_micros, 30ll * 60 * 1000 * 1000);
  EXPECT_EQ(c.lake_hourly_snapshot_retention_micros, 2ll * 24 * 3600 * 1000 * 1000);
  std::filesystem::remove(path);
}

TEST(Config, TyposAndBadValuesAreErrors) {
  struct Case {
    const char* text;
    const char* fragment;
  } cases[] = {
      {"[http]\nprot = 1\n", "unknown setting 'http.prot'"},
      {"[http]\nport = 70000\n", "'http.port' must be an integer"},
      {"[log]\nretention = \"7 fortnights\"\n", "unknown duration unit"},
      {"data_dir = 3\n", "'data_dir' must be a string"},
      {"[log\n", ":1:"},
      {"[streams.orders]\nsubject = \"x\"\n", "unknown setting 'streams.orders'"},
      {"[streams.fulfilment]\nsubjet = \"x\"\n", "unknown setting 'streams.fulfilment.subjet'"},
      {"[streams.fulfilment]\nsubject = 1\n", "must be a string"},
      {"[streams.fulfilment]\narchive = \"yes\"\n",
       "'streams.fulfilment.archive' must be true or false"},
      {"[lake]\nview_commit_interval = \"soon\"\n", "lake.view_commit_interval"},
      {"[lake]\narchive_nice = 20\n", "lake.archive_nice"},
      {"[lake]\ncommit_bytes = \"12 parsecs\"\n", "'lake.commit_bytes' must be a size"},
      {"[lake]\nrow_group_bytes = \"1 KiB\"\n", "'lake.row_group_bytes' must be between"},
      {"[lake]\nzstd_level = 30\n", "'lake.zstd_level' must be an integer"},
  };
  for (const Case& k : cases) {
    Config c;
    std::string path = WriteFile("sluice-config-bad", k.text);
    Status st = LoadConfigFile(path, c);
    EXPECT_FALSE(st.ok()) << k.text;
    EXPECT_NE(st.message().find(k.fragment), std::string::npos) << st.message();
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace sluice::app
