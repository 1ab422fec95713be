// The archive's hash chain (lake/hash_chain.h): appends survive reopening, a torn tail is
// dropped, and Verify finds changed, missing and altered entries.
#include "lake/hash_chain.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace sluice::lake {
namespace {

namespace fs = std::filesystem;

class HashChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-chain-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Chain() const { return (dir_ / "files.chain").string(); }

  // Writes a data file and records it in the chain.
  void Add(HashChain& chain, const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / "data" / name, std::ios::binary) << bytes;
    const std::string sha = FileSha256((dir_ / "data" / name).string()).value();
    ASSERT_TRUE(
        chain.AppendAdded("data/" + name, bytes.size(), sha, 1'700'000'000'000'000, 1).ok());
  }

  std::string Read() const {
    std::ifstream in(Chain(), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void Write(const std::string& text) const {
    std::ofstream(Chain(), std::ios::binary | std::ios::trunc) << text;
  }

  fs::path dir_;
};

TEST_F(HashChainTest, Sha256OfAKnownInput) {
  std::ofstream(dir_ / "abc", std::ios::binary) << "abc";
  EXPECT_EQ(FileSha256((dir_ / "abc").string()).value(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(HashChainTest, AnUntouchedTableVerifies) {
  {
    auto chain = HashChain::Open(Chain()).value();
    Add(*chain, "a.parquet", "first file");
    Add(*chain, "b.parquet", "second file");
    ASSERT_TRUE(chain->AppendRemoved("data/a.parquet", "retention", 1'700'000'100'000'000, 2).ok());
    fs::remove(dir_ / "data" / "a.parquet");  // removed through the chain: not missing
  }
  auto reopened = HashChain::Open(Chain()).value();
  EXPECT_EQ(reopened->entries(), 3u);
  Add(*reopened, "c.parquet", "third file");
  const VerifyReport report = Verify(Chain(), dir_.string()).value();
  EXPECT_TRUE(report.ok()) << report.ToJson();
  EXPECT_EQ(report.entries, 4u);
  EXPECT_EQ(report.files_checked, 2u);
}

TEST_F(HashChainTest, ChangedAndMissingFilesAreReported) {
  auto chain = HashChain::Open(Chain()).value();
  Add(*chain, "a.parquet", "first file");
  Add(*chain, "b.parquet", "second file");
  Add(*chain, "c.parquet", "third file");
  std::ofstream(dir_ / "data" / "a.parquet", std::ios::binary) << "first filE";  // same size
  fs::remove(dir_ / "data" / "b.parquet");
  const VerifyReport report = Verify(Chain(), dir_.string()).value();
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.changed, std::vector<std::string>{"data/a.parquet"});
  EXPECT_EQ(report.missing, std::vector<std::string>{"data/b.parquet"});
  EXPECT_TRUE(report.broken_links.empty());
}

TEST_F(HashChainTest, EditingOrDroppingALineBreaksTheChain) {
  {
    auto chain = HashChain::Open(Chain()).value();
    Add(*chain, "a.parquet", "first file");
    Add(*chain, "b.parquet", "second file");
    Add(*chain, "c.parquet", "third file");
  }
  const std::string original = Read();
  // Hiding a file's record: drop line 2.
  const size_t second = original.find('\n') + 1;
  const size_t third = original.find('\n', second) + 1;
  Write(original.substr(0, second) + original.substr(third));
  VerifyReport report = Verify(Chain(), dir_.string()).value();
  ASSERT_EQ(report.broken_links.size(), 1u) << report.ToJson();
  EXPECT_NE(report.broken_links[0].find("line 2"), std::string::npos);
  EXPECT_FALSE(HashChain::Open(Chain()).ok());  // the writer refuses to extend it
  // Rewriting a recorded size (the line's own hash no longer matches).
  std::string edited = original;
  const size_t size_at = edited.find("\"size\":10");
  edited.replace(size_at, 9, "\"size\":11");
  Write(edited);
  report = Verify(Chain(), dir_.string()).value();
  ASSERT_FALSE(report.broken_links.empty());
  EXPECT_NE(report.broken_links[0].find("line 1"), std::string::npos);
}

TEST_F(HashChainTest, ATornLastLineIsDroppedAtOpen) {
  {
    auto chain = HashChain::Open(Chain()).value();
    Add(*chain, "a.parquet", "first file");
  }
  Write(Read() + "{\"seq\":2,\"op\":\"add\",\"pa");  // a crash in the middle of an append
  auto chain = HashChain::Open(Chain()).value();
  EXPECT_EQ(chain->entries(), 1u);
  Add(*chain, "b.parquet", "second file");
  const VerifyReport report = Verify(Chain(), dir_.string()).value();
  EXPECT_TRUE(report.ok()) << report.ToJson();
  EXPECT_EQ(report.entries, 2u);
}

}  // namespace
}  // namespace sluice::lake
