// Queries over the catalog's materialized views (SELECT ... FROM view through POST /v1/sql and
// `sluice sql`): the adapter that gives a store::View's rows to the query engine
// (sql/query.h), and the JSON form of a result (docs/http-api.md, "Query results").
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "sql/plan.h"
#include "sql/query.h"
#include "store/view.h"

namespace sluice::app {

// A view's rows as the query engine reads them: the plan's output columns and static types, and
// a scan of the current rows: one version, copied under the view's lock (so the pipeline waits
// only for the copy), then handed to the engine.
class ViewQueryTable : public sql::QueryTable {
 public:
  ViewQueryTable(const sql::ViewPlan& plan, std::shared_ptr<const store::View> view);
  const std::vector<sql::QueryColumn>& columns() const override { return columns_; }
  uint64_t Scan(const std::function<void(std::string_view row_json)>& row) const override;
  // Reads only the row keys the constraints bound: equalities on the leading GROUP BY keys fix
  // a key prefix; with every key fixed, a window_start range narrows it further. Details:
  // "rows_read" and "key_range" (1 when the scan was bounded).
  Result<sql::ValueScanInfo> ScanWithin(
      const std::vector<sql::ColumnConstraint>& constraints,
      const std::function<void(std::string_view row_json)>& row) const override;
  Status Available() const override { return view_->Available(); }

  // The [from, to) row-key range the constraints bound (to empty: no upper bound); both empty
  // when they bound nothing.
  std::pair<std::string, std::string> KeyRange(
      const std::vector<sql::ColumnConstraint>& constraints) const;

 private:
  std::vector<sql::QueryColumn> columns_;
  // Per column: the GROUP BY key it shows (-1: none), and whether it is window_start.
  std::vector<int> key_of_column_;
  int window_start_column_ = -1;
  size_t key_count_ = 0;
  bool windowed_ = false;
  std::shared_ptr<const store::View> view_;
};

// Fills the statement's result object: "view", "version", "columns" (names), "types" (one per
// column: BIGINT, DOUBLE, VARCHAR, TIMESTAMP, ..., ANY when the type varies per row) and "rows"
// (arrays of values: numbers, strings, booleans, null; TIMESTAMP as RFC 3339 in UTC), and for
// a lake table "scan" (the snapshot read and the pruning figures, docs/http-api.md).
void WriteQueryResult(const sql::QueryResult& result, nlohmann::ordered_json& out);

}  // namespace sluice::app
