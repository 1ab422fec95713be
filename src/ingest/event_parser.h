// Parsing of request bodies into events, with one pass of simdjson on-demand per record and no
// DOM: the body is split into records (NDJSON lines or JSON array elements), and each record is
// validated as complete JSON while the fields the engine needs are picked out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "base/status.h"

namespace sluice::ingest {

enum class BodyFormat {
  kNdjson,  // one JSON value per line; blank lines ignored
  kJson,    // a JSON array of records, or a single record, or NDJSON
};

struct RecordSlice {
  size_t index = 0;       // position of the record in the body (0-based, blank lines skipped)
  std::string_view bytes;  // the record's JSON text, trimmed of surrounding whitespace
};

// Splits `body` into records, appending to `out`. Fails only when record boundaries cannot be
// recovered (a JSON array with broken framing), naming the byte position; a record that is
// merely invalid JSON is returned as a slice and rejected later on its own.
Status SplitBody(std::string_view body, BodyFormat format, std::vector<RecordSlice>& out);

// Which fields of an event the engine needs; names are top-level field names.
struct EventFieldNames {
  std::string id = "event_id";
  std::string event_time = "occurred_at";
  std::string partition_key;  // empty: partition by the id
};

struct EventFields {
  std::string_view id;             // valid until the next Parse()
  int64_t event_time_micros = 0;
  uint64_t partition_hash = 0;     // hash of the partition key (or of the id)
};

// Parses one record. Not thread-safe: keep one per thread. Reuses its buffers across records,
// so steady-state parsing does not allocate.
class EventParser {
 public:
  explicit EventParser(EventFieldNames names);

  // `record` must be followed by at least simdjson::SIMDJSON_PADDING readable bytes (they need
  // not be zero). On failure the message says which field is wrong and why, or where the JSON is
  // invalid ("invalid JSON at byte 17: ...").
  Status Parse(std::string_view record, EventFields& out);

 private:
  EventFieldNames names_;
  simdjson::ondemand::parser parser_;
};

// A stable 64-bit hash (FNV-1a) used to pick partitions; never changes across versions.
uint64_t StableHash(std::string_view s);

}  // namespace sluice::ingest
