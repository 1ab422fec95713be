#include "ingest/ingestor.h"

#include <fmt/format.h>

#include "base/json_writer.h"

namespace sluice::ingest {

struct Ingestor::Stream {
  StreamConfig config;
  log::Log* log = nullptr;
  log::Log* dead_letters = nullptr;
  Counter* accepted = nullptr;
  Counter* rejected = nullptr;
  Counter* bytes = nullptr;
};

namespace {

// Per-thread scratch space, reused across requests so the steady state does not allocate.
struct Scratch {
  std::vector<RecordSlice> slices;
  std::vector<std::vector<log::RecordToAppend>> by_partition;
  std::map<std::string, std::unique_ptr<EventParser>, std::less<>> parsers;  // per stream

  EventParser& ParserFor(const StreamConfig& config) {
    auto it = parsers.find(config.name);
    if (it == parsers.end())
      it = parsers.emplace(config.name, std::make_unique<EventParser>(config.fields)).first;
    return *it->second;
  }
};

thread_local Scratch scratch;

}  // namespace

std::string IngestAnswer::ToJson() const {
  std::string out = fmt::format("{{\"accepted\":{},\"duplicates\":{},\"rejected\":[", accepted,
                                duplicates);
  for (size_t i = 0; i < rejected.size(); ++i) {
    if (i) out += ',';
    out += fmt::format("{{\"index\":{},\"error\":", rejected[i].index);
    AppendJsonString(out, rejected[i].error);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string DeadLetterPayload(std::string_view stream, size_t index, std::string_view error,
                              std::string_view raw) {
  std::string out = "{\"stream\":";
  AppendJsonString(out, stream);
  out += fmt::format(",\"index\":{},\"error\":", index);
  AppendJsonString(out, error);
  out += "}\n";
  out.append(raw);
  return out;
}

Ingestor::Ingestor(log::Syncer& syncer, Clock& clock, MetricsRegistry& metrics)
    : syncer_(syncer), clock_(clock), metrics_(metrics) {}

Ingestor::~Ingestor() = default;

void Ingestor::AddStream(StreamConfig config, log::Log* log, log::Log* dead_letters) {
  auto s = std::make_unique<Stream>();
  std::string labels = fmt::format("stream=\"{}\"", config.name);
  s->accepted = metrics_.GetCounter("sluice_events_accepted_total",
                                    "Events accepted and made durable, per stream", labels);
  s->rejected = metrics_.GetCounter("sluice_events_rejected_total",
                                    "Events rejected (kept as dead letters), per stream", labels);
  s->bytes = metrics_.GetCounter("sluice_ingest_bytes_total",
                                 "Bytes of accepted events, per stream", labels);
  s->config = std::move(config);
  s->log = log;
  s->dead_letters = dead_letters;
  std::string name = s->config.name;
  streams_.insert_or_assign(std::move(name), std::move(s));
}

bool Ingestor::HasStream(std::string_view name) const { return FindStream(name) != nullptr; }

Ingestor::Stream* Ingestor::FindStream(std::string_view name) const {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Ingestor::Ingest(std::string_view stream_name, BodyFormat format, std::string_view body,
                      Done done) {
  Stream* stream = FindStream(stream_name);
  if (stream == nullptr) {
    done(Status::NotFound(fmt::format("unknown stream '{}'", stream_name)));
    return;
  }
  Scratch& s = scratch;
  s.slices.clear();
  if (Status st = SplitBody(body, format, s.slices); !st.ok()) {
    done(st);
    return;
  }
  const uint32_t partitions = stream->log->partitions();
  s.by_partition.resize(partitions);
  for (auto& v : s.by_partition) v.clear();

  IngestAnswer answer;
  std::vector<std::string> dead_letters;
  EventParser& parser = s.ParserFor(stream->config);
  EventFields fields;
  uint64_t accepted_bytes = 0;
  for (const RecordSlice& slice : s.slices) {
    Status st = parser.Parse(slice.bytes, fields);
    if (!st.ok()) {
      dead_letters.push_back(
          DeadLetterPayload(stream->config.name, slice.index, st.message(), slice.bytes));
      answer.rejected.push_back({slice.index, st.message()});
      continue;
    }
    s.by_partition[fields.partition_hash % partitions].push_back(
        {fields.event_time_micros, slice.bytes});
    ++answer.accepted;
    accepted_bytes += slice.bytes.size();
  }

  uint64_t ticket = 0;
  for (uint32_t p = 0; p < partitions; ++p) {
    if (s.by_partition[p].empty()) continue;
    auto appended = stream->log->Append(p, s.by_partition[p]);
    if (!appended.ok()) {
      done(appended.status());
      return;
    }
    ticket = std::max(ticket, appended->sync_ticket);
  }
  if (!dead_letters.empty()) {
    std::vector<log::RecordToAppend> records;
    records.reserve(dead_letters.size());
    const int64_t now = clock_.NowMicros();
    for (const std::string& d : dead_letters) records.push_back({now, d});
    auto appended = stream->dead_letters->Append(0, records);
    if (!appended.ok()) {
      done(appended.status());
      return;
    }
    ticket = std::max(ticket, appended->sync_ticket);
  }
  if (ticket == 0) {  // nothing to make durable
    done(std::move(answer));
    return;
  }
  syncer_.WhenDurable(ticket, [stream, accepted_bytes, answer = std::move(answer),
                               done = std::move(done)](const Status& st) mutable {
    if (!st.ok()) {
      done(st);
      return;
    }
    stream->accepted->Add(answer.accepted);
    stream->rejected->Add(answer.rejected.size());
    stream->bytes->Add(accepted_bytes);
    done(std::move(answer));
  });
}

}  // namespace sluice::ingest
