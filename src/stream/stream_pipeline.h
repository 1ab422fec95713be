// A stream's pipeline: runs every materialized view over one stream on one thread, reading and
// extracting each event once for all of them, applying each view's changes, checkpointing.
//
// Behaviour callers may rely on:
// - Input: one reader per log partition; only durable records are read, and a caught-up
//   pipeline sleeps on the log's durable-generation signal (woken by the group commit), so an
//   event is processed within microseconds of being acknowledged.
// - Shared work: the views' expressions are compiled against one FieldSet, so each event is
//   read once (one simdjson on-demand pass over the fields any view uses) and its event time
//   comes from the log record (parsed once at ingest); then every view's Aggregator takes it.
// - Output: each processing round (all available records, up to read_bytes_per_partition per
//   partition) applies at most one delta per view, right away (never held for a checkpoint).
//   A delta's position is the number of records the view had consumed.
// - Views join and leave while the pipeline runs. A view added with no checkpoint starts at
//   the oldest retained record (a backfill); it catches up on its own readers, interleaved
//   with the live rounds, and from the moment it reaches the shared position it shares the
//   live reads. A view restored from a checkpoint catches up from its checkpointed offsets.
// - Checkpoints: every checkpoint_interval, for every view, the state changed since its last
//   checkpoint, its next offset per partition, its version and its operator metadata are
//   committed in one synced RocksDB write batch (all views of the stream together), each under
//   the view's checkpoint id. Restoring replays the log from those offsets, so each view ends
//   exactly as an uninterrupted run's (for on_close views, up to the arrival-order caveat in
//   aggregation.h).
// - Watermarks: per partition (watermarks.h); a partition holds a view's watermark back while
//   the view's reader of it is behind the log's durable end and for partition_idle_micros after.
// - Late events: an event a view's windows refuse (Aggregator::Add's DropReason) is appended,
//   with its log position, to the view's late-events log (late_events.h), one write per round;
//   never twice for one position (see AddView).
// - Versions only grow, across restarts too: after a crash a view's version starts above any
//   version the previous run can have emitted (a jump, never a reused number).
// - Thread-safety: AddView, RemoveView, lag and position may be called from any thread; they
//   wait for the current round to end.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "log/log.h"
#include "sql/plan.h"
#include "store/view.h"
#include "stream/archive_reader.h"
#include "stream/checkpoint_store.h"
#include "stream/reference_table.h"

namespace sluice::stream {

struct StreamPipelineOptions {
  std::string stream;  // for logs and metrics
  int64_t checkpoint_interval_micros = kMicrosPerSecond;
  size_t read_bytes_per_partition = 1 << 20;  // per round, per partition (and per catching-up view)
  // A partition stops holding a view's watermark back (watermarks.h) once its reader has been
  // caught up with the log's durable end this long (processing time): long enough for the
  // other partitions' part of a producer's batch to become durable, short enough for a quiet
  // partition not to delay on_close windows noticeably. 0: as soon as it is caught up.
  int64_t partition_idle_micros = kMicrosPerSecond;
};

// The view definition (columns, key, SQL text) of a plan.
store::ViewDefinition ViewDefinitionFor(const sql::ViewPlan& plan, std::string sql);

class StreamPipeline {
 public:
  // `input`, `checkpoints`, `clock` and `metrics` must outlive the pipeline.
  StreamPipeline(StreamPipelineOptions options, log::Log& input, CheckpointStore& checkpoints,
                 Clock& clock, MetricsRegistry& metrics);
  ~StreamPipeline();  // stops (with a final checkpoint) if running

  // Adds the view `plan.name`: compiles the plan, loads the checkpoint stored under
  // `checkpoint_id` (none: backfill from the oldest retained record) and resets `view` to the
  // restored rows and version. The view's name must not be in the pipeline already.
  // `late_events` (one partition; must outlive the view's membership), when given, receives
  // the view's late events (late_events.h): each event a window refused, at most once per
  // position of the stream's log, also across restarts (entries since the checkpoint are
  // scanned here); a checkpoint waits until the entries it covers are durable. `table`: the
  // reference table of the plan's lookup join, if it has one (view_operator.h).
  // `lake_backfill`: the stream's archive (archive_reader.h). A view without a checkpoint then
  // first reads the archived records the log no longer holds (offsets below the log's start
  // per partition), in the archive's hour order, then backfills from the log as usual. Late
  // ones among them are counted but not recorded; no checkpoint is taken until the lake part
  // is done (a restart starts it over); lag() includes the archived records still to read. A
  // table with nothing archived is no error (the log backfill alone).
  Status AddView(const sql::ViewPlan& plan, std::string checkpoint_id,
                 std::shared_ptr<store::View> view, log::Log* late_events = nullptr,
                 std::shared_ptr<const ReferenceTable> table = nullptr,
                 std::optional<ArchiveReaderOptions> lake_backfill = std::nullopt);
  // Removes a view (without a checkpoint: the caller drops its state). No-op when absent.
  void RemoveView(const std::string& name);

  // Runs the pipeline on its own thread.
  void Start();
  // Stops the thread and commits a final checkpoint.
  Status Stop();

  // One round on the caller's thread: the live views' share of the available input, and one
  // chunk for each view still catching up. Returns the number of records read. For tests and
  // tools; do not mix with Start().
  Result<size_t> ProcessAvailable();
  // Commits a checkpoint of every view now (not while the thread runs).
  Status Checkpoint();

  // Records of the log the view has not consumed yet (a backfill's progress); nullopt when the
  // pipeline does not run the view (not added yet: still restoring, or removed).
  std::optional<uint64_t> lag(const std::string& name) const;
  // The last error that stopped the thread, if any.
  Status status() const;

 private:
  struct Impl;
  void Run();

  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace sluice::stream
