#include "stream/stream_pipeline.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/thread_name.h"
#include "sql/event_fields.h"
#include "stream/late_events.h"
#include "stream/view_operator.h"
#include "stream/watermarks.h"

namespace sluice::stream {

store::ViewDefinition ViewDefinitionFor(const sql::ViewPlan& plan, std::string sql) {
  store::ViewDefinition def;
  def.name = plan.name;
  for (const sql::OutputColumn& c : plan.columns) def.columns.push_back(c.name);
  def.key_columns = plan.key_columns;
  def.sql = std::move(sql);
  return def;
}

namespace {

// A view's checkpoint metadata: the late-events log's end at the checkpoint (entries past it
// are scanned at a restart, to not record an event twice), then the operator's own metadata.
// Checkpoints written before late events were recorded hold only the operator's (whose first
// byte is never this marker).
constexpr char kLateEventsMarker = 'L';

std::string PipelineMeta(uint64_t late_end, const std::string& aggregator_meta) {
  std::string out(1, kLateEventsMarker);
  out.append(reinterpret_cast<const char*>(&late_end), sizeof late_end);
  out += aggregator_meta;
  return out;
}

// Splits what PipelineMeta() wrote; `late_end` is 0 (scan the whole log) for older checkpoints.
std::string_view SplitPipelineMeta(std::string_view meta, uint64_t& late_end) {
  late_end = 0;
  if (meta.size() < 1 + sizeof late_end || meta[0] != kLateEventsMarker) return meta;
  std::memcpy(&late_end, meta.data() + 1, sizeof late_end);
  return meta.substr(1 + sizeof late_end);
}

uint64_t Sum(const std::vector<uint64_t>& offsets) {
  uint64_t total = 0;
  for (uint64_t o : offsets) total += o;
  return total;
}

// One view in the pipeline.
struct Member {
  std::string name;
  std::string checkpoint_id;
  std::shared_ptr<store::View> view;
  std::unique_ptr<ViewOperator> aggregator;
  // Live members read at the pipeline's shared position; the others catch up on their own
  // readers, at `offsets`, until they reach it.
  bool live = false;
  std::vector<uint64_t> offsets;
  std::vector<std::unique_ptr<log::PartitionReader>> readers;
  // A backfill from the lake: the archived records the log no longer holds, read before the
  // log (offsets stay at the log's start until it is done). No checkpoint is taken meanwhile.
  std::unique_ptr<ArchiveReader> history;
  uint64_t history_read = 0;
  // Per partition: when this member last saw input it had not read, or joined the pipeline
  // (monotonic micros). Decides when a caught-up partition turns idle.
  std::vector<int64_t> last_input;
  uint64_t checkpointed_position = 0;
  // The watermark may move without input (a partition turning idle) and close windows: that
  // makes a checkpoint due too.
  int64_t checkpointed_watermark = PartitionWatermarks::kNone;
  // State changes taken for a checkpoint whose commit failed: written by the next one (with
  // any newer value of the same key replacing the older), so a failed commit loses nothing.
  std::map<std::string, std::string> uncommitted;
  // The view changed since the last checkpoint (a retention purge changes it without input).
  bool changed_since_checkpoint = false;
  // The watermark as last seen, and when (wall clock) it last moved: the retention purge takes
  // the quiet time since as event time passing (Aggregator::SetQuietTime).
  int64_t quiet_watermark = PartitionWatermarks::kNone;
  int64_t quiet_since_micros = 0;

  // The late-events side output (late_events.h); nullptr: not recorded (tests, tools).
  log::Log* late_log = nullptr;
  // Per partition of the stream: events below this offset are in the late-events log already.
  std::vector<uint64_t> late_next;
  std::vector<std::string> late_payloads;  // this round's entries, appended at its end
  std::vector<int64_t> late_times;
  uint64_t late_end = 0;  // the late-events log's end after this member's last append

  Counter* processed = nullptr;
  Counter* late_recorded = nullptr;
  Counter* late = nullptr;
  Counter* dropped = nullptr;
  Counter* errors = nullptr;
  Counter* lookup_misses = nullptr;
  Gauge* watermark = nullptr;
  Gauge* groups = nullptr;
  Counter* reloaded = nullptr;
  uint64_t reported_late = 0, reported_dropped = 0, reported_errors = 0, reported_misses = 0,
           reported_reloaded = 0;

