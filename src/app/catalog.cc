#include "app/catalog.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "app/alerts.h"
#include "app/archive_columns.h"
#include "app/lake_query.h"
#include "app/view_filter.h"
#include "app/view_query.h"
#include "base/thread_name.h"
#include "base/time.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/archive.h"
#include "stream/late_events.h"
#include "stream/stream_pipeline.h"
#include "stream/view_table.h"

namespace sluice::app {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

std::string_view DefaultCatalogSql() {
  // The stream leaves partitions and retention to the configuration ([log], [lake]). Financial
  // events are exactly-once (deduplicated by event_id), operational ones at-least-once. Every
  // raw event is archived (the auditors' 90 days: stream/archive.h).
  return R"sql(
CREATE STREAM fulfilment WITH (subject = 'fulfilment-value', event_time = 'occurred_at',
    watermark_delay = '5 seconds', delivery = 'exactly_once', dedup_key = 'event_id',
    exactly_once_when = event_type IN ('payment.captured', 'refund.issued', 'carrier.charge'),
    partition_key = 'order_id', archive = 'on');
CREATE MATERIALIZED VIEW events_per_minute WITH (retention = '2 years',
    rollups = '1 hour after 30 days, 1 day after 1 year') AS
  SELECT warehouse_id, event_type, window_start, count(*) AS events,
         sum(amount_minor) AS amount_minor
  FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE)
  GROUP BY warehouse_id, event_type, window_start;
)sql";
}

namespace {

// "5 seconds", "2 years" (365-day years, as ParseDuration reads them), "90 minutes".
std::string DurationText(int64_t micros) {
  struct Unit {
    int64_t micros;
    const char* name;
  };
  static const Unit kUnits[] = {{365 * kMicrosPerDay, "year"}, {kMicrosPerDay, "day"},
                                {kMicrosPerHour, "hour"},      {kMicrosPerMinute, "minute"},
                                {kMicrosPerSecond, "second"},  {kMicrosPerMilli, "millisecond"}};
  for (const Unit& u : kUnits) {
    if (micros != 0 && micros % u.micros == 0) {
      const int64_t n = micros / u.micros;
      return fmt::format("{} {}{}", n, u.name, n == 1 ? "" : "s");
    }
  }
  return fmt::format("{} microseconds", micros);
}

std::string_view DeliveryName(sql::Delivery d) {
  return d == sql::Delivery::kExactlyOnce ? "exactly_once" : "at_least_once";
}

// SHOW STREAMS: "at_least_once", "exactly_once", or "exactly_once when <predicate>".
std::string DeliveryText(const sql::StreamSpec& s) {
  std::string text(DeliveryName(s.delivery));
  if (!s.exactly_once_when.empty()) text += " when " + s.exactly_once_when;
  return text;
}

std::string WindowText(const sql::WindowSpec& w) {
  switch (w.kind) {
    case sql::WindowKind::kNone:
      return "";
    case sql::WindowKind::kTumble:
      return fmt::format("TUMBLE {}", DurationText(w.size_micros));
    case sql::WindowKind::kHop:
      return fmt::format("HOP {} every {}", DurationText(w.size_micros),
                         DurationText(w.slide_micros));
    case sql::WindowKind::kSession:
      return fmt::format("SESSION gap {}", DurationText(w.size_micros));
  }
  return "";
}

// "line L, column C: ..." -> L and C, for the JSON error answer.
std::optional<std::pair<int, int>> ErrorPosition(const std::string& message) {
  int line = 0, column = 0;
  if (std::sscanf(message.c_str(), "line %d, column %d:", &line, &column) == 2)
    return std::make_pair(line, column);
  return std::nullopt;
}

int HttpStatusFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 507;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

struct StreamEntry {
  sql::StreamSpec spec;
  std::string sql;
  std::unique_ptr<log::Log> log;
  std::unique_ptr<log::Log> dead_letters;
  std::unique_ptr<ingest::DedupIndex> dedup;  // its exactly-once ids (when it has any)
  std::string dedup_dir;                      // "<name>@<catalog offset of its CREATE>.dedup"
  std::unique_ptr<stream::StreamPipeline> pipeline;  // runs the stream's views
  std::unique_ptr<stream::Archive> archive;          // its compliance archive, when on
  std::vector<lake::EventColumn> archive_columns;    // the archive's typed columns
  Gauge* log_bytes = nullptr;
  Gauge* dead_letter_bytes = nullptr;
};

struct TableEntry {
  std::string sql;
  std::shared_ptr<stream::ReferenceTable> table;  // spec() is the plan
};

// A view's table in the lake (stream/view_table.h), written by the lake writer thread; guarded
// by Catalog::Impl::lake_mu. `dropped`: the view is gone and its table moved aside.
struct LakeOutput {
  std::unique_ptr<stream::ViewTable> table;
  std::shared_ptr<store::View> view;
  bool dropped = false;
};

struct ViewEntry {
  sql::ViewPlan plan;
  std::string sql;
  std::string checkpoint_id;  // "<view>@<catalog offset of its CREATE>"
  std::shared_ptr<store::View> view;
  std::unique_ptr<log::Log> late_events;  // its late-events side output (stream/late_events.h)
  Gauge* late_event_bytes = nullptr;
  std::shared_ptr<LakeOutput> lake;  // lake = 'on': its table in the lake
  // Rollups (sql::RollupTier): a base view's tier views, or the base view of a tier view. Tier
  // views come and go with their base view (they are not in the catalog log of their own).
  std::vector<std::string> rollups;
  std::string rollup_of;
};

struct AlertEntry {
  std::string sql;
  std::string checkpoint_id;  // "alert:<name>@<catalog offset of its CREATE>"
  std::unique_ptr<AlertRunner> runner;
};

// The stream alerts are appended to, created with the first alert.
constexpr std::string_view kAlertsStream = "alerts";
constexpr std::string_view kAlertsStreamSql =
    "CREATE STREAM alerts WITH (event_time = 'occurred_at', dedup_key = 'event_id', "
    "partition_key = 'alert', partitions = 1)";

// A number given as an option value (alpha = 0.2, warmup = 10).
Result<double> NumberOption(const sql::Option& option) {
  sql::Scope empty;
  Result<sql::BoundExpr> bound = sql::Bind(option.value, empty);
  if (!bound.ok() || bound->kind != sql::BoundExpr::Kind::kConstant ||
      !sql::IsNumeric(bound->constant.type))
    return sql::ErrorAt(option.value.location,
                        fmt::format("option {} must be a number", option.key.name));
  return bound->constant.type == sql::Type::kDouble ? bound->constant.real
                                                    : static_cast<double>(bound->constant.integer);
}

}  // namespace

struct Catalog::Impl {
  Dependencies deps;
  std::unique_ptr<log::Log> catalog_log;
  fs::path streams_dir;

  std::mutex mu;  // one statement at a time
  std::map<std::string, std::unique_ptr<StreamEntry>> streams;
  std::map<std::string, std::unique_ptr<ViewEntry>> views;
  std::map<std::string, std::unique_ptr<AlertEntry>> alerts;
  std::map<std::string, std::unique_ptr<TableEntry>> tables;
  // Logs of dropped streams: a request that found the stream before the drop may still append.
  std::vector<std::unique_ptr<log::Log>> retired_logs;
  std::vector<std::unique_ptr<ingest::DedupIndex>> retired_dedup;  // likewise
  bool started = false;
  bool replaying = false;  // applying the catalog log: nothing is appended to it

  // Views with lake = 'on' commit their rows on `lake_writer` every view_commit_interval.
  // Never held while taking `mu` (DropView takes it under `mu`).
  std::mutex lake_mu;
  std::condition_variable lake_cv;
  bool lake_stopping = false;
  std::thread lake_writer;
  uint64_t replay_offset = 0;

  // Views defined in the log restore on `restorer`, after Open, one at a time (see Open in
  // catalog.h). A job holds what AddView needs; the objects it points to live until the view
  // is dropped, and DropView first takes the view's job out of the queue or waits for it.
  struct RestoreJob {
    sql::ViewPlan plan;
    std::string checkpoint_id;
    std::shared_ptr<store::View> view;
    log::Log* late_events = nullptr;
    std::shared_ptr<const stream::ReferenceTable> table;
    stream::StreamPipeline* pipeline = nullptr;
  };
  std::mutex restore_mu;  // guards the four members below; never held with `mu` taken after it
  std::condition_variable restore_cv;
  std::deque<RestoreJob> restore_queue;
  std::string restoring_view;  // the job the restorer runs now ("" when none)
  bool restore_stopping = false;
  std::thread restorer;

