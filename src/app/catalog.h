// The catalog: the streams, reference tables and materialized views defined in SQL, what runs them
// (stream logs registered with the ingestor; view pipelines), and the execution of SQL statements
// for POST /v1/sql and `sluice sql`.
//
// Durability: every successful CREATE and DROP is appended, as canonical SQL (sql::ToSql), to
// the catalog's own log `<data_dir>/streams/_catalog` (one partition, never truncated, like
// the registry's `_schemas`) and answered once that append is durable. Open() replays the log,
// so the objects come back after a restart or a crash exactly as they were acknowledged. When
// the log is empty (a new data directory) the catalog first executes its initial statements:
// the embedded default (the `fulfilment` stream and the `events_per_minute` view).
//
// On disk, per stream: `<data_dir>/streams/<name>/` (its log), `<name>.dead_letters/` and, with
// exactly-once events, `<name>@<catalog offset of its CREATE>.dedup/` (its dedup index,
// deleted at the start after a drop); per view `<view>@<offset>.late_events/` (its late
// events, moved aside when it is dropped). A
// dropped stream's directories move to `<data_dir>/streams/.dropped/` and are deleted at the
// next start. Each stream has one pipeline (stream_pipeline.h) running all its views; a view
// checkpoints under "<view>@<catalog offset of its CREATE>", so a view dropped and created
// again never sees the old state; checkpoints of views that no longer exist are deleted at
// start.
//
// Thread-safety: Execute() may be called from any thread; statements run one at a time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "app/config.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "ingest/ingestor.h"
#include "log/log.h"
#include "schema/registry.h"
#include "server/http_server.h"
#include "sql/plan.h"
#include "store/view.h"
#include "stream/checkpoint_store.h"

namespace sluice::app {

// The embedded default, executed when the catalog is new (DESIGN.md, "Public surface").
std::string_view DefaultCatalogSql();

class Catalog {
 public:
  struct Dependencies {
    const Config* config = nullptr;
    Clock* clock = nullptr;
    MetricsRegistry* metrics = nullptr;
    log::Syncer* syncer = nullptr;
    ingest::Ingestor* ingestor = nullptr;
    store::ViewRegistry* views = nullptr;
    stream::CheckpointStore* checkpoints = nullptr;
    const schema::Registry* registry = nullptr;  // to warn about subjects without a schema
    // Applied to every stream's spec before use, never persisted: the configuration file's
    // overrides (the `fulfilment` stream's subject).
    std::function<void(sql::StreamSpec&)> adjust_stream;
    // Called on the restoring thread before each view's restore (tests hold a restore here).
    std::function<void(const std::string& view)> before_restore;
  };

  // Opens and replays the catalog log (running `initial_sql` first when it is empty), opening
  // every stream's logs and registering the streams with the ingestor. Views defined in the log
  // restore their rows from their checkpoints on a background thread, one after another, so
  // the process serves at once: until its restore ends a view answers Unavailable (HTTP 503)
  // and SHOW VIEWS shows its lag as null; then it joins its stream's pipeline. Pipelines start
  // with Start().
  static Result<std::unique_ptr<Catalog>> Open(Dependencies deps, std::string_view initial_sql);
  ~Catalog();  // stops the pipelines

  // Waits until every view defined at Open has been restored (or failed to restore).
  void WaitUntilRestored();

  // Starts the pipelines; views created later start at once.
  void Start();
  // Stops every pipeline (each commits a final checkpoint).
  void Stop();

  // Runs one or more statements (see docs/sql.md, docs/http-api.md): an HTTP status and the
  // JSON answer {"results":[...]} or, on the first failing statement, {"error":..., "line":...,
  // "column":..., "statement":i, "results":[the statements before it]}. Statements before a
  // failing one stay done.
  server::SqlAnswer Execute(std::string_view sql);

  // GET and PUT /v1/tables/{table}/rows (docs/http-api.md): the table's rows as JSON, or an
  // upsert of the body's rows (JSON array, NDJSON or CSV by Content-Type), answered once
  // durable with {"upserted","deleted","rejected"}.
  server::SqlAnswer TableRows(std::string_view method, std::string_view table,
                              std::string_view content_type, std::string_view body);

  // Enforces log retention on every stream (and view late-events log) and updates the log
  // size gauges.
  void Housekeep();

  // GET /v1/views/{view}/late-events: up to `limit` entries of the view's late-events log from
  // offset `from` on, as LateEventPage JSON (stream/late_events.h); NotFound for an unknown view.
  Result<std::string> LateEventsJson(const std::string& view, uint64_t from, size_t limit);

  // A where= filter over the view's rows (app/view_filter.h); NotFound for an unknown view.
  Result<store::RowFilter> CompileFilter(const std::string& view, const std::string& where);

 private:
  struct Impl;
  explicit Catalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::app
