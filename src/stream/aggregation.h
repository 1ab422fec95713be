// The windowed-aggregation operator: the in-memory core of a materialized view's pipeline.
//
// An Aggregator runs one sql::ViewPlan (plan.h): it takes events one at a time (their extracted
// fields and the log record's event time), keeps one group per (GROUP BY key values, window)
// with the accumulators of the plan's aggregates, and tells its driver (stream_pipeline.h) which
// view rows changed and which state changed since the last checkpoint. It does no I/O and
// starts no thread; one thread uses it at a time.
//
// Behaviour callers may rely on:
// * Results do not depend on the order events arrive in, except where stated: counts, sums,
//   min, max, avg and exact distinct counts of a window are the same for any order (a DOUBLE
//   sum may differ in its last bits). What does depend on arrival order is lateness: each
//   input partition has its own watermark (its largest event time minus the stream's
//   watermark delay), the view's watermark is the minimum over the partitions that still have
//   input (never going back; see watermarks.h for the idle rule), and an event behind it is
//   late.
// * emit = on_update: every group an event changes is in the next TakeChanges() (one upsert
//   per changed row, or a delete when the row stops satisfying HAVING). Late events still
//   update their window and are counted in late_events().
// * emit = on_close: a window's rows appear once, when the watermark reaches
//   window_end + allowed_lateness; an event whose window has already closed is not added to it
//   and is counted in dropped_events() (for a HOP: once per closed window it misses).
// * Retention (the view's `retention` option): a window whose end is more than the retention
//   before the watermark is purged from state and from the view (a delete), and later events
//   for it are dropped (counted).
// * Memory (TUMBLE / HOP): with a state reader (SetStateReader), a window's groups leave
//   memory once the window is final (the watermark reached window_end + allowed_lateness) and
//   their state has been taken by TakeCheckpointChanges(); their rows stay in the view and
//   their state on disk. An on_update event for such a group reads it back through the reader
//   (it stays until the next checkpoint), so results are the same as if it had stayed. Memory
//   then holds the groups of the windows not yet final (plus, with retention, the keys of the
//   others, for the purge). Without a reader, groups stay until the retention purges them.
//   SESSION, on_update, without retention: with a reader, a session leaves memory once the
//   watermark passes end + gap + allowed_lateness (as on_close sessions do); an event that
//   could still reach such a session (t + gap + allowed_lateness <= watermark) first reads
//   its key's sessions back (a prefix scan), so sessions merge as if they had stayed.
// * SESSION windows (WindowSpec): per GROUP BY key, an event t joins the sessions that
//   [t, t + gap) overlaps, merging them (in any arrival order the sessions are the same); a
//   session whose start moves (an earlier event, a merge) changes row key: the old row is
//   deleted. on_close: a session closes when the watermark reaches its end + allowed_lateness;
//   an event that would reopen a closed session, or whose own [t, t + gap) would already be
//   closed, is dropped. With retention a session is purged (state, view, checkpoint) once its
//   end is more than the retention behind the watermark, and an event more than the retention
//   behind is dropped. Without retention, on_close sessions leave memory (not the view, not
//   the checkpoint) once the watermark passes end + gap + allowed_lateness, when no event can
//   reach them any more; on_update sessions without retention are kept (without a state
//   reader; see "Memory").
// * Checkpoint state: TakeCheckpointChanges() gives, per group changed since the last call,
//   its key and its serialized accumulators (an empty value: the group was purged); Meta()
//   holds what else must survive a restart (the watermark and each partition's largest event
//   time; a checkpoint of the older format, with only the largest event time, still loads).
//   Restore() from the same data rebuilds an operator that continues exactly like the original
//   would.
// * Bad data never stops the operator: an event whose WHERE, key or time fails to evaluate
//   (a data error such as a failed CAST) is skipped and counted in errors(); a value an
//   aggregate cannot take (text in a sum) is ignored, like NULL.
// * Cost: no heap allocation per event once a group exists, except count(DISTINCT) adding a
//   new value; one hash lookup per event and window.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "sql/event_fields.h"
#include "sql/plan.h"
#include "store/view.h"