  // The planner's view of the catalog.
  struct Planner : sql::PlannerCatalog {
    const Impl* impl;
    explicit Planner(const Impl* i) : impl(i) {}
    const sql::StreamSpec* FindStream(std::string_view name) const override {
      auto it = impl->streams.find(std::string(name));
      return it == impl->streams.end() ? nullptr : &it->second->spec;
    }
    std::vector<std::string> StreamNames() const override {
      std::vector<std::string> names;
      for (const auto& [name, s] : impl->streams) names.push_back(name);
      return names;
    }
    bool IsView(std::string_view name) const override {
      return impl->views.contains(std::string(name));
    }
    const sql::TableSpec* FindTable(std::string_view name) const override {
      auto it = impl->tables.find(std::string(name));
      return it == impl->tables.end() ? nullptr : &it->second->table->spec();
    }
  };

  // ---- The catalog log

  // The offset the next definition will get (one writer: statements run one at a time).
  uint64_t NextOffset() const { return catalog_log->EndOffset(0); }
  // The catalog offset of the definition being applied: the next one, or while replaying, the
  // replayed one's.
  uint64_t DefinitionOffset() const { return replaying ? replay_offset : NextOffset(); }

  Status Persist(const std::string& sql, uint64_t expected_offset) {
    if (replaying) return Status::Ok();
    log::RecordToAppend record{deps.clock->NowMicros(), sql};
    SLUICE_ASSIGN_OR_RETURN(log::Log::Appended appended,
                            catalog_log->Append(0, std::span(&record, 1)));
    if (appended.first_offset != expected_offset)
      return Status::Internal("the catalog log was appended to concurrently");
    return deps.syncer->WaitDurable(appended.sync_ticket);
  }

  // ---- Streams

  // `ingest`: a log that ingest appends to (a stream, its dead letters) keeps the configured
  // disk reserve free for RocksDB; the pipeline's own logs (late events) may use it.
  Result<std::unique_ptr<log::Log>> OpenLog(const std::string& dir_name, uint32_t partitions,
                                            int64_t retention, bool ingest) {
    log::LogOptions options;
    options.partitions = partitions;
    if (ingest) options.disk_reserve_bytes = deps.config->log_disk_reserve_bytes;
    options.segment_bytes = deps.config->log_segment_bytes;
    options.retention_micros = retention;
    options.on_damage =
        [counter = deps.metrics->GetCounter(
             "sluice_log_damaged_records_total",
             "Records found damaged on disk (CRC mismatch) and skipped, never served",
             fmt::format("stream=\"{}\"", dir_name))](uint64_t records) { counter->Add(records); };
    return log::Log::Open((streams_dir / dir_name).string(), options, *deps.clock, *deps.syncer);
  }

  static std::string DeadLettersName(const std::string& stream) { return stream + ".dead_letters"; }
  // Per stream definition, as RocksDB keeps a dropped stream's index locked until the end of
  // the process: a stream created again under the name gets a new one.
  static std::string DedupName(const std::string& stream, uint64_t offset) {
    return fmt::format("{}@{}.dedup", stream, offset);
  }
  // Per view definition (a view dropped and created again starts empty).
  static std::string LateEventsName(const std::string& checkpoint_id) {
    return checkpoint_id + ".late_events";
  }

  Status CreateStream(sql::StreamSpec spec, std::string sql) {
    if (deps.adjust_stream) deps.adjust_stream(spec);
    const uint64_t definition_offset = DefinitionOffset();
    auto entry = std::make_unique<StreamEntry>();
    const uint32_t partitions = spec.partitions.value_or(deps.config->log_partitions);
    const int64_t retention = spec.retention_micros.value_or(deps.config->log_retention_micros);
    SLUICE_ASSIGN_OR_RETURN(entry->log, OpenLog(spec.name, partitions, retention, true));
    SLUICE_ASSIGN_OR_RETURN(entry->dead_letters,
                            OpenLog(DeadLettersName(spec.name), 1, retention, true));
    SLUICE_RETURN_IF_ERROR(Persist(sql, NextOffset()));
    entry->log_bytes = deps.metrics->GetGauge("sluice_log_bytes", "Bytes on disk per stream log",
                                              fmt::format("stream=\"{}\"", spec.name));
    entry->dead_letter_bytes =
        deps.metrics->GetGauge("sluice_log_bytes", "Bytes on disk per stream log",
                               fmt::format("stream=\"{}\"", DeadLettersName(spec.name)));
    ingest::StreamConfig config;
    config.name = spec.name;
    config.fields.id = spec.dedup_key;
    config.fields.event_time = spec.event_time;
    config.fields.partition_key = spec.partition_key;
    config.subject = spec.subject;
    SLUICE_ASSIGN_OR_RETURN(config.delivery, ingest::DeliveryRule::Make(spec));
    if (!config.delivery->none()) {
      const int64_t horizon = spec.dedup_horizon_micros.value_or(retention);
      entry->dedup_dir = DedupName(spec.name, definition_offset);
      SLUICE_ASSIGN_OR_RETURN(
          entry->dedup, ingest::DedupIndex::Open((streams_dir / entry->dedup_dir).string(),
                                                 entry->log->partitions(), horizon, *deps.clock));
      SLUICE_ASSIGN_OR_RETURN(uint64_t caught_up,
                              entry->dedup->CatchUp(*entry->log, config.fields, *config.delivery));
      if (caught_up > 0)
        spdlog::info("stream {}: indexed {} exactly-once id(s) appended after the last index write",
                     spec.name, caught_up);
    }
    deps.ingestor->AddStream(config, entry->log.get(), entry->dead_letters.get(),
                             entry->dedup.get());
    stream::StreamPipelineOptions options;
    options.stream = spec.name;
    options.checkpoint_interval_micros = deps.config->checkpoint_interval_micros;
    entry->pipeline = std::make_unique<stream::StreamPipeline>(
        options, *entry->log, *deps.checkpoints, *deps.clock, *deps.metrics);
    if (started) entry->pipeline->Start();
    if (spec.archive) {
      entry->archive_columns = ArchiveColumns(spec, deps.registry);
      SLUICE_ASSIGN_OR_RETURN(entry->archive,
                              OpenArchive(spec, entry->archive_columns, *entry->log));
      if (started) entry->archive->Start();
    }
    entry->spec = std::move(spec);
    entry->sql = std::move(sql);
    const std::string name = entry->spec.name;
    streams[name] = std::move(entry);
    return Status::Ok();
  }

  Result<std::unique_ptr<stream::Archive>> OpenArchive(const sql::StreamSpec& spec,
                                                       std::vector<lake::EventColumn> columns,
                                                       const log::Log& log) {
    stream::ArchiveOptions archive;
    archive.root = LakeDir().string();
    archive.table = spec.name;
    archive.columns = std::move(columns);
    archive.event_time_column = spec.event_time;
    archive.commit_interval_micros = deps.config->lake_commit_interval_micros;
    archive.commit_bytes = deps.config->lake_commit_bytes;
    archive.writer.row_group_bytes = deps.config->lake_row_group_bytes;
    archive.writer.zstd_level = deps.config->lake_zstd_level;
    archive.writer.zstd_literals = deps.config->lake_zstd_literals;
    archive.nice = deps.config->lake_archive_nice;
    archive.snapshot_retention_micros = deps.config->lake_snapshot_retention_micros;
    archive.hourly_snapshot_retention_micros = deps.config->lake_hourly_snapshot_retention_micros;
    archive.retention_micros =
        spec.archive_retention_micros.value_or(deps.config->lake_archive_retention_micros);
    return stream::Archive::Open(std::move(archive), log, *deps.clock, *deps.metrics);
  }

