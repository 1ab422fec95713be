// Which events of a stream get exactly-once delivery (DESIGN.md, "Delivery semantics"): none
// (delivery = 'at_least_once'), all (delivery = 'exactly_once'), or those for which the stream's
// `exactly_once_when` predicate is TRUE (the rest get at-least-once).
//
// What callers may rely on:
// - The predicate is parsed, bound and compiled once, in Make(), with the SQL expression
//   machinery (sql/expr.h) over the event's fields plus the column `event_time` (TIMESTAMP), as
//   the planner checked it (sql::PlanStream).
// - Matches() is thread-safe: each thread evaluates with its own field extractor and context,
//   built on first use, so evaluating allocates nothing per event once warm. The event is read
//   in one more simdjson on-demand pass that only reaches the predicate's fields.
// - A predicate that is NULL (a missing field) or fails on an odd value counts as FALSE: the
//   event gets at-least-once, so it is never refused because of the rule.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "sql/plan.h"

namespace sluice::ingest {

class DeliveryRule {
 public:
  // The rule of a planned stream (sql::PlanStream): its delivery and exactly_once_when,
  // bound as the planner did (sql::ExactlyOnceScope). Errors: InvalidArgument when the
  // predicate does not parse, bind or compile (a definition the planner did not check).
  static Result<std::shared_ptr<const DeliveryRule>> Make(const sql::StreamSpec& spec);
  ~DeliveryRule();

  // No event is exactly-once: the ingest path skips deduplication entirely.
  bool none() const { return !exactly_once_; }
  // Every event is exactly-once (no predicate to evaluate).
  bool all() const { return exactly_once_ && predicate_ == nullptr; }
  const std::string& predicate_sql() const { return predicate_sql_; }

  // Whether the event `record` (followed by simdjson padding), with the event time parsed at
  // ingest, gets exactly-once.
  bool Matches(std::string_view record, int64_t event_time_micros) const;

 private:
  struct Compiled;
  DeliveryRule() = default;
  bool exactly_once_ = false;
  std::string predicate_sql_;
  std::unique_ptr<Compiled> predicate_;
  uint64_t id_ = 0;  // distinguishes rules in per-thread caches (addresses may be reused)
};

}  // namespace sluice::ingest
