// Raw JSON events → typed Parquet columns plus the raw event, for the archive's hot path.
//
// An EventColumns maps each configured column to a JSON path in the event (a top-level field
// name, or a dotted path into nested objects: "customer.address.city") and appends events to
// a ParquetWriter whose columns are specs(): the configured columns, all OPTIONAL, then the
// REQUIRED string column "_raw" holding the whole event as received, so nothing is lost.
//
// What a caller may rely on, per event and column:
// - missing field or JSON null → null;
// - a value of the wrong JSON type, or one the column cannot hold exactly (an integer beyond
//   int64, a decimal with more digits than its precision or non-zero digits beyond its scale,
//   a timestamp string that is not RFC 3339) → null, and the column's type_mismatches count
//   goes up; the raw event still has the value;
// - string: a JSON string; int64: a JSON integer; double: any JSON number; boolean: true or
//   false; timestamp: an RFC 3339 string, stored as microseconds UTC; decimal: a JSON number
//   or a numeric string ("12.30", "-0.5", "1.5e2"), converted exactly from its digits (never
//   through a double) to the unscaled integer;
// - when the same field occurs twice in an object, the first occurrence counts;
// - an event that is not a JSON object, or is malformed → every typed column null,
//   invalid_events counted, the raw event kept (bytes that are not UTF-8 replaced by U+FFFD so
//   that readers accept the string column).
// Parsing is simdjson on-demand, without a DOM; values go straight into the writer's column
// buffers; nothing is allocated per event once buffers have grown.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "lake/columns.h"
#include "lake/parquet_writer.h"

namespace sluice::lake {

inline constexpr std::string_view kRawColumn = "_raw";
// Readable bytes AppendPadded needs after an event (simdjson's padding).
inline constexpr size_t kEventPadding = 64;

struct EventColumn {
  std::string name;
  // Dotted JSON path; empty means `name`.
  std::string path;
  ColumnType type = ColumnType::kString;
  // kDecimal only.
  int precision = 18;
  int scale = 2;
};

struct EventCounters {
  int64_t events = 0;
  int64_t invalid_events = 0;
  std::vector<int64_t> type_mismatches;  // per configured column
};

class EventColumns {
 public:
  // InvalidArgument for an empty or malformed path, a path that is a prefix of another, a
  // duplicate name, the reserved name "_raw", or a bad decimal precision/scale.
  static Result<std::unique_ptr<EventColumns>> Make(std::vector<EventColumn> columns);
  ~EventColumns();

  // The writer's columns, in order: the configured ones, then "_raw".
  const std::vector<ColumnSpec>& specs() const;

  // Appends one row for `event` to the writer's column buffers (no commit). The writer must
  // have been opened with specs().
  void Append(std::string_view event, ParquetWriter& writer);
  // The same, parsing `event` in place: the caller guarantees that kEventPadding bytes after it
  // are readable (log readers do, log.h's kReadPadding), which saves copying every event.
  void AppendPadded(std::string_view event, ParquetWriter& writer);
  // Appends every event, then commits the rows.
  Status AppendBatch(std::span<const std::string_view> events, ParquetWriter& writer);

  const EventCounters& counters() const;

  struct Impl;

 private:
  explicit EventColumns(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses a decimal number written in JSON syntax (or with a leading '+') into its value times
// 10^scale, exactly: false when it is not a number, has non-zero digits beyond `scale`, or
// needs more than `precision` digits.
bool ParseDecimal(std::string_view text, int precision, int scale, int64_t& unscaled);

}  // namespace sluice::lake