  // The registry is the archive's schema: when the stream's subject gained a field (a new
  // version), the archive commits what it has and reopens with the new columns (which adds
  // them to the table as new optional fields: stream/archive.h). An archive that failed to
  // (re)open is retried here.
  void FollowArchiveSchema(const std::string& name, StreamEntry& s) {
    if (!s.spec.archive) return;
    std::vector<lake::EventColumn> columns = ArchiveColumns(s.spec, deps.registry);
    auto same = [](const std::vector<lake::EventColumn>& a,
                   const std::vector<lake::EventColumn>& b) {
      return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return x.name == y.name && x.path == y.path && x.type == y.type;
      });
    };
    if (s.archive && same(columns, s.archive_columns)) return;
    if (s.archive) {
      if (Status st = s.archive->Stop(); !st.ok()) {
        spdlog::error("archive {}: its commit before the schema change failed (retried): {}", name,
                      st.ToString());
        if (started) s.archive->Start();
        return;
      }
      s.archive.reset();
    }
    Result<std::unique_ptr<stream::Archive>> opened = OpenArchive(s.spec, columns, *s.log);
    if (!opened.ok()) {
      spdlog::error("archive {}: reopening with the subject's new fields failed (retried): {}",
                    name, opened.status().ToString());
      return;
    }
    spdlog::info("archive {}: reopened with {} columns (its subject's schema changed)", name,
                 columns.size());
    s.archive = std::move(opened).value();
    s.archive_columns = std::move(columns);
    if (started) s.archive->Start();
  }

  fs::path LakeDir() const {
    return deps.config->lake_dir.empty() ? fs::path(deps.config->data_dir) / "lake"
                                         : fs::path(deps.config->lake_dir);
  }

  // Where a view with backfill = 'lake' reads what its stream's log no longer holds.
  std::optional<stream::ArchiveReaderOptions> LakeBackfill(const sql::ViewPlan& plan) const {
    if (!plan.backfill_from_lake) return std::nullopt;
    stream::ArchiveReaderOptions options;
    options.root = LakeDir().string();
    options.table = plan.stream;
    return options;
  }

  stream::ViewTableOptions ViewTableOptionsFor(const sql::ViewPlan& plan) const {
    stream::ViewTableOptions options;
    options.root = LakeDir().string();
    options.name = plan.name;
    options.retention_micros = deps.config->lake_view_retention_micros;
    for (const sql::OutputColumn& c : plan.columns) {
      std::optional<lake::ColumnType> type;
      switch (c.type) {
        case sql::Type::kBoolean:
          type = lake::ColumnType::kBool;
          break;
        case sql::Type::kBigint:
          type = lake::ColumnType::kInt64;
          break;
        case sql::Type::kDouble:
          type = lake::ColumnType::kDouble;
          break;
        case sql::Type::kTimestamp:
          type = lake::ColumnType::kTimestampMicros;
          break;
        case sql::Type::kAny:
        case sql::Type::kNull:
          break;  // typed by the first value (view_table.h)
        default:  // VARCHAR, and what has no lake type of its own (DATE, INTERVAL, JSON)
          type = lake::ColumnType::kString;
      }
      options.columns.push_back({c.name, type});
    }
    return options;
  }

  // A dropped view's table is history: moved aside under the lake, never deleted with it.
  void RetireViewTable(const std::string& name, LakeOutput& lake) {
    std::lock_guard lock(lake_mu);
    lake.dropped = true;
    const fs::path from = lake.table->dir();
    lake.table.reset();
    std::error_code ec;
    fs::create_directories(LakeDir() / ".dropped", ec);
    fs::rename(from, LakeDir() / ".dropped" / fmt::format("{}@{}", name, NextOffset()), ec);
    if (ec)
      spdlog::warn("could not move the lake table of the dropped view {} aside: {}", name,
                   ec.message());
  }

  // Commits every lake = 'on' view that changed (skipping views still restoring); with
  // `housekeep`, also expires their old snapshots.
  void CommitViewTables(bool housekeep) {
    std::vector<std::pair<std::string, std::shared_ptr<LakeOutput>>> outputs;
    {
      std::lock_guard lock(mu);
      for (const auto& [name, v] : views)
        if (v->lake) outputs.emplace_back(name, v->lake);
    }
    std::lock_guard lock(lake_mu);
    for (auto& [name, out] : outputs) {
      if (out->dropped || !out->view->Available().ok()) continue;
      if (Result<bool> committed = out->table->Commit(*out->view); !committed.ok())
        spdlog::error("view {}: committing its rows to the lake failed (retried): {}", name,
                      committed.status().ToString());
      if (!housekeep) continue;
      if (Result<int> expired = out->table->Housekeep(); !expired.ok())
        spdlog::error("view {}: expiring its lake snapshots failed: {}", name,
                      expired.status().ToString());
    }
  }

  void LakeWriterLoop() {
    SetCurrentThreadName("lake-views");
    int64_t last_housekeeping = deps.clock->MonotonicMicros();
    std::unique_lock lock(lake_mu);
    while (!lake_stopping) {
      lake_cv.wait_for(lock,
                       std::chrono::microseconds(deps.config->lake_view_commit_interval_micros));
      if (lake_stopping) break;
      lock.unlock();
      const int64_t now = deps.clock->MonotonicMicros();
      const bool housekeep = now - last_housekeeping >= kMicrosPerHour;
      if (housekeep) last_housekeeping = now;
      CommitViewTables(housekeep);
      lock.lock();
    }
  }

  // Moves a dropped stream's directories out of the way; they are deleted at the next start.
  void RetireDirectories(const std::string& name, uint64_t offset) {
    const fs::path dropped = streams_dir / ".dropped";
    std::error_code ec;
    fs::create_directories(dropped, ec);
    for (const std::string& dir : {name, DeadLettersName(name)}) {
      if (!fs::exists(streams_dir / dir)) continue;
      fs::rename(streams_dir / dir, dropped / fmt::format("{}@{}", dir, offset), ec);
      if (ec)
        spdlog::warn("could not move {} of the dropped stream aside: {}",
                     (streams_dir / dir).string(), ec.message());
    }
    // Its archive is the compliance copy: moved aside under the lake, never deleted with it.
    if (fs::exists(LakeDir() / name)) {
      fs::create_directories(LakeDir() / ".dropped", ec);
      fs::rename(LakeDir() / name, LakeDir() / ".dropped" / fmt::format("{}@{}", name, offset), ec);
      if (ec)
        spdlog::warn("could not move the archive of the dropped stream {} aside: {}", name,
                     ec.message());
    }
  }

  Status DropStream(const std::string& name, const std::string& sql) {
    std::vector<std::string> dependents;
    for (const auto& [view_name, v] : views)
      if (v->plan.stream == name && v->rollup_of.empty()) dependents.push_back(view_name);
    if (!dependents.empty()) {
      std::string list;
      for (const std::string& d : dependents) list += (list.empty() ? "" : ", ") + d;
      return Status::FailedPrecondition(
          fmt::format("cannot drop stream '{}': materialized view{} {} read{} it; drop {} first",
                      name, dependents.size() == 1 ? "" : "s", list,
                      dependents.size() == 1 ? "s" : "", dependents.size() == 1 ? "it" : "them"));
    }
    const uint64_t offset = NextOffset();
    SLUICE_RETURN_IF_ERROR(Persist(sql, offset));
    deps.ingestor->RemoveStream(name);
    auto it = streams.find(name);
    if (it != streams.end()) {
      // No views read the stream: the final checkpoint has nothing to write.
      (void)it->second->pipeline->Stop();
      it->second->pipeline.reset();
      if (it->second->archive) {
        if (Status st = it->second->archive->Stop(); !st.ok())
          spdlog::error("stream {}: the archive's last commit failed: {}", name, st.ToString());
        it->second->archive.reset();
      }
      retired_logs.push_back(std::move(it->second->log));
      retired_logs.push_back(std::move(it->second->dead_letters));
      if (it->second->dedup) retired_dedup.push_back(std::move(it->second->dedup));
      streams.erase(it);
    }
    RetireDirectories(name, offset);
    return Status::Ok();
  }

  // ---- Views

  // Creates the view and its rollup tiers (each a view of its own, sql::RollupPlan).
  Status CreateView(sql::ViewPlan plan, std::string sql) {
    const uint64_t offset = DefinitionOffset();
    std::vector<sql::ViewPlan> tiers;
    for (size_t i = 0; i < plan.rollups.size(); ++i) tiers.push_back(sql::RollupPlan(plan, i));
    const std::string name = plan.name;
    SLUICE_RETURN_IF_ERROR(CreateViewAt(std::move(plan), std::move(sql), offset, /*persist=*/true));
    for (sql::ViewPlan& tier : tiers) {
      const std::string tier_name = tier.name;
      std::string text =
          fmt::format("-- rollup of {}: its query over {} windows, rows kept {}\n{}", name,
                      DurationText(tier.window.size_micros),
                      tier.retention_micros ? DurationText(*tier.retention_micros) : "for good",
                      views.at(name)->sql);
      if (Status st = CreateViewAt(std::move(tier), std::move(text), offset, /*persist=*/false);
          !st.ok()) {
        // The base view is defined already: its tiers come back at the next start.
        spdlog::error("view {}: creating its rollup {} failed: {}", name, tier_name, st.ToString());
        continue;
      }
      views.at(tier_name)->rollup_of = name;
      views.at(name)->rollups.push_back(tier_name);
    }
    return Status::Ok();
  }

  // Creates one view defined at catalog `offset`; `persist`: its definition is appended to the
  // catalog log (not for rollup tiers, which their base view's definition implies).
  Status CreateViewAt(sql::ViewPlan plan, std::string sql, uint64_t offset, bool persist) {
    StreamEntry& stream = *streams.at(plan.stream);
    auto entry = std::make_unique<ViewEntry>();
    entry->checkpoint_id = fmt::format("{}@{}", plan.name, offset);
    const int64_t retention =
        stream.spec.retention_micros.value_or(deps.config->log_retention_micros);
    SLUICE_ASSIGN_OR_RETURN(entry->late_events,
                            OpenLog(LateEventsName(entry->checkpoint_id), 1, retention, false));
    entry->late_event_bytes =
        deps.metrics->GetGauge("sluice_log_bytes", "Bytes on disk per stream log",
                               fmt::format("stream=\"{}\"", LateEventsName(entry->checkpoint_id)));
    entry->view = deps.views->Add(stream::ViewDefinitionFor(plan, sql), replaying);
    if (plan.lake_table) {
      Result<std::unique_ptr<stream::ViewTable>> opened =
          stream::ViewTable::Open(ViewTableOptionsFor(plan), *deps.clock);
      if (!opened.ok()) {
        deps.views->Remove(plan.name);
        return Status(opened.status().code(), fmt::format("view {}: its lake table: {}", plan.name,
                                                          opened.status().message()));
      }
      entry->lake = std::make_shared<LakeOutput>();
      entry->lake->table = std::move(opened).value();
      entry->lake->view = entry->view;
    }
    std::shared_ptr<const stream::ReferenceTable> table;
    if (plan.lookup) table = tables.at(plan.lookup->table)->table;
    if (replaying) {
      // Restored in the background once the catalog is open.
      std::lock_guard lock(restore_mu);
      restore_queue.push_back(RestoreJob{plan, entry->checkpoint_id, entry->view,
                                         entry->late_events.get(), std::move(table),
                                         stream.pipeline.get()});
      entry->plan = std::move(plan);
      entry->sql = std::move(sql);
      const std::string name = entry->plan.name;
      views[name] = std::move(entry);
      return Status::Ok();
    }
    const Status added =
        stream.pipeline->AddView(plan, entry->checkpoint_id, entry->view, entry->late_events.get(),
                                 std::move(table), LakeBackfill(plan));
    const Status persisted = added.ok() && persist ? Persist(sql, offset) : added;
    if (!persisted.ok()) {
      if (added.ok()) stream.pipeline->RemoveView(plan.name);
      deps.views->Remove(plan.name);
      return persisted;
    }
    entry->plan = std::move(plan);
    entry->sql = std::move(sql);
    const std::string name = entry->plan.name;
    views[name] = std::move(entry);
    return Status::Ok();
  }

  Status DropView(const std::string& name, const std::string& sql) {
    SLUICE_RETURN_IF_ERROR(Persist(sql, NextOffset()));
    auto it = views.find(name);
    if (it == views.end()) return Status::Ok();
    for (const std::string& tier : it->second->rollups) RemoveView(tier);
    RemoveView(name);
    return Status::Ok();
  }

  // Takes a view out of its pipeline and the catalog, deleting its checkpoint.
  void RemoveView(const std::string& name) {
    auto it = views.find(name);
    if (it == views.end()) return;
    ViewEntry& v = *it->second;
    {
      // A view still to restore never joins its pipeline; one restoring now is waited for.
      std::unique_lock lock(restore_mu);
      std::erase_if(restore_queue, [&](const RestoreJob& job) { return job.plan.name == name; });
      restore_cv.wait(lock, [&] { return restoring_view != name; });
    }
    // Once removed, the pipeline never writes the view's checkpoint again: drop it.
    streams.at(v.plan.stream)->pipeline->RemoveView(name);
    if (Status st = deps.checkpoints->Drop(v.checkpoint_id); !st.ok())
      spdlog::warn("view {}: deleting its checkpoint failed (deleted at the next start): {}", name,
                   st.ToString());
    deps.views->Remove(name);
    if (v.lake) RetireViewTable(name, *v.lake);
    const std::string late_dir = LateEventsName(v.checkpoint_id);
    retired_logs.push_back(std::move(v.late_events));
    views.erase(it);
    std::error_code ec;
    fs::create_directories(streams_dir / ".dropped", ec);
    fs::rename(streams_dir / late_dir, streams_dir / ".dropped" / late_dir, ec);
    if (ec) spdlog::warn("could not move {} of the dropped view aside: {}", late_dir, ec.message());
  }

  Result<std::string> LateEventsJson(const std::string& name, uint64_t from, size_t limit) {
    std::lock_guard lock(mu);
    auto it = views.find(name);
    if (it == views.end()) return Status::NotFound(fmt::format("unknown view '{}'", name));
    SLUICE_ASSIGN_OR_RETURN(stream::LateEventPage page,
                            stream::ReadLateEvents(*it->second->late_events, from, limit));
    return page.ToJson(name);
  }

  Result<store::RowFilter> CompileFilter(const std::string& name, const std::string& where) {
    std::lock_guard lock(mu);
    auto it = views.find(name);
    if (it == views.end()) return Status::NotFound(fmt::format("unknown view '{}'", name));
    return CompileViewFilter(it->second->plan, where);
  }

  // ---- Tables

  Status CreateTable(sql::TableSpec spec, std::string sql) {
    const uint64_t offset = DefinitionOffset();
    // Rows live in the checkpoint store under an id naming the CREATE, so a table dropped and
    // created again never sees the old rows.
    const std::string storage_id = fmt::format("_table:{}@{}", spec.name, offset);
    auto entry = std::make_unique<TableEntry>();
    SLUICE_ASSIGN_OR_RETURN(
        entry->table, stream::ReferenceTable::Open(std::move(spec), storage_id, *deps.checkpoints));
    SLUICE_RETURN_IF_ERROR(Persist(sql, offset));
    entry->sql = std::move(sql);
    const std::string name = entry->table->spec().name;
    tables[name] = std::move(entry);
    return Status::Ok();
  }

  Status DropTable(const std::string& name, const std::string& sql) {
    std::string dependents;
    for (const auto& [view_name, v] : views)
      if (v->plan.lookup && v->plan.lookup->table == name)
        dependents += (dependents.empty() ? "" : ", ") + view_name;
    if (!dependents.empty())
      return Status::FailedPrecondition(
          fmt::format("cannot drop table '{}': materialized views join it ({}); drop them first",
                      name, dependents));
    SLUICE_RETURN_IF_ERROR(Persist(sql, NextOffset()));
    auto it = tables.find(name);
    if (it == tables.end()) return Status::Ok();
    if (Status st = deps.checkpoints->Drop(it->second->table->storage_id()); !st.ok())
      spdlog::warn("table {}: deleting its rows failed (deleted at the next start): {}", name,
                   st.ToString());
    tables.erase(it);
    return Status::Ok();
  }

  static std::string TableColumnsText(const sql::TableSpec& spec) {
    std::string text;
    for (const sql::TableColumn& c : spec.columns)
      text += fmt::format("{}{} {}", text.empty() ? "" : ", ", c.name, c.type_sql);
    return text;
  }

  static std::string PrimaryKeyText(const sql::TableSpec& spec) {
    std::string text;
    for (int k : spec.primary_key)
      text += (text.empty() ? "" : ", ") + spec.columns[static_cast<size_t>(k)].name;
    return text;
  }

  // ---- Statements

  bool NameTaken(const std::string& name, Json& result, bool if_not_exists, std::string_view kind,
                 Status& error, sql::SourceLocation location) {
    const bool is_stream = streams.contains(name);
    const bool is_view = views.contains(name);
    const bool is_table = tables.contains(name);
    if (!is_stream && !is_view && !is_table) return false;
    const std::string existing = is_stream ? "stream" : is_table ? "table" : "materialized view";
    if (if_not_exists && existing == kind) {
      result["created"] = false;
      result["message"] = fmt::format("{} {} already exists", existing, name);
      return true;
    }
    error = Status::AlreadyExists(
        sql::ErrorAt(location, fmt::format("{} '{}' already exists", existing, name)).message());
    return true;
  }

  Status Run(const sql::Statement& statement, Json& result) {
    return std::visit([&](const auto& node) { return RunNode(node, statement, result); },
                      statement.node);
  }

  Status RunNode(const sql::CreateStream& create, const sql::Statement& statement, Json& result) {
    result["statement"] = "CREATE STREAM";
    result["name"] = create.name.name;
    Status taken;
    if (NameTaken(create.name.name, result, create.if_not_exists, "stream", taken,
                  create.name.location))
      return taken;
    SLUICE_ASSIGN_OR_RETURN(sql::StreamSpec spec, sql::PlanStream(create));
    sql::Statement canonical = statement;
    std::get<sql::CreateStream>(canonical.node).if_not_exists = false;
    SLUICE_RETURN_IF_ERROR(CreateStream(std::move(spec), sql::ToSql(canonical)));
    const sql::StreamSpec& created = streams.at(create.name.name)->spec;
    result["created"] = true;
    std::string message = fmt::format("created stream {}: POST events to /v1/streams/{}/events",
                                      created.name, created.name);
    if (!created.subject.empty() && deps.registry != nullptr &&
        !deps.registry->Latest(created.subject))
      message += fmt::format(
          "; subject '{}' has no schema yet, so events are refused until one is registered",
          created.subject);
    result["message"] = message;
    return Status::Ok();
  }

  Status RunNode(const sql::CreateMaterializedView& create, const sql::Statement& statement,
                 Json& result) {
    result["statement"] = "CREATE MATERIALIZED VIEW";
    result["name"] = create.name.name;
    Status taken;
    if (NameTaken(create.name.name, result, create.if_not_exists, "materialized view", taken,
                  create.name.location))
      return taken;
    Planner planner(this);
    SLUICE_ASSIGN_OR_RETURN(sql::ViewPlan plan, sql::PlanView(create, planner));
    for (const sql::RollupTier& tier : plan.rollups) {
      if (streams.contains(tier.name) || views.contains(tier.name) || tables.contains(tier.name))
        return Status::AlreadyExists(
            sql::ErrorAt(create.name.location,
                         fmt::format("the rollup view '{}' of {} would take a name in use: drop "
                                     "or rename '{}' first",
                                     tier.name, plan.name, tier.name))
                .message());
    }
    sql::Statement canonical = statement;
    std::get<sql::CreateMaterializedView>(canonical.node).if_not_exists = false;
    const std::string stream_name = plan.stream;
    SLUICE_RETURN_IF_ERROR(CreateView(std::move(plan), sql::ToSql(canonical)));
    const ViewEntry& v = *views.at(create.name.name);
    result["created"] = true;
    Json columns = Json::array();
    for (const sql::OutputColumn& c : v.plan.columns) columns.push_back(c.name);
    result["columns"] = columns;
    result["key"] = v.plan.key_columns;
    uint64_t retained = 0;
    const log::Log& log = *streams.at(stream_name)->log;
    for (uint32_t p = 0; p < log.partitions(); ++p)
      retained += log.DurableEndOffset(p) - log.StartOffset(p);
    result["message"] = fmt::format(
        "created materialized view {}: backfilling from {} retained event{} of {}; "
        "subscribe at /v1/subscribe?view={}",
        v.plan.name, retained, retained == 1 ? "" : "s", stream_name, v.plan.name);
    return Status::Ok();
  }

  // ---- Alerts

  // The ids of the alerts `alert` already appended to the alerts stream (so a restart that
  // judges a window again does not append its alert twice).
  std::set<std::string> AppendedAlertIds(const std::string& alert) {
    std::set<std::string> ids;
    auto it = streams.find(std::string(kAlertsStream));
    if (it == streams.end()) return ids;
    const std::string prefix = alert + "/";
    log::Log& log = *it->second->log;
    for (uint32_t p = 0; p < log.partitions(); ++p) {
      auto reader = log.NewReader(p, log.StartOffset(p));
      for (;;) {
        auto batch = reader->Read(1 << 20);
        if (!batch.ok() || batch->empty()) break;
        for (const log::RecordView& record : *batch) {
          Json event = Json::parse(record.payload, nullptr, /*allow_exceptions=*/false);
          if (!event.is_object() || !event.contains("event_id") || !event["event_id"].is_string())
            continue;
          const std::string id = event["event_id"].get<std::string>();
          if (id.starts_with(prefix)) ids.insert(id);
        }
      }
    }
    return ids;
  }

  // Appends alert events to the alerts stream through ingest, as a client would, and waits
  // until they are durable.
  Status AppendAlerts(const std::string& ndjson) {
    std::string body = ndjson;
    body.append(sql::kJsonPadding, '\0');
    std::promise<Result<ingest::IngestAnswer>> answered;
    std::future<Result<ingest::IngestAnswer>> answer = answered.get_future();
    deps.ingestor->Ingest(
        kAlertsStream, ingest::BodyFormat::kNdjson, std::string_view(body.data(), ndjson.size()),
        {}, [&](Result<ingest::IngestAnswer> r) { answered.set_value(std::move(r)); });
    Result<ingest::IngestAnswer> result = answer.get();
    if (!result.ok()) return result.status();
    if (!result->rejected.empty())
      return Status::Internal("the alerts stream rejected an alert: " + result->rejected[0].error);
    return Status::Ok();
  }

  Status RunNode(const sql::CreateAlert& create, const sql::Statement& statement, Json& result) {
    const std::string& name = create.name.name;
    result["statement"] = "CREATE ALERT";
    result["name"] = name;
    if (alerts.contains(name)) {
      if (create.if_not_exists) {
        result["created"] = false;
        result["message"] = fmt::format("alert {} already exists", name);
        return Status::Ok();
      }
      return Status::AlreadyExists(
          sql::ErrorAt(create.name.location, fmt::format("alert '{}' already exists", name))
              .message());
    }
    auto view = views.find(create.view.name);
    if (view == views.end())
      return sql::ErrorAt(
          create.view.location,
          fmt::format("unknown view '{}': an alert watches a materialized view", create.view.name));
    std::string metric;
    stream::AnomalyOptions options;
    for (const sql::Option& option : create.options) {
      const std::string& key = option.key.name;
      if (key == "metric") {
        const auto* word = std::get_if<sql::ColumnRef>(&option.value.node);
        const auto* text = std::get_if<sql::StringLiteral>(&option.value.node);
        if (word != nullptr && word->path.size() == 1)
          metric = word->path[0].name;
        else if (text != nullptr)
          metric = text->value;
        else
          return sql::ErrorAt(option.value.location, "metric must name a column of the view");
        continue;
      }
      SLUICE_ASSIGN_OR_RETURN(double value, NumberOption(option));
      if (key == "alpha" && value > 0 && value <= 1)
        options.alpha = value;
      else if (key == "sigmas" && value >= 0)
        options.sigmas = value;
      else if (key == "warmup" && value >= 0 && value == std::floor(value) && value < 1e9)
        options.warmup = static_cast<int64_t>(value);
      else if (key == "min_delta" && value >= 0)
        options.min_delta = value;
      else if (key == "alpha" || key == "sigmas" || key == "warmup" || key == "min_delta")
        return sql::ErrorAt(option.value.location,
                            fmt::format("{} out of range: alpha in (0, 1], sigmas and min_delta "
                                        ">= 0, warmup a whole number of windows >= 0",
                                        key));
      else
        return sql::ErrorAt(option.key.location,
                            fmt::format("unknown option '{}'; the options are: metric, alpha, "
                                        "sigmas, warmup, min_delta",
                                        key));
    }
    if (metric.empty())
      return sql::ErrorAt(create.name.location,
                          "an alert needs WITH (metric = <a numeric column of the view>)");
    Result<AlertDefinition> definition = DefineAlert(name, view->second->plan, metric, options);
    if (!definition.ok()) return sql::ErrorAt(create.view.location, definition.status().message());
    if (!streams.contains(std::string(kAlertsStream))) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<sql::Statement> parsed, sql::Parse(kAlertsStreamSql));
      Json ignored;
      SLUICE_RETURN_IF_ERROR(Run(parsed.at(0), ignored));
    }
    auto entry = std::make_unique<AlertEntry>();
    const uint64_t offset = DefinitionOffset();
    sql::Statement canonical = statement;
    std::get<sql::CreateAlert>(canonical.node).if_not_exists = false;
    entry->sql = sql::ToSql(canonical);
    entry->checkpoint_id = fmt::format("alert:{}@{}", name, offset);
    entry->runner = std::make_unique<AlertRunner>(
        std::move(*definition), view->second->view, *deps.checkpoints, entry->checkpoint_id,
        [this](const std::string& ndjson) { return AppendAlerts(ndjson); }, AppendedAlertIds(name));
    SLUICE_RETURN_IF_ERROR(Persist(entry->sql, offset));
    SLUICE_RETURN_IF_ERROR(entry->runner->Start());
    alerts[name] = std::move(entry);
    result["created"] = true;
    result["message"] = fmt::format(
        "created alert {} on view {}: anomalies of {} go to the stream {}; create a view over it "
        "to subscribe",
        name, create.view.name, metric, kAlertsStream);
    return Status::Ok();
  }

  Status DropAlert(const sql::Drop& drop, const sql::Statement& statement, Json& result) {
    const std::string& name = drop.name.name;
    result["statement"] = "DROP ALERT";
    result["name"] = name;
    auto it = alerts.find(name);
    if (it == alerts.end()) {
      if (drop.if_exists) {
        result["dropped"] = false;
        result["message"] = fmt::format("alert {} does not exist", name);
        return Status::Ok();
      }
      return Status::NotFound(
          sql::ErrorAt(drop.name.location, fmt::format("alert '{}' does not exist", name))
              .message());
    }
    sql::Statement canonical = statement;
    std::get<sql::Drop>(canonical.node).if_exists = false;
    SLUICE_RETURN_IF_ERROR(Persist(sql::ToSql(canonical), NextOffset()));
    it->second->runner->Stop();
    if (Status st = deps.checkpoints->Drop(it->second->checkpoint_id); !st.ok())
      spdlog::warn("alert {}: deleting its checkpoint failed (deleted at the next start): {}", name,
                   st.ToString());
    alerts.erase(it);
    result["dropped"] = true;
    result["message"] = fmt::format("dropped alert {}", name);
    return Status::Ok();
  }

  Status RunNode(const sql::CreateTable& create, const sql::Statement& statement, Json& result) {
    result["statement"] = "CREATE TABLE";
    result["name"] = create.name.name;
    Status taken;
    if (NameTaken(create.name.name, result, create.if_not_exists, "table", taken,
                  create.name.location))
      return taken;
    SLUICE_ASSIGN_OR_RETURN(sql::TableSpec spec, sql::PlanTable(create));
    sql::Statement canonical = statement;
    std::get<sql::CreateTable>(canonical.node).if_not_exists = false;
    SLUICE_RETURN_IF_ERROR(CreateTable(std::move(spec), sql::ToSql(canonical)));
    result["created"] = true;
    result["message"] =
        fmt::format("created table {}: PUT rows to /v1/tables/{}/rows (JSON, NDJSON or CSV)",
                    create.name.name, create.name.name);
    return Status::Ok();
  }

  Status RunNode(const sql::Drop& drop, const sql::Statement& statement, Json& result) {
    if (drop.kind == sql::ObjectKind::kAlert) return DropAlert(drop, statement, result);
    const std::string& name = drop.name.name;
    const bool stream = drop.kind == sql::ObjectKind::kStream;
    result["statement"] = stream ? "DROP STREAM" : "DROP MATERIALIZED VIEW";
    result["name"] = name;
    if (drop.kind == sql::ObjectKind::kTable) return RunDropTable(drop, statement, result);
    const bool exists = stream ? streams.contains(name) : views.contains(name);
    if (!exists) {
      if (drop.if_exists) {
        result["dropped"] = false;
        result["message"] = fmt::format("{} {} does not exist", stream ? "stream" : "view", name);
        return Status::Ok();
      }
      std::string message =
          fmt::format("{} '{}' does not exist", stream ? "stream" : "materialized view", name);
      if (stream && views.contains(name))
        message += "; it is a materialized view: DROP MATERIALIZED VIEW " + name;
      if (!stream && streams.contains(name)) message += "; it is a stream: DROP STREAM " + name;
      return Status::NotFound(sql::ErrorAt(drop.name.location, message).message());
    }
    if (!stream && !views.at(name)->rollup_of.empty())
      return Status::FailedPrecondition(
          sql::ErrorAt(drop.name.location,
                       fmt::format("materialized view {} is a rollup of {}: it goes when {} is "
                                   "dropped",
                                   name, views.at(name)->rollup_of, views.at(name)->rollup_of))
              .message());
    for (const auto& [alert, a] : alerts) {
      if ((!stream && a->runner->definition().view == name) || (stream && name == kAlertsStream))
        return Status::FailedPrecondition(
            sql::ErrorAt(drop.name.location,
                         fmt::format("alert {} {} it; DROP ALERT {} first", alert,
                                     stream ? "appends to" : "watches", alert))
                .message());
    }
    sql::Statement canonical = statement;
    std::get<sql::Drop>(canonical.node).if_exists = false;
    if (!stream) std::get<sql::Drop>(canonical.node).kind = sql::ObjectKind::kMaterializedView;
    const std::string text = sql::ToSql(canonical);
    if (stream) {
      Status st = DropStream(name, text);
      if (!st.ok() && st.code() == StatusCode::kFailedPrecondition)
        return Status::FailedPrecondition(sql::ErrorAt(drop.name.location, st.message()).message());
      SLUICE_RETURN_IF_ERROR(st);
    } else {
      SLUICE_RETURN_IF_ERROR(DropView(name, text));
    }
    result["dropped"] = true;
    result["message"] = fmt::format("dropped {} {}", stream ? "stream" : "materialized view", name);
    return Status::Ok();
  }

  Status RunDropTable(const sql::Drop& drop, const sql::Statement& statement, Json& result) {
    const std::string& name = drop.name.name;
    result["statement"] = "DROP TABLE";
    if (!tables.contains(name)) {
      if (drop.if_exists) {
        result["dropped"] = false;
        result["message"] = fmt::format("table {} does not exist", name);
        return Status::Ok();
      }
      std::string message = fmt::format("table '{}' does not exist", name);
      if (streams.contains(name)) message += "; it is a stream: DROP STREAM " + name;
      if (views.contains(name))
        message += "; it is a materialized view: DROP MATERIALIZED VIEW " + name;
      return Status::NotFound(sql::ErrorAt(drop.name.location, message).message());
    }
    sql::Statement canonical = statement;
    std::get<sql::Drop>(canonical.node).if_exists = false;
    Status st = DropTable(name, sql::ToSql(canonical));
    if (!st.ok() && st.code() == StatusCode::kFailedPrecondition)
      return Status::FailedPrecondition(sql::ErrorAt(drop.name.location, st.message()).message());
    SLUICE_RETURN_IF_ERROR(st);
    result["dropped"] = true;
    result["message"] = fmt::format("dropped table {}", name);
    return Status::Ok();
  }

  Status RunNode(const sql::Show& show, const sql::Statement&, Json& result) {
    Json rows = Json::array();
    switch (show.kind) {
      case sql::ObjectKind::kStream:
        result["statement"] = "SHOW STREAMS";
        result["columns"] = {"name",    "event_time", "partitions", "retention",
                             "subject", "delivery",   "events",     "views"};
        for (const auto& [name, s] : streams) {
          uint64_t events = 0;
          for (uint32_t p = 0; p < s->log->partitions(); ++p)
            events += s->log->DurableEndOffset(p) - s->log->StartOffset(p);
          std::string readers;
          for (const auto& [view_name, v] : views)
            if (v->plan.stream == name) readers += (readers.empty() ? "" : ", ") + view_name;
          rows.push_back(
              {name, s->spec.event_time, s->log->partitions(),
               DurationText(s->spec.retention_micros.value_or(deps.config->log_retention_micros)),
               s->spec.subject, DeliveryText(s->spec), events, readers});
        }
        break;
      case sql::ObjectKind::kTable:
        result["statement"] = "SHOW TABLES";
        result["columns"] = {"name", "columns", "primary_key", "rows", "views"};
        for (const auto& [name, t] : tables) {
          std::string readers;
          for (const auto& [view_name, v] : views)
            if (v->plan.lookup && v->plan.lookup->table == name)
              readers += (readers.empty() ? "" : ", ") + view_name;
          rows.push_back({name, TableColumnsText(t->table->spec()),
                          PrimaryKeyText(t->table->spec()), t->table->row_count(), readers});
        }
        break;
      case sql::ObjectKind::kView:
      case sql::ObjectKind::kMaterializedView:
        result["statement"] = "SHOW VIEWS";
        result["columns"] = {"name",    "stream", "window",    "emit",     "rows",
                             "version", "lag",    "retention", "rollup_of"};
        for (const auto& [name, v] : views) {
          const std::optional<uint64_t> lag = streams.at(v->plan.stream)->pipeline->lag(name);
          rows.push_back({name, v->plan.stream, WindowText(v->plan.window),
                          v->plan.emit == sql::EmitMode::kOnClose ? "on_close" : "on_update",
                          v->view->row_count(), v->view->version(),
                          lag ? Json(*lag) : Json(nullptr),
                          v->plan.retention_micros ? Json(DurationText(*v->plan.retention_micros))
                                                   : Json(nullptr),
                          v->rollup_of.empty() ? Json(nullptr) : Json(v->rollup_of)});
        }
        break;
      case sql::ObjectKind::kAlert:
        result["statement"] = "SHOW ALERTS";
        result["columns"] = {"name",   "view",   "metric",    "alpha",
                             "sigmas", "warmup", "min_delta", "raised"};
        for (const auto& [name, a] : alerts) {
          const AlertDefinition& d = a->runner->definition();
          rows.push_back({name, d.view, d.metric, d.options.alpha, d.options.sigmas,
                          d.options.warmup, d.options.min_delta, a->runner->alerts_raised()});
        }
        break;
    }
    result["rows"] = rows;
    return Status::Ok();
  }

  Status RunNode(const sql::Describe& describe, const sql::Statement&, Json& result) {
    const std::string& name = describe.name.name;
    result["statement"] = "DESCRIBE";
    result["name"] = name;
    if (auto it = streams.find(name); it != streams.end()) {
      const sql::StreamSpec& s = it->second->spec;
      result["kind"] = "stream";
      result["columns"] = {"column", "type"};
      Json rows = Json::array();
      for (const sql::StreamColumn& c : s.columns) rows.push_back({c.name, c.type_sql});
      result["rows"] = rows;
      Json options = Json::object();
      options["subject"] = s.subject;
      options["event_time"] = s.event_time;
      options["watermark_delay"] = DurationText(s.watermark_delay_micros);
      options["delivery"] = DeliveryName(s.delivery);
      options["dedup_key"] = s.dedup_key;
      if (!s.exactly_once_when.empty()) options["exactly_once_when"] = s.exactly_once_when;
      if (s.delivery == sql::Delivery::kExactlyOnce)
        options["dedup_horizon"] = DurationText(s.dedup_horizon_micros.value_or(
            s.retention_micros.value_or(deps.config->log_retention_micros)));
      options["partition_key"] = s.partition_key;
      options["partitions"] = it->second->log->partitions();
      options["retention"] =
          DurationText(s.retention_micros.value_or(deps.config->log_retention_micros));
      if (s.archive) {
        options["archive"] = "on";
        options["archive_retention"] = DurationText(
            s.archive_retention_micros.value_or(deps.config->lake_archive_retention_micros));
        options["archive_table"] = (LakeDir() / s.name).string();
      }
      result["options"] = options;
      result["sql"] = it->second->sql;
      return Status::Ok();
    }
    if (auto it = views.find(name); it != views.end()) {
      const sql::ViewPlan& p = it->second->plan;
      result["kind"] = "materialized view";
      result["columns"] = {"column", "type", "key"};
      Json rows = Json::array();
      for (const sql::OutputColumn& c : p.columns) {
        const bool key =
            std::find(p.key_columns.begin(), p.key_columns.end(), c.name) != p.key_columns.end();
        rows.push_back({c.name, sql::TypeName(c.type), key});
      }
      result["rows"] = rows;
      Json options = Json::object();
      options["stream"] = p.stream;
      if (p.window.kind != sql::WindowKind::kNone) options["window"] = WindowText(p.window);
      options["emit"] = p.emit == sql::EmitMode::kOnClose ? "on_close" : "on_update";
      if (p.emit == sql::EmitMode::kOnClose)
        options["allowed_lateness"] = DurationText(p.allowed_lateness_micros);
      options["retention"] = p.retention_micros ? DurationText(*p.retention_micros) : "forever";
      options["watermark_delay"] = DurationText(p.watermark_delay_micros);
      options["backfill"] = p.backfill_from_lake ? "lake" : "log";
      if (p.lake_table) options["lake_table"] = (LakeDir() / p.name).string();
      if (p.lookup)
        options["join"] = fmt::format("{}lookup join with table {}", p.lookup->left ? "left " : "",
                                      p.lookup->table);
      if (p.interval_join) {
        auto bound = [](int64_t micros) {
          if (micros == 0) return std::string("0");
          return (micros < 0 ? "-" : "") + DurationText(micros < 0 ? -micros : micros);
        };
        options["join"] = fmt::format(
            "interval join of {} with itself, the second side within "
            "[{}, {}] of the first",
            p.stream, bound(p.interval_join->lower_micros), bound(p.interval_join->upper_micros));
      }
      result["options"] = options;
      result["sql"] = it->second->sql;
      return Status::Ok();
    }
    if (auto it = tables.find(name); it != tables.end()) {
      const sql::TableSpec& t = it->second->table->spec();
      result["kind"] = "table";
      result["columns"] = {"column", "type", "key"};
      Json rows = Json::array();
      for (size_t i = 0; i < t.columns.size(); ++i) {
        const bool key = std::find(t.primary_key.begin(), t.primary_key.end(),
                                   static_cast<int>(i)) != t.primary_key.end();
        rows.push_back({t.columns[i].name, t.columns[i].type_sql, key});
      }
      result["rows"] = rows;
      Json options = Json::object();
      options["primary_key"] = PrimaryKeyText(t);
      options["rows"] = it->second->table->row_count();
      result["options"] = options;
      result["sql"] = it->second->sql;
      return Status::Ok();
    }
    return Status::NotFound(sql::ErrorAt(describe.name.location,
                                         fmt::format("no stream, table or view named '{}'", name))
                                .message());
  }

  // The query engine's view of the catalog. Queries run without the statement lock (a long
  // scan must not hold up DDL or other SQL): each lookup takes it, and what a lookup returns
  // (a view's rows, a lake table's snapshot) stays readable after a DROP.
  struct Views : sql::QueryCatalog {
    Impl* impl;
    explicit Views(Impl* i) : impl(i) {}
    std::shared_ptr<const sql::QueryTable> FindView(std::string_view name) const override {
      std::lock_guard lock(impl->mu);
      auto it = impl->views.find(std::string(name));
      if (it == impl->views.end()) return nullptr;
      return std::make_shared<ViewQueryTable>(it->second->plan, it->second->view);
    }
    std::vector<std::string> ViewNames() const override {
      std::lock_guard lock(impl->mu);
      std::vector<std::string> names;
      for (const auto& [name, v] : impl->views) names.push_back(name);
      return names;
    }
    bool IsStream(std::string_view name) const override {
      std::lock_guard lock(impl->mu);
      return impl->streams.contains(std::string(name));
    }
    Result<std::shared_ptr<const sql::QueryTable>> FindLakeTable(
        std::string_view name, const std::optional<sql::AsOf>& as_of) const override {
      return OpenLakeQueryTable(impl->LakeDir().string(), name, as_of);
    }
    std::vector<std::string> LakeTableNames() const override {
      return app::LakeTableNames(impl->LakeDir().string());
    }
  };

  Status RunNode(const sql::Query& query, const sql::Statement&, Json& result) {
    result["statement"] = "SELECT";
    SLUICE_ASSIGN_OR_RETURN(sql::QueryResult rows, sql::ExecuteQuery(query, Views(this)));
    WriteQueryResult(rows, result);
    return Status::Ok();
  }

  server::SqlAnswer Execute(std::string_view text) {
    std::unique_lock lock(mu);
    Json results = Json::array();
    auto fail = [&](const Status& st, int index) {
      Json error = Json::object();
      error["error"] = st.message();
      if (auto position = ErrorPosition(st.message())) {
        error["line"] = position->first;
        error["column"] = position->second;
      }
      if (index >= 0) error["statement"] = index;
      error["results"] = results;
      return server::SqlAnswer{HttpStatusFor(st), error.dump()};
    };
    Result<std::vector<sql::Statement>> statements = sql::Parse(text);
    if (!statements.ok()) return fail(statements.status(), -1);
    for (size_t i = 0; i < statements->size(); ++i) {
      Json result = Json::object();
      Status st;
      if (const auto* query = std::get_if<sql::Query>(&(*statements)[i].node)) {
        lock.unlock();
        st = RunNode(*query, (*statements)[i], result);
        lock.lock();
      } else {
        st = Run((*statements)[i], result);
      }
      if (!st.ok()) return fail(st, static_cast<int>(i));
      results.push_back(std::move(result));
    }
    Json answer = Json::object();
    answer["results"] = std::move(results);
    return server::SqlAnswer{200, answer.dump()};
  }

  // Rebuilds the objects the catalog log defines. The log is folded first (a DROP cancels the
  // CREATE before it), then the surviving definitions are created in their original order: a
  // stream dropped and created again under its name opens only its latest log. Directories of
  // streams whose last word is a DROP are moved aside (again: a crash may have come between
  // the DROP's append and the move).
  Status Replay() {
    struct Definition {
      uint64_t offset;
      sql::Statement statement;
    };
    std::vector<Definition> live;
    std::map<std::string, uint64_t> dropped_streams;  // name -> offset of its last DROP
    auto reader = catalog_log->NewReader(0, catalog_log->StartOffset(0));
    for (;;) {
      SLUICE_ASSIGN_OR_RETURN(auto batch, reader->Read(1 << 20));
      if (batch.empty()) break;
      for (const log::RecordView& record : batch) {
        Result<std::vector<sql::Statement>> parsed = sql::Parse(record.payload);
        if (!parsed.ok()) {
          spdlog::error("catalog record {} does not parse and is skipped: {}", record.offset,
                        parsed.status().message());
          continue;
        }
        for (sql::Statement& statement : *parsed) {
          const auto* drop = std::get_if<sql::Drop>(&statement.node);
          if (drop == nullptr) {
            if (const auto* create = std::get_if<sql::CreateStream>(&statement.node))
              dropped_streams.erase(create->name.name);
            live.push_back({record.offset, std::move(statement)});
            continue;
          }
          const bool stream = drop->kind == sql::ObjectKind::kStream;
          if (stream) dropped_streams[drop->name.name] = record.offset;
          std::erase_if(live, [&](const Definition& d) {
            if (drop->kind == sql::ObjectKind::kAlert) {
              const auto* c = std::get_if<sql::CreateAlert>(&d.statement.node);
              return c != nullptr && c->name.name == drop->name.name;
            }
            if (drop->kind == sql::ObjectKind::kTable) {
              const auto* c = std::get_if<sql::CreateTable>(&d.statement.node);
              return c != nullptr && c->name.name == drop->name.name;
            }
            if (stream) {
              const auto* c = std::get_if<sql::CreateStream>(&d.statement.node);
              return c != nullptr && c->name.name == drop->name.name;
            }
            const auto* c = std::get_if<sql::CreateMaterializedView>(&d.statement.node);
            return c != nullptr && c->name.name == drop->name.name;
          });
        }
      }
    }
    replaying = true;
    for (const Definition& d : live) {
      replay_offset = d.offset;
      Json ignored;
      if (Status st = Run(d.statement, ignored); !st.ok())
        spdlog::error("catalog record {} ({}) failed and is skipped: {}", d.offset,
                      sql::ToSql(d.statement), st.message());
    }
    replaying = false;
    for (const auto& [name, offset] : dropped_streams) RetireDirectories(name, offset);
    return Status::Ok();
  }

  // The restoring thread: runs the queued jobs in definition order until none is left.
  void RestoreViews() {
    for (;;) {
      RestoreJob job;
      {
        std::lock_guard lock(restore_mu);
        if (restore_stopping || restore_queue.empty()) {
          restore_queue.clear();
          restoring_view.clear();
          restore_cv.notify_all();
          return;
        }
        job = std::move(restore_queue.front());
        restore_queue.pop_front();
        restoring_view = job.plan.name;
      }
      if (deps.before_restore) deps.before_restore(job.plan.name);
      const Status added =
          job.pipeline->AddView(job.plan, job.checkpoint_id, job.view, job.late_events,
                                std::move(job.table), LakeBackfill(job.plan));
      if (!added.ok()) {
        spdlog::error("view {}: restoring from its checkpoint failed: {}", job.plan.name,
                      added.ToString());
        job.view->MarkFailed(added.ToString());
      }
      std::lock_guard lock(restore_mu);
      restoring_view.clear();
      restore_cv.notify_all();
    }
  }

  void StartRestoring() {
    restorer = std::thread([this] {
      SetCurrentThreadName("restore-views");
      RestoreViews();
    });
  }

  void StopRestoring() {
    {
      std::lock_guard lock(restore_mu);
      restore_stopping = true;
    }
    if (restorer.joinable()) restorer.join();
  }

  // Deletes the dedup indexes of dropped streams (at start, when nothing uses them).
  void CollectDedupIndexes() {
    retired_dedup.clear();
    std::set<std::string> live;
    for (const auto& [name, s] : streams)
      if (!s->dedup_dir.empty()) live.insert(s->dedup_dir);
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(streams_dir, ec)) {
      const std::string dir = e.path().filename().string();
      if (!dir.ends_with(".dedup") || live.contains(dir)) continue;
      fs::remove_all(e.path(), ec);
      if (ec)
        spdlog::warn("could not delete {}, the dedup index of a dropped stream: {}",
                     e.path().string(), ec.message());
    }
  }

  // Deletes the checkpoints of pipelines that no view owns any more.
  void CollectCheckpoints() {
    auto pipelines = deps.checkpoints->Pipelines();
    if (!pipelines.ok()) {
      spdlog::warn("listing checkpoints failed: {}", pipelines.status().ToString());
      return;
    }
    for (const std::string& id : *pipelines) {
      bool owned = false;
      for (const auto& [name, v] : views) owned |= v->checkpoint_id == id;
      for (const auto& [name, a] : alerts) owned |= a->checkpoint_id == id;
      for (const auto& [name, t] : tables) owned |= t->table->storage_id() == id;
      if (owned) continue;
      if (Status st = deps.checkpoints->Drop(id); !st.ok())
        spdlog::warn("deleting the stale checkpoint {} failed: {}", id, st.ToString());
      else
        spdlog::info("deleted the checkpoint of {}, which no view uses any more", id);
    }
  }
};

