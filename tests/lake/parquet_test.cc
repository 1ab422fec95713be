#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "lake/hash_chain.h"
#include "lake/parquet_reader.h"
#include "lake/parquet_writer.h"

namespace sluice::lake {
namespace {

// One row of the test table; nullopt = null.
struct Row {
  std::optional<std::string> s;
  std::optional<int64_t> i;
  std::optional<double> d;
  std::optional<bool> b;
  std::optional<int64_t> ts;
  std::optional<int64_t> money;
  std::string required;
};

std::vector<ColumnSpec> TableSpecs() {
  return {
      {"s", ColumnType::kString},
      {"i", ColumnType::kInt64},
      {"d", ColumnType::kDouble},
      {"b", ColumnType::kBool},
      {"ts", ColumnType::kTimestampMicros},
      {"money", ColumnType::kDecimal, true, 12, 2},
      {"required", ColumnType::kString, false},
  };
}

std::vector<Row> MakeRows(size_t n, uint32_t seed, bool unique_strings = false) {
  std::mt19937 rng(seed);
  const std::vector<std::string> words = {
      "", "alpha", "Zürich", "東京", "emoji 🚚📦", "a\"q\\b", std::string(1, '\0') + "nul", "z"};
  std::vector<Row> rows;
  for (size_t k = 0; k < n; ++k) {
    Row r;
    if (rng() % 5 != 0)
      r.s = unique_strings ? "id-" + std::to_string(k) + "-" + std::to_string(rng())
                           : words[rng() % words.size()];
    if (rng() % 7 != 0)
      r.i = static_cast<int64_t>(rng()) - (1ll << 31) + (k % 3 ? 0 : INT64_MIN / 2);
    if (rng() % 6 != 0) r.d = (static_cast<double>(rng()) - 2e9) / 3.0;
    if (rng() % 4 != 0) r.b = rng() % 2 == 0;
    if (rng() % 9 != 0) r.ts = 1'780'000'000'000'000 + static_cast<int64_t>(rng() % 1'000'000'000);
    if (rng() % 3 != 0) r.money = static_cast<int64_t>(rng() % 2'000'000) - 1'000'000;
    r.required = "row-" + std::to_string(k % 50);
    rows.push_back(std::move(r));
  }
  return rows;
}

void AppendRows(ParquetWriter& w, const std::vector<Row>& rows, size_t begin, size_t end) {
  for (size_t k = begin; k < end; ++k) {
    const Row& r = rows[k];
    r.s ? w.column(0).AppendString(*r.s) : w.column(0).AppendNull();
    r.i ? w.column(1).AppendInt64(*r.i) : w.column(1).AppendNull();
    r.d ? w.column(2).AppendDouble(*r.d) : w.column(2).AppendNull();
    r.b ? w.column(3).AppendBool(*r.b) : w.column(3).AppendNull();
    r.ts ? w.column(4).AppendInt64(*r.ts) : w.column(4).AppendNull();
    r.money ? w.column(5).AppendInt64(*r.money) : w.column(5).AppendNull();
    w.column(6).AppendString(r.required);
  }
}

std::string WriteTable(const std::vector<Row>& rows, WriterOptions options, size_t batch = 333) {
  auto writer = ParquetWriter::OpenBuffer(TableSpecs(), std::move(options));
  EXPECT_TRUE(writer.ok()) << writer.status().ToString();
  for (size_t k = 0; k < rows.size(); k += batch) {
    AppendRows(**writer, rows, k, std::min(rows.size(), k + batch));
    Status st = (*writer)->CommitRows();
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  Status st = (*writer)->Close();
  EXPECT_TRUE(st.ok()) << st.ToString();
  return (*writer)->buffer();
}

// Reads every row group back and compares with `rows`.
void ExpectTable(const std::string& file, const std::vector<Row>& rows) {
  auto reader = ParquetReader::Open(file);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const FileInfo& info = reader->info();
  ASSERT_EQ(info.num_rows, static_cast<int64_t>(rows.size()));
  ASSERT_EQ(info.columns.size(), 7u);
  EXPECT_EQ(info.columns[4].type, ColumnType::kTimestampMicros);
  EXPECT_EQ(info.columns[5].type, ColumnType::kDecimal);
  EXPECT_EQ(info.columns[5].precision, 12);
  EXPECT_EQ(info.columns[5].scale, 2);
  EXPECT_FALSE(info.columns[6].optional);
  size_t base = 0;
  for (size_t g = 0; g < info.row_groups.size(); ++g) {
    std::vector<ColumnBuffer> cols;
    for (const ColumnSpec& spec : info.columns) {
      cols.emplace_back(spec.type);
      Status st = reader->ReadColumn(g, cols.size() - 1, cols.back());
      ASSERT_TRUE(st.ok()) << st.ToString();
      ASSERT_EQ(cols.back().size(), static_cast<size_t>(info.row_groups[g].num_rows));
    }
    for (size_t k = 0; k < cols[0].size(); ++k) {
      const Row& r = rows[base + k];
      SCOPED_TRACE("row " + std::to_string(base + k));
      ASSERT_EQ(cols[0].IsNull(k), !r.s);
      if (r.s) {
        ASSERT_EQ(cols[0].StringAt(k), *r.s);
      }
      ASSERT_EQ(cols[1].IsNull(k), !r.i);
      if (r.i) {
        ASSERT_EQ(cols[1].Int64At(k), *r.i);
      }
      ASSERT_EQ(cols[2].IsNull(k), !r.d);
      if (r.d) {
        ASSERT_EQ(cols[2].DoubleAt(k), *r.d);
      }
      ASSERT_EQ(cols[3].IsNull(k), !r.b);
      if (r.b) {
        ASSERT_EQ(cols[3].BoolAt(k), *r.b);
      }
      ASSERT_EQ(cols[4].IsNull(k), !r.ts);
      if (r.ts) {
        ASSERT_EQ(cols[4].Int64At(k), *r.ts);
      }
      ASSERT_EQ(cols[5].IsNull(k), !r.money);
      if (r.money) {
        ASSERT_EQ(cols[5].Int64At(k), *r.money);
      }
      ASSERT_EQ(cols[6].StringAt(k), r.required);
    }
    base += cols[0].size();
  }
  EXPECT_EQ(base, rows.size());
}

struct Variant {
  Compression compression;
  bool dictionary;
  int data_page_version = 1;
};

class ParquetRoundTrip : public ::testing::TestWithParam<Variant> {};

TEST_P(ParquetRoundTrip, EveryTypeWithNulls) {
  std::vector<Row> rows = MakeRows(5000, 1);
  WriterOptions options;
  options.compression = GetParam().compression;
  options.dictionary = GetParam().dictionary;
  options.data_page_version = GetParam().data_page_version;
  options.page_bytes = 8 << 10;  // several pages per chunk
  std::string file = WriteTable(rows, options);
  ExpectTable(file, rows);
  auto reader = ParquetReader::Open(file);
  ASSERT_TRUE(reader.ok());
  const ColumnChunkInfo& s = reader->info().row_groups[0].columns[0];
  EXPECT_EQ(s.codec, GetParam().compression);
  EXPECT_EQ(s.dictionary_page_offset >= 0, GetParam().dictionary);
}

TEST_P(ParquetRoundTrip, LargeAndEmptyStrings) {
  std::vector<Row> rows = MakeRows(40, 2);
  rows[3].s = std::string(300'000, 'q');
  rows[4].s = "";
  rows[5].s = std::string(70'000, '\xff');
  WriterOptions options;
  options.compression = GetParam().compression;
  options.dictionary = GetParam().dictionary;
  options.data_page_version = GetParam().data_page_version;
  ExpectTable(WriteTable(rows, options, 7), rows);
}

INSTANTIATE_TEST_SUITE_P(
    Codecs, ParquetRoundTrip,
    ::testing::Values(Variant{Compression::kZstd, true}, Variant{Compression::kZstd, false},
                      Variant{Compression::kSnappy, true}, Variant{Compression::kSnappy, false},
                      Variant{Compression::kUncompressed, true},
                      Variant{Compression::kUncompressed, false},
                      Variant{Compression::kZstd, true, 2}, Variant{Compression::kSnappy, false, 2},
                      Variant{Compression::kUncompressed, true, 2}),
    [](const auto& info) {
      return std::string(CompressionName(info.param.compression)) +
             (info.param.dictionary ? "Dictionary" : "Plain") +
             (info.param.data_page_version == 2 ? "PageV2" : "");
    });

TEST(Parquet, DictionaryFallsBackToPlainWhenItGrowsTooBig) {
  // Strings that repeat (so the dictionary pays off on the first page) but keep growing.
  std::vector<Row> rows = MakeRows(20000, 3);
  for (size_t k = 0; k < rows.size(); ++k)
    rows[k].s = "customer-" + std::to_string(k / 2) + std::string(40, 'x');
  WriterOptions options;
  options.page_bytes = 16 << 10;
  options.dictionary_page_bytes = 32 << 10;
  std::string file = WriteTable(rows, options);
  ExpectTable(file, rows);
  auto reader = ParquetReader::Open(file);
  ASSERT_TRUE(reader.ok());
  const ColumnChunkInfo& c = reader->info().row_groups[0].columns[0];
  EXPECT_GE(c.dictionary_page_offset, 0);
  EXPECT_NE(std::find(c.encodings.begin(), c.encodings.end(), 8), c.encodings.end());
  EXPECT_NE(std::find(c.encodings.begin(), c.encodings.end(), 0), c.encodings.end());
}

TEST(Parquet, UniqueValuesSkipTheDictionary) {
  std::vector<Row> rows = MakeRows(3000, 4, /*unique_strings=*/true);
  std::string file = WriteTable(rows, {});
  ExpectTable(file, rows);
  auto reader = ParquetReader::Open(file);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->info().row_groups[0].columns[0].dictionary_page_offset, -1);
  // Repeating values keep it.
  EXPECT_GE(reader->info().row_groups[0].columns[6].dictionary_page_offset, 0);
}

TEST(Parquet, RowGroupsFollowTheByteTarget) {
  std::vector<Row> rows = MakeRows(20000, 5);
  WriterOptions options;
  options.row_group_bytes = 64 << 10;
  options.page_bytes = 16 << 10;
  std::string file = WriteTable(rows, options, 500);
  ExpectTable(file, rows);
  auto reader = ParquetReader::Open(file);
  ASSERT_TRUE(reader.ok());
  EXPECT_GT(reader->info().row_groups.size(), 3u);
  int64_t total = 0;
  for (const RowGroupInfo& g : reader->info().row_groups) total += g.num_rows;
  EXPECT_EQ(total, 20000);
}

TEST(Parquet, StatisticsFollowTheSpecOrdering) {
  auto writer = ParquetWriter::OpenBuffer({{"s", ColumnType::kString},
                                           {"i", ColumnType::kInt64},
                                           {"d", ColumnType::kDouble},
                                           {"b", ColumnType::kBool},
                                           {"long", ColumnType::kString}});
  ASSERT_TRUE(writer.ok());
  ParquetWriter& w = **writer;
  const std::vector<std::string> strings = {"banana", "Apple", "été", "zebra", ""};
  const std::vector<int64_t> ints = {5, -3, 7, INT64_MIN + 1, 0};
  const std::vector<double> doubles = {NAN, 0.0, 2.5, -0.0, 1.0};
  for (size_t k = 0; k < 5; ++k) {
    w.column(0).AppendString(strings[k]);
    w.column(1).AppendInt64(ints[k]);
    w.column(2).AppendDouble(doubles[k]);
    k == 2 ? w.column(3).AppendNull() : w.column(3).AppendBool(k % 2 == 1);
    w.column(4).AppendString(std::string(100, static_cast<char>('a' + k)) + "é");
  }
  w.column(0).AppendNull();
  w.column(1).AppendNull();
  w.column(2).AppendNull();
  w.column(3).AppendNull();
  w.column(4).AppendNull();
  ASSERT_TRUE(w.CommitRows().ok());
  ASSERT_TRUE(w.Close().ok());
  auto reader = ParquetReader::Open(w.buffer());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const auto& cols = reader->info().row_groups[0].columns;
  // Strings: unsigned bytewise, so "été" (0xC3...) sorts after "zebra".
  EXPECT_EQ(cols[0].statistics.min, "");
  EXPECT_EQ(cols[0].statistics.max, "été");
  EXPECT_EQ(cols[0].statistics.null_count, 1);
  EXPECT_EQ(cols[1].statistics.MinInt64(), INT64_MIN + 1);
  EXPECT_EQ(cols[1].statistics.MaxInt64(), 7);
  // NaN is not a bound; a zero min is -0.0.
  EXPECT_EQ(cols[2].statistics.MinDouble(), 0.0);
  EXPECT_TRUE(std::signbit(*cols[2].statistics.MinDouble()));
  EXPECT_EQ(cols[2].statistics.MaxDouble(), 2.5);
  EXPECT_EQ(cols[3].statistics.null_count, 2);
  EXPECT_EQ(cols[3].statistics.min, std::string(1, '\0'));
  EXPECT_EQ(cols[3].statistics.max, std::string(1, '\1'));
  // Long strings: truncated bounds, still bounds, marked inexact.
  const ColumnStatistics& l = cols[4].statistics;
  ASSERT_TRUE(l.min && l.max);
  EXPECT_LE(l.min->size(), 64u);
  EXPECT_FALSE(l.min_exact);
  EXPECT_FALSE(l.max_exact);
  EXPECT_LE(*l.min, std::string(100, 'a') + "é");
  EXPECT_GT(*l.max, std::string(100, 'e') + "é");
}

TEST(Parquet, KeyValueMetadataAndCreatedBy) {
  WriterOptions options;
  options.key_value_metadata = {{"sluice.stream", "fulfilment"}, {"sluice.offset", "42"}};
  std::vector<Row> rows = MakeRows(10, 6);
  auto reader_file = WriteTable(rows, options);
  auto reader = ParquetReader::Open(reader_file);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->info().key_value_metadata, options.key_value_metadata);
  EXPECT_EQ(reader->info().created_by, "sluice version 0.1.0");
}

TEST(Parquet, EmptyFileHasNoRowGroups) {
  std::string file = WriteTable({}, {});
  auto reader = ParquetReader::Open(file);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(reader->info().num_rows, 0);
  EXPECT_TRUE(reader->info().row_groups.empty());
}

TEST(Parquet, BadBatchesAreRejectedAndDiscarded) {
  auto writer = ParquetWriter::OpenBuffer(TableSpecs());
  ASSERT_TRUE(writer.ok());
  ParquetWriter& w = **writer;
  std::vector<Row> rows = MakeRows(3, 7);
  AppendRows(w, rows, 0, 2);
  ASSERT_TRUE(w.CommitRows().ok());
  AppendRows(w, rows, 2, 3);
  w.column(0).AppendNull();  // one column longer than the others
  Status st = w.CommitRows();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  AppendRows(w, rows, 2, 3);
  w.column(6).PopBack();
  w.column(6).AppendNull();  // null in a required column
  st = w.CommitRows();
  EXPECT_NE(st.message().find("required column 'required'"), std::string::npos) << st.ToString();
  AppendRows(w, rows, 2, 3);
  ASSERT_TRUE(w.CommitRows().ok());
  ASSERT_TRUE(w.Close().ok());
  ExpectTable(w.buffer(), rows);
}

TEST(Parquet, UncommittedRowsBlockClose) {
  auto writer = ParquetWriter::OpenBuffer(TableSpecs());
  ASSERT_TRUE(writer.ok());
  AppendRows(**writer, MakeRows(1, 8), 0, 1);
  EXPECT_EQ((*writer)->Close().code(), StatusCode::kFailedPrecondition);
}

TEST(Parquet, InvalidSpecsAreRejected) {
  EXPECT_FALSE(ParquetWriter::OpenBuffer({}).ok());
  EXPECT_FALSE(ParquetWriter::OpenBuffer({{"a"}, {"a"}}).ok());
  EXPECT_FALSE(ParquetWriter::OpenBuffer({{""}}).ok());
  EXPECT_FALSE(ParquetWriter::OpenBuffer({{"m", ColumnType::kDecimal, true, 19, 2}}).ok());
  EXPECT_FALSE(ParquetWriter::OpenBuffer({{"m", ColumnType::kDecimal, true, 4, 5}}).ok());
}

TEST(Parquet, FileAppearsAtomicallyOnClose) {
  auto dir = std::filesystem::temp_directory_path() / ("lake-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "events.parquet").string();
  std::vector<Row> rows = MakeRows(100, 9);
  {
    auto writer = ParquetWriter::OpenFile(path, TableSpecs());
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    AppendRows(**writer, rows, 0, rows.size());
    ASSERT_TRUE((*writer)->CommitRows().ok());
    EXPECT_FALSE(std::filesystem::exists(path));
    ASSERT_TRUE((*writer)->Close().ok());
  }
  auto bytes = ReadWholeFile(path);
  ASSERT_TRUE(bytes.ok());
  ExpectTable(*bytes, rows);
  {
    auto writer = ParquetWriter::OpenFile((dir / "abandoned.parquet").string(), TableSpecs());
    ASSERT_TRUE(writer.ok());
  }
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);  // no temporary file left behind
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(ParquetWriter::OpenFile("/nonexistent-dir/x.parquet", TableSpecs()).ok());
}

TEST(Parquet, ReopenWritesTheNextFileWithTheSha256AsWritten) {
  auto dir = std::filesystem::temp_directory_path() / ("lake-reopen-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::vector<ColumnSpec> specs = TableSpecs();
  for (size_t i = 0; i < specs.size(); ++i) specs[i].field_id = static_cast<int32_t>(10 + i);
  WriterOptions options;
  options.sha256 = true;
  auto writer = ParquetWriter::OpenFile((dir / "a.parquet").string(), specs, options);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  EXPECT_EQ((*writer)->Reopen((dir / "b.parquet").string()).code(),
            StatusCode::kFailedPrecondition);  // still open
  for (int f = 0; f < 3; ++f) {
    const std::string path = (dir / fmt::format("f{}.parquet", f)).string();
    if (f > 0) {
      ASSERT_TRUE((*writer)->Reopen(path).ok());
    }
    const std::vector<Row> rows = MakeRows(200 + 100 * f, 20 + f);
    AppendRows(**writer, rows, 0, rows.size());
    ASSERT_TRUE((*writer)->CommitRows().ok());
    ASSERT_TRUE((*writer)->Close().ok());
    if (f == 0) std::filesystem::rename(dir / "a.parquet", path);
    EXPECT_EQ((*writer)->rows_written(), static_cast<int64_t>(rows.size()));
    EXPECT_EQ((*writer)->bytes_written(), static_cast<int64_t>(std::filesystem::file_size(path)));
    EXPECT_EQ((*writer)->sha256_hex(), FileSha256(path).value());
    const std::string bytes = ReadWholeFile(path).value();
    ExpectTable(bytes, rows);
    auto reader = ParquetReader::Open(bytes);
    ASSERT_TRUE(reader.ok());
    for (size_t i = 0; i < specs.size(); ++i)
      EXPECT_EQ(reader->info().columns[i].field_id, static_cast<int32_t>(10 + i));
    // The per-column summary agrees with the rows.
    const auto summaries = (*writer)->column_summaries();
    ASSERT_EQ(summaries.size(), specs.size());
    int64_t i_nulls = 0, i_min = INT64_MAX, i_max = INT64_MIN;
    for (const Row& r : rows) {
      if (!r.i) {
        ++i_nulls;
        continue;
      }
      i_min = std::min(i_min, *r.i);
      i_max = std::max(i_max, *r.i);
    }
    EXPECT_EQ(summaries[1].values, static_cast<int64_t>(rows.size()));
    EXPECT_EQ(summaries[1].nulls, i_nulls);
    EXPECT_TRUE(summaries[1].has_bounds);
    EXPECT_EQ(summaries[1].min_int, i_min);
    EXPECT_EQ(summaries[1].max_int, i_max);
    EXPECT_GT(summaries[6].compressed_bytes, 0);
    EXPECT_EQ(summaries[6].min_string, "row-0");
    EXPECT_EQ(summaries[6].max_string, "row-9");
  }
  std::filesystem::remove_all(dir);
}

// Reads everything a reader can; must only ever fail with a Status.
void ReadEverything(std::string_view bytes) {
  ReaderOptions options;
  options.max_values_per_chunk = 1 << 20;
  options.max_page_bytes = 16 << 20;
  auto reader = ParquetReader::Open(bytes, options);
  if (!reader.ok()) {
    EXPECT_FALSE(reader.status().message().empty());
    return;
  }
  for (size_t g = 0; g < reader->info().row_groups.size(); ++g) {
    for (size_t c = 0; c < reader->info().columns.size(); ++c) {
      ColumnBuffer out(reader->info().columns[c].type);
      Status st = reader->ReadColumn(g, c, out);
      if (!st.ok()) {
        EXPECT_FALSE(st.message().empty());
      }
    }
  }
}

TEST(ParquetReaderMalformed, TruncationsAndBadFootersAreErrors) {
  std::vector<Row> rows = MakeRows(200, 10);
  for (Compression c : {Compression::kZstd, Compression::kSnappy, Compression::kUncompressed}) {
    WriterOptions options;
    options.compression = c;
    std::string file = WriteTable(rows, options, 50);
    for (size_t len = 0; len < file.size(); len += 1 + len / 50) {
      std::string prefix = file.substr(0, len);
      EXPECT_FALSE(ParquetReader::Open(prefix).ok());
    }
    std::string bad = file;
    bad[bad.size() - 5] = '\x7f';  // footer length beyond the file
    EXPECT_FALSE(ParquetReader::Open(bad).ok());
    bad = file;
    bad[0] = 'X';
    EXPECT_FALSE(ParquetReader::Open(bad).ok());
  }
}

TEST(ParquetReaderMalformed, RandomCorruptionNeverCrashes) {
  std::vector<Row> rows = MakeRows(300, 11);
  std::mt19937 rng(12);
  for (int version : {1, 2}) {
    for (Compression c : {Compression::kZstd, Compression::kSnappy, Compression::kUncompressed}) {
      WriterOptions options;
      options.compression = c;
      options.data_page_version = version;
      options.page_bytes = 2 << 10;
      std::string file = WriteTable(rows, options, 100);
      for (int iter = 0; iter < 1500; ++iter) {
        std::string bad = file;
        int flips = 1 + static_cast<int>(rng() % 5);
        for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] = static_cast<char>(rng());
        ReadEverything(bad);
      }
    }
  }
}

}  // namespace
}  // namespace sluice::lake