  void InitMetrics(MetricsRegistry& m) {
    const std::string labels = fmt::format("pipeline=\"{}\"", name);
    processed = m.GetCounter("sluice_pipeline_records_total", "Records processed", labels);
    late = m.GetCounter("sluice_late_events_total",
                        "Events behind the watermark when processed (on_update views still "
                        "count them)",
                        labels);
    dropped = m.GetCounter("sluice_dropped_events_total",
                           "Events not added to a window because it had closed or was past the "
                           "view's retention",
                           labels);
    errors =
        m.GetCounter("sluice_pipeline_eval_errors_total",
                     "Events skipped because an expression failed on them (a data error)", labels);
    late_recorded = m.GetCounter("sluice_late_events_recorded_total",
                                 "Dropped events kept in the view's late-events log", labels);
    lookup_misses =
        m.GetCounter("sluice_lookup_misses_total",
                     "Events an inner lookup join skipped: no table row for their key", labels);
    watermark = m.GetGauge("sluice_watermark_micros", "Event-time watermark", labels);
    groups = m.GetGauge("sluice_pipeline_groups", "Groups (key, window) held in memory", labels);
    reloaded = m.GetCounter("sluice_pipeline_groups_reloaded_total",
                            "Groups of final windows read back from the checkpoint store for a "
                            "late event",
                            labels);
  }

  // Adds one event to the view; an event its windows refused goes to the late-events output.
  void Add(std::span<const sql::Value> fields, const log::RecordView& record, uint32_t partition) {
    const DropReason reason = aggregator->Add(fields, record.event_time_micros, partition);
    if (reason == DropReason::kNone || late_log == nullptr) return;
    if (record.offset < late_next[partition]) return;  // recorded before a restart
    late_next[partition] = record.offset + 1;
    late_payloads.push_back(LateEventPayload(partition, record.offset,
                                             aggregator->last_event_time(), aggregator->watermark(),
                                             DropReasonName(reason), record.payload));
    late_times.push_back(aggregator->last_event_time());
  }

  // Appends this round's late events (one write; durable by the next checkpoint).
  Status FlushLateEvents() {
    if (late_payloads.empty()) return Status::Ok();
    std::vector<log::RecordToAppend> records;
    records.reserve(late_payloads.size());
    for (size_t i = 0; i < late_payloads.size(); ++i)
      records.push_back({late_times[i], late_payloads[i], 0});
    SLUICE_ASSIGN_OR_RETURN(log::Log::Appended appended, late_log->Append(0, records));
    late_end = appended.first_offset + records.size();
    late_recorded->Add(records.size());
    late_payloads.clear();
    late_times.clear();
    return Status::Ok();
  }

  // A checkpoint must not claim input whose late events could still be lost: waits (for the
  // next group commit, normally) until they are durable; an error after 10 s without progress.
  Status WaitLateEventsDurable() const {
    if (late_log == nullptr) return Status::Ok();
    for (int waits = 0; late_log->DurableEndOffset(0) < late_end; ++waits) {
      if (waits == 100)
        return Status::IOError(fmt::format("view {}: late events not durable after 10 s", name));
      const uint64_t generation = late_log->durable_generation();
      if (late_log->DurableEndOffset(0) >= late_end) break;
      late_log->WaitForDurable(generation, std::chrono::milliseconds(100));
    }
    return Status::Ok();
  }

  // At a restart: the positions already recorded past the checkpoint (their late-events log
  // entries from `from` on), so replaying the log does not record them again.
  Status ScanLateEvents(uint64_t from, uint32_t partitions) {
    late_next.assign(partitions, 0);
    if (late_log == nullptr) return Status::Ok();
    late_end = late_log->EndOffset(0);
    for (uint64_t at = from;;) {
      SLUICE_ASSIGN_OR_RETURN(LateEventPage page, ReadLateEvents(*late_log, at, 4096));
      if (page.items.empty()) return Status::Ok();
      for (const LateEvent& e : page.items) {
        if (e.partition < partitions)
          late_next[e.partition] = std::max(late_next[e.partition], e.source_offset + 1);
      }
      at = page.next_offset;
    }
  }

