// Planning of joins in materialized views (internal to the planner, planner.cc): a lookup join
// of a stream with a reference table, or an interval join of a stream with itself. See
// plan.h (LookupJoinSpec, IntervalJoinSpec) for what the plans mean and docs/sql.md ("Joins")
// for the semantics.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "sql/ast.h"
#include "sql/expr.h"
#include "sql/plan.h"
#include "sql/planner.h"

namespace sluice::sql {

// What the view planner knows about the first FROM item when it meets a JOIN.
struct JoinContext {
  const Query* query = nullptr;
  const PlannerCatalog* catalog = nullptr;
  const StreamSpec* stream = nullptr;
  std::vector<std::string> qualifiers;  // names of the first item: the stream's, its alias
  std::string alias;                    // the first item's alias, "" when it has none
  bool windowed = false;                // the first item is TUMBLE(...) / HOP(...)
};

// Plans query.from->joins (exactly one join) into plan.lookup or plan.interval_join, and
// extends `input` (the scope over the input row, already holding the event relation and the
// event_time / window columns) with the joined columns. For an interval join `input` is
// rebuilt: event fields are only readable qualified by a side's alias. Errors at the node.
Status PlanJoin(const JoinContext& context, ViewPlan& plan, Scope& input);

// WHERE of a view with an interval join: conjuncts that read one side only become that side's
// filter (applied before an event is buffered), the others plan.where (over the joined row).
Status PlanIntervalJoinWhere(const Query& query, const Scope& input, ViewPlan& plan);

}  // namespace sluice::sql