Catalog::Catalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Catalog::~Catalog() {
  Stop();
}

Result<std::unique_ptr<Catalog>> Catalog::Open(Dependencies deps, std::string_view initial_sql) {
  auto impl = std::make_unique<Impl>();
  impl->deps = std::move(deps);
  impl->streams_dir = fs::path(impl->deps.config->data_dir) / "streams";
  std::error_code ec;
  fs::remove_all(impl->streams_dir / ".dropped", ec);
  // One partition (definitions are totally ordered) and no retention: the log is the catalog's
  // only copy of its state.
  log::LogOptions options;
  options.partitions = 1;
  options.segment_bytes = 16u << 20;
  options.retention_micros = std::numeric_limits<int64_t>::max() / 2;
  SLUICE_ASSIGN_OR_RETURN(impl->catalog_log,
                          log::Log::Open((impl->streams_dir / "_catalog").string(), options,
                                         *impl->deps.clock, *impl->deps.syncer));
  if (impl->catalog_log->EndOffset(0) == 0) {
    server::SqlAnswer answer = impl->Execute(initial_sql);
    if (answer.status != 200)
      return Status::Internal("the catalog's initial statements failed: " + answer.body);
  } else {
    SLUICE_RETURN_IF_ERROR(impl->Replay());
  }
  impl->CollectCheckpoints();
  impl->CollectDedupIndexes();
  spdlog::info("catalog: {} stream(s), {} view(s)", impl->streams.size(), impl->views.size());
  impl->StartRestoring();
  return std::unique_ptr<Catalog>(new Catalog(std::move(impl)));
}