  void ReportMetrics() {
    late->Add(aggregator->late_events() - reported_late);
    reported_late = aggregator->late_events();
    dropped->Add(aggregator->dropped_events() - reported_dropped);
    reported_dropped = aggregator->dropped_events();
    errors->Add(aggregator->errors() - reported_errors);
    reported_errors = aggregator->errors();
    lookup_misses->Add(aggregator->lookup_misses() - reported_misses);
    reported_misses = aggregator->lookup_misses();
    watermark->Set(aggregator->watermark());
    groups->Set(static_cast<int64_t>(aggregator->group_count()));
    reloaded->Add(aggregator->reloaded_groups() - reported_reloaded);
    reported_reloaded = aggregator->reloaded_groups();
  }
};

}  // namespace

struct StreamPipeline::Impl {
  StreamPipelineOptions options;
  log::Log& input;
  CheckpointStore& checkpoints;
  Clock& clock;
  MetricsRegistry& metrics;

  // Held for a round; guards everything below. std::mutex is not fair: the pipeline thread,
  // relocking at once, would keep a caller (SHOW VIEWS, CREATE/DROP VIEW) waiting for a whole
  // backfill. So callers announce themselves in `waiting` and the thread lets them in between
  // rounds (LockForCaller).
  mutable std::mutex mu;
  mutable std::atomic<int> waiting{0};
  sql::FieldSet fields;  // of every view's expressions
  std::unique_ptr<sql::EventFieldExtractor> extractor;
  std::vector<std::unique_ptr<Member>> members;
  // The shared position: the live members' next offset per partition. Established at a round
  // without live members, as the furthest any member has got, so every member is at or behind
  // it and can catch up.
  std::vector<uint64_t> offsets;
  std::vector<std::unique_ptr<log::PartitionReader>> readers;
  std::vector<store::RowChange> changes;
  std::vector<int64_t> round_log_times;
  int64_t created_at_micros = 0;  // records appended before this are backfill: no latency sample
  bool history_ended = false;     // a member's lake backfill ended this round
  int64_t last_checkpoint_micros = 0;

  Histogram* e2e_latency = nullptr;
  Counter* malformed = nullptr;

  mutable std::mutex status_mu;
  Status last_error;

  Impl(StreamPipelineOptions o, log::Log& in, CheckpointStore& c, Clock& cl, MetricsRegistry& m)
      : options(std::move(o)), input(in), checkpoints(c), clock(cl), metrics(m) {
    e2e_latency =
        m.GetHistogram("sluice_e2e_latency_seconds",
                       "From an event's append to the log until the delta counting it is applied");
    malformed = m.GetCounter("sluice_pipeline_malformed_total",
                             "Log records a pipeline could not parse (skipped)",
                             fmt::format("stream=\"{}\"", options.stream));
    extractor = std::make_unique<sql::EventFieldExtractor>(fields);
    created_at_micros = clock.NowMicros();
    last_checkpoint_micros = clock.MonotonicMicros();
  }

  uint64_t Position(const Member& m) const { return Sum(m.live ? offsets : m.offsets); }

  uint64_t DurableEnd() const {
    uint64_t end = 0;
    for (uint32_t p = 0; p < input.partitions(); ++p) end += input.DurableEndOffset(p);
    return end;
  }

  std::unique_lock<std::mutex> LockForCaller() const {
    waiting.fetch_add(1, std::memory_order_acq_rel);
    std::unique_lock lock(mu);
    waiting.fetch_sub(1, std::memory_order_acq_rel);
    return lock;
  }

  Member* Find(const std::string& name) {
    for (auto& m : members)
      if (m->name == name) return m.get();
    return nullptr;
  }

  // With no live member, (re)establish the shared position: the furthest any member has got in
  // each partition. Members already there are live.
  void EstablishPosition() {
    for (const auto& m : members)
      if (m->live) return;
    if (members.empty()) return;
    const uint32_t partitions = input.partitions();
    offsets.assign(partitions, 0);
    for (const auto& m : members)
      for (uint32_t p = 0; p < partitions; ++p) offsets[p] = std::max(offsets[p], m->offsets[p]);
    readers.clear();
    for (uint32_t p = 0; p < partitions; ++p) readers.push_back(input.NewReader(p, offsets[p]));
    JoinCaughtUp();
  }

  void JoinCaughtUp() {
    for (auto& m : members) {
      if (!m->live && !m->history && m->offsets == offsets) {
        m->live = true;
        m->readers.clear();
        spdlog::info("view {}: caught up with stream {} at position {}", m->name, options.stream,
                     Sum(offsets));
      }
    }
  }

