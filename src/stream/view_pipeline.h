// A materialized view's pipeline: tails a stream's log, runs the view's Aggregator
// (aggregation.h) over every event, applies the changes to the view, and checkpoints.
//
// Behaviour callers may rely on:
// - Input: one reader per log partition; only durable records are read, and a caught-up
//   pipeline sleeps on the log's durable-generation signal (woken by the group commit), so an
//   event is processed within microseconds of being acknowledged.
// - Each event's fields are extracted once (one simdjson on-demand pass reading only what the
//   view's expressions use); its event time is the log record's (parsed once at ingest).
// - Output: each processing round (all available records, up to read_bytes_per_partition per
//   partition) applies at most one delta to the view, right away (never held for a
//   checkpoint). The delta's position is the number of records consumed.
// - Checkpoints: every checkpoint_interval, the state changed since the last checkpoint, the
//   next offset per partition, the view version and the operator's metadata are committed in
//   one synced RocksDB write batch under `id`. Create() loads them and the pipeline replays
//   the log from those offsets, so the view ends exactly as an uninterrupted run's (for
//   on_close views, up to the arrival-order caveat in aggregation.h).
// - A new pipeline (no checkpoint) starts at the oldest retained record: it backfills the view
//   from the log, then follows it.
// - Versions only grow, across restarts too: after a crash the view's version starts above
//   any version the previous run can have emitted (a jump, never a reused number).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "log/log.h"
#include "sql/plan.h"
#include "store/view.h"
#include "stream/checkpoint_store.h"

namespace sluice::stream {

struct ViewPipelineOptions {
  std::string id;  // the checkpoint key: unique per view definition (never reused)
  int64_t checkpoint_interval_micros = kMicrosPerSecond;
  size_t read_bytes_per_partition = 1 << 20;  // per round
};

// The view definition (columns, key, SQL text) of a plan.
store::ViewDefinition ViewDefinitionFor(const sql::ViewPlan& plan, std::string sql);

class ViewPipeline {
 public:
  // Compiles the plan and loads the last checkpoint into the view. `input`, `view`,
  // `checkpoints`, `clock` and `metrics` must outlive the pipeline.
  static Result<std::unique_ptr<ViewPipeline>> Create(const sql::ViewPlan& plan,
                                                      ViewPipelineOptions options, log::Log& input,
                                                      store::View& view,
                                                      CheckpointStore& checkpoints, Clock& clock,
                                                      MetricsRegistry& metrics);
  ~ViewPipeline();  // stops (with a final checkpoint) if running

  // Runs the pipeline on its own thread.
  void Start();
  // Stops the thread and commits a final checkpoint.
  Status Stop();

  // Processes whatever durable input is available, on the caller's thread; returns the number
  // of records processed. For tests and tools; do not mix with Start().
  Result<size_t> ProcessAvailable();
  // Commits a checkpoint now (not while the thread runs).
  Status Checkpoint();

  // The last error that stopped the thread, if any.
  Status status() const;
  // Records consumed so far (the position of the last delta).
  uint64_t position() const;

 private:
  struct Impl;
  explicit ViewPipeline(std::unique_ptr<Impl> impl);
  void Run();

  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace sluice::stream
