#include "app/engine.h"

#include <condition_variable>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/fulfilment_schema.h"
#include "base/metrics.h"
#include "ingest/ingestor.h"
#include "log/log.h"
#include "schema/registry.h"
#include "server/http_server.h"
#include "store/view.h"
#include "stream/checkpoint_store.h"
#include "stream/tumbling_count.h"

namespace sluice::app {

struct Engine::Impl {
  Config config;
  Clock& clock;
  MetricsRegistry metrics;
  log::Syncer syncer;
  std::unique_ptr<log::Log> fulfilment_log;
  std::unique_ptr<log::Log> dead_letter_log;
  std::unique_ptr<log::Log> schemas_log;  // the registry's state, like Confluent's _schemas
  std::unique_ptr<schema::Registry> registry;
  std::unique_ptr<stream::CheckpointStore> checkpoints;
  store::ViewRegistry views;
  std::unique_ptr<ingest::Ingestor> ingestor;
  std::unique_ptr<stream::TumblingCountPipeline> events_per_minute;
  std::unique_ptr<server::HttpServer> server;
  std::atomic<bool> ready{false};

  std::thread housekeeping;
  std::mutex housekeeping_mu;
  std::condition_variable housekeeping_cv;
  bool stopping = false;

  Gauge* fulfilment_bytes = nullptr;
  Gauge* dead_letter_bytes = nullptr;

  explicit Impl(const Config& c, Clock& cl) : config(c), clock(cl) {}

  void Housekeep() {
    for (log::Log* l : {fulfilment_log.get(), dead_letter_log.get()}) {
      auto deleted = l->EnforceRetention();
      if (!deleted.ok())
        spdlog::error("retention on {} failed: {}", l->dir(), deleted.status().ToString());
      else if (deleted.value() > 0)
        spdlog::info("retention: deleted {} segment(s) of {}", deleted.value(), l->dir());
    }
    fulfilment_bytes->Set(static_cast<int64_t>(fulfilment_log->SizeBytes()));
    dead_letter_bytes->Set(static_cast<int64_t>(dead_letter_log->SizeBytes()));
  }

  void HousekeepingLoop() {
    std::unique_lock lock(housekeeping_mu);
    while (!stopping) {
      lock.unlock();
      Housekeep();
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

  log::LogOptions log_options;
  log_options.partitions = config.log_partitions;
  log_options.segment_bytes = config.log_segment_bytes;
  log_options.retention_micros = config.log_retention_micros;
  const fs::path streams = fs::path(config.data_dir) / "streams";
  SLUICE_ASSIGN_OR_RETURN(impl->fulfilment_log, log::Log::Open((streams / "fulfilment").string(),
                                                               log_options, clock, impl->syncer));
  log::LogOptions dead_letter_options = log_options;
  dead_letter_options.partitions = 1;
  SLUICE_ASSIGN_OR_RETURN(impl->dead_letter_log,
                          log::Log::Open((streams / "fulfilment.dead_letters").string(),
                                         dead_letter_options, clock, impl->syncer));
  // One partition (the registry's mutations are totally ordered) and no retention: the log is
  // the registry's only copy of its state. Housekeeping never enforces retention on it.
  log::LogOptions schemas_options;
  schemas_options.partitions = 1;
  schemas_options.segment_bytes = 16u << 20;
  schemas_options.retention_micros = std::numeric_limits<int64_t>::max() / 2;
  SLUICE_ASSIGN_OR_RETURN(impl->schemas_log, log::Log::Open((streams / "_schemas").string(),
                                                            schemas_options, clock, impl->syncer));
  SLUICE_ASSIGN_OR_RETURN(impl->registry, schema::Registry::Open(*impl->schemas_log, impl->syncer));
  impl->fulfilment_bytes = impl->metrics.GetGauge(
      "sluice_log_bytes", "Bytes on disk per stream log", "stream=\"fulfilment\"");
  impl->dead_letter_bytes = impl->metrics.GetGauge(
      "sluice_log_bytes", "Bytes on disk per stream log", "stream=\"fulfilment.dead_letters\"");

  SLUICE_ASSIGN_OR_RETURN(impl->checkpoints, stream::CheckpointStore::Open(
                                                 (fs::path(config.data_dir) / "state").string()));

  if (config.fulfilment_subject == kFulfilmentSubject)
    SLUICE_RETURN_IF_ERROR(RegisterDefaultSchemas(*impl->registry));
  impl->ingestor =
      std::make_unique<ingest::Ingestor>(impl->syncer, clock, impl->metrics, impl->registry.get());
  ingest::StreamConfig fulfilment;
  fulfilment.name = "fulfilment";
  fulfilment.fields.partition_key = "order_id";  // an order's lifecycle stays in one partition
  fulfilment.subject = config.fulfilment_subject;
  impl->ingestor->AddStream(fulfilment, impl->fulfilment_log.get(), impl->dead_letter_log.get());

  stream::TumblingCountOptions epm;
  epm.name = "events_per_minute";
  epm.checkpoint_interval_micros = config.checkpoint_interval_micros;
  store::View* view = impl->views.Add(stream::TumblingCountViewDefinition(epm, "fulfilment"));
  SLUICE_ASSIGN_OR_RETURN(impl->events_per_minute, stream::TumblingCountPipeline::Create(
                                                       epm, *impl->fulfilment_log, *view,
                                                       *impl->checkpoints, clock, impl->metrics));
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Status Engine::Start() {
  Impl& s = *impl_;
  s.events_per_minute->Start();
  s.housekeeping = std::thread([&s] { s.HousekeepingLoop(); });

  server::ServerContext context;
  context.ingestor = s.ingestor.get();
  context.views = &s.views;
  context.metrics = &s.metrics;
  context.registry = s.registry.get();
  context.ready = [&s] { return s.ready.load(); };
  server::ServerOptions options;
  options.address = s.config.http_address;
  options.port = s.config.http_port;
  options.threads = s.config.http_threads;
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
  if (s.events_per_minute) {
    if (Status st = s.events_per_minute->Stop(); !st.ok())
      spdlog::error("final checkpoint failed: {}", st.ToString());
    s.events_per_minute.reset();
  }
  {
    std::lock_guard lock(s.housekeeping_mu);
    s.stopping = true;
  }
  s.housekeeping_cv.notify_all();
  if (s.housekeeping.joinable()) s.housekeeping.join();
}

}  // namespace sluice::app