  // Tells `m`'s watermark whether `partition` is active (watermarks.h): it has input beyond
  // `next`, or had within the last partition_idle_micros (a producer's batch may be durable in
  // one partition a moment before the others).
  void MarkPending(Member& m, uint32_t partition, uint64_t next) const {
    const int64_t now = clock.MonotonicMicros();
    const bool pending = next < input.DurableEndOffset(partition);
    if (pending) m.last_input[partition] = now;
    m.aggregator->SetPartitionActive(
        partition, pending || now - m.last_input[partition] < options.partition_idle_micros);
  }

  bool Extract(const log::RecordView& record) {
    if (extractor->Extract(record.payload).ok()) return true;
    malformed->Add();
    return false;
  }

  // The live members' share: the available input at the shared position.
  Result<size_t> ProcessLive(std::vector<Member*>& live) {
    size_t n = 0;
    if (live.empty()) return n;
    for (Member* m : live)
      for (uint32_t p = 0; p < readers.size(); ++p) MarkPending(*m, p, offsets[p]);
    for (uint32_t p = 0; p < readers.size(); ++p) {
      SLUICE_ASSIGN_OR_RETURN(auto batch, readers[p]->Read(options.read_bytes_per_partition));
      if (!batch.empty())
        for (Member* m : live) MarkPending(*m, p, batch.front().offset);
      for (const log::RecordView& record : batch) {
        if (!Extract(record)) continue;
        for (Member* m : live) m->Add(extractor->values(), record, p);
        if (record.log_time_micros >= created_at_micros)
          round_log_times.push_back(record.log_time_micros);
      }
      offsets[p] = readers[p]->next_offset();
      n += batch.size();
      for (Member* m : live) MarkPending(*m, p, offsets[p]);
    }
    for (Member* m : live) m->processed->Add(n);
    return n;
  }

  // One row group of a member's backfill from the lake. Its events are history: the late ones
  // are counted but not recorded in the late-events log (which is keyed by the log's order).
  Result<size_t> CatchUpFromLake(Member& m) {
    SLUICE_ASSIGN_OR_RETURN(std::span<const ArchivedRecord> batch, m.history->Next());
    if (batch.empty()) {
      spdlog::info("view {}: backfilled {} events from the lake; continuing from the log", m.name,
                   m.history_read);
      m.history.reset();
      history_ended = true;
      return size_t{0};
    }
    for (const ArchivedRecord& record : batch) {
      if (!extractor->Extract(record.payload).ok()) {
        malformed->Add();
        continue;
      }
      m.aggregator->Add(extractor->values(), record.event_time_micros, record.partition);
    }
    m.history_read += batch.size();
    m.processed->Add(batch.size());
    return batch.size();
  }

  // One chunk of a catching-up member's backfill, never past the shared position.
  Result<size_t> CatchUp(Member& m) {
    if (m.history) return CatchUpFromLake(m);
    size_t n = 0;
    for (uint32_t p = 0; p < m.readers.size(); ++p) MarkPending(m, p, m.offsets[p]);
    for (uint32_t p = 0; p < m.readers.size(); ++p) {
      if (m.offsets[p] >= offsets[p]) continue;
      log::PartitionReader& reader = *m.readers[p];
      SLUICE_ASSIGN_OR_RETURN(auto batch, reader.Read(options.read_bytes_per_partition));
      for (const log::RecordView& record : batch) {
        if (record.offset >= offsets[p]) break;
        ++n;
        if (Extract(record)) m.Add(extractor->values(), record, p);
      }
      m.offsets[p] = std::min(reader.next_offset(), offsets[p]);
      if (reader.next_offset() != m.offsets[p]) reader.Seek(m.offsets[p]);
      MarkPending(m, p, m.offsets[p]);
    }
    m.processed->Add(n);
    return n;
  }

  Result<size_t> ProcessAvailable() {
    history_ended = false;
    SLUICE_ASSIGN_OR_RETURN(size_t n, ProcessRound());
    // A lake backfill that ended this round read nothing, but its log part is still to come:
    // not a round without input.
    while (n == 0 && history_ended) {
      history_ended = false;
      SLUICE_ASSIGN_OR_RETURN(n, ProcessRound());
    }
    return n;
  }

