// A materialized view's operator: the Aggregator (aggregation.h), preceded, when the plan has
// one, by a join that fills the joined input columns:
//
// * Lookup join (plan.lookup): per event, the key expressions are evaluated and the reference
//   table (reference_table.h) is probed once, under its read lock, for its current row
//   (processing-time semantics: a row upserted later does not change what was aggregated
//   before). A hit passes the row's values as the joined columns; a miss passes NULLs (LEFT
//   JOIN) or skips the event (JOIN; counted in lookup_misses()). No allocation per event.
// * Interval join (plan.interval_join): every event is a candidate for both sides; an event
//   that passes a side's filter and has a non-NULL key is buffered for that side and probed
//   against the other side's buffer; each pair with time(1) - time(0) in [lower, upper] is
//   added once, when its second event arrives, with side 0's event time. Buffered events are
//   purged once no event at or after the join's watermark can match them: side 0 when
//   time + upper < watermark, side 1 when time - lower < watermark, where the watermark is the
//   smallest over the input partitions of their largest event time, minus the stream's delay
//   (so reading one partition ahead of another, as a backfill does, loses no pair; a partition
//   that never receives events holds the purge back). The buffers are part of the checkpoint,
//   so a restored operator continues exactly like the original.
//
// The interface is the Aggregator's: the pipeline (stream_pipeline.h) drives one per view.
// Checkpoint keys of a view with an interval join are prefixed ("a" the aggregator's groups,
// "j" buffered events); other views' checkpoints are the Aggregator's, unchanged.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "sql/event_fields.h"
#include "sql/plan.h"
#include "store/view.h"
#include "stream/aggregation.h"
#include "stream/reference_table.h"

namespace sluice::stream {

class ViewOperator {
 public:
  // Compiles the plan against `fields`. `table` is the reference table of plan.lookup (required
  // when the plan has one, ignored otherwise). `partitions`: of the input log (the interval
  // join's watermark waits for every partition).
  static Result<std::unique_ptr<ViewOperator>> Create(const sql::ViewPlan& plan,
                                                      sql::FieldSet& fields,
                                                      std::shared_ptr<const ReferenceTable> table,
                                                      uint32_t partitions = 1);
  ~ViewOperator();

  const sql::ViewPlan& plan() const;
  // `partition`: the input partition the event was read from (< partitions). Returns what
  // Aggregator::Add returns for the event (an interval join's events: kNone; see Add()).
  DropReason Add(std::span<const sql::Value> fields, int64_t event_time_micros,
                 uint32_t partition = 0);
  // Aggregator::SetPartitionActive: whether `partition` holds the view's watermark back.
  void SetPartitionActive(uint32_t partition, bool active);
  // Aggregator::SetQuietTime: how long no event has moved the watermark (wall clock).
  void SetQuietTime(int64_t micros);
  // Aggregator::SetStateReader, with the keys the state has in TakeCheckpointChanges().
  void SetStateReader(Aggregator::StateReader reader);

  void TakeChanges(std::vector<store::RowChange>& out);
  void TakeCheckpointChanges(std::vector<std::pair<std::string, std::string>>& out);
  std::string Meta() const;
  Status Restore(const std::map<std::string, std::string>& state, std::string_view meta);
  std::map<std::string, std::string> Rows();

  int64_t watermark() const;
  int64_t last_event_time() const;  // of the last event added (Aggregator::last_event_time)
  size_t group_count() const;
  uint64_t reloaded_groups() const;
  uint64_t late_events() const;
  uint64_t dropped_events() const;
  uint64_t errors() const;
  uint64_t lookup_misses() const;  // inner lookup joins: events without a table row
  size_t buffered_events() const;  // interval joins: events held for matching, both sides
  uint64_t joined_rows() const;    // interval joins: pairs produced

 private:
  struct Impl;
  explicit ViewOperator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::stream
