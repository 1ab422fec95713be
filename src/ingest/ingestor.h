// The ingest path: request body → records → validation → partitioned log append → durable
// answer. Rejected records go, with their reason, to the stream's dead-letter log.
//
// What callers may rely on:
// - One bad record never fails the good ones beside it; each rejected record appears in the
//   answer with its index and a precise error, and is appended to the dead-letter log.
// - `done` runs exactly once, after every accepted event and dead letter of the request is
//   durable (group commit: concurrent requests share fdatasyncs), or with the Status that
//   prevented it. It runs on the log syncer's thread: post elsewhere for real work.
// - Parsing is one simdjson on-demand pass per record; steady state allocates nothing per event.
// - Exactly-once events (the stream's DeliveryRule, delivery.h) whose `dedup_key` value was
//   appended before, within the dedup horizon, are not appended again: the answer counts them
//   in `duplicates` (neither accepted nor rejected), after their originals are durable. The
//   same id twice in one request, or in concurrent requests, is appended once. The check is a
//   DedupIndex (dedup_index.h) lookup batched per request; at-least-once events skip it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "ingest/dead_letters.h"
#include "ingest/dedup_index.h"
#include "ingest/delivery.h"
#include "ingest/event_parser.h"
#include "log/log.h"
#include "schema/registry.h"

namespace sluice::ingest {

struct StreamConfig {
  std::string name;
  EventFieldNames fields;
  // The registry subject whose JSON schema every event must satisfy ("" = none): the latest
  // version, or the one a request names. The accepted event's log record carries the id.
  std::string subject;
  // Which events are exactly-once (null: none). With a rule that selects any, AddStream needs
  // the stream's dedup index.
  std::shared_ptr<const DeliveryRule> delivery;
};

struct IngestOptions {
  // Validate against this version of the stream's subject instead of the latest (the
  // `Sluice-Schema-Version` request header).
  std::optional<int> schema_version;
};

struct Rejection {
  size_t index = 0;
  std::string error;
};

struct IngestAnswer {
  size_t accepted = 0;
  size_t duplicates = 0;
  std::vector<Rejection> rejected;
  // {"accepted":N,"duplicates":D,"rejected":[{"index":i,"error":"..."}]}
  std::string ToJson() const;
};

class Ingestor {
 public:
  // `registry` (may be null when no stream names a subject) must outlive the ingestor.
  Ingestor(log::Syncer& syncer, Clock& clock, MetricsRegistry& metrics,
           const schema::Registry* registry = nullptr);
  ~Ingestor();

  // Registers a stream (also while requests are being served: streams created by SQL). Both
  // logs, and `dedup` (the index of the exactly-once ids, caught up with the log; required when
  // config.delivery selects any event), must outlive the ingestor. Registering a name again
  // replaces the stream.
  void AddStream(StreamConfig config, log::Log* log, log::Log* dead_letters,
                 DedupIndex* dedup = nullptr);
  // Unregisters a stream: later requests for it get NotFound. A request already running
  // finishes against the stream it started with (which the ingestor keeps until it is
  // destroyed, so the logs must still outlive the ingestor).
  void RemoveStream(std::string_view name);
  bool HasStream(std::string_view name) const;

  using Done = std::function<void(Result<IngestAnswer>)>;
  // Ingests `body`, which must be followed by simdjson::SIMDJSON_PADDING readable bytes.
  // Errors: NotFound (unknown stream), InvalidArgument (body cannot be split into records, or
  // names a schema version the subject does not have), FailedPrecondition (the stream's
  // subject has no usable JSON schema), ResourceExhausted (disk full), IOError.
  void Ingest(std::string_view stream, BodyFormat format, std::string_view body,
              const IngestOptions& options, Done done);

  // Up to `limit` dead letters of `stream` from offset `from` (clamped to what is retained).
  Result<DeadLetterPage> ListDeadLetters(std::string_view stream, uint64_t from, size_t limit);

  // Sends the stream's dead letters from its replay cursor (or from `from`, when given) through
  // ingest again, at most `limit` of them: those that pass now are appended to the stream;
  // those still rejected stay in the dead-letter log (they are not appended again) and are
  // listed in the answer. The cursor (kept durably beside the dead-letter log) moves past
  // every replayed dead letter once the accepted events are durable, so a second call does
  // not replay them again. One replay per stream at a time: a concurrent call fails with
  // AlreadyExists. Blocks until the replayed events are durable (a rare, operator-driven
  // call: simpler than a callback, and it costs one group commit).
  Result<ReplayAnswer> ReplayDeadLetters(std::string_view stream, std::optional<uint64_t> from,
                                         size_t limit);

 private:
  struct Stream;
  Stream* FindStream(std::string_view name) const;
  // Validates and appends `records` (each followed by simdjson padding) to the stream; with
  // `dead_letter_rejections` the rejected ones also go to the dead-letter log.
  void IngestRecords(Stream& stream, std::span<const RecordSlice> records,
                     const IngestOptions& options, bool dead_letter_rejections, Done done);
  // The calling thread's parser for `stream`, checking events against the schema the options
  // select (rebuilt only when that schema changes).
  Result<EventParser*> ParserFor(const Stream& stream, const IngestOptions& options);
  // The compiled form of a registered schema, compiled once per id.
  Result<std::shared_ptr<const schema::CompiledSchema>> Compiled(
      const schema::RegisteredSchema& registered);

  log::Syncer& syncer_;
  Clock& clock_;
  MetricsRegistry& metrics_;
  const schema::Registry* registry_;
  mutable std::shared_mutex streams_mu_;  // guards streams_ and retired_, not the Streams
  std::map<std::string, std::unique_ptr<Stream>, std::less<>> streams_;
  std::vector<std::unique_ptr<Stream>> retired_;  // removed or replaced, maybe still in use
  std::mutex compiled_mu_;
  std::unordered_map<int, std::shared_ptr<const schema::CompiledSchema>> compiled_;
};

}  // namespace sluice::ingest