void Catalog::WaitUntilRestored() {
  std::unique_lock lock(impl_->restore_mu);
  impl_->restore_cv.wait(
      lock, [&] { return impl_->restore_queue.empty() && impl_->restoring_view.empty(); });
}

void Catalog::Start() {
  std::lock_guard lock(impl_->mu);
  for (auto& [name, s] : impl_->streams) {
    s->pipeline->Start();
    if (s->archive) s->archive->Start();
  }
  impl_->started = true;
  impl_->lake_stopping = false;
  impl_->lake_writer = std::thread([impl = impl_.get()] { impl->LakeWriterLoop(); });
}

void Catalog::Stop() {
  impl_->StopRestoring();
  if (impl_->lake_writer.joinable()) {
    {
      std::lock_guard lock(impl_->lake_mu);
      impl_->lake_stopping = true;
    }
    impl_->lake_cv.notify_all();
    impl_->lake_writer.join();
    // What changed since the last commit goes in now (a clean shutdown loses nothing).
    impl_->CommitViewTables(/*housekeep=*/false);
  }
  std::lock_guard lock(impl_->mu);
  for (auto& [name, a] : impl_->alerts) a->runner->Stop();
  if (!impl_->started) return;
  for (auto& [name, s] : impl_->streams) {
    if (Status st = s->pipeline->Stop(); !st.ok())
      spdlog::error("stream {}: final checkpoint failed: {}", name, st.ToString());
    if (s->archive) {
      if (Status st = s->archive->Stop(); !st.ok())
        spdlog::error(
            "stream {}: the archive's last commit failed (its records are read "
            "again at the next start): {}",
            name, st.ToString());
    }
  }
  impl_->started = false;
}

