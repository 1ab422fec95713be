#include "app/engine.h"

#include <condition_variable>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/catalog.h"
#include "app/fulfilment_schema.h"
#include "base/metrics.h"
#include "base/thread_name.h"
#include "ingest/ingestor.h"
#include "log/log.h"
#include "schema/registry.h"
#include "server/http_server.h"
#include "store/view.h"
#include "stream/checkpoint_store.h"

namespace sluice::app {

struct Engine::Impl {
  Config config;
  Clock& clock;
  MetricsRegistry metrics;
  log::Syncer syncer;
  std::unique_ptr<log::Log> schemas_log;  // the registry's state, like Confluent's _schemas
  std::unique_ptr<schema::Registry> registry;
  std::unique_ptr<stream::CheckpointStore> checkpoints;
  store::ViewRegistry views;
  std::unique_ptr<ingest::Ingestor> ingestor;
  std::unique_ptr<Catalog> catalog;  // streams and views; owns their logs and pipelines
  std::unique_ptr<server::HttpServer> server;
  std::atomic<bool> ready{false};

  std::thread housekeeping;
  std::mutex housekeeping_mu;
  std::condition_variable housekeeping_cv;
  bool stopping = false;

  explicit Impl(const Config& c, Clock& cl) : config(c), clock(cl) {}

  void HousekeepingLoop() {
    std::unique_lock lock(housekeeping_mu);
    while (!stopping) {
      lock.unlock();
      catalog->Housekeep();
      lock.lock();
      housekeeping_cv.wait_for(lock, std::chrono::microseconds(config.housekeeping_interval_micros),
                               [this] { return stopping; });
    }
  }
};

namespace {

// The embedded default's schema, registered the first time the data directory is used. Later
// versions are the operator's (through /registry): an existing subject is left alone.
Status RegisterDefaultSchemas(schema::Registry& registry) {
  if (!registry.Versions(kFulfilmentSubject, /*include_deleted=*/true).ok()) {
    schema::SchemaInput input;
    input.type = schema::SchemaType::kJson;
    input.schema = std::string(FulfilmentSchemaJson());
    auto registered = registry.Register(kFulfilmentSubject, input);
    if (!registered.ok())
      return Status::Internal(fmt::format("registering the default schema {}: {}",
                                          kFulfilmentSubject, registered.error().message));
    // The schema's content model is open (producers may send fields it does not list yet).
    // Under Confluent's STRICT policy, BACKWARD then refuses every added property, even an
    // optional one, since an old event might carry it with another type; LENIENT allows
    // adding optional properties, which is how this schema is meant to grow.
    schema::RegistryConfig config;
    config.compatibility_policy = schema::CompatibilityPolicy::kLenient;
    auto updated = registry.UpdateConfig(kFulfilmentSubject, config);
    if (!updated.ok())
      return Status::Internal(
          fmt::format("configuring {}: {}", kFulfilmentSubject, updated.error().message));
    spdlog::info("registered the default schema {} (id {})", kFulfilmentSubject,
                 registered->schema->id);
  }
  return Status::Ok();
}

}  // namespace

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  Stop();
}

