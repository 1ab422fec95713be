// Iceberg per-file column metrics (the manifest entry's column_sizes, value_counts,
// null_value_counts, lower_bounds, upper_bounds) of a Parquet file the lake wrote, so that
// readers prune files by their bounds without opening them.
//
// What a caller may rely on:
// - Metrics are keyed by each column's ColumnSpec::field_id; columns without one (0) get none.
// - value_counts count every row (nulls included), as the Iceberg spec defines them.
// - Bounds follow Iceberg's single-value serialization (iceberg_table.h) and are true bounds:
//   a column whose values are all null has none; NaN is never a bound; strings are truncated
//   like Iceberg's default metrics mode truncate(16): the lower bound to its first 16 code
//   points, the upper bound to 16 code points with the last one incremented (no upper bound
//   when no code point can be incremented). Columns listed in `no_bounds` get counts and
//   sizes only (e.g. the raw event, whose prefix prunes nothing).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lake/iceberg_table.h"
#include "lake/parquet_writer.h"

namespace sluice::lake {

inline constexpr size_t kIcebergTruncateLength = 16;

DataFileStats IcebergMetrics(const std::vector<ColumnSpec>& columns,
                             const std::vector<ParquetWriter::ColumnSummary>& summaries,
                             const std::vector<std::string_view>& no_bounds = {});

// Iceberg's truncate(n) of a string bound: the first `n` code points (lower), or those with
// the last incremented (upper; nullopt when none can be). Input must be valid UTF-8.
std::string TruncateLowerBound(std::string_view s, size_t code_points = kIcebergTruncateLength);
std::optional<std::string> TruncateUpperBound(std::string_view s,
                                              size_t code_points = kIcebergTruncateLength);

}  // namespace sluice::lake
