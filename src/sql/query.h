// Queries over materialized views: SELECT ... FROM view [WHERE] [GROUP BY [HAVING]] [ORDER BY]
// [LIMIT [OFFSET]], run over the rows a view holds now (docs/sql.md, "Queries over views").
//
//   class Views : public QueryCatalog { ... };            // gives the engine the view rows
//   SLUICE_ASSIGN_OR_RETURN(QueryResult result, ExecuteQuery(query, views));
//   for (size_t r = 0; r < result.row_count(); ++r) use(result.row(r));   // result.columns
//
// The engine knows views only through QueryTable: their columns (names and static types) and a
// scan of their rows as JSON objects, one consistent version per scan. It does not include
// store, stream or lake; the application adapts its views to this interface. Lake tables
// (FROM lake.<table> [FOR SYSTEM_TIME AS OF ... | FOR VERSION AS OF ...], found through
// QueryCatalog::FindLakeTable) are read by values instead (QueryTable::ScanValues): only the
// columns the query uses, with the constraints WHERE implies, so the table can skip what cannot
// match.
//
// What callers may rely on:
// * Every error is InvalidArgument "line L, column C: ..." at the offending node: an unknown
//   view (with a suggestion, and a hint when the name is a stream), an unknown column (with a
//   suggestion and the view's columns), type errors from the binder, a column neither grouped
//   nor aggregated, an unsupported construct (joins, subqueries, window functions), a result too
//   large. Data errors while evaluating (BIGINT overflow, a failed CAST) fail the query with the
//   first error, also at its position.
// * Semantics are the expression language's (expr.h) plus: aggregates count(*), count(x),
//   count(DISTINCT x), sum, min, max, avg (each with FILTER (WHERE ...)); ORDER BY by
//   expression, output name or position, ASC (default) or DESC, NULLS LAST by default in both
//   directions (DuckDB); rows that compare equal keep the view's order (by key), so a result is
//   deterministic given the view's rows.
// * The scan is the only time the engine touches the view: WHERE, grouping and sort keys are
//   evaluated during it; everything after works on the engine's own copies. WHERE is evaluated
//   on every row a table returns, whatever it pruned. A value scan stops early only for a query
//   without aggregates, ORDER BY and DISTINCT, once LIMIT (+ OFFSET) rows are kept.
// * FOR SYSTEM_TIME AS OF takes a constant TIMESTAMP (a '...' literal is read as one), FOR
//   VERSION AS OF a constant BIGINT; time travel on anything but a lake table is an error.
// * A QueryResult owns all its values (text included); it is movable and independent of the
//   catalog and the views.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "sql/ast.h"
#include "sql/value.h"

namespace sluice::sql {

struct QueryColumn {
  std::string name;
  Type type = Type::kAny;  // kAny: the value's type varies per row
};

// What the engine derived from WHERE about one column, for tables that can skip rows (the
// lake): every row that can satisfy WHERE has a non-NULL value v in the column with
// lower <= v <= upper (each bound optional, inclusive or not), comparing as expressions do.
// Bound values are non-NULL constants: numbers (BIGINT or DOUBLE) for BIGINT and DOUBLE
// columns, TIMESTAMP for TIMESTAMP columns, VARCHAR for VARCHAR and ANY, BOOLEAN for BOOLEAN.
struct ColumnConstraint {
  size_t column = 0;
  std::optional<Value> lower;
  std::optional<Value> upper;
  bool lower_inclusive = true;
  bool upper_inclusive = true;
};

struct BoundExpr;  // sql/expr.h

// The constraints a condition implies, from its conjuncts of the forms `column op constant`
// (either side; op one of = < <= > >=), `column BETWEEN constant AND constant` and
// `column IN (constants)`; anything else constrains nothing. `condition` was bound over columns
// of `column_types` (its column indexes index them); the text of bound values lives in `arena`.
// Used for WHERE of queries and for view filters (?where=).
std::vector<ColumnConstraint> ConstraintsOf(const BoundExpr& condition,
                                            const std::vector<Type>& column_types, Arena& arena);

// A scan by values: the columns the query reads (ascending indexes into columns()) and the
// constraints (a conjunction; several may name one column).
struct ValueScanRequest {
  std::vector<size_t> columns;
  std::vector<ColumnConstraint> constraints;
};

// What a value scan reports besides its rows.
struct ValueScanInfo {
  uint64_t version = 0;
  // Named figures for the client (the lake: the snapshot read and what pruning skipped).
  std::vector<std::pair<std::string, int64_t>> details;
};

// The rows of one view, as the engine reads them.
class QueryTable {
 public:
  virtual ~QueryTable() = default;
  virtual const std::vector<QueryColumn>& columns() const = 0;
  // Calls `row` once per row with the row as a JSON object whose members are the columns
  // (TIMESTAMP values as RFC 3339 text; a missing member is NULL), in the view's key order, all
  // from one version of the view, which it returns. `row` must not call back into the table.
  virtual uint64_t Scan(const std::function<void(std::string_view row_json)>& row) const = 0;
  // Scan() given the constraints WHERE implies: rows outside them may be skipped (they need
  // not be: the engine still evaluates WHERE on every row), so a view reads only the key range
  // they bound. The version and what was read (details for the client) are returned; an error
  // reading the rows fails the query.
  virtual Result<ValueScanInfo> ScanWithin(
      const std::vector<ColumnConstraint>& constraints,
      const std::function<void(std::string_view row_json)>& row) const;
  // Ok, or why the rows cannot be read now (a view restoring after a restart: Unavailable).
  virtual Status Available() const { return Status::Ok(); }

