// The typed columns of a stream's archive (stream/archive.h), from what the catalog knows of
// its events: the stream's declared columns, else the top-level properties of the latest JSON
// Schema of its subject.
#pragma once

#include <vector>

#include "lake/event_columns.h"
#include "schema/registry.h"
#include "sql/plan.h"

namespace sluice::app {

// Declared columns map by SQL type (VARCHAR/TEXT -> string, BIGINT/INTEGER -> int64, DOUBLE ->
// double, BOOLEAN -> boolean, TIMESTAMP -> timestamp; others are kept in _raw only). JSON
// Schema properties map by "type" ("string" with format "date-time" -> timestamp, "string" ->
// string, "integer" -> int64, "number" -> double, "boolean" -> boolean; objects and arrays are
// kept in _raw only). The stream's event-time field is always a timestamp column. `registry`
// may be null.
std::vector<lake::EventColumn> ArchiveColumns(const sql::StreamSpec& spec,
                                              const schema::Registry* registry);

}  // namespace sluice::app
