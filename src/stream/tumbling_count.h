// A keyed event-time tumbling-window count, maintained continuously from a log into a view:
//
//   SELECT <group_by…>, window_start, count(*) AS events
//   FROM TUMBLE(<stream>, <event time>, <window>) GROUP BY <group_by…>, window_start
//
// This is the first pipeline, defined in code (the SQL compiler replaces the definition later;
// the runtime contract stays). Behaviour callers may rely on:
// - Results are emitted on update: every processing round that changes counts applies one
//   delta to the view right away, never held back until a checkpoint.
// - Out-of-order events update the window they belong to (by event time, taken from the log
//   record); events behind the watermark (max event time − watermark delay) are still counted
//   and also counted in `sluice_late_events_total`.
// - Every checkpoint_interval the changed counts, the consumed log offsets and the view version
//   are committed in one synced write. A restart loads the checkpoint and replays the log from
//   its offsets, so the view ends up exactly as an uninterrupted run would have it.
// - Group-by fields are top-level event fields; a missing field groups as null.
// - View versions only grow, across restarts too: after a crash the replay continues above
//   any version the previous run could have emitted (a jump, never a reused number).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "log/log.h"
#include "store/view.h"
#include "stream/checkpoint_store.h"

namespace sluice::stream {

struct TumblingCountOptions {
  std::string name;  // pipeline name, also the checkpoint key
  std::vector<std::string> group_by = {"warehouse_id", "event_type"};
  std::string event_time_field = "occurred_at";  // for the SQL text only: ingest parsed it
  int64_t window_micros = kMicrosPerMinute;
  int64_t watermark_delay_micros = 5 * kMicrosPerSecond;
  int64_t checkpoint_interval_micros = kMicrosPerSecond;
  size_t read_bytes_per_partition = 1 << 20;  // per round
};

// The view definition (columns and key) that matches a pipeline's options.
store::ViewDefinition TumblingCountViewDefinition(const TumblingCountOptions& options,
                                                  const std::string& stream);

class TumblingCountPipeline {
 public:
  // Loads the last checkpoint into the view. `input`, `view`, `checkpoints`, `clock` and
  // `metrics` must outlive the pipeline.
  static Result<std::unique_ptr<TumblingCountPipeline>> Create(TumblingCountOptions options,
                                                               log::Log& input, store::View& view,
                                                               CheckpointStore& checkpoints,
                                                               Clock& clock,
                                                               MetricsRegistry& metrics);
  ~TumblingCountPipeline();  // stops (with a final checkpoint) if running

  // Runs the pipeline on its own thread, tailing the log (woken on every durable append).
  void Start();
  // Stops the thread and commits a final checkpoint.
  Status Stop();

  // Processes whatever durable input is available, on the caller's thread; returns the number
  // of records processed. For tests and tools; do not mix with Start().
  Result<size_t> ProcessAvailable();
  // Commits a checkpoint now.
  Status Checkpoint();

  // The last error that stopped the thread, if any.
  Status status() const;

 private:
  struct Impl;
  explicit TumblingCountPipeline(std::unique_ptr<Impl> impl);
  void Run();

  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace sluice::stream
