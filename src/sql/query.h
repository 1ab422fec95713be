// Queries over materialized views: SELECT ... FROM view [WHERE] [GROUP BY [HAVING]] [ORDER BY]
// [LIMIT [OFFSET]], run over the rows a view holds now (docs/sql.md, "Queries over views").
//
//   class Views : public QueryCatalog { ... };            // gives the engine the view rows
//   SLUICE_ASSIGN_OR_RETURN(QueryResult result, ExecuteQuery(query, views));
//   for (size_t r = 0; r < result.row_count(); ++r) use(result.row(r));   // result.columns
//
// The engine knows views only through QueryTable: their columns (names and static types) and a
// scan of their rows as JSON objects, one consistent version per scan. It does not include
// store or stream; the application adapts its views to this interface.
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
//   evaluated during it; everything after works on the engine's own copies.
// * A QueryResult owns all its values (text included); it is movable and independent of the
//   catalog and the views.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sql/ast.h"
#include "sql/value.h"

namespace sluice::sql {

struct QueryColumn {
  std::string name;
  Type type = Type::kAny;  // kAny: the value's type varies per row
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
  // Ok, or why the rows cannot be read now (a view restoring after a restart: Unavailable).
  virtual Status Available() const { return Status::Ok(); }
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
  std::string view;                  // the view read; empty for a query without FROM
  uint64_t view_version = 0;         // the version of the view's rows the result derives from

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
