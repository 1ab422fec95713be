// A Parquet writer for flat tables of the lake's column types (see docs/lake.md).
//
// Usage: open with the column specs, append a batch of rows into the column buffers (every
// column gets exactly one value or null per row), call CommitRows(), repeat, then Close().
//
// What a caller may rely on:
// - The file is a standard Parquet file (format version 1 footer, data page v1 or v2); DuckDB and
//   hyparquet read it (tests/e2e/lake_parquet.test.js): one leaf column per ColumnSpec, OPTIONAL
//   columns with definition levels (max level 1), logical types as in columns.h.
// - Each column chunk is dictionary-encoded (PLAIN dictionary page + RLE_DICTIONARY data
//   pages) while the dictionary pays off and stays under `dictionary_page_bytes`; it falls
//   back to PLAIN pages otherwise. Booleans are always PLAIN.
// - Column statistics (min_value, max_value, null_count) are in every data page header and in
//   each chunk's ColumnMetaData, with the column order TYPE_DEFINED_ORDER: signed for integers,
//   timestamps and decimals, numeric for doubles (NaN never becomes a bound; a zero min is
//   written -0.0 and a zero max +0.0), unsigned bytewise for strings. String bounds longer
//   than `max_statistics_bytes` are truncated (min to a prefix, max to a prefix incremented
//   so it stays an upper bound) and marked inexact.
// - Row groups close once the bytes written for them (compressed pages) plus the bytes
//   buffered reach `row_group_bytes`; a row group's encoded pages are held in memory until
//   it closes.
// - OpenFile writes to "<path>.tmp-<pid>-<n>" and Close() fsyncs it, renames it over `path`
//   and fsyncs the directory: a reader sees either no file or the whole file. A writer
//   destroyed without Close() removes its temporary file.
// - Not thread-safe; one writer per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "lake/columns.h"
#include "lake/encoding.h"

namespace sluice::lake {

struct WriterOptions {
  Compression compression = Compression::kZstd;
  // Level 1: on fulfilment events as small as level 3 (slightly smaller, even) and ~25% faster.
  int zstd_level = 1;
  // Huffman-compress ZSTD literals (ZSTD's default). Off: ~35% faster ZSTD on JSON events for
  // files ~25% larger (docs/PERFORMANCE.md).
  bool zstd_literals = true;
  // Target size of one row group's column chunks in the file (compressed bytes).
  int64_t row_group_bytes = 128ll << 20;
  // A data page is cut once a column has buffered this many bytes (PLAIN-encoded size).
  int64_t page_bytes = 1 << 20;
  // Dictionary encoding falls back to PLAIN once a chunk's dictionary exceeds this.
  int64_t dictionary_page_bytes = 1 << 20;
  bool dictionary = true;
  // 1: DATA_PAGE (levels and values compressed together; what every reader supports).
  // 2: DATA_PAGE_V2 (levels uncompressed ahead of the compressed values).
  int data_page_version = 1;
  size_t max_statistics_bytes = 64;
  // Compute the SHA-256 of the file's bytes as they are written (sha256_hex() after Close()),
  // so that a caller recording it need not read the file again.
  bool sha256 = false;
  // Footer key/value metadata, in order.
  std::vector<std::pair<std::string, std::string>> key_value_metadata;
  std::string created_by = "sluice version 0.1.0";
};

class ParquetWriter {
 public:
  // Validates the specs (non-empty unique names, decimal precision 1..18 and scale
  // 0..precision) and opens the temporary file.
  static Result<std::unique_ptr<ParquetWriter>> OpenFile(std::string path,
                                                         std::vector<ColumnSpec> columns,
                                                         WriterOptions options = {});
  // Writes into memory; after Close() the file's bytes are in buffer().
  static Result<std::unique_ptr<ParquetWriter>> OpenBuffer(std::vector<ColumnSpec> columns,
                                                           WriterOptions options = {});
  ~ParquetWriter();
  ParquetWriter(const ParquetWriter&) = delete;
  ParquetWriter& operator=(const ParquetWriter&) = delete;

  size_t num_columns() const;
  const ColumnSpec& spec(size_t column) const;
  // The buffer that receives the rows of the current batch for `column`.
  ColumnBuffer& column(size_t column);

  // Ends a batch: every column must hold the same number of rows, and REQUIRED columns no
  // null (InvalidArgument otherwise, and the batch is discarded). Cuts pages and row groups
  // as the options say.
  Status CommitRows();
  // Closes the current row group now (a caller that wants row groups aligned to something).
  Status FlushRowGroup();
  // Flushes, writes the footer and (for a file) makes it durable under its final name.
  Status Close();

  // After Close() of a file: starts a new file at `path` with the same columns and options,
  // keeping the grown buffers (a caller writing many files allocates and page-faults less).
  Status Reopen(std::string path);

  // Rows committed so far, and bytes written so far (the file size once closed).
  int64_t rows_written() const;
  int64_t bytes_written() const;
  int64_t row_groups_written() const;
  // The file's bytes (OpenBuffer only, after Close()).
  const std::string& buffer() const;
  // After Close() with options.sha256: 64 lowercase hex digits; "" otherwise.
  const std::string& sha256_hex() const;

  // Per column, after Close(): what the file holds, for table metadata (Iceberg's per-file
  // column metrics). Bounds are exact (not truncated) and absent when every value is null;
  // doubles never have NaN as a bound.
  struct ColumnSummary {
    int64_t values = 0;  // rows, nulls included
    int64_t nulls = 0;
    int64_t compressed_bytes = 0;  // the column's chunks in the file, page headers included
    bool has_bounds = false;
    int64_t min_int = 0, max_int = 0;  // int64, timestamp, decimal (unscaled), boolean (0/1)
    double min_double = 0, max_double = 0;
    std::string min_string, max_string;
  };
  std::vector<ColumnSummary> column_summaries() const;

  struct Impl;

 private:
  explicit ParquetWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::lake