Result<std::unique_ptr<Engine>> Engine::Open(const Config& config, Clock& clock) {
  namespace fs = std::filesystem;
  auto impl = std::make_unique<Impl>(config, clock);
  std::error_code ec;
  fs::create_directories(fs::path(config.data_dir) / "streams", ec);
  if (ec)
    return Status::IOError(
        fmt::format("cannot create data directory {}: {}", config.data_dir, ec.message()));

  const fs::path streams = fs::path(config.data_dir) / "streams";
  // One partition (the registry's mutations are totally ordered) and no retention: the log is
  // the registry's only copy of its state. Housekeeping never enforces retention on it.
  log::LogOptions schemas_options;
  schemas_options.partitions = 1;
  schemas_options.segment_bytes = 16u << 20;
  schemas_options.retention_micros = std::numeric_limits<int64_t>::max() / 2;
  SLUICE_ASSIGN_OR_RETURN(impl->schemas_log, log::Log::Open((streams / "_schemas").string(),
                                                            schemas_options, clock, impl->syncer));
  SLUICE_ASSIGN_OR_RETURN(impl->registry, schema::Registry::Open(*impl->schemas_log, impl->syncer));

  SLUICE_ASSIGN_OR_RETURN(impl->checkpoints, stream::CheckpointStore::Open(
                                                 (fs::path(config.data_dir) / "state").string()));

  if (config.fulfilment_subject == kFulfilmentSubject)
    SLUICE_RETURN_IF_ERROR(RegisterDefaultSchemas(*impl->registry));
  impl->ingestor =
      std::make_unique<ingest::Ingestor>(impl->syncer, clock, impl->metrics, impl->registry.get());

  Catalog::Dependencies deps;
  deps.config = &impl->config;
  deps.clock = &clock;
  deps.metrics = &impl->metrics;
  deps.syncer = &impl->syncer;
  deps.ingestor = impl->ingestor.get();
  deps.views = &impl->views;
  deps.checkpoints = impl->checkpoints.get();
  deps.registry = impl->registry.get();
  // [streams.fulfilment] subject and archive in the configuration file override the stream's
  // definition.
  if (config.fulfilment_subject != kFulfilmentSubject || !config.fulfilment_archive) {
    deps.adjust_stream = [subject = config.fulfilment_subject,
                          archive = config.fulfilment_archive](sql::StreamSpec& spec) {
      if (spec.name != "fulfilment") return;
      spec.subject = subject;
      if (!archive) {
        spec.archive = false;
        spec.archive_retention_micros.reset();
      }
    };
  }
  SLUICE_ASSIGN_OR_RETURN(impl->catalog, Catalog::Open(std::move(deps), DefaultCatalogSql()));
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::SqlResult Engine::ExecuteSql(std::string_view sql) {
  server::SqlAnswer answer = impl_->catalog->Execute(sql);
  return {answer.status, std::move(answer.body)};
}

Status Engine::Start() {
  Impl& s = *impl_;
  s.catalog->Start();
  s.housekeeping = std::thread([&s] {
    SetCurrentThreadName("housekeeping");
    s.HousekeepingLoop();
  });

  server::ServerContext context;
  context.ingestor = s.ingestor.get();
  context.views = &s.views;
  context.metrics = &s.metrics;
  context.registry = s.registry.get();
  context.sql = [&s](std::string_view sql) { return s.catalog->Execute(sql); };
  context.table_rows = [&s](std::string_view method, std::string_view table,
                            std::string_view content_type, std::string_view body) {
    return s.catalog->TableRows(method, table, content_type, body);
  };
  context.ready = [&s] { return s.ready.load(); };
  context.late_events = [&s](const std::string& view, uint64_t from, size_t limit) {
    return s.catalog->LateEventsJson(view, from, limit);
  };
  context.compile_filter = [&s](const std::string& view, const std::string& where) {
    return s.catalog->CompileFilter(view, where);
  };
  server::ServerOptions options;
  options.address = s.config.http_address;
  options.port = s.config.http_port;
  options.threads = s.config.http_threads;
  options.max_body_bytes_in_memory = static_cast<size_t>(s.config.http_max_body_bytes_in_memory);
  options.websocket_ping_interval = std::chrono::seconds(s.config.http_websocket_ping_seconds);
  s.server = std::make_unique<server::HttpServer>(context, options);
  SLUICE_RETURN_IF_ERROR(s.server->Start());
  s.ready = true;
  return Status::Ok();
}

uint16_t Engine::http_port() const {
  return impl_->server ? impl_->server->port() : 0;
}

void Engine::Stop() {
  Impl& s = *impl_;
  s.ready = false;
  if (s.server) {
    s.server->Stop();
    s.server.reset();
  }
  if (s.catalog) s.catalog->Stop();
  {
    std::lock_guard lock(s.housekeeping_mu);
    s.stopping = true;
  }
  s.housekeeping_cv.notify_all();
  if (s.housekeeping.joinable()) s.housekeeping.join();
}

}  // namespace sluice::app