  Result<size_t> ProcessRound() {
    EstablishPosition();
    std::vector<Member*> live;
    for (auto& m : members)
      if (m->live) live.push_back(m.get());
    SLUICE_ASSIGN_OR_RETURN(size_t n, ProcessLive(live));
    for (auto& m : members) {
      if (m->live) continue;
      SLUICE_ASSIGN_OR_RETURN(size_t caught_up, CatchUp(*m));
      n += caught_up;
    }
    JoinCaughtUp();
    const int64_t wall_now = clock.NowMicros();
    for (auto& m : members) {
      SLUICE_RETURN_IF_ERROR(m->FlushLateEvents());
      if (m->aggregator->watermark() != m->quiet_watermark) {
        m->quiet_watermark = m->aggregator->watermark();
        m->quiet_since_micros = wall_now;
      }
      m->aggregator->SetQuietTime(m->history ? 0 : wall_now - m->quiet_since_micros);
      changes.clear();
      m->aggregator->TakeChanges(changes);
      if (!changes.empty()) {
        m->view->Apply(changes, Position(*m));
        m->changed_since_checkpoint = true;
      }
      m->ReportMetrics();
    }
    const int64_t now = clock.NowMicros();
    for (int64_t t : round_log_times) e2e_latency->ObserveMicros(now - t);
    round_log_times.clear();
    return n;
  }

  bool CheckpointDue() const {
    for (const auto& m : members)
      if (Position(*m) != m->checkpointed_position || !m->uncommitted.empty() ||
          m->changed_since_checkpoint || m->aggregator->watermark() != m->checkpointed_watermark)
        return true;
    return false;
  }

  // A checkpoint is taken on the pipeline thread (StartCheckpoint: the changed state and rows,
  // the offsets) and committed on the committer thread, so the synced RocksDB write never holds
  // up the next rounds (it was the tail of the event-to-delta latency). At most one is in
  // flight; FinishCheckpoint applies its outcome on the pipeline thread. Until it is durable,
  // its state changes stay in each member's `uncommitted` (the state reader finds them there),
  // and its rows stay sealed in the view (reads find them there).
  struct InFlight {
    std::vector<CheckpointUpdate> updates;
    std::vector<Member*> members;
    std::vector<int64_t> watermarks;  // each member's, when taken
  };
  std::optional<InFlight> in_flight;
  std::mutex commit_mu;  // guards the four below
  std::condition_variable commit_cv;
  const std::vector<CheckpointUpdate>* commit_job = nullptr;  // set: the committer's next job
  std::optional<Status> commit_result;                        // set: the job is done
  bool committer_stopping = false;
  std::thread committer;

  void StartCommitter() {
    committer = std::thread([this] {
      SetCurrentThreadName("ckpt-" + options.stream);
      std::unique_lock lock(commit_mu);
      while (true) {
        commit_cv.wait(lock, [&] { return committer_stopping || commit_job != nullptr; });
        if (commit_job == nullptr) return;
        const std::vector<CheckpointUpdate>* job = commit_job;
        lock.unlock();
        Status st = checkpoints.Commit(*job);
        lock.lock();
        commit_job = nullptr;
        commit_result = std::move(st);
        commit_cv.notify_all();
      }
    });
  }

  void StopCommitter() {
    if (!committer.joinable()) return;
    {
      std::lock_guard lock(commit_mu);
      committer_stopping = true;
    }
    commit_cv.notify_all();
    committer.join();
  }