namespace sluice::stream {

// Why Add() left an event out of a window it belongs to.
enum class DropReason : uint8_t {
  kNone,              // added (to every window it belongs to)
  kWindowClosed,      // on_close: its window (or session) had closed
  kWindowPurged,      // its window was past the view's retention
  kStateUnavailable,  // its group had left memory and the state reader failed to read it back
};
// "none", "window_closed", "past_retention", "state_unavailable".
std::string_view DropReasonName(DropReason reason);

// View row keys (the group keys): per GROUP BY key, in the plan's key order, the value's
// order-preserving encoding, then for windowed plans the window start. Rows are listed in this
// order, so fixing the leading keys (and a window-start range) bounds a range of row keys
// (store::View::ScanRows).
void AppendKeyValue(std::string& key, const sql::Value& value);
void AppendKeyWindowStart(std::string& key, int64_t window_start_micros);

class Aggregator {
 public:
  // Compiles the plan, registering the event fields it reads in `fields` (shared with the
  // extractor that will read the events; build the extractor after this call).
  static Result<std::unique_ptr<Aggregator>> Create(const sql::ViewPlan& plan,
                                                    sql::FieldSet& fields);
  ~Aggregator();

  const sql::ViewPlan& plan() const;

  // Reads back the state of groups that left memory: what TakeCheckpointChanges() last gave
  // for them, committed or not (a group whose last entry was a delete has none). An error
  // makes Add() drop the event (kStateUnavailable).
  struct StateReader {
    // One group's state; nullopt: none (the group never existed, or was deleted).
    std::function<Result<std::optional<std::string>>(std::string_view group_key)> read;
    // Appends (group key, state) for every group whose key starts with `prefix`, in key order.
    std::function<Status(std::string_view prefix,
                         std::vector<std::pair<std::string, std::string>>& out)>
        scan;
  };
  // Lets groups leave memory (see "Memory" above). Call before Restore() and Add().
  void SetStateReader(StateReader reader);

  // Adds one event: `fields` holds one Value per slot of the FieldSet given to Create() (the
  // extractor's values()), `event_time_micros` the log record's event time, `joined_columns`
  // the plan's extra_columns input columns (a joined table row, an interval join's sides;
  // view_operator.h fills them), `partition` the input partition the event came from
  // (watermarks.h: each partition has its own watermark and the view's is the minimum over the
  // active ones). Returns why the event missed a window it belongs to (for a HOP, any one of
  // them), kNone when it did not: such an event is counted in dropped_events() and belongs in
  // the view's late-events output.
  DropReason Add(std::span<const sql::Value> fields, int64_t event_time_micros,
                 std::span<const sql::Value> joined_columns = {}, uint32_t partition = 0);
  // An event that was not added (a join found no match) still moves the watermark.
  void ObserveEventTime(int64_t event_time_micros, uint32_t partition = 0);
  // Whether `partition` may still deliver events soon (watermarks.h; the pipeline: it has
  // unread input, or had a moment ago): an active partition holds the watermark back to its
  // own, an idle one does not. A partition is active from its first Add() (or a Restore())
  // until the driver says otherwise.
  void SetPartitionActive(uint32_t partition, bool active);

  // How long (wall clock) the stream has been quiet: no event has moved the watermark for
  // `micros`. The retention purge of TUMBLE and HOP windows takes event time to have moved on
  // by as much, so a view's old rows leave on time even when no event arrives (and a test
  // drives it with a ManualClock). The purge horizon never moves back: once events resume, a
  // window purged meanwhile stays purged (its events are dropped as past the retention).
  void SetQuietTime(int64_t micros);

  // Appends the view changes since the last call (see the header comment) to `out`.
  void TakeChanges(std::vector<store::RowChange>& out);

  // Appends (group key, serialized state) for every group changed since the last call; an
  // empty state means the group is gone.
  void TakeCheckpointChanges(std::vector<std::pair<std::string, std::string>>& out);
  // The operator-wide state to store with a checkpoint.
  std::string Meta() const;

  // Rebuilds the state from a checkpoint (on a new operator, before any Add()).
  Status Restore(const std::map<std::string, std::string>& state, std::string_view meta);
  // Every row the view holds for the current state (after Restore(): the view to Reset to; it
  // includes the rows of expired on_close sessions only on the first call after Restore()).
  std::map<std::string, std::string> Rows();

  // The event time of the last event Add() took (the time it was windowed by).
  int64_t last_event_time() const;
  // The event-time watermark (INT64_MIN before the first event).
  int64_t watermark() const;
  size_t group_count() const;        // in memory
  uint64_t reloaded_groups() const;  // read back through the state reader
  uint64_t late_events() const;      // behind the watermark when added
  uint64_t dropped_events() const;   // not added: their window was closed or purged
  uint64_t errors() const;           // skipped: a data error in WHERE, a key or the time
  uint64_t filtered_events() const;  // skipped: WHERE was not TRUE, or no event time

 private:
  struct Impl;
  explicit Aggregator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::stream
