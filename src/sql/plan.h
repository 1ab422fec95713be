// Plans: what the planner (planner.h) makes of DDL statements, and what the engine runs.
//
// A StreamSpec is a checked CREATE STREAM: the options the ingest path and the pipelines need,
// with defaults filled in. A ViewPlan is a checked CREATE MATERIALIZED VIEW over one stream:
// a windowed (or unwindowed) grouped aggregation, described with bound expressions (expr.h)
// that the stream operator compiles against one FieldSet per pipeline.
//
// How a ViewPlan is evaluated, per event:
//   1. the event's fields are extracted; the input row's columns are
//        [kEventTimeColumn]   the event time (TIMESTAMP),
//        [kWindowStartColumn] the window's start, [kWindowEndColumn] its end (TIMESTAMP);
//   2. `where` (over the input row) must be TRUE, else the event is skipped;
//   3. the event's time is the log record's event time (parsed once at ingest from the
//      stream's event_time field) or, when `time` is set, that expression;
//   4. the event belongs to one window (TUMBLE), size/slide windows (HOP) or the single
//      unbounded "window" of an unwindowed view;
//   5. per window, the group is (values of `keys`, window start); each aggregate adds the
//      event's `argument` (when its `filter` holds).
// Per changed group, the aggregated row's columns are
//   [0, keys.size())                            the key values,
//   [keys.size(), keys.size() + aggregates.size())  the aggregate results,
//   then window_start and window_end (windowed plans only),
// and the view row is `columns` evaluated over it, kept only while `having` is TRUE.
//
// Invariants the planner guarantees (the operator relies on them, tests check them):
// * Expressions over the input row read only the input columns above and event fields;
//   expressions over the aggregated row (`columns`, `having`) read only its columns.
// * A windowed plan groups by its window (GROUP BY names window_start or window_end), so one
//   group is one window; every key and the window appear among the output columns, so a view
//   row is identified by its key columns (`key_columns`, never empty for a plan with keys or a
//   window).
// * Sizes are positive; a hop's size / slide is at most kMaxWindowsPerEvent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sql/ast.h"
#include "sql/expr.h"
#include "sql/value.h"