  Status StartCheckpoint() {
    SLUICE_RETURN_IF_ERROR(FinishCheckpoint(/*wait=*/true));
    // Before taking any state: a failed wait leaves everything for the next checkpoint.
    for (auto& m : members) SLUICE_RETURN_IF_ERROR(m->WaitLateEventsDurable());
    InFlight job;
    std::vector<std::pair<std::string, std::string>> taken;
    for (auto& m : members) {
      // Mid-way through the lake, the offsets do not describe the state: after a crash, the
      // backfill starts over.
      if (m->history) continue;
      CheckpointUpdate u;
      u.pipeline = m->checkpoint_id;
      taken.clear();
      m->aggregator->TakeCheckpointChanges(taken);
      // Kept readable until durable, merged over a failed commit's changes.
      for (auto& [k, v] : taken) m->uncommitted.insert_or_assign(std::move(k), std::move(v));
      u.changed_state.assign(m->uncommitted.begin(), m->uncommitted.end());
      u.offsets = m->live ? offsets : m->offsets;
      if (m->view->store_backed()) {
        store::SealedRows sealed = m->view->SealForCommit();
        u.changed_rows = std::move(sealed.rows);
        u.row_count = sealed.row_count;
      }
      u.version = m->view->version();
      u.meta = PipelineMeta(m->late_end, m->aggregator->Meta());
      m->changed_since_checkpoint = false;
      job.updates.push_back(std::move(u));
      job.members.push_back(m.get());
      job.watermarks.push_back(m->aggregator->watermark());
    }
    last_checkpoint_micros = clock.MonotonicMicros();
    if (job.updates.empty()) return Status::Ok();
    in_flight = std::move(job);
    if (!committer.joinable()) {  // not started (tests, tools): commit here
      Status st = checkpoints.Commit(in_flight->updates);
      std::lock_guard lock(commit_mu);
      commit_result = std::move(st);
      return Status::Ok();
    }
    {
      std::lock_guard lock(commit_mu);
      commit_job = &in_flight->updates;
      commit_result.reset();
    }
    commit_cv.notify_all();
    return Status::Ok();
  }

  // Applies the outcome of the checkpoint in flight, if it is done (or once it is, `wait`).
  // Returns its error: nothing was written, and everything is kept for the next checkpoint,
  // which is due at once.
  Status FinishCheckpoint(bool wait) {
    if (!in_flight) return Status::Ok();
    Status st;
    {
      std::unique_lock lock(commit_mu);
      if (!commit_result && !wait) return Status::Ok();
      commit_cv.wait(lock, [&] { return commit_result.has_value(); });
      st = std::move(*commit_result);
      commit_result.reset();
    }
    InFlight done = std::move(*in_flight);
    in_flight.reset();
    for (size_t i = 0; i < done.members.size(); ++i) {
      Member& m = *done.members[i];
      if (!st.ok()) {
        m.changed_since_checkpoint = true;
        continue;
      }
      m.uncommitted.clear();
      m.view->CommitSealed();
      m.checkpointed_position = Sum(done.updates[i].offsets);
      m.checkpointed_watermark = done.watermarks[i];
    }
    return st;
  }

  // A checkpoint committed before it returns.
  Status Checkpoint() {
    SLUICE_RETURN_IF_ERROR(StartCheckpoint());
    return FinishCheckpoint(/*wait=*/true);
  }
};

StreamPipeline::StreamPipeline(StreamPipelineOptions options, log::Log& input,
                               CheckpointStore& checkpoints, Clock& clock, MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), input, checkpoints, clock, metrics)) {}

StreamPipeline::~StreamPipeline() {
  if (thread_.joinable()) {
    Status st = Stop();
    if (!st.ok())
      spdlog::error("stream {}: final checkpoint failed: {}", impl_->options.stream, st.ToString());
  }
  impl_->StopCommitter();
}