server::SqlAnswer Catalog::Execute(std::string_view sql) {
  return impl_->Execute(sql);
}

server::SqlAnswer Catalog::TableRows(std::string_view method, std::string_view table,
                                     std::string_view content_type, std::string_view body) {
  auto error = [](int status, std::string_view message) {
    Json e = Json::object();
    e["error"] = message;
    return server::SqlAnswer{status, e.dump()};
  };
  std::shared_ptr<stream::ReferenceTable> t;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->tables.find(std::string(table));
    if (it != impl_->tables.end()) t = it->second->table;
  }
  if (t == nullptr) return error(404, fmt::format("unknown table '{}'", table));
  if (method == "GET") return server::SqlAnswer{200, t->RowsJson()};
  std::string media(content_type.substr(0, content_type.find(';')));
  std::transform(media.begin(), media.end(), media.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!media.empty() && media.back() == ' ') media.pop_back();
  stream::TableBodyFormat format;
  if (media == "application/json") {
    format = stream::TableBodyFormat::kJsonArray;
  } else if (media == "application/x-ndjson" || media == "application/ndjson") {
    format = stream::TableBodyFormat::kNdjson;
  } else if (media == "text/csv") {
    format = stream::TableBodyFormat::kCsv;
  } else {
    return error(415, fmt::format("unsupported Content-Type '{}': send application/json (an array "
                                  "of rows), application/x-ndjson or text/csv (a header line, "
                                  "then rows)",
                                  media));
  }
  Result<stream::TableWriteAnswer> answer = t->Write(format, body);
  if (!answer.ok()) return error(HttpStatusFor(answer.status()), answer.status().message());
  return server::SqlAnswer{200, answer->ToJson()};
}

