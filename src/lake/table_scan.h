// Reading an Iceberg table's snapshot column by column, for queries over the lake
// (docs/lake.md, "Reading a snapshot"): only the requested columns are decoded, one data file
// and one row group at a time, and files and row groups that cannot hold a row satisfying the
// caller's ranges are skipped.
//
//   TableScanOptions options;
//   options.columns = {"warehouse_id", "amount_minor"};
//   options.ranges = {{"occurred_at", ScanBound{t0, true}, ScanBound{t1, false}}};
//   SLUICE_ASSIGN_OR_RETURN(auto scan, TableScan::Open(table, snapshot, options));
//   while (true) {
//     SLUICE_ASSIGN_OR_RETURN(bool more, scan->Next());
//     if (!more) break;
//     for (size_t r = 0; r < scan->rows(); ++r) use(scan->column(0), scan->column(1), r);
//   }
//   scan->stats();   // what was read and what was pruned
//
// What a caller may rely on:
// - Every row of the snapshot's live files that satisfies all ranges is returned, in manifest
//   order (or partition order, see TableScanOptions) and, within a file, in row order. Rows that do
//   not satisfy them may be returned too: pruning is an optimisation, the caller filters.
// - A row satisfies a range when its value is not null and lies within the bounds, comparing
//   as SQL does: int64, timestamp (micros) and boolean (0/1) columns exactly against int64
//   bounds and as doubles against double bounds; double columns as doubles; decimal columns
//   through DecimalToDouble(unscaled, scale) as doubles; string columns bytewise (unsigned).
//   Parquet statistics exclude NaN, so double columns are assumed to hold none (the archive's
//   files cannot: they come from JSON numbers).
// - Pruning, in order: by hour, when a range is on the table's hour partition source
//   (IcebergTable::LiveFilesForHours); by a file's lower/upper bounds and null counts in its
//   manifest entry, when it has them; by each row group's Parquet statistics. stats() counts
//   each.
// - Memory: one data file is open at a time (memory-mapped, so only the column chunks decoded
//   are read from disk) and one row group of the requested columns is decoded at a time.
//   With no columns and no ranges (count(*)), files are not opened at all: a batch is a file's
//   record count.
// - Columns are those of the snapshot's schema (the schema the snapshot was written with); a
//   column a file lacks (added later) reads as nulls. Files' columns are matched by name.
// - Errors: InvalidArgument for an unknown column or an unsupported column type, IOError for a
//   file that cannot be read (e.g. removed by snapshot expiry meanwhile), Corruption for a
//   damaged file; each names the file.
// - The table object must outlive the scan; the scan is single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"
#include "lake/columns.h"
#include "lake/iceberg_table.h"
#include "lake/parquet_reader.h"

namespace sluice::lake {

// A bound's value: int64 (long, timestamp micros, boolean 0/1), double, or bytes (strings).
using ScanScalar = std::variant<int64_t, double, std::string>;

struct ScanBound {
  ScanScalar value;
  bool inclusive = true;
};

// Rows whose value in `column` lies outside [lower, upper] (or is null) may be skipped.
struct ScanRange {
  std::string column;
  std::optional<ScanBound> lower;
  std::optional<ScanBound> upper;
};

struct TableScanOptions {
  std::vector<std::string> columns;  // decoded, in this order; may be empty
  std::vector<ScanRange> ranges;     // a conjunction
  ReaderOptions reader;
  // Files in partition order (null partition first, then by hour, then by path) instead of
  // manifest order: roughly event-time order for the archive (a replay, a backfill).
  bool partition_order = false;
};

struct TableScanStats {
  int64_t files = 0;                      // live data files of the snapshot
  int64_t files_pruned_by_partition = 0;  // left out by hour
  int64_t files_pruned_by_bounds = 0;     // left out by their manifest bounds
  int64_t file_records = 0;               // records of the files left after hour pruning
  int64_t files_read = 0;                 // opened (footer read)
  int64_t row_groups = 0;                 // row groups of the files opened
  int64_t row_groups_pruned = 0;          // skipped by their statistics
  int64_t rows = 0;                       // rows returned
  int64_t bytes_decoded = 0;              // compressed bytes of the column chunks decoded
};

// The unscaled value of a decimal as a double, the way readers of the lake see it. Monotonic,
// so bounds of unscaled values stay bounds.
double DecimalToDouble(int64_t unscaled, int scale);

// The lake column type for an Iceberg type; InvalidArgument for those the reader cannot read
// (int: Parquet INT32; decimals of more than 18 digits).
Result<ColumnSpec> ColumnSpecFor(const IcebergField& field);
// The other way, for writers: the Iceberg type of a lake column (ColumnSpecFor's inverse).
IcebergType IcebergTypeFor(const ColumnSpec& column);

class TableScan {
 public:
  ~TableScan();
  TableScan(const TableScan&) = delete;
  TableScan& operator=(const TableScan&) = delete;

  static Result<std::unique_ptr<TableScan>> Open(const IcebergTable& table,
                                                 const Snapshot& snapshot,
                                                 TableScanOptions options);

  // The requested columns' types (and decimal scales), in options.columns order.
  const std::vector<ColumnSpec>& specs() const { return specs_; }

  // Moves to the next batch (a row group that may hold matching rows); false at the end.
  Result<bool> Next();
  size_t rows() const { return rows_; }
  // The data file of the current batch (nullptr before the first and after the last).
  const DataFile* current_file() const {
    return rows_ > 0 && next_file_ > 0 ? &files_[next_file_ - 1].file : nullptr;
  }
  const ColumnBuffer& column(size_t i) const { return buffers_[i]; }

  const TableScanStats& stats() const { return stats_; }

  struct MappedFile;

 private:
  TableScan() = default;
  Status OpenFile(const DataFileEntry& entry);
  bool FileMayMatch(const DataFile& file) const;
  bool RowGroupMayMatch(const RowGroupInfo& group) const;
  Status ReadRowGroup(size_t group);

  struct Range {
    int field_id = 0;
    IcebergField field;
    ColumnSpec spec;
    std::optional<ScanBound> lower, upper;
  };

  const IcebergTable* table_ = nullptr;
  std::vector<ColumnSpec> specs_;
  std::vector<ColumnBuffer> buffers_;
  std::vector<Range> ranges_;
  ReaderOptions reader_options_;
  std::vector<DataFileEntry> files_;
  size_t next_file_ = 0;
  // The open file, its reader, the file column of each requested column (-1: absent), and the
  // next row group.
  std::unique_ptr<MappedFile> mapped_;
  std::optional<ParquetReader> reader_;
  std::vector<int> file_columns_;
  std::vector<int> range_file_columns_;
  size_t next_group_ = 0;
  bool open_files_ = true;  // false: no columns and no ranges, record counts suffice
  size_t rows_ = 0;
  TableScanStats stats_;
};

}  // namespace sluice::lake
