// The planner: DDL statements (ast.h) -> checked stream specs and view plans (plan.h).
//
//   SLUICE_ASSIGN_OR_RETURN(StreamSpec spec, PlanStream(create_stream));
//   SLUICE_ASSIGN_OR_RETURN(ViewPlan plan, PlanView(create_view, catalog));
//
// What callers may rely on:
// * Every error is InvalidArgument "line L, column C: ..." at the offending node (an unknown
//   stream or option, a column that is neither grouped nor aggregated, window_start without a
//   window, an unsupported construct), so a client can point at it.
// * Planning has no side effects and does not keep references to its inputs: the plan owns
//   everything it holds.
// * What is supported in a materialized view (docs/sql.md, "Materialized views"):
//     SELECT <expressions over GROUP BY keys, aggregates, window_start, window_end>
//     FROM TUMBLE(s, t, size [, offset]) | HOP(s, t, slide, size [, offset])
//          | SESSION(s [PARTITION BY the GROUP BY keys], t, gap) | s  [[AS] alias]
//     [WHERE <predicate over the event>]
//     [GROUP BY <expressions over the event> | window_start | window_end | <ordinal>, ...]
//     [HAVING <predicate over the aggregated row>]
//   with aggregates count(*), count(x), count(DISTINCT x), sum, min, max, avg,
//   approx_count_distinct, approx_percentile(x, constant fraction), first_value, last_value
//   (each with an optional FILTER (WHERE ...)), and options retention, emit ('on_update' |
//   'on_close'), allowed_lateness. SESSION windows are keyed by the GROUP BY keys, and WHERE
//   and FILTER may not read their bounds. One JOIN after the first FROM item: a lookup join
//   with a reference table on its whole primary key ([LEFT] JOIN table ON e.x = t.k), or an
//   interval join of the stream with itself (JOIN s AS b ON a.k = b.k AND b.t BETWEEN a.t
//   [+ i] AND a.t + j); docs/sql.md, "Joins". Subqueries, ORDER BY / LIMIT and SELECT * are
//   reported as not supported (yet), at their location.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sql/ast.h"
#include "sql/plan.h"

namespace sluice::sql {

// What the planner needs to know about existing objects.
class PlannerCatalog {
 public:
  virtual ~PlannerCatalog() = default;
  // The stream called `name`, or nullptr.
  virtual const StreamSpec* FindStream(std::string_view name) const = 0;
  // Every stream name (for "did you mean" suggestions).
  virtual std::vector<std::string> StreamNames() const = 0;
  // Whether `name` is a materialized view (reading views from views is not supported yet).
  virtual bool IsView(std::string_view name) const = 0;
  // The reference table called `name`, or nullptr (for lookup joins).
  virtual const TableSpec* FindTable(std::string_view /*name*/) const { return nullptr; }
};

// Checks a CREATE STREAM and fills in the defaults of the options it leaves out. Options:
// subject, event_time, dedup_key, partition_key (field names as strings or bare words),
// delivery ('exactly_once' | 'at_least_once'), exactly_once_when (a predicate, or a string
// holding one), watermark_delay and retention (a duration: '5 seconds', INTERVAL '5' SECOND),
// partitions (1..1024).
Result<StreamSpec> PlanStream(const CreateStream& create);

// The scope `exactly_once_when` binds in: the stream's event fields (typed by its declared
// columns) and the column `event_time` (TIMESTAMP, Row::columns[0]). Ingest compiles the
// predicate in the same scope.
void ExactlyOnceScope(const StreamSpec& spec, Scope& scope);

// Checks a CREATE TABLE: names, types (every type but INTERVAL; no ANY), a primary key (required:
// rows are upserted and looked up by it). No options yet.
Result<TableSpec> PlanTable(const CreateTable& create);

// Plans a CREATE MATERIALIZED VIEW against the catalog (see the header comment).
Result<ViewPlan> PlanView(const CreateMaterializedView& create, const PlannerCatalog& catalog);

}  // namespace sluice::sql
