#include "stream/tumbling_count.h"

#include <cstring>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "base/json_writer.h"
#include "base/time.h"

namespace sluice::stream {
namespace {

constexpr char kFieldSeparator = '\x1f';

// A group key is, per group-by field, a tag ('n' null, 's' string, 'r' raw JSON scalar), the
// value and a separator, then the window start as 8 big-endian bytes with the sign flipped (so
// keys sort by window).
void AppendWindowStart(std::string& key, int64_t window_start) {
  uint64_t u = static_cast<uint64_t>(window_start) ^ (uint64_t{1} << 63);
  for (int i = 7; i >= 0; --i) key += static_cast<char>((u >> (8 * i)) & 0xFF);
}

int64_t ReadWindowStart(std::string_view bytes) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(bytes[i]);
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}

}  // namespace

store::ViewDefinition TumblingCountViewDefinition(const TumblingCountOptions& options,
                                                  const std::string& stream) {
  store::ViewDefinition def;
  def.name = options.name;
  def.columns = options.group_by;
  def.columns.push_back("window_start");
  def.columns.push_back("events");
  def.key_columns = options.group_by;
  def.key_columns.push_back("window_start");
  std::string fields;
  for (const auto& f : options.group_by) fields += f + ", ";
  const bool whole_minutes = options.window_micros % kMicrosPerMinute == 0;
  def.sql = fmt::format(
      "SELECT {}window_start, count(*) AS events\nFROM TUMBLE({}, {}, INTERVAL '{}' {})\n"
      "GROUP BY {}window_start",
      fields, stream, options.event_time_field,
      whole_minutes ? options.window_micros / kMicrosPerMinute
                    : options.window_micros / kMicrosPerSecond,
      whole_minutes ? "MINUTE" : "SECOND", fields);
  return def;
}

struct TumblingCountPipeline::Impl {
  struct Entry {
    std::string row_prefix;  // the row JSON up to and including "events":
    int64_t count = 0;
    bool touched = false;  // changed in the current round
    bool dirty = false;    // changed since the last checkpoint
  };

  TumblingCountOptions options;
  log::Log& input;
  store::View& view;
  CheckpointStore& checkpoints;
  Clock& clock;

  std::vector<std::unique_ptr<log::PartitionReader>> readers;
  std::unordered_map<std::string, Entry> entries;
  std::vector<std::pair<const std::string*, Entry*>> touched;
  std::vector<std::pair<const std::string*, Entry*>> dirty;
  std::vector<int64_t> round_log_times;
  std::vector<std::string> field_values;  // raw value per group-by field for the current event
  std::vector<char> field_kinds;
  std::string key;
  simdjson::ondemand::parser parser;
  int64_t max_event_time = INT64_MIN;
  int64_t last_checkpoint_micros = 0;

  Histogram* e2e_latency;
  Counter* processed;
  Counter* late;
  Counter* malformed;
  Gauge* watermark;

  mutable std::mutex status_mu;
  Status last_error;

  Impl(TumblingCountOptions o, log::Log& in, store::View& v, CheckpointStore& c, Clock& cl,
       MetricsRegistry& m)
      : options(std::move(o)), input(in), view(v), checkpoints(c), clock(cl) {
    std::string labels = fmt::format("pipeline=\"{}\"", options.name);
    e2e_latency =
        m.GetHistogram("sluice_e2e_latency_seconds",
                       "From an event's append to the log until the delta counting it is applied");
    processed = m.GetCounter("sluice_pipeline_records_total", "Records processed", labels);
    late = m.GetCounter("sluice_late_events_total",
                        "Events behind the watermark when processed (still counted)", labels);
    malformed = m.GetCounter("sluice_pipeline_malformed_total",
                             "Log records a pipeline could not parse (skipped)", labels);
    watermark = m.GetGauge("sluice_watermark_micros", "Event-time watermark", labels);
    field_values.resize(options.group_by.size());
    field_kinds.resize(options.group_by.size());
  }