Status StreamPipeline::AddView(const sql::ViewPlan& plan, std::string checkpoint_id,
                               std::shared_ptr<store::View> view, log::Log* late_events,
                               std::shared_ptr<const ReferenceTable> table,
                               std::optional<ArchiveReaderOptions> lake_backfill) {
  Impl& s = *impl_;
  // Reading the checkpoint may take a while: not under the round lock.
  const auto started = std::chrono::steady_clock::now();
  auto millis = [](std::chrono::steady_clock::time_point from,
                   std::chrono::steady_clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
  };
  // The view's stored rows answer at once, at the checkpoint's version, while the state (which
  // only new input needs) is read and rebuilt; the replay then moves it on.
  SLUICE_ASSIGN_OR_RETURN(CheckpointData stored, s.checkpoints.Load(checkpoint_id, false));
  if (stored.row_count && !view->store_backed()) {
    view->UseStore(s.checkpoints.Rows(checkpoint_id), *stored.row_count);
    view->Reset({}, stored.version);
  }
  SLUICE_ASSIGN_OR_RETURN(CheckpointData data, s.checkpoints.Load(checkpoint_id));
  const auto loaded = std::chrono::steady_clock::now();
  auto m = std::make_unique<Member>();
  m->name = plan.name;
  m->checkpoint_id = std::move(checkpoint_id);
  m->view = std::move(view);
  m->late_log = late_events;
  m->InitMetrics(s.metrics);
  uint64_t late_checkpointed = 0;
  const std::string_view aggregator_meta = SplitPipelineMeta(data.meta, late_checkpointed);
  SLUICE_RETURN_IF_ERROR(m->ScanLateEvents(late_checkpointed, s.input.partitions()));
  auto lock = s.LockForCaller();
  if (s.Find(plan.name) != nullptr)
    return Status::AlreadyExists(fmt::format("view {} is already in the pipeline", plan.name));
  SLUICE_ASSIGN_OR_RETURN(
      m->aggregator, ViewOperator::Create(plan, s.fields, std::move(table), s.input.partitions()));
  // The views' fields grew: an extractor reads the fields it was built with.
  s.extractor = std::make_unique<sql::EventFieldExtractor>(s.fields);
  // Final windows' groups leave memory once checkpointed; a late event reads its group back:
  // from a failed commit's changes (still to be written), else from the store.
  Aggregator::StateReader reader;
  reader.read = [member = m.get(), &store = s.checkpoints](
                    std::string_view group_key) -> Result<std::optional<std::string>> {
    auto it = member->uncommitted.find(std::string(group_key));
    if (it == member->uncommitted.end()) return store.ReadState(member->checkpoint_id, group_key);
    if (it->second.empty()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  };
  reader.scan = [member = m.get(), &store = s.checkpoints](
                    std::string_view prefix,
                    std::vector<std::pair<std::string, std::string>>& out) -> Status {
    std::map<std::string, std::string> found;
    std::vector<std::pair<std::string, std::string>> committed;
    SLUICE_RETURN_IF_ERROR(store.ScanState(member->checkpoint_id, prefix, committed));
    for (auto& [k, v] : committed) found.emplace(std::move(k), std::move(v));
    for (auto it = member->uncommitted.lower_bound(std::string(prefix));
         it != member->uncommitted.end() && it->first.starts_with(prefix); ++it) {
      if (it->second.empty()) {
        found.erase(it->first);
      } else {
        found.insert_or_assign(it->first, it->second);
      }
    }
    for (auto& entry : found) out.emplace_back(entry.first, std::move(entry.second));
    return Status::Ok();
  };
  m->aggregator->SetStateReader(std::move(reader));
  SLUICE_RETURN_IF_ERROR(m->aggregator->Restore(data.state, aggregator_meta));
  const auto rebuilt = std::chrono::steady_clock::now();
  // Versions must only grow, across restarts too, so a subscriber never sees an old number
  // with new contents. Every delta consumes at least one record, so the run before a crash
  // emitted at most (durable end - checkpointed offset) versions past the checkpoint: starting
  // above that bound skips ahead instead of reusing numbers.
  uint64_t unreplayed = 0;
  for (uint32_t p = 0; p < s.input.partitions(); ++p) {
    const uint64_t offset = p < data.offsets.size() ? data.offsets[p] : s.input.StartOffset(p);
    m->offsets.push_back(offset);
    m->readers.push_back(s.input.NewReader(p, offset));
    const uint64_t end = s.input.DurableEndOffset(p);
    if (end > offset) unreplayed += end - offset;
  }
  if (lake_backfill && data.offsets.empty()) {
    // What the log no longer holds, from the archive: records below the log's start.
    lake_backfill->below.clear();
    for (uint32_t p = 0; p < s.input.partitions(); ++p)
      lake_backfill->below.push_back(s.input.StartOffset(p));
    Result<std::unique_ptr<ArchiveReader>> history = ArchiveReader::Open(*lake_backfill);
    if (history.ok()) {
      m->history = std::move(history).value();
      spdlog::info("view {}: backfilling from the lake table {} (snapshot {}, {} files)", plan.name,
                   lake_backfill->table, m->history->snapshot_id(), m->history->files());
    } else if (history.status().code() == StatusCode::kNotFound) {
      spdlog::info("view {}: nothing to backfill from the lake: {}", plan.name,
                   history.status().message());
    } else {
      return Status(history.status().code(),
                    fmt::format("view {}: cannot backfill from the lake: {}", plan.name,
                                history.status().message()));
    }
  }
  // Until the idle timeout has passed, a partition without input may still be about to get
  // some (a producer's batch becoming durable in another partition first).
  m->last_input.assign(s.input.partitions(), s.clock.MonotonicMicros());
  m->quiet_watermark = m->aggregator->watermark();
  m->quiet_since_micros = s.clock.NowMicros();
  m->checkpointed_position = Sum(m->offsets);
  m->checkpointed_watermark = m->aggregator->watermark();
  // The rows committed with the checkpoint are read from the store on demand; only a checkpoint
  // written before views were stored has its rows rebuilt (and stored at the next checkpoint).
  if (!m->view->store_backed())
    m->view->UseStore(s.checkpoints.Rows(m->checkpoint_id), data.row_count.value_or(0));
  m->view->Reset(data.row_count ? std::map<std::string, std::string>() : m->aggregator->Rows(),
                 data.version + unreplayed);
  spdlog::info(
      "view {}: restored {} groups at version {}, resuming at position {} (read {} ms, groups "
      "rebuilt {} ms, rows {} {} ms)",
      plan.name, m->aggregator->group_count(), data.version, Sum(m->offsets),
      millis(started, loaded), millis(loaded, rebuilt), data.row_count ? "opened" : "rebuilt",
      millis(rebuilt, std::chrono::steady_clock::now()));
  s.members.push_back(std::move(m));
  return Status::Ok();
}

void StreamPipeline::RemoveView(const std::string& name) {
  Impl& s = *impl_;
  auto lock = s.LockForCaller();
  // The commit in flight may hold the view's checkpoint: it must not land after the caller
  // deletes it. (A failure is logged by the thread's next round, which retries.)
  if (Status st = s.FinishCheckpoint(/*wait=*/true); !st.ok())
    spdlog::error("stream {}: checkpoint failed (will retry): {}", s.options.stream, st.ToString());
  std::erase_if(s.members, [&](const auto& m) { return m->name == name; });
}

void StreamPipeline::Start() {
  stop_.store(false);
  if (!impl_->committer.joinable()) impl_->StartCommitter();
  thread_ = std::thread([this] {
    SetCurrentThreadName("pipe-" + impl_->options.stream);
    Run();
  });
}

void StreamPipeline::Run() {
  Impl& s = *impl_;
  while (!stop_.load(std::memory_order_acquire)) {
    const uint64_t generation = s.input.durable_generation();
    Result<size_t> n = size_t{0};
    while (s.waiting.load(std::memory_order_acquire) > 0) std::this_thread::yield();
    {
      std::lock_guard lock(s.mu);
      n = s.ProcessAvailable();
      if (Status st = s.FinishCheckpoint(/*wait=*/false); !st.ok())
        spdlog::error("stream {}: checkpoint failed (will retry): {}", s.options.stream,
                      st.ToString());
      if (n.ok() && !s.in_flight &&
          s.clock.MonotonicMicros() - s.last_checkpoint_micros >=
              s.options.checkpoint_interval_micros &&
          s.CheckpointDue()) {
        if (Status st = s.StartCheckpoint(); !st.ok())
          spdlog::error("stream {}: checkpoint failed (will retry): {}", s.options.stream,
                        st.ToString());
      }
    }
    if (!n.ok()) {
      spdlog::error("stream {}: pipeline stopped: {}", s.options.stream, n.status().ToString());
      std::lock_guard lock(s.status_mu);
      s.last_error = n.status();
      return;
    }
    if (n.value() == 0) s.input.WaitForDurable(generation, std::chrono::milliseconds(100));
  }
}

Status StreamPipeline::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  auto lock = impl_->LockForCaller();
  Status st = impl_->Checkpoint();
  impl_->StopCommitter();
  return st;
}

Result<size_t> StreamPipeline::ProcessAvailable() {
  auto lock = impl_->LockForCaller();
  return impl_->ProcessAvailable();
}

Status StreamPipeline::Checkpoint() {
  auto lock = impl_->LockForCaller();
  return impl_->Checkpoint();
}

std::optional<uint64_t> StreamPipeline::lag(const std::string& name) const {
  auto lock = impl_->LockForCaller();
  const Member* m = impl_->Find(name);
  if (m == nullptr) return std::nullopt;
  const uint64_t end = impl_->DurableEnd();
  const uint64_t position = impl_->Position(*m);
  const uint64_t history = m->history ? m->history->remaining_records() : 0;
  return (end > position ? end - position : 0) + history;
}

Status StreamPipeline::status() const {
  std::lock_guard lock(impl_->status_mu);
  return impl_->last_error;
}

}  // namespace sluice::stream
