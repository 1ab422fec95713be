// The HTTP and WebSocket front of Sluice (Boost.Beast on Asio): ingest, views, subscriptions,
// operations endpoints and the embedded dashboard. See docs/http-api.md for the contract.
//
// What callers may rely on:
// - Start() binds and begins serving on its own threads; port 0 picks a free port (see port()).
// - Malformed requests are answered with a precise 4xx JSON error (or, when the bytes are not
//   HTTP at all, the connection is closed) and never affect other connections.
// - Stop() closes the listener and every connection, then joins the threads. The components
//   in ServerContext must outlive the server.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/metrics.h"
#include "base/status.h"
#include "ingest/ingestor.h"
#include "store/delta_log.h"
#include "store/view.h"

namespace sluice::schema {
class Registry;
}

namespace sluice::server {

struct ServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8080;
  int threads = 2;
  size_t max_body_bytes = 16u << 20;  // larger ingest bodies get 413
  // All connections' request bodies held in memory at once (being received or handled): a
  // request that would go past it gets 503 with Retry-After before its body is read, so many
  // large concurrent requests (or a disk slow to sync them) cannot grow memory without bound.
  size_t max_body_bytes_in_memory = 512u << 20;
  // The deltas kept per subscribed view for WebSocket clients that fall behind (by count and by
  // bytes): a client further behind gets a fresh snapshot in place.
  size_t delta_log_max_deltas = store::DeltaLog::kDefaultMaxDeltas;
  size_t delta_log_max_bytes = store::DeltaLog::kDefaultMaxBytes;
  // A WebSocket subscriber is pinged after this long without a write (docs/http-api.md).
  std::chrono::milliseconds websocket_ping_interval{30000};
};

// The answer to POST /v1/sql: an HTTP status and a JSON body.
struct SqlAnswer {
  int status = 200;
  std::string body;
};
// Runs the SQL text of one request (one or more statements); see docs/http-api.md. Called on
// an I/O thread: it may block for a group commit, not for long work.
using SqlExecutor = std::function<SqlAnswer(std::string_view sql)>;
// GET / PUT /v1/tables/{table}/rows: (method, table, Content-Type, body) -> answer. Called on an
// I/O thread: it may block for a synced write.
using TableRowsHandler =
    std::function<SqlAnswer(std::string_view method, std::string_view table,
                            std::string_view content_type, std::string_view body)>;

// Compiles a row filter (?where= on /v1/subscribe and GET /v1/views/{view}) for a view: the
// predicate (callable from any thread), or InvalidArgument with the reason (answered with 400).
using FilterCompiler =
    std::function<Result<store::RowFilter>(const std::string& view, const std::string& where)>;

struct ServerContext {
  ingest::Ingestor* ingestor = nullptr;
  store::ViewRegistry* views = nullptr;
  MetricsRegistry* metrics = nullptr;
  schema::Registry* registry = nullptr;  // /registry/...; nullptr answers 404 there
  SqlExecutor sql;                       // POST /v1/sql; nullptr answers 404 there
  TableRowsHandler table_rows;           // /v1/tables/{t}/rows; nullptr answers 404 there
  std::function<bool()> ready;           // /readyz; nullptr means always ready
  // GET /v1/views/{view}/late-events?from=&limit=: the page's JSON, NotFound for an unknown
  // view; nullptr answers 404 there.
  std::function<Result<std::string>(const std::string& view, uint64_t from, size_t limit)>
      late_events;
  FilterCompiler compile_filter;  // nullptr: a where= parameter answers 400
};

class HttpServer {
 public:
  HttpServer(ServerContext context, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  Status Start();
  uint16_t port() const;
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::server