  std::string RowPrefixFromKey(std::string_view k) const {
    std::string row = "{";
    size_t pos = 0;
    for (size_t i = 0; i < options.group_by.size(); ++i) {
      char kind = k[pos++];
      size_t end = k.find(kFieldSeparator, pos);
      std::string_view value = k.substr(pos, end - pos);
      pos = end + 1;
      AppendJsonString(row, options.group_by[i]);
      row += ':';
      if (kind == 'n') {
        row += "null";
      } else if (kind == 's') {
        AppendJsonString(row, value);
      } else {
        row.append(value);
      }
      row += ',';
    }
    row += "\"window_start\":";
    row += '"';
    AppendRfc3339(row, ReadWindowStart(k.substr(pos, 8)));
    row += "\",\"events\":";
    return row;
  }

  // Picks the group-by values out of one event; false when the payload is not a JSON object.
  bool ExtractFields(std::string_view payload) {
    for (size_t i = 0; i < field_kinds.size(); ++i) field_kinds[i] = 'n';
    simdjson::padded_string_view in(payload.data(), payload.size(),
                                    payload.size() + log::kReadPadding);
    simdjson::ondemand::document doc;
    if (parser.iterate(in).get(doc)) return false;
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj)) return false;
    size_t found = 0;
    for (auto field : obj) {
      std::string_view name;
      if (field.unescaped_key().get(name)) return false;
      for (size_t i = 0; i < options.group_by.size(); ++i) {
        if (name != options.group_by[i] || field_kinds[i] != 'n') continue;
        simdjson::ondemand::value value;
        if (field.value().get(value)) return false;
        simdjson::ondemand::json_type type;
        if (value.type().get(type)) return false;
        if (type == simdjson::ondemand::json_type::string) {
          std::string_view s;
          if (value.get_string().get(s)) return false;
          field_values[i].assign(s);
          field_kinds[i] = 's';
        } else if (type != simdjson::ondemand::json_type::null &&
                   type != simdjson::ondemand::json_type::object &&
                   type != simdjson::ondemand::json_type::array) {
          std::string_view raw = value.raw_json_token();
          while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                                  raw.back() == '\t'))
            raw.remove_suffix(1);
          field_values[i].assign(raw);
          field_kinds[i] = 'r';
        }
        ++found;
        break;
      }
      if (found == options.group_by.size()) break;
    }
    return true;
  }

  void Count(const log::RecordView& record) {
    if (!ExtractFields(record.payload)) {
      malformed->Add();
      return;
    }
    const int64_t window_start =
        FloorDiv(record.event_time_micros, options.window_micros) * options.window_micros;
    key.clear();
    for (size_t i = 0; i < field_kinds.size(); ++i) {
      key += field_kinds[i];
      if (field_kinds[i] != 'n') key += field_values[i];
      key += kFieldSeparator;
    }
    AppendWindowStart(key, window_start);
    auto it = entries.find(key);
    if (it == entries.end()) {
      it = entries.emplace(key, Entry{}).first;
      it->second.row_prefix = RowPrefixFromKey(it->first);
    }
    Entry& e = it->second;
    ++e.count;
    if (!e.touched) {
      e.touched = true;
      touched.emplace_back(&it->first, &e);
    }
    if (!e.dirty) {
      e.dirty = true;
      dirty.emplace_back(&it->first, &e);
    }
    if (record.event_time_micros < max_event_time - options.watermark_delay_micros) late->Add();
    if (record.event_time_micros > max_event_time) max_event_time = record.event_time_micros;
    round_log_times.push_back(record.log_time_micros);
  }

  uint64_t Position() const {
    uint64_t position = 0;
    for (const auto& r : readers) position += r->next_offset();
    return position;
  }

  Result<size_t> ProcessAvailable() {
    size_t n = 0;
    for (auto& reader : readers) {
      auto batch = reader->Read(options.read_bytes_per_partition);
      if (!batch.ok()) return batch.status();
      for (const log::RecordView& record : batch.value()) Count(record);
      n += batch->size();
    }
    if (touched.empty()) return n;
    std::vector<store::RowChange> changes;
    changes.reserve(touched.size());
    for (auto& [k, e] : touched) {
      changes.push_back({*k, e->row_prefix + std::to_string(e->count) + "}"});
      e->touched = false;
    }
    touched.clear();
    view.Apply(changes, Position());
    const int64_t now = clock.NowMicros();
    for (int64_t t : round_log_times) e2e_latency->ObserveMicros(now - t);
    round_log_times.clear();
    processed->Add(n);
    if (max_event_time != INT64_MIN)
      watermark->Set(max_event_time - options.watermark_delay_micros);
    return n;
  }

  Status Checkpoint() {
    std::vector<std::pair<std::string, std::string>> changed;
    changed.reserve(dirty.size());
    for (auto& [k, e] : dirty) {
      changed.emplace_back(*k, std::to_string(e->count));
      e->dirty = false;
    }
    dirty.clear();
    std::vector<uint64_t> offsets;
    for (const auto& r : readers) offsets.push_back(r->next_offset());
    last_checkpoint_micros = clock.MonotonicMicros();
    return checkpoints.Commit(options.name, changed, offsets, view.version());
  }
};