namespace sluice::sql {

// ---- Streams ----------------------------------------------------------------------------------

enum class Delivery { kAtLeastOnce, kExactlyOnce };

struct StreamColumn {
  std::string name;
  Type type = Type::kAny;
  std::string type_sql;  // as declared, e.g. "VARCHAR(16)"
};

// CREATE STREAM name [(columns)] WITH (...): defaults are what an option left out means.
struct StreamSpec {
  std::string name;
  std::vector<StreamColumn> columns;       // declared columns: static types of top-level fields
  std::string subject;                     // registry subject events are validated against
  std::string event_time = "occurred_at";  // the RFC 3339 event-time field
  std::string dedup_key = "event_id";      // the unique id of an event
  std::string partition_key;               // "" = partition by dedup_key
  // Exactly-once events are deduplicated by dedup_key at ingest (ingest/dedup_index.h): all of
  // them with kExactlyOnce and no predicate, else those matching exactly_once_when (which
  // implies kExactlyOnce); kAtLeastOnce without a predicate: none.
  Delivery delivery = Delivery::kAtLeastOnce;
  std::string exactly_once_when;  // canonical SQL of the predicate, "" = none
  // How long an id is remembered; unset = the log's retention.
  std::optional<int64_t> dedup_horizon_micros;
  int64_t watermark_delay_micros = 5'000'000;  // watermark = max event time - this
  std::optional<int64_t> retention_micros;     // of the log; unset = the engine's default
  std::optional<uint32_t> partitions;          // of the log; unset = the engine's default
  // The compliance archive (stream/archive.h): every raw event kept as Parquet in an Iceberg
  // table for archive_retention (unset = the engine's default, 90 days).
  bool archive = false;
  std::optional<int64_t> archive_retention_micros;
};

// ---- Reference tables -------------------------------------------------------------------------

struct TableColumn {
  std::string name;
  Type type = Type::kVarchar;  // never kAny or kNull
  std::string type_sql;        // as declared, e.g. "VARCHAR(16)"
};

// CREATE TABLE name (columns, PRIMARY KEY (...)): reference data upserted over HTTP, read by
// views through lookup joins on the whole primary key.
struct TableSpec {
  std::string name;
  std::vector<TableColumn> columns;  // names unique
  std::vector<int> primary_key;      // indexes into columns; never empty
};

// ---- Views ------------------------------------------------------------------------------------

// kSession: gap-based windows per GROUP BY key (see WindowSpec).
enum class WindowKind { kNone, kTumble, kHop, kSession };

// Windows are [start, start + size) with start = offset + k * slide (slide = size for TUMBLE).
// SESSION: size_micros (= slide_micros) is the gap; every event t opens [t, t + gap) and
// overlapping windows of one key merge, so a session is [first event, last event + gap) and
// two events of one key are in the same session when no gap of `gap` or more separates them.
struct WindowSpec {
  WindowKind kind = WindowKind::kNone;
  int64_t size_micros = 0;
  int64_t slide_micros = 0;
  int64_t offset_micros = 0;
};

// A HOP may put one event in at most this many windows (size / slide).
inline constexpr int64_t kMaxWindowsPerEvent = 1000;

enum class AggregateKind {
  kCountStar,      // count(*)
  kCount,          // count(x): non-NULL values
  kCountDistinct,  // count(DISTINCT x): exact
  kSum,            // BIGINT sums are exact (128-bit); any DOUBLE makes the sum a DOUBLE
  kMin,
  kMax,
  kAvg,                  // DOUBLE
  kApproxCountDistinct,  // exact up to 64 values, then HyperLogLog (1.6% standard error)
  kApproxPercentile,     // DDSketch: within 1% (relative) of the exact percentile_disc
  kFirstValue,           // the non-NULL value with the earliest event time (ties: the smallest)
  kLastValue,            // the non-NULL value with the latest event time (ties: the largest)
};

// "count", "count_distinct", "sum", ...
std::string_view AggregateKindName(AggregateKind kind);

struct AggregateSpec {
  AggregateKind kind = AggregateKind::kCountStar;
  std::optional<BoundExpr> argument;  // over the input row; none for count(*)
  std::optional<BoundExpr> filter;    // FILTER (WHERE ...), over the input row
  Type result_type = Type::kBigint;   // static type of the result (kAny: per value)
  double fraction = 0;                // approx_percentile: the percentile, in [0, 1]
  std::string sql;                    // canonical text of the call, for messages and DESCRIBE
};

enum class EmitMode {
  kOnUpdate,  // every change is applied to the view at once (partial windows are visible)
  kOnClose,   // a window's rows appear once, when the watermark passes its end
};

struct OutputColumn {
  std::string name;
  BoundExpr expr;  // over the aggregated row
  Type type = Type::kAny;
};

// A stream-to-table lookup join (FROM s JOIN table ON s.x = t.k ...): per event, the key
// expressions are evaluated, coerced to the primary key's types, and looked up in the table's
// current contents (processing time). A hit puts the table row's columns in the input row at
// first_column + i (i = the table column's index); a miss skips the event (inner join) or puts
// NULLs there (LEFT JOIN).
struct LookupJoinSpec {
  std::string table;
  bool left = false;
  std::vector<BoundExpr> keys;     // over the input row (event fields), one per primary key column
                                   // in TableSpec::primary_key order, typed as that column
  std::vector<Type> column_types;  // of the table's columns
  int first_column = 0;
};

// A stream-to-stream interval join of a stream with itself (FROM s AS a JOIN s AS b ON a.k =
// b.k AND b.t BETWEEN a.t + lower AND a.t + upper): every event is a candidate for both sides
// (side 0: the first FROM item, side 1: the joined one). Event fields are not read from "the"
// event: each side's fields are columns of the input row, filled from that side's event:
//   side_columns[s][i] = column index of the field side_paths[s][i] (the side's event time
//   when the path is empty).
// A pair joins when its equi-keys are equal (not NULL) and time(1) - time(0) is within
// [lower_micros, upper_micros]; the joined row's event time is side 0's.
struct IntervalJoinSpec {
  std::vector<BoundExpr> keys[2];           // per side, over that side's columns; pairwise compared
  std::optional<BoundExpr> side_filter[2];  // conjuncts of WHERE that read only one side
  int64_t lower_micros = 0;
  int64_t upper_micros = 0;
  std::vector<FieldPath> side_paths[2];
  std::vector<int> side_columns[2];
};

// rollups = '1 hour after 30 days, 1 day after 1 year' on a TUMBLE view: each tier is a sibling
// view `<view>_<size>` (events_per_minute_1h) over the same events with coarser windows, kept
// until the next tier takes over (the last: the view's retention); the base view keeps its
// rows until the first tier's `after`. Each tier aggregates the events themselves, so every
// aggregate (sums, extremes, averages, distinct counts, percentiles) is exact for its windows,
// and every tier is current (today's day row exists already).
struct RollupTier {
  std::string name;                         // the sibling view's name
  int64_t size_micros = 0;                  // its window size
  int64_t after_micros = 0;                 // the base rows older than this give way to it
  std::optional<int64_t> retention_micros;  // its own rows' retention; unset: kept for good
};

struct ViewPlan {
  static constexpr int kEventTimeColumn = 0;
  static constexpr int kWindowStartColumn = 1;
  static constexpr int kWindowEndColumn = 2;
  static constexpr int kInputColumns = 3;

