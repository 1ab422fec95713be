// The engine: everything `sluice serve` runs, wired together over one data directory: the
// schema registry, the ingestor, the catalog of SQL-defined streams and views (catalog.h;
// a new data directory starts with the embedded default: the `fulfilment` stream and the
// `events_per_minute` view), their pipelines, and the HTTP server.
//
//   <data_dir>/streams/<stream>/   a stream's partitioned log (and <stream>.dead_letters/)
//   <data_dir>/streams/_schemas/   the schema registry's log (its only state)
//   <data_dir>/streams/_catalog/   the catalog's log: stream and view definitions as SQL
//   <data_dir>/state/              pipeline checkpoints (RocksDB)
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "app/config.h"
#include "base/clock.h"
#include "base/status.h"

namespace sluice::app {

class Engine {
 public:
  // Opens (recovering) the logs and checkpoints and prepares the pipelines; serves nothing yet.
  static Result<std::unique_ptr<Engine>> Open(const Config& config, Clock& clock);
  ~Engine();

  // Starts the pipelines, the housekeeping thread (retention) and the HTTP server.
  Status Start();
  uint16_t http_port() const;
  // Runs SQL statements as POST /v1/sql does (docs/http-api.md): the HTTP status and JSON body.
  struct SqlResult {
    int status = 200;
    std::string body;
  };
  SqlResult ExecuteSql(std::string_view sql);
  // Stops serving, then the pipelines (final checkpoint), then flushes the logs.
  void Stop();

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::app