void Catalog::Housekeep() {
  std::lock_guard lock(impl_->mu);
  for (auto& [name, s] : impl_->streams) {
    for (log::Log* l : {s->log.get(), s->dead_letters.get()}) {
      auto deleted = l->EnforceRetention();
      if (!deleted.ok())
        spdlog::error("retention on {} failed: {}", l->dir(), deleted.status().ToString());
      else if (deleted.value() > 0)
        spdlog::info("retention: deleted {} segment(s) of {}", deleted.value(), l->dir());
    }
    s->log_bytes->Set(static_cast<int64_t>(s->log->SizeBytes()));
    s->dead_letter_bytes->Set(static_cast<int64_t>(s->dead_letters->SizeBytes()));
    impl_->FollowArchiveSchema(name, *s);
  }
  for (auto& [name, v] : impl_->views) {
    if (auto deleted = v->late_events->EnforceRetention(); !deleted.ok())
      spdlog::error("retention on {} failed: {}", v->late_events->dir(),
                    deleted.status().ToString());
    v->late_event_bytes->Set(static_cast<int64_t>(v->late_events->SizeBytes()));
  }
}

Result<std::string> Catalog::LateEventsJson(const std::string& view, uint64_t from, size_t limit) {
  return impl_->LateEventsJson(view, from, limit);
}

Result<store::RowFilter> Catalog::CompileFilter(const std::string& view, const std::string& where) {
  return impl_->CompileFilter(view, where);
}

}  // namespace sluice::app
