// Anomaly alerts (CREATE ALERT name ON view WITH (...); docs/sql.md, "Anomaly alerts"): an
// AlertRunner follows the closed windows of one windowed view (emit = 'on_close': each window's
// rows appear once, when it closes), keeps a per-key EWMA baseline of one metric column
// (stream/anomaly.h), and appends an alert event to the `alerts` stream for every closed window
// that deviates. Views over `alerts` carry the alerts to subscribers like any view.
//
// What callers may rely on:
// * Deterministic given the view's closed windows; each window is judged once, in order.
// * Idempotent by window: an alert's event_id is "<alert>/<key>/<window start>"; ids already in
//   the alerts stream (scanned at start) are not appended again, and the detector's state,
//   committed to the checkpoint store after every batch of closed windows under the alert's
//   checkpoint id, records the last window judged: a restart neither repeats nor skips a
//   window (windows that closed while the alert was down are taken from the view's rows).
// * A new alert learns its baseline silently from the windows the view already holds; it
//   alerts on windows that close after it was created.
// * The view's listener only queues; the runner's own thread parses, judges and appends, so it
//   never slows the pipeline.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "sql/plan.h"
#include "store/view.h"
#include "stream/anomaly.h"
#include "stream/checkpoint_store.h"

namespace sluice::app {

struct AlertDefinition {
  std::string name;
  std::string view;
  std::string metric;                    // a numeric column of the view
  std::vector<std::string> key_columns;  // the view's key columns other than its window
  std::string window_column;             // the view's column holding the window start or end
  bool window_column_is_end = false;
  int64_t window_size_micros = 0;
  stream::AnomalyOptions options;  // options.window_micros: the view's slide
};

// Checks an alert's view and options (the view must be windowed, emit = 'on_close', and have
// `metric` as a column); errors are InvalidArgument without a position (the caller adds it).
Result<AlertDefinition> DefineAlert(std::string name, const sql::ViewPlan& view, std::string metric,
                                    stream::AnomalyOptions options);

class AlertRunner {
 public:
  // Appends NDJSON alert events durably to the alerts stream (blocking).
  using Append = std::function<Status(const std::string& ndjson)>;

  AlertRunner(AlertDefinition definition, std::shared_ptr<store::View> view,
              stream::CheckpointStore& checkpoints, std::string checkpoint_id, Append append,
              std::set<std::string> already_appended);
  ~AlertRunner();  // stops

  // Loads the checkpoint, subscribes to the view and starts the runner's thread.
  Status Start();
  void Stop();

  const AlertDefinition& definition() const { return definition_; }
  uint64_t alerts_raised() const;

 private:
  void Run();
  void ProcessRows(const std::string& rows_json_document, bool from_snapshot);

  const AlertDefinition definition_;
  std::shared_ptr<store::View> view_;
  stream::CheckpointStore& checkpoints_;
  const std::string checkpoint_id_;
  Append append_;
  std::set<std::string> appended_;
  std::unique_ptr<stream::AnomalyDetector> detector_;
  bool learning_ = false;  // a new alert: the snapshot's windows build the baseline silently

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const std::string>> queue_;  // snapshot and delta documents
  bool stopping_ = false;
  uint64_t subscription_ = 0;
  bool subscribed_ = false;
  uint64_t raised_ = 0;
  std::thread thread_;
};

}  // namespace sluice::app
