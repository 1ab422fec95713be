#include "stream/view_pipeline.h"

#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sql/event_fields.h"
#include "stream/aggregation.h"

namespace sluice::stream {

store::ViewDefinition ViewDefinitionFor(const sql::ViewPlan& plan, std::string sql) {
  store::ViewDefinition def;
  def.name = plan.name;
  for (const sql::OutputColumn& c : plan.columns) def.columns.push_back(c.name);
  def.key_columns = plan.key_columns;
  def.sql = std::move(sql);
  return def;
}

struct ViewPipeline::Impl {
  ViewPipelineOptions options;
  log::Log& input;
  store::View& view;
  CheckpointStore& checkpoints;
  Clock& clock;

  sql::FieldSet fields;
  std::unique_ptr<Aggregator> aggregator;
  std::unique_ptr<sql::EventFieldExtractor> extractor;
  std::vector<std::unique_ptr<log::PartitionReader>> readers;
  std::vector<store::RowChange> changes;
  std::vector<int64_t> round_log_times;
  int64_t created_at_micros = 0;  // records appended before this are backfill: no latency sample
  int64_t last_checkpoint_micros = 0;
  std::atomic<uint64_t> position{0};
  uint64_t checkpointed_position = 0;

  Histogram* e2e_latency = nullptr;
  Counter* processed = nullptr;
  Counter* late = nullptr;
  Counter* dropped = nullptr;
  Counter* malformed = nullptr;
  Counter* errors = nullptr;
  Gauge* watermark = nullptr;
  Gauge* groups = nullptr;
  uint64_t reported_late = 0, reported_dropped = 0, reported_errors = 0;

  mutable std::mutex status_mu;
  Status last_error;

  Impl(ViewPipelineOptions o, log::Log& in, store::View& v, CheckpointStore& c, Clock& cl)
      : options(std::move(o)), input(in), view(v), checkpoints(c), clock(cl) {}

  void InitMetrics(MetricsRegistry& m, const std::string& name) {
    const std::string labels = fmt::format("pipeline=\"{}\"", name);
    e2e_latency =
        m.GetHistogram("sluice_e2e_latency_seconds",
                       "From an event's append to the log until the delta counting it is applied");
    processed = m.GetCounter("sluice_pipeline_records_total", "Records processed", labels);
    late = m.GetCounter("sluice_late_events_total",
                        "Events behind the watermark when processed (on_update views still "
                        "count them)",
                        labels);
    dropped = m.GetCounter("sluice_dropped_events_total",
                           "Events not added to a window because it had closed or was past the "
                           "view's retention",
                           labels);
    malformed = m.GetCounter("sluice_pipeline_malformed_total",
                             "Log records a pipeline could not parse (skipped)", labels);
    errors =
        m.GetCounter("sluice_pipeline_eval_errors_total",
                     "Events skipped because an expression failed on them (a data error)", labels);
    watermark = m.GetGauge("sluice_watermark_micros", "Event-time watermark", labels);
    groups = m.GetGauge("sluice_pipeline_groups", "Groups (key, window) held in state", labels);
  }

  uint64_t Position() const {
    uint64_t p = 0;
    for (const auto& r : readers) p += r->next_offset();
    return p;
  }

  Result<size_t> ProcessAvailable() {
    size_t n = 0;
    for (auto& reader : readers) {
      SLUICE_ASSIGN_OR_RETURN(auto batch, reader->Read(options.read_bytes_per_partition));
      for (const log::RecordView& record : batch) {
        if (!extractor->Extract(record.payload).ok()) {
          malformed->Add();
          continue;
        }
        aggregator->Add(extractor->values(), record.event_time_micros);
        if (record.log_time_micros >= created_at_micros)
          round_log_times.push_back(record.log_time_micros);
      }
      n += batch.size();
    }
    if (n == 0) return n;
    changes.clear();
    aggregator->TakeChanges(changes);
    const uint64_t at = Position();
    position.store(at, std::memory_order_relaxed);
    if (!changes.empty()) view.Apply(changes, at);
    const int64_t now = clock.NowMicros();
    for (int64_t t : round_log_times) e2e_latency->ObserveMicros(now - t);
    round_log_times.clear();
    processed->Add(n);
    late->Add(aggregator->late_events() - reported_late);
    reported_late = aggregator->late_events();
    dropped->Add(aggregator->dropped_events() - reported_dropped);
    reported_dropped = aggregator->dropped_events();
    errors->Add(aggregator->errors() - reported_errors);
    reported_errors = aggregator->errors();
    watermark->Set(aggregator->watermark());
    groups->Set(static_cast<int64_t>(aggregator->group_count()));
    return n;
  }

