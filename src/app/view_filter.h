// Subscription filters (?where= on /v1/subscribe and GET /v1/views/{view}, docs/http-api.md):
// a SQL boolean expression over a view's rows, compiled with the query engine's parser and
// binder (src/sql) into a predicate the server runs on row JSON.
//
// What callers may rely on:
// * Only the view's key columns and window_start / window_end may be used: their values never
//   change for a row, so a row never enters or leaves a filter after it is created (which is
//   what lets the WebSocket hub filter deltas without tracking client state). Any other column
//   is InvalidArgument naming the column and the columns allowed; syntax and type errors are
//   InvalidArgument with line and column, as in SQL statements.
// * The predicate keeps a row when the expression is TRUE (NULL and FALSE drop it, as WHERE
//   does). It is thread-safe (one evaluation at a time per filter) and never throws; a row that
//   is not valid JSON is dropped.
// * The key range is the one a query with the same WHERE reads (ViewQueryTable::KeyRange:
//   equalities on the leading GROUP BY keys, then a window_start range once every key is
//   fixed): no row outside it passes the predicate, so snapshots read only the range.
#pragma once

#include <string_view>

#include "base/status.h"
#include "sql/plan.h"
#include "store/delta_log.h"

namespace sluice::app {

Result<store::RowFilter> CompileViewFilter(const sql::ViewPlan& plan, std::string_view where);

}  // namespace sluice::app
