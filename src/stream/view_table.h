// A materialized view's output in the lake (CREATE MATERIALIZED VIEW ... WITH (lake = 'on')):
// an Iceberg v2 table <lake>/<view> in which every snapshot holds the view's whole contents at
// one moment, so that `FOR SYSTEM_TIME AS OF` on the table is the view as it was then, and
// DuckDB, icebird or Spark read the view's history without Sluice.
//
// What a caller may rely on:
// - Commit() writes the rows of one version of the view (one consistent scan) as one Parquet
//   file, then commits it in an "overwrite" snapshot that removes the previous file: the
//   table's current snapshot is exactly that version's rows. The snapshot summary holds the
//   view's version ("sluice.view-version"). When the version has not moved since the last
//   commit nothing is written.
// - Columns: the view's columns, typed from the plan (BIGINT → long, DOUBLE → double,
//   BOOLEAN → boolean, TIMESTAMP → timestamptz, VARCHAR → string; untyped ones from their
//   first value, see ViewTableColumn), then `_raw`, the row as the view holds it (JSON), so
//   nothing the types cannot hold is lost (a value of another type is null in its column).
//   The table is created at the first commit that can type every column (an empty view with
//   untyped columns waits).
// - Crash safety as in the archive: the data file is written to a temporary name, fsynced and
//   renamed before the commit; a crash leaves the previous snapshot current, and Open()
//   deletes data files newer than it (written for a commit that never happened).
// - Housekeep() expires snapshots older than `retention` (the current one always stays) and
//   deletes the files no kept snapshot references.
// - Not thread-safe: one caller at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "lake/event_columns.h"
#include "lake/parquet_writer.h"
#include "store/view.h"

namespace sluice::stream {

struct ViewTableColumn {
  std::string name;
  // nullopt: the plan does not know (a field of a schemaless stream): the column takes the
  // type of its first non-null value when the table is created (an integer: long, another
  // number: double, true/false: boolean, an RFC 3339 string: timestamptz, else string).
  std::optional<lake::ColumnType> type;
};

struct ViewTableOptions {
  std::string root;  // the lake directory
  std::string name;  // the table: the view's name
  std::vector<ViewTableColumn> columns;
  int64_t retention_micros = int64_t{7} * 24 * 3600 * 1'000'000;
  lake::WriterOptions writer;
};

class ViewTable {
 public:
  // Opens the table (creating it). An existing table whose columns differ (a view dropped and
  // created again with other columns) is FailedPrecondition.
  static Result<std::unique_ptr<ViewTable>> Open(ViewTableOptions options, Clock& clock);
  ~ViewTable();

  // Writes and commits the view's rows when its version moved; returns whether it committed.
  Result<bool> Commit(const store::View& view);
  // Expires the snapshots older than the retention; returns the number of files deleted.
  Result<int> Housekeep();

  uint64_t committed_version() const;
  std::string dir() const;  // <root>/<name>

  struct Impl;

 private:
  explicit ViewTable(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::stream