  Status Checkpoint() {
    std::vector<std::pair<std::string, std::string>> changed;
    aggregator->TakeCheckpointChanges(changed);
    std::vector<uint64_t> offsets;
    for (const auto& r : readers) offsets.push_back(r->next_offset());
    last_checkpoint_micros = clock.MonotonicMicros();
    checkpointed_position = Position();
    return checkpoints.Commit(options.id, changed, offsets, view.version(), aggregator->Meta());
  }
};

ViewPipeline::ViewPipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ViewPipeline::~ViewPipeline() {
  if (thread_.joinable()) {
    Status st = Stop();
    if (!st.ok())
      spdlog::error("pipeline {}: final checkpoint failed: {}", impl_->options.id, st.ToString());
  }
}

Result<std::unique_ptr<ViewPipeline>> ViewPipeline::Create(const sql::ViewPlan& plan,
                                                           ViewPipelineOptions options,
                                                           log::Log& input, store::View& view,
                                                           CheckpointStore& checkpoints,
                                                           Clock& clock, MetricsRegistry& metrics) {
  auto impl = std::make_unique<Impl>(std::move(options), input, view, checkpoints, clock);
  impl->InitMetrics(metrics, plan.name);
  SLUICE_ASSIGN_OR_RETURN(impl->aggregator, Aggregator::Create(plan, impl->fields));
  impl->extractor = std::make_unique<sql::EventFieldExtractor>(impl->fields);
  SLUICE_ASSIGN_OR_RETURN(CheckpointData data, checkpoints.Load(impl->options.id));
  SLUICE_RETURN_IF_ERROR(impl->aggregator->Restore(data.state, data.meta));
  // Versions must only grow, across restarts too, so a subscriber never sees an old number
  // with new contents. Every delta consumes at least one record, so the run before a crash
  // emitted at most (durable end - checkpointed offset) versions past the checkpoint: starting
  // above that bound skips ahead instead of reusing numbers.
  uint64_t unreplayed = 0;
  for (uint32_t p = 0; p < input.partitions(); ++p) {
    const uint64_t offset = p < data.offsets.size() ? data.offsets[p] : input.StartOffset(p);
    impl->readers.push_back(input.NewReader(p, offset));
    const uint64_t end = input.DurableEndOffset(p);
    if (end > offset) unreplayed += end - offset;
  }
  impl->view.Reset(impl->aggregator->Rows(), data.version + unreplayed);
  impl->position = impl->Position();
  impl->checkpointed_position = impl->position;
  impl->created_at_micros = clock.NowMicros();
  impl->last_checkpoint_micros = clock.MonotonicMicros();
  spdlog::info("view {}: restored {} groups at version {}, resuming at position {}", plan.name,
               impl->aggregator->group_count(), data.version, impl->Position());
  return std::unique_ptr<ViewPipeline>(new ViewPipeline(std::move(impl)));
}

void ViewPipeline::Start() {
  stop_.store(false);
  thread_ = std::thread([this] { Run(); });
}

void ViewPipeline::Run() {
  Impl& s = *impl_;
  while (!stop_.load(std::memory_order_acquire)) {
    const uint64_t generation = s.input.durable_generation();
    auto n = s.ProcessAvailable();
    if (!n.ok()) {
      spdlog::error("view pipeline {} stopped: {}", s.options.id, n.status().ToString());
      std::lock_guard lock(s.status_mu);
      s.last_error = n.status();
      return;
    }
    if (s.position.load(std::memory_order_relaxed) != s.checkpointed_position &&
        s.clock.MonotonicMicros() - s.last_checkpoint_micros >=
            s.options.checkpoint_interval_micros) {
      if (Status st = s.Checkpoint(); !st.ok())
        spdlog::error("view pipeline {}: checkpoint failed (will retry): {}", s.options.id,
                      st.ToString());
    }
    if (n.value() == 0) s.input.WaitForDurable(generation, std::chrono::milliseconds(100));
  }
}

Status ViewPipeline::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  return impl_->Checkpoint();
}

Result<size_t> ViewPipeline::ProcessAvailable() {
  return impl_->ProcessAvailable();
}

Status ViewPipeline::Checkpoint() {
  return impl_->Checkpoint();
}

Status ViewPipeline::status() const {
  std::lock_guard lock(impl_->status_mu);
  return impl_->last_error;
}

uint64_t ViewPipeline::position() const {
  return impl_->position.load(std::memory_order_relaxed);
}

}  // namespace sluice::stream