  std::string name;
  std::string stream;
  WindowSpec window;
  std::optional<BoundExpr> time;   // unset: the log record's event time
  std::optional<BoundExpr> where;  // over the input row
  std::vector<BoundExpr> keys;     // non-window GROUP BY keys, over the input row
  std::vector<AggregateSpec> aggregates;
  std::vector<OutputColumn> columns;
  std::optional<BoundExpr> having;       // over the aggregated row
  std::vector<std::string> key_columns;  // output columns that identify a row
  EmitMode emit = EmitMode::kOnUpdate;
  int64_t watermark_delay_micros = 5'000'000;  // from the stream
  int64_t allowed_lateness_micros = 0;         // on_close: how long after its end a window waits
  std::optional<int64_t> retention_micros;     // windows ending this long before the watermark
                                               // are purged from state and view; unset: never
  // backfill = 'lake': a new view first reads the archived events its stream's log no longer
  // holds (stream_pipeline.h), then the log.
  bool backfill_from_lake = false;
  // lake = 'on': the view's rows are also written to the lake, a snapshot at a time
  // (stream/view_table.h).
  bool lake_table = false;
  // rollups = '…': the coarser tiers (see RollupTier), finest first. retention_micros is then
  // the base rows' (the first tier's `after`).
  std::vector<RollupTier> rollups;
  // Joins: input columns beyond kInputColumns (kInputColumns + extra_columns in all) hold the
  // joined table's columns or the interval join's side columns.
  std::optional<LookupJoinSpec> lookup;
  std::optional<IntervalJoinSpec> interval_join;
  int extra_columns = 0;

  // Column indexes of the aggregated row.
  int aggregate_column(size_t i) const { return static_cast<int>(keys.size() + i); }
  int window_start_column() const { return static_cast<int>(keys.size() + aggregates.size()); }
  int window_end_column() const { return window_start_column() + 1; }
  int aggregated_columns() const {
    return window_start_column() + (window.kind == WindowKind::kNone ? 0 : 2);
  }
};

// The plan of rollup tier `tier` of `base`: the same query over windows of the tier's size,
// named after it, with its retention and no tiers of its own.
ViewPlan RollupPlan(const ViewPlan& base, size_t tier);

}  // namespace sluice::sql
