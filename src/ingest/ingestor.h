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
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "ingest/event_parser.h"
#include "log/log.h"

namespace sluice::ingest {

struct StreamConfig {
  std::string name;
  EventFieldNames fields;
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

// The payload of a dead-letter record: a one-line JSON header, a newline, the raw bytes.
//   {"stream":"fulfilment","index":3,"error":"missing required field 'event_id'"}\n<raw record>
std::string DeadLetterPayload(std::string_view stream, size_t index, std::string_view error,
                              std::string_view raw);

class Ingestor {
 public:
  Ingestor(log::Syncer& syncer, Clock& clock, MetricsRegistry& metrics);
  ~Ingestor();

  // Registers a stream. Both logs must outlive the ingestor.
  void AddStream(StreamConfig config, log::Log* log, log::Log* dead_letters);
  bool HasStream(std::string_view name) const;

  using Done = std::function<void(Result<IngestAnswer>)>;
  // Ingests `body`, which must be followed by simdjson::SIMDJSON_PADDING readable bytes.
  // Errors: NotFound (unknown stream), InvalidArgument (body cannot be split into records),
  // ResourceExhausted (disk full), IOError.
  void Ingest(std::string_view stream, BodyFormat format, std::string_view body, Done done);

 private:
  struct Stream;
  Stream* FindStream(std::string_view name) const;

  log::Syncer& syncer_;
  Clock& clock_;
  MetricsRegistry& metrics_;
  std::map<std::string, std::unique_ptr<Stream>, std::less<>> streams_;
};

}  // namespace sluice::ingest