TumblingCountPipeline::TumblingCountPipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TumblingCountPipeline::~TumblingCountPipeline() {
  if (thread_.joinable()) {
    Status st = Stop();
    if (!st.ok())
      spdlog::error("pipeline {}: final checkpoint failed: {}", impl_->options.name, st.ToString());
  }
}

Result<std::unique_ptr<TumblingCountPipeline>> TumblingCountPipeline::Create(
    TumblingCountOptions options, log::Log& input, store::View& view, CheckpointStore& checkpoints,
    Clock& clock, MetricsRegistry& metrics) {
  auto impl = std::make_unique<Impl>(std::move(options), input, view, checkpoints, clock, metrics);
  SLUICE_ASSIGN_OR_RETURN(CheckpointData data, checkpoints.Load(impl->options.name));
  std::map<std::string, std::string> rows;
  for (auto& [k, v] : data.state) {
    auto it = impl->entries.emplace(k, Impl::Entry{}).first;
    it->second.count = std::stoll(v);
    it->second.row_prefix = impl->RowPrefixFromKey(k);
    rows.emplace(k, it->second.row_prefix + v + "}");
  }
  // Versions must only grow, across restarts too, so a subscriber never sees an old number
  // with new contents. Every delta consumes at least one record, so the run before a crash
  // emitted at most (durable end - checkpointed offset) versions past the checkpoint: starting
  // above that bound skips ahead instead of reusing numbers. Subscribers resync from a
  // snapshot after a restart anyway (their connection dropped).
  uint64_t unreplayed = 0;
  for (uint32_t p = 0; p < input.partitions(); ++p) {
    uint64_t offset = p < data.offsets.size() ? data.offsets[p] : input.StartOffset(p);
    impl->readers.push_back(input.NewReader(p, offset));
    const uint64_t end = input.DurableEndOffset(p);
    if (end > offset) unreplayed += end - offset;
  }
  impl->view.Reset(std::move(rows), data.version + unreplayed);
  spdlog::info("pipeline {}: restored {} windows at version {}, resuming at position {}",
               impl->options.name, impl->entries.size(), data.version, impl->Position());
  impl->last_checkpoint_micros = clock.MonotonicMicros();
  return std::unique_ptr<TumblingCountPipeline>(new TumblingCountPipeline(std::move(impl)));
}

void TumblingCountPipeline::Start() {
  stop_.store(false);
  thread_ = std::thread([this] { Run(); });
}

void TumblingCountPipeline::Run() {
  Impl& s = *impl_;
  while (!stop_.load(std::memory_order_acquire)) {
    const uint64_t generation = s.input.durable_generation();
    auto n = s.ProcessAvailable();
    if (!n.ok()) {
      spdlog::error("pipeline {} stopped: {}", s.options.name, n.status().ToString());
      std::lock_guard lock(s.status_mu);
      s.last_error = n.status();
      return;
    }
    if (!s.dirty.empty() && s.clock.MonotonicMicros() - s.last_checkpoint_micros >=
                                s.options.checkpoint_interval_micros) {
      if (Status st = s.Checkpoint(); !st.ok())
        spdlog::error("pipeline {}: checkpoint failed (will retry): {}", s.options.name,
                      st.ToString());
    }
    if (n.value() == 0) s.input.WaitForDurable(generation, std::chrono::milliseconds(100));
  }
}

Status TumblingCountPipeline::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  return impl_->Checkpoint();
}

Result<size_t> TumblingCountPipeline::ProcessAvailable() {
  return impl_->ProcessAvailable();
}
Status TumblingCountPipeline::Checkpoint() {
  return impl_->Checkpoint();
}

Status TumblingCountPipeline::status() const {
  std::lock_guard lock(impl_->status_mu);
  return impl_->last_error;
}

}  // namespace sluice::stream
