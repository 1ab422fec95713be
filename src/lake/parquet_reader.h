// A Parquet reader for flat files of the lake's column types: the files ParquetWriter writes
// and, more generally, files whose columns are top-level BOOLEAN, INT64 (plain, TIMESTAMP
// micros, DECIMAL), DOUBLE or BYTE_ARRAY leaves, REQUIRED or OPTIONAL, in data page v1 with
// PLAIN or dictionary encoding, UNCOMPRESSED, SNAPPY or ZSTD.
//
// The bytes are untrusted: every offset, length and count is checked against the file and
// against ReaderOptions' limits before anything is allocated or read, and any inconsistency
// is a Corruption (or, for valid Parquet outside the supported subset, InvalidArgument)
// Status naming what is wrong. The reader never reads outside the bytes it was given.
//
// Open() decodes the footer (schema, row groups, per-chunk statistics for min/max pruning);
// ReadColumn() decodes one column chunk. The reader borrows the bytes: they must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "lake/columns.h"
#include "lake/encoding.h"

namespace sluice::lake {

struct ReaderOptions {
  // A footer larger than this is rejected.
  size_t max_footer_bytes = 64u << 20;
  // A page whose uncompressed size is larger than this is rejected.
  size_t max_page_bytes = 256u << 20;
  // A column chunk with more values than this is rejected (bounds memory: nulls cost a few
  // bytes each and compress to nothing).
  int64_t max_values_per_chunk = 64ll << 20;
};

// Statistics as stored: min/max are PLAIN-encoded bytes of the column's physical type
// (8 bytes little-endian for INT64 and DOUBLE, 1 byte for BOOLEAN, the bytes for strings).
struct ColumnStatistics {
  std::optional<int64_t> null_count;
  std::optional<std::string> min, max;
  bool min_exact = true, max_exact = true;
  // min/max came from the deprecated fields (dropped for strings: their order was signed).
  bool from_deprecated_fields = false;

  // Decoded bounds for INT64-based columns and doubles (nullopt when absent or malformed).
  std::optional<int64_t> MinInt64() const;
  std::optional<int64_t> MaxInt64() const;
  std::optional<double> MinDouble() const;
  std::optional<double> MaxDouble() const;
};

struct ColumnChunkInfo {
  Compression codec = Compression::kUncompressed;
  int64_t num_values = 0;
  int64_t data_page_offset = 0;
  int64_t dictionary_page_offset = -1;  // -1: none
  int64_t total_compressed_size = 0;
  int64_t total_uncompressed_size = 0;
  std::vector<int32_t> encodings;  // parquet.thrift Encoding values
  ColumnStatistics statistics;
};

struct RowGroupInfo {
  int64_t num_rows = 0;
  int64_t total_byte_size = 0;
  std::vector<ColumnChunkInfo> columns;  // one per schema column, in order
};

struct FileInfo {
  int32_t version = 0;
  int64_t num_rows = 0;
  std::vector<ColumnSpec> columns;
  std::vector<RowGroupInfo> row_groups;
  std::vector<std::pair<std::string, std::string>> key_value_metadata;
  std::string created_by;
};

class ParquetReader {
 public:
  static Result<ParquetReader> Open(std::string_view file, ReaderOptions options = {});

  const FileInfo& info() const { return info_; }
  // Decodes the chunk of `column` in `row_group` into `out` (cleared first; its type must be
  // the column's type). `out` then holds exactly the row group's num_rows rows.
  Status ReadColumn(size_t row_group, size_t column, ColumnBuffer& out) const;

 private:
  ParquetReader(std::string_view file, ReaderOptions options) : file_(file), options_(options) {}
  std::string_view file_;
  ReaderOptions options_;
  int64_t footer_start_ = 0;
  FileInfo info_;
};

// Reads a whole file into memory (for ParquetReader::Open).
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace sluice::lake
