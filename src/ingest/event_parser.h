// Parsing of request bodies into events, with one pass of simdjson on-demand per record and no
// DOM: the body is split into records (NDJSON lines or JSON array elements), and each record is
// validated as complete JSON, and against the stream's schema, while the fields the engine
// needs are picked out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "base/status.h"
#include "schema/json_schema.h"

namespace sluice::ingest {

enum class BodyFormat {
  kNdjson,  // one JSON value per line; blank lines ignored
  kJson,    // a JSON array of records, or a single record, or NDJSON
};

struct RecordSlice {
  size_t index = 0;        // position of the record in the body (0-based, blank lines skipped)
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
  std::string_view id;  // valid until the next Parse()
  int64_t event_time_micros = 0;
  uint64_t partition_hash = 0;  // hash of the partition key (or of the id)
};

// Parses one record: checks that it is one complete JSON object (no duplicate keys), validates
// it against the stream's schema when there is one, and picks out the engine's fields, all in
// one simdjson on-demand pass (the schema validator's). Not thread-safe: keep one per thread.
// Reuses its buffers across records, so steady-state parsing does not allocate.
class EventParser {
 public:
  // Without a schema: any JSON object with the engine's fields is accepted.
  explicit EventParser(EventFieldNames names);
  // With the compiled schema of registry id `schema_id`.
  EventParser(EventFieldNames names, std::shared_ptr<const schema::CompiledSchema> schema,
              uint32_t schema_id);
  ~EventParser();

  // `record` must be followed by at least simdjson::SIMDJSON_PADDING readable bytes (they need
  // not be zero). On failure the message says where and why: "invalid JSON at byte 17: ...",
  // a schema rule ("/lines/3/quantity: 0 is less than minimum 1"), or an engine field
  // ("missing required field 'event_id'").
  Status Parse(std::string_view record, EventFields& out);

  // The registry id of the schema events are checked against; 0 when there is none.
  uint32_t schema_id() const { return schema_id_; }

 private:
  EventFieldNames names_;
  uint32_t schema_id_ = 0;
  std::unique_ptr<schema::JsonSchemaValidator> validator_;
};

// A stable 64-bit hash (FNV-1a) used to pick partitions; never changes across versions.
uint64_t StableHash(std::string_view s);

}  // namespace sluice::ingest