  // Tables that hold typed columns (the lake) return true and implement ScanValues; the engine
  // then never calls Scan.
  virtual bool ScansValues() const { return false; }
  // Calls `row` once per row with one Value per column of columns(): the requested columns'
  // values (of their static types, or NULL), NULL for the others. Text may view the table's
  // buffers: valid during the call only. Rows outside the constraints may be skipped (they
  // need not be: the engine still evaluates WHERE on every row). Stops when `row` returns
  // false. Errors reading the table are returned (the engine fails the query with them).
  virtual Result<ValueScanInfo> ScanValues(
      const ValueScanRequest& request,
      const std::function<bool(std::span<const Value> row)>& row) const;
};

// FOR SYSTEM_TIME AS OF (a timestamp, microseconds since the epoch) or FOR VERSION AS OF (a
// snapshot id or sequence number), evaluated by the engine.
struct AsOf {
  enum class Kind { kSystemTime, kVersion };
  Kind kind = Kind::kSystemTime;
  int64_t value = 0;
};

// What the engine needs to know about the objects of the catalog.
class QueryCatalog {
 public:
  virtual ~QueryCatalog() = default;
  // The view called `name`, or nullptr.
  virtual std::shared_ptr<const QueryTable> FindView(std::string_view name) const = 0;
  // Every view name (for "did you mean" suggestions).
  virtual std::vector<std::string> ViewNames() const = 0;
  // Whether `name` is a stream (queries read views; the error says so).
  virtual bool IsStream(std::string_view name) const = 0;

  // The lake table `name` (FROM lake.<name>), at the snapshot `as_of` picks (the current one
  // without it): nullptr when there is no such table; an error (a message without position:
  // the engine adds the AS OF clause's) when the snapshot does not exist.
  virtual Result<std::shared_ptr<const QueryTable>> FindLakeTable(
      std::string_view name, const std::optional<AsOf>& as_of) const;
  // Every lake table name (for suggestions).
  virtual std::vector<std::string> LakeTableNames() const { return {}; }
};

struct QueryLimits {
  size_t max_result_rows = 100'000;     // after LIMIT; more is an error that suggests LIMIT
  size_t max_working_rows = 2'000'000;  // rows or groups held before ORDER BY / LIMIT
};

class QueryResult {
 public:
  QueryResult();
  QueryResult(QueryResult&&) noexcept;
  QueryResult& operator=(QueryResult&&) noexcept;
  ~QueryResult();

  std::vector<QueryColumn> columns;  // names as the client sees them, static types
  std::string view;                  // the view read ("lake.<table>" for the lake); empty for
                                     // a query without FROM
  uint64_t view_version = 0;         // the version of the view's rows the result derives from
                                     // (a lake table: the snapshot id)
  std::vector<std::pair<std::string, int64_t>> scan_details;  // ValueScanInfo::details

  size_t row_count() const { return columns.empty() ? 0 : values_.size() / columns.size(); }
  std::span<const Value> row(size_t i) const {
    return std::span<const Value>(values_).subspan(i * columns.size(), columns.size());
  }

 private:
  friend class QueryExecutor;
  std::unique_ptr<Arena> arena_;  // the text of values_
  std::vector<Value> values_;     // row-major
};

// Runs `query` (a SELECT statement) against the views of `catalog`.
Result<QueryResult> ExecuteQuery(const Query& query, const QueryCatalog& catalog,
                                 const QueryLimits& limits = {});

}  // namespace sluice::sql
