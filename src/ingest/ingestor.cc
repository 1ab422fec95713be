#include "ingest/ingestor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

#include "base/json_writer.h"

namespace sluice::ingest {

struct Ingestor::Stream {
  StreamConfig config;
  log::Log* log = nullptr;
  log::Log* dead_letters = nullptr;
  DedupIndex* dedup = nullptr;  // set when some events are exactly-once
  Counter* accepted = nullptr;
  Counter* duplicates = nullptr;
  Counter* rejected = nullptr;
  Counter* bytes = nullptr;
  Counter* replayed = nullptr;

  std::mutex replay_mu;  // one replay at a time; guards the cursor
  bool replaying = false;
  std::string cursor_path;  // "<dead-letter log>/replay.cursor": the next offset to replay
};

namespace {

// An event that passed parsing and validation, before deduplication.
struct ParsedEvent {
  size_t index = 0;  // in the request
  std::string_view bytes;
  int64_t event_time_micros = 0;
  uint32_t partition = 0;
  int64_t dedup_entry = -1;  // its entry in the request's DedupIndex::Batch; -1: at-least-once
};

// Per-thread scratch space, reused across requests so the steady state does not allocate.
struct Scratch {
  std::vector<RecordSlice> slices;
  std::vector<ParsedEvent> parsed;
  std::vector<char> has_new;  // per partition: exactly-once events to append
  DedupIndex::Batch dedup;
  std::vector<std::vector<log::RecordToAppend>> by_partition;
  // Per stream, by identity: a stream dropped and created again under its name gets a new
  // parser (Streams are never freed while the ingestor lives, so addresses are not reused).
  std::map<const void*, std::unique_ptr<EventParser>> parsers;
};

thread_local Scratch scratch;

}  // namespace

std::string IngestAnswer::ToJson() const {
  std::string out =
      fmt::format("{{\"accepted\":{},\"duplicates\":{},\"rejected\":[", accepted, duplicates);
  for (size_t i = 0; i < rejected.size(); ++i) {
    if (i) out += ',';
    out += fmt::format("{{\"index\":{},\"error\":", rejected[i].index);
    AppendJsonString(out, rejected[i].error);
    out += '}';
  }
  out += "]}";
  return out;
}

Ingestor::Ingestor(log::Syncer& syncer, Clock& clock, MetricsRegistry& metrics,
                   const schema::Registry* registry)
    : syncer_(syncer), clock_(clock), metrics_(metrics), registry_(registry) {}

Ingestor::~Ingestor() = default;

void Ingestor::AddStream(StreamConfig config, log::Log* log, log::Log* dead_letters,
                         DedupIndex* dedup) {
  auto s = std::make_unique<Stream>();
  if (config.delivery && !config.delivery->none()) {
    if (dedup == nullptr)
      throw std::logic_error("stream " + config.name + " has exactly-once events but no index");
    s->dedup = dedup;
  }
  std::string labels = fmt::format("stream=\"{}\"", config.name);
  s->accepted = metrics_.GetCounter("sluice_events_accepted_total",
                                    "Events accepted and made durable, per stream", labels);
  s->duplicates = metrics_.GetCounter(
      "sluice_events_duplicate_total",
      "Exactly-once events not appended because their id was appended before, per stream", labels);
  s->rejected = metrics_.GetCounter("sluice_events_rejected_total",
                                    "Events rejected (kept as dead letters), per stream", labels);
  s->bytes = metrics_.GetCounter("sluice_ingest_bytes_total",
                                 "Bytes of accepted events, per stream", labels);
  s->replayed = metrics_.GetCounter("sluice_dead_letters_replayed_total",
                                    "Dead letters sent through ingest again, per stream", labels);
  s->config = std::move(config);
  s->log = log;
  s->dead_letters = dead_letters;
  s->cursor_path = dead_letters->dir() + "/replay.cursor";
  std::string name = s->config.name;
  std::unique_lock lock(streams_mu_);
  std::unique_ptr<Stream>& slot = streams_[std::move(name)];
  if (slot) retired_.push_back(std::move(slot));
  slot = std::move(s);
}

void Ingestor::RemoveStream(std::string_view name) {
  std::unique_lock lock(streams_mu_);
  auto it = streams_.find(name);
  if (it == streams_.end()) return;
  retired_.push_back(std::move(it->second));
  streams_.erase(it);
}

bool Ingestor::HasStream(std::string_view name) const {
  return FindStream(name) != nullptr;
}

Ingestor::Stream* Ingestor::FindStream(std::string_view name) const {
  std::shared_lock lock(streams_mu_);
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second.get();
}

Result<std::shared_ptr<const schema::CompiledSchema>> Ingestor::Compiled(
    const schema::RegisteredSchema& registered) {
  std::lock_guard lock(compiled_mu_);
  auto it = compiled_.find(registered.id);
  if (it != compiled_.end()) return it->second;
  // The registry only stores JSON schemas that compile, so this fails only for AVRO ones.
  if (registered.type != schema::SchemaType::kJson)
    return Status::FailedPrecondition(
        fmt::format("schema id {} is an {} schema: JSON events need a JSON schema", registered.id,
                    schema::SchemaTypeName(registered.type)));
  SLUICE_ASSIGN_OR_RETURN(auto compiled, schema::CompileJsonSchema(registered.schema));
  compiled_.emplace(registered.id, compiled);
  return compiled;
}

Result<EventParser*> Ingestor::ParserFor(const Stream& stream, const IngestOptions& options) {
  std::unique_ptr<EventParser>& parser = scratch.parsers[&stream];
  if (stream.config.subject.empty()) {
    if (!parser) parser = std::make_unique<EventParser>(stream.config.fields);
    return parser.get();
  }
  if (registry_ == nullptr)
    return Status::Internal(fmt::format("stream '{}' names subject '{}' but there is no registry",
                                        stream.config.name, stream.config.subject));
  std::shared_ptr<const schema::RegisteredSchema> registered;
  if (options.schema_version) {
    auto version = registry_->GetVersion(stream.config.subject, *options.schema_version,
                                         /*include_deleted=*/false);
    if (!version.ok())
      return Status::InvalidArgument(fmt::format("schema version {} of subject '{}': {}",
                                                 *options.schema_version, stream.config.subject,
                                                 version.error().message));
    registered = version->schema;
  } else {
    auto latest = registry_->Latest(stream.config.subject);
    if (!latest)
      return Status::FailedPrecondition(fmt::format(
          "stream '{}' validates events against subject '{}', which has no schema: register "
          "one with POST /registry/subjects/{}/versions",
          stream.config.name, stream.config.subject, stream.config.subject));
    registered = latest->schema;
  }
  const auto id = static_cast<uint32_t>(registered->id);
  if (!parser || parser->schema_id() != id) {
    SLUICE_ASSIGN_OR_RETURN(auto compiled, Compiled(*registered));
    parser = std::make_unique<EventParser>(stream.config.fields, std::move(compiled), id);
  }
  return parser.get();
}

void Ingestor::Ingest(std::string_view stream_name, BodyFormat format, std::string_view body,
                      const IngestOptions& options, Done done) {
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
  IngestRecords(*stream, s.slices, options, /*dead_letter_rejections=*/true, std::move(done));
}

void Ingestor::IngestRecords(Stream& stream_ref, std::span<const RecordSlice> records,
                             const IngestOptions& options, bool dead_letter_rejections, Done done) {
  Stream* stream = &stream_ref;
  auto parser_or = ParserFor(*stream, options);
  if (!parser_or.ok()) {
    done(parser_or.status());
    return;
  }
  EventParser& parser = *parser_or.value();
  Scratch& s = scratch;
  const uint32_t partitions = stream->log->partitions();
  s.by_partition.resize(partitions);
  for (auto& v : s.by_partition) v.clear();

  IngestAnswer answer;
  std::vector<std::string> dead_letters;
  EventFields fields;
  uint64_t accepted_bytes = 0;
  DedupIndex* dedup = stream->dedup;
  const DeliveryRule* rule = dedup ? stream->config.delivery.get() : nullptr;
  DedupIndex::Batch& batch = s.dedup;
  if (dedup) batch.Reset(*dedup);
  // Whatever happens below, this request's reservations end with it.
  struct ReleaseAtExit {
    DedupIndex::Batch& batch;
    ~ReleaseAtExit() { batch.Release(); }
  } release_at_exit{batch};
  s.parsed.clear();
  for (const RecordSlice& slice : records) {
    Status st = parser.Parse(slice.bytes, fields);
    if (!st.ok()) {
      if (dead_letter_rejections)
        dead_letters.push_back(DeadLetterPayload(stream->config.name, slice.index, st.message(),
                                                 parser.schema_id(), slice.bytes));
      answer.rejected.push_back({slice.index, st.message()});
      continue;
    }
    const auto p = static_cast<uint32_t>(fields.partition_hash % partitions);
    int64_t entry = -1;
    if (rule && rule->Matches(slice.bytes, fields.event_time_micros))
      entry = static_cast<int64_t>(batch.Add(p, fields.id));
    s.parsed.push_back({slice.index, slice.bytes, fields.event_time_micros, p, entry});
  }
  if (dedup && batch.size() > 0) {
    if (Status st = dedup->Resolve(batch); !st.ok()) {
      done(st);
      return;
    }
  }
  s.has_new.assign(partitions, 0);
  bool conflicts = false;
  for (const ParsedEvent& e : s.parsed) {
    if (e.dedup_entry >= 0) {
      const DedupIndex::Outcome outcome = batch.outcome(static_cast<size_t>(e.dedup_entry));
      if (outcome == DedupIndex::Outcome::kDuplicate) {
        ++answer.duplicates;
        continue;
      }
      if (outcome == DedupIndex::Outcome::kConflict) {
        answer.rejected.push_back(
            {e.index, fmt::format("a concurrent request carrying the same {} failed before "
                                  "storing it: send the event again",
                                  stream->config.fields.id)});
        conflicts = true;
        continue;
      }
      s.has_new[e.partition] = 1;
    }
    s.by_partition[e.partition].push_back({e.event_time_micros, e.bytes, parser.schema_id()});
    ++answer.accepted;
    accepted_bytes += e.bytes.size();
  }
  if (conflicts)
    std::stable_sort(answer.rejected.begin(), answer.rejected.end(),
                     [](const Rejection& a, const Rejection& b) { return a.index < b.index; });

  uint64_t ticket = 0;
  Status append_failure;
  for (uint32_t p = 0; p < partitions; ++p) {
    if (s.by_partition[p].empty()) continue;
    // Exactly-once events: the index learns the order of appends (dedup_index.h).
    std::unique_lock<std::mutex> order;
    if (s.has_new[p]) order = dedup->LockPartition(p);
    auto appended = stream->log->Append(p, s.by_partition[p]);
    if (!appended.ok()) {
      append_failure = appended.status();
      break;
    }
    if (s.has_new[p])
      dedup->Appended(batch, p, appended->first_offset,
                      appended->first_offset + s.by_partition[p].size(), appended->sync_ticket);
    ticket = std::max(ticket, appended->sync_ticket);
  }
  if (dedup && batch.size() > 0) {
    // Also after a failed append: what the other partitions appended must be indexed.
    dedup->Commit(batch);
    ticket = std::max(ticket, batch.duplicate_ticket());
  }
  if (!append_failure.ok()) {
    done(append_failure);
    return;
  }
  if (!dead_letters.empty()) {
    std::vector<log::RecordToAppend> letters;
    letters.reserve(dead_letters.size());
    const int64_t now = clock_.NowMicros();
    for (const std::string& d : dead_letters) letters.push_back({now, d, parser.schema_id()});
    auto appended = stream->dead_letters->Append(0, letters);
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
  const size_t newly_rejected = dead_letter_rejections ? answer.rejected.size() : 0;
  syncer_.WhenDurable(ticket, [stream, accepted_bytes, newly_rejected, answer = std::move(answer),
                               done = std::move(done)](const Status& st) mutable {
    if (!st.ok()) {
      done(st);
      return;
    }
    stream->accepted->Add(answer.accepted);
    stream->duplicates->Add(answer.duplicates);
    stream->rejected->Add(newly_rejected);
    stream->bytes->Add(accepted_bytes);
    done(std::move(answer));
  });
}

namespace {

// The replay cursor: the next dead-letter offset to replay, in a small file replaced
// atomically (temp file, fsync, rename, fsync of the directory).
uint64_t LoadCursor(const std::string& path) {
  std::ifstream in(path);
  uint64_t cursor = 0;
  if (in) in >> cursor;
  return in ? cursor : 0;
}

Status StoreCursor(const std::string& path, uint64_t cursor) {
  const std::string tmp = path + ".tmp";
  const std::string text = std::to_string(cursor) + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("creating " + tmp, errno);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fdatasync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) return Status::FromErrno("writing " + tmp, err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("renaming " + tmp, errno);
  const std::string dir = path.substr(0, path.rfind('/'));
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Status::FromErrno("opening " + dir, errno);
  ok = ::fsync(dir_fd) == 0;
  ::close(dir_fd);
  if (!ok) return Status::FromErrno("syncing " + dir, errno);
  return Status::Ok();
}

// Reads up to `limit` dead letters from `from` on (only durable ones).
Result<std::vector<DeadLetter>> ReadDeadLetters(const log::Log& log, uint64_t from, size_t limit,
                                                uint64_t& next_offset) {
  std::vector<DeadLetter> out;
  auto reader = log.NewReader(0, std::max(from, log.StartOffset(0)));
  while (out.size() < limit) {
    SLUICE_ASSIGN_OR_RETURN(auto batch, reader->Read(1 << 20));
    if (batch.empty()) break;
    for (const log::RecordView& record : batch) {
      if (out.size() == limit) break;
      SLUICE_ASSIGN_OR_RETURN(DeadLetter letter, DecodeDeadLetter(record));
      out.push_back(std::move(letter));
    }
  }
  next_offset = out.empty() ? std::max(from, log.StartOffset(0)) : out.back().offset + 1;
  return out;
}

}  // namespace

Result<DeadLetterPage> Ingestor::ListDeadLetters(std::string_view stream_name, uint64_t from,
                                                 size_t limit) {
  Stream* stream = FindStream(stream_name);
  if (stream == nullptr) return Status::NotFound(fmt::format("unknown stream '{}'", stream_name));
  DeadLetterPage page;
  SLUICE_ASSIGN_OR_RETURN(page.items,
                          ReadDeadLetters(*stream->dead_letters, from, limit, page.next_offset));
  page.start_offset = stream->dead_letters->StartOffset(0);
  page.end_offset = stream->dead_letters->DurableEndOffset(0);
  std::lock_guard lock(stream->replay_mu);
  page.replayed_until = LoadCursor(stream->cursor_path);
  return page;
}

Result<ReplayAnswer> Ingestor::ReplayDeadLetters(std::string_view stream_name,
                                                 std::optional<uint64_t> from, size_t limit) {
  Stream* stream = FindStream(stream_name);
  if (stream == nullptr) return Status::NotFound(fmt::format("unknown stream '{}'", stream_name));
  {
    std::lock_guard lock(stream->replay_mu);
    if (stream->replaying)
      return Status::AlreadyExists(fmt::format(
          "a replay of the dead letters of '{}' is already running; try again when it ends",
          stream_name));
    stream->replaying = true;
  }
  struct ReplayGuard {
    Stream* stream;
    ~ReplayGuard() {
      std::lock_guard lock(stream->replay_mu);
      stream->replaying = false;
    }
  } guard{stream};

  const uint64_t start = from.value_or(LoadCursor(stream->cursor_path));
  ReplayAnswer answer;
  SLUICE_ASSIGN_OR_RETURN(std::vector<DeadLetter> letters,
                          ReadDeadLetters(*stream->dead_letters, start, limit, answer.next_offset));
  if (letters.empty()) return answer;

  // The raw records side by side in one buffer: each is followed by the next one (or by the
  // final padding), which gives the parser the readable padding it needs.
  std::string buffer;
  size_t total = 0;
  for (const DeadLetter& d : letters) total += d.raw.size() + 1;
  buffer.reserve(total + simdjson::SIMDJSON_PADDING);
  std::vector<RecordSlice> slices;
  slices.reserve(letters.size());
  for (size_t i = 0; i < letters.size(); ++i) {
    const size_t at = buffer.size();
    buffer += letters[i].raw;
    buffer += '\n';
    slices.push_back({i, std::string_view(buffer.data() + at, letters[i].raw.size())});
  }
  std::promise<Result<IngestAnswer>> promise;
  auto future = promise.get_future();
  IngestRecords(*stream, slices, IngestOptions{}, /*dead_letter_rejections=*/false,
                [&promise](Result<IngestAnswer> result) { promise.set_value(std::move(result)); });
  Result<IngestAnswer> ingested = future.get();
  if (!ingested.ok()) return ingested.status();

  answer.replayed = letters.size();
  answer.accepted = ingested->accepted;
  answer.duplicates = ingested->duplicates;
  for (const Rejection& r : ingested->rejected)
    answer.rejected.push_back({letters[r.index].offset, r.error});
  stream->replayed->Add(letters.size());
  std::lock_guard lock(stream->replay_mu);
  SLUICE_RETURN_IF_ERROR(StoreCursor(stream->cursor_path, answer.next_offset));
  return answer;
}

}  // namespace sluice::ingest
